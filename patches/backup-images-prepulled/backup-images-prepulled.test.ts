/**
 * Bug 9 in effect: the maintenance role pulls exactly the images its rendered scripts
 * `docker run`, with community.docker.docker_image, beside the task that installs the script —
 * and the result is a task file real Ansible accepts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { bug9 as bug9Module, canonicalImage } from './backup-images-prepulled.js';
import { dockerRuns } from '../../src/toolkit/shell.js';
import { readTaskFile, tasksOf } from '../../src/toolkit/tasks.js';
import { planFixes } from '../../src/core/engine.js';
import { loadVars, renderTemplate, type Vars } from '../../src/model/render/render.js';
import { verifyRepo } from '../../src/verify/index.js';
import { fixtureFiles, tempDir, writeFiles } from '../../test/helpers.js';
import { CHILD_PROCESS_TIMEOUT, SLOW_TEST } from '../../test/budgets.js';
import { loadPatch } from '../../src/core/patch-home.js';

const bug9 = loadPatch(bug9Module);

const TASKS = 'roles/maintenance/tasks/main.yml';
const SCRIPT = 'roles/maintenance/templates/backup.sh.j2';

function fix(files: Map<string, string>): Map<string, string> {
  const plan = planFixes(files, [bug9]);
  expect(plan.outcomes[0]?.state).toBe('needs-fix');
  expect(planFixes(plan.result, [bug9]).outcomes[0]?.state).toBe('fixed');
  return new Map(plan.result);
}

/**
 * Images the scripts run once Ansible has rendered them: each rendered script is RUN by bash with
 * a fake `docker` that logs its command lines, and the logged `docker run`s name the images.
 */
function imagesRunByRenderedScripts(files: ReadonlyMap<string, string>, scripts: readonly string[], vars: Vars): string[] {
  const work = tempDir('maintenance-scripts-');
  const log = join(work, 'docker.log');
  mkdirSync(join(work, 'bin'));
  writeFileSync(join(work, 'bin', 'docker'), '#!/bin/sh\nprintf "%s\\n" "docker $*" >> "$DOCKER_LOG"\n');
  chmodSync(join(work, 'bin', 'docker'), 0o755);
  writeFileSync(log, '');
  for (const path of scripts) {
    const script = join(work, 'script.sh');
    writeFileSync(script, renderTemplate(files.get(path) ?? '', { ...vars, openclaw_base_dir: work }));
    const run = spawnSync('bash', [script], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(work, 'bin')}:${process.env.PATH ?? ''}`, DOCKER_LOG: log },
    });
    expect(run.status, `${path}: ${run.stderr}`).toBe(0);
  }
  const images = dockerRuns(readFileSync(log, 'utf8')).map((run) => run.image?.value ?? 'none');
  return [...new Set(images.map(canonicalImage))].sort();
}

/** What the task file's docker_image tasks pull once rendered (loops expanded), with each task's position. */
function pulls(text: string, vars: Vars): { index: number; image: string }[] {
  const ITEM = '@@item@@';
  const rendered = parseYaml(renderTemplate(text, { ...vars, item: ITEM })) as Record<string, unknown>[];
  return rendered.flatMap((task, index) => {
    const args = task['community.docker.docker_image'] as { name?: string; source?: string } | undefined;
    if (!args || args.source !== 'pull') return [];
    const items = (task.loop as string[] | undefined) ?? [ITEM];
    return items.map((item) => ({ index, image: canonicalImage(String(args.name).replace(ITEM, item)) }));
  });
}

function ansible(args: string[], cwd: string): { status: number | null; output: string } {
  const run = spawnSync(args[0] ?? '', args.slice(1), {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_HOME: join(cwd, '.ansible-home'),
      ANSIBLE_LOCALHOST_WARNING: 'False',
      ANSIBLE_ROLES_PATH: join(cwd, 'roles'),
    },
    timeout: CHILD_PROCESS_TIMEOUT,
  });
  if (run.error) throw new Error(`cannot run ${args[0]}: ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}\n${run.stderr}` };
}

describe('bug 9: the images the maintenance scripts run are pre-pulled', () => {
  it('on the fixture: one docker_image pull per image the rendered script runs, right after the task that installs it', () => {
    const files = fixtureFiles();
    const vars = loadVars(files);
    const runImages = imagesRunByRenderedScripts(files, [SCRIPT], vars);
    expect(runImages).toEqual(['library/alpine:3.21']);
    expect(pulls(files.get(TASKS) ?? '', vars)).toEqual([]);

    const fixed = fix(files);
    const found = pulls(fixed.get(TASKS) ?? '', vars);
    expect(found.map((pull) => pull.image).sort()).toEqual(runImages);
    const tasks = tasksOf(readTaskFile(TASKS, fixed.get(TASKS) ?? ''));
    expect(found[0]?.index).toBe(tasks.findIndex((task) => task.name === 'Install backup script') + 1);
    expect(fixed.get('requirements.yml')).toBe(files.get('requirements.yml'));
  });

  it(
    'real Ansible knows the module and accepts a play using the fixed role (ansible-doc, --syntax-check)',
    () => {
      expect(ansible(['ansible-doc', '-t', 'module', 'community.docker.docker_image'], tempDir()).status).toBe(0);
      const fixed = fix(fixtureFiles());
      const work = tempDir('maintenance-play-');
      writeFiles(
        work,
        [...fixed].filter(([path]) => path.startsWith('roles/maintenance/')),
      );
      writeFileSync(join(work, 'playbook.yml'), '- hosts: localhost\n  gather_facts: false\n  roles:\n    - maintenance\n');
      const check = ansible(['ansible-playbook', '--syntax-check', '-i', 'localhost,', 'playbook.yml'], work);
      expect(check.status, check.output).toBe(0);
      // The check is real: a misspelt module is refused.
      writeFileSync(join(work, TASKS), (fixed.get(TASKS) ?? '').replace('community.docker.docker_image:', 'community.docker.docker_imag:'));
      expect(ansible(['ansible-playbook', '--syntax-check', '-i', 'localhost,', 'playbook.yml'], work).status).not.toBe(0);
    },
    SLOW_TEST,
  );

  it(
    'variant: roles under ansible/, 4-space tasks, CRLF, an image from a Jinja variable and one from a shell variable in a second script',
    () => {
      const files = new Map([...fixtureFiles()].map(([path, text]) => [path.startsWith('roles/') ? `ansible/${path}` : path, text]));
      const script = `ansible/${SCRIPT}`;
      files.set(
        script,
        (files.get(script) ?? '').replace(/alpine:3\.21 tar -czf "\/backup\/redis/, '"{{ backup_image }}" tar -czf "/backup/redis'),
      );
      files.set(
        'ansible/roles/maintenance/files/prune.sh',
        '#!/bin/sh\nPRUNE_IMAGE=docker.io/library/busybox:1.36\ndocker run --rm --network none \\\n  -v /var/lib/openclaw:/data \\\n  "$PRUNE_IMAGE" find /data -mtime +30 -delete\n',
      );
      const tasks = `ansible/${TASKS}`;
      const fourSpaces = (files.get(tasks) ?? '').replace(/^( +)/gm, '$1$1').replace(/^- /gm, '-   ');
      const withPrune = `${fourSpaces}\n-   name: Install prune script\n    ansible.builtin.copy:\n        src: prune.sh\n        dest: /usr/local/bin/openclaw-prune\n        mode: "0750"\n`;
      files.set(tasks, withPrune.replace(/\n/g, '\r\n'));
      files.set('group_vars/all/vars.yml', `${files.get('group_vars/all/vars.yml') ?? ''}backup_image: alpine:3.20\n`);

      const fixed = fix(files);
      const after = fixed.get(tasks) ?? '';
      expect(after.replace(/\r\n/g, '')).not.toContain('\n');
      expect(after).toContain(
        '\r\n-   name: "Pull {{ backup_image }} for backup.sh"\r\n    community.docker.docker_image:\r\n        name: "{{ backup_image }}"\r\n        source: pull\r\n',
      );
      const vars = loadVars(fixed);
      const runImages = imagesRunByRenderedScripts(fixed, [script, 'ansible/roles/maintenance/files/prune.sh'], vars);
      expect(runImages).toEqual(['library/alpine:3.20', 'library/alpine:3.21', 'library/busybox:1.36']);
      const found = pulls(after, vars);
      expect(found.map((pull) => pull.image).sort()).toEqual(runImages);
      const order = tasksOf(readTaskFile(tasks, after)).map((task) => task.name);
      expect(found.find((pull) => pull.image.includes('busybox'))?.index).toBe(order.indexOf('Install prune script') + 1);
      expect(found.filter((pull) => pull.image.includes('alpine')).map((pull) => pull.index)).toEqual([1, 2]);
    },
    SLOW_TEST,
  );

  it('already pulled in a loop is fixed; a new image in the script needs a pull for that image only', () => {
    const files = fixtureFiles();
    const looped = (files.get(TASKS) ?? '').replace(
      '- name: Schedule nightly backup',
      '- name: Pull helper images\n  community.docker.docker_image:\n    name: "{{ item }}"\n    source: pull\n  loop:\n    - alpine:3.21\n    - redis:7.4-alpine\n\n- name: Schedule nightly backup',
    );
    files.set(TASKS, looped);
    expect(planFixes(files, [bug9]).outcomes[0]?.state).toBe('fixed');

    files.set(SCRIPT, `${files.get(SCRIPT) ?? ''}docker run --rm -v openclaw_openclaw-data:/data:ro busybox:1.36 du -sh /data\n`);
    const fixed = fix(files);
    const before = pulls(looped, loadVars(fixed)).map((pull) => pull.image);
    const after = pulls(fixed.get(TASKS) ?? '', loadVars(fixed)).map((pull) => pull.image);
    expect(after.filter((image) => !before.includes(image))).toEqual(['library/busybox:1.36']);
    expect(after).toHaveLength(before.length + 1);
  });

  it('shell parameter expansion: defaults and variables built from variables are resolved as bash resolves them; nothing with $ is copied into YAML', async () => {
    // As a maintainer writes it: overridable images with defaults, a registry prefix, one image per line.
    const files = fixtureFiles();
    files.set(
      SCRIPT,
      [
        '#!/usr/bin/env bash',
        '# {{ ansible_managed }}',
        'set -euo pipefail',
        'REGISTRY=docker.io/library',
        'TOOLS_IMAGE="${REGISTRY}/busybox:1.36"',
        ': "${BACKUP_DIR:={{ openclaw_base_dir }}/backups}"',
        'mkdir -p "$BACKUP_DIR"',
        'docker run --rm -v openclaw_openclaw-data:/source:ro -v "$BACKUP_DIR":/backup \\',
        '  "${BACKUP_IMAGE:-alpine:3.21}" tar -czf "/backup/data-$(date +%F).tar.gz" -C /source .',
        'docker run --rm -v openclaw_redis-data:/data:ro "${REDIS_IMAGE-redis:7.4-alpine}" redis-check-aof --fix /data/appendonly.aof || true',
        'docker run --rm -v "$BACKUP_DIR":/backup "$TOOLS_IMAGE" find /backup -mtime +7 -delete',
        '',
      ].join('\n'),
    );
    const fixed = fix(files);
    const tasks = fixed.get(TASKS) ?? '';
    expect(tasks).not.toMatch(/name: .*\$/m);
    const vars = loadVars(fixed);
    const ran = imagesRunByRenderedScripts(fixed, [SCRIPT], vars);
    expect(ran).toEqual(['library/alpine:3.21', 'library/busybox:1.36', 'library/redis:7.4-alpine']);
    expect(
      pulls(tasks, vars)
        .map((pull) => pull.image)
        .sort(),
    ).toEqual(ran);
    // verify reads the script on its own and agrees.
    const report = await verifyRepo(fixed, { goCheck: false });
    const check = report.checks.find((c) => c.id === 'backup-images-prepulled');
    expect(check?.status, check?.message).toBe('ok');
  });

  it('an environment override defaulting to a Jinja variable (`${BACKUP_IMAGE:-{{ backup_helper_image }}}`): the pull names the variable, and verify agrees', async () => {
    const files = fixtureFiles();
    files.set('roles/maintenance/defaults/main.yml', '---\nbackup_helper_image: alpine:3.21\n');
    files.set(
      SCRIPT,
      [
        '#!/usr/bin/env bash',
        '# {{ ansible_managed }}',
        'set -euo pipefail',
        'BACKUP_IMAGE="${BACKUP_IMAGE:-{{ backup_helper_image }}}"',
        'docker run --rm -v openclaw_openclaw-data:/source:ro \\',
        '  "$BACKUP_IMAGE" tar -czf "/backup/data-$(date +%F).tar.gz" -C /source .',
        '',
      ].join('\n'),
    );
    const [before] = planFixes(files, [bug9]).outcomes;
    expect(before?.reason).toBe(`${SCRIPT}:5 runs {{ backup_helper_image }}, which the deployment never pulls`);
    const fixed = fix(files);
    const tasks = fixed.get(TASKS) ?? '';
    expect(tasks).toContain('    name: "{{ backup_helper_image }}"\n');
    expect(tasks).not.toContain('BACKUP_IMAGE');
    const vars = loadVars(fixed);
    const ran = imagesRunByRenderedScripts(fixed, [SCRIPT], vars);
    expect(ran).toEqual(['library/alpine:3.21']);
    expect(pulls(tasks, vars).map((pull) => pull.image)).toEqual(ran);
    const report = await verifyRepo(fixed, { goCheck: false });
    const check = report.checks.find((c) => c.id === 'backup-images-prepulled');
    expect(check?.status, check?.message).toBe('ok');
    // A file the script sources may set BACKUP_IMAGE: then neither the fix nor verify takes the default.
    const sourced = new Map(files).set(
      SCRIPT,
      files.get(SCRIPT)!.replace('set -euo pipefail\n', 'set -euo pipefail\n. /etc/openclaw/backup.env\n'),
    );
    expect(planFixes(sourced, [bug9]).outcomes[0]).toMatchObject({
      state: 'unrecognised',
      reason: expect.stringContaining('it may come from a file it sources'),
    });
  });

  it('verify accepts a `docker pull {{ image }}` command task as pre-pulling, as the fix does', async () => {
    const files = fixtureFiles();
    const pull = '- name: Pre-pull the backup image\n  ansible.builtin.command: docker pull {{ backup_image }}\n  changed_when: false\n\n';
    files.set('roles/maintenance/defaults/main.yml', '---\nbackup_image: alpine:3.21\n');
    files.set(SCRIPT, files.get(SCRIPT)!.replace(/alpine:3\.21/g, '{{ backup_image }}'));
    expect(files.get(SCRIPT)).toContain('{{ backup_image }} tar');
    const status = async (repo: Map<string, string>): Promise<string | undefined> =>
      (await verifyRepo(repo, { goCheck: false })).checks.find((c) => c.id === 'backup-images-prepulled')?.status;
    expect(await status(files)).toBe('failed');
    files.set(TASKS, files.get(TASKS)!.replace('- name: Install backup script', `${pull}- name: Install backup script`));
    expect(planFixes(files, [bug9]).outcomes[0]?.state).toBe('fixed');
    expect(await status(files)).toBe('ok');
    // A pull of another image does not count.
    files.set(TASKS, files.get(TASKS)!.replace('docker pull {{ backup_image }}', 'docker pull busybox:1.36'));
    expect(await status(files)).toBe('failed');
  });

  it.each([
    [
      'a variable the script does not set',
      'docker run --rm "$IMAGE" true',
      /\$IMAGE, which the script does not set \(it would come from the environment\)/,
    ],
    [
      'a default behind a sourced env file',
      '. /etc/openclaw/backup.env\ndocker run --rm "${IMAGE:-alpine:3.21}" true',
      /\$IMAGE, which the script does not set: it may come from a file it sources/,
    ],
    ['an alternative value', 'docker run --rm "${PIN:+alpine:3.21}" true', /an expansion whose value is known only when the script runs/],
    [
      'a variable set to two values',
      'IMAGE=alpine:3.21\n[ -n "${OLD:-}" ] && IMAGE=alpine:3.19\ndocker run --rm "$IMAGE" true',
      /sets to different values \(alpine:3\.21, alpine:3\.19\)/,
    ],
    ['a command substitution', 'IMAGE=$(cat /etc/openclaw/backup-image)\ndocker run --rm "$IMAGE" true', /is computed by a command/],
  ])('an image from %s makes bug 9 unrecognised, naming the line', (_, body, reason) => {
    const files = fixtureFiles();
    files.set(SCRIPT, `#!/bin/sh\n${body}\n`);
    const [outcome] = planFixes(files, [bug9]).outcomes;
    expect(outcome?.state).toBe('unrecognised');
    expect(outcome?.reason).toMatch(new RegExp(`${SCRIPT}:\\d+`));
    expect(outcome?.reason).toMatch(reason);
  });

  it('adds community.docker to requirements.yml when missing, and refuses an image it cannot resolve', () => {
    const files = fixtureFiles();
    files.set('requirements.yml', '---\ncollections:\n  - name: ansible.posix\n    version: ">=1.5.0"\n');
    const fixed = fix(files);
    expect((parseYaml(fixed.get('requirements.yml') ?? '') as { collections: { name: string }[] }).collections.map((c) => c.name)).toEqual([
      'ansible.posix',
      'community.docker',
    ]);

    const unresolved = fixtureFiles();
    unresolved.set(SCRIPT, '#!/bin/sh\ndocker run --rm "$IMAGE" true\n');
    const plan = planFixes(unresolved, [bug9]);
    expect(plan.outcomes[0]?.state).toBe('unrecognised');
    expect(plan.outcomes[0]?.reason).toContain(`${SCRIPT}:2`);
  });
});
