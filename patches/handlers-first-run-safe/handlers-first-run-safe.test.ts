/**
 * Bug 8 in effect: the config role's handlers that act on compose services succeed on a first
 * run (no container yet) and still fail when an existing container's restart fails. Proved by
 * RUNNING the handlers — through ansible-playbook on localhost, and their rendered scripts
 * through /bin/sh — with a fake `docker` on PATH that plays each situation.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { bug8 as bug8Module } from './handlers-first-run-safe.js';
import { readTaskFile, tasksOf } from '../../src/toolkit/tasks.js';
import { planFixes } from '../../src/core/engine.js';
import { loadVars, renderTemplate } from '../../src/model/render/render.js';
import { ansiblePlaybook, fixtureFiles, tempDir } from '../../test/helpers.js';
import { SLOW_TEST } from '../../test/budgets.js';
import { loadPatch } from '../../src/core/patch-home.js';

const bug8 = loadPatch(bug8Module);

const HANDLERS = 'roles/openclaw-config/handlers/main.yml';

/**
 * absent: the project has no containers (first run) and `restart` of a service fails, as the
 * report observed; exists: restart works; broken: the container exists but restart fails;
 * down: the daemon is unreachable, so even the lookup fails.
 */
type DockerState = 'absent' | 'exists' | 'broken' | 'down';

const FAKE_DOCKER = `#!/bin/sh
echo "$*" >> "$FAKE_DOCKER_LOG"
[ "$FAKE_DOCKER_STATE" = down ] && { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
[ "$1" = compose ] || exit 0
shift
while [ $# -gt 0 ]; do
  case "$1" in
    -f|--file|-p|--project-name|--env-file|--profile) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
case "$1" in
  ps) [ "$FAKE_DOCKER_STATE" = absent ] || echo 3f9a2c1b7d4e; exit 0 ;;
  restart|stop|start|kill|exec)
    [ "$FAKE_DOCKER_STATE" = exists ] && exit 0
    [ "$FAKE_DOCKER_STATE" = absent ] && { echo "no container found for service $2" >&2; exit 1; }
    echo "Error response from daemon: cannot restart container" >&2; exit 1 ;;
esac
exit 0
`;

function fakeDockerBin(): string {
  const bin = join(tempDir('fake-docker-'), 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'docker'), FAKE_DOCKER);
  chmodSync(join(bin, 'docker'), 0o755);
  return bin;
}

function fixed(files: Map<string, string>, path = HANDLERS): string {
  const plan = planFixes(files, [bug8]);
  expect(plan.outcomes[0]?.state).toBe('needs-fix');
  expect(planFixes(plan.result, [bug8]).outcomes[0]?.state).toBe('fixed');
  return plan.result.get(path) ?? '';
}

interface Scenario {
  readonly host: string;
  readonly handlers: string;
  readonly state: DockerState;
}

interface HandlerRun {
  readonly failed: boolean;
  /** Every docker command the handlers ran, one per line. */
  readonly docker: string;
}

/**
 * One ansible-playbook run: each scenario is a local "host" with its own base dir and fake
 * docker state; each distinct handlers file is a role whose one task notifies all its handlers.
 */
function runHandlersWithAnsible(scenarios: readonly Scenario[]): Map<string, HandlerRun> {
  const work = tempDir('handlers-play-');
  const bin = fakeDockerBin();
  const roles = [...new Set(scenarios.map((scenario) => scenario.handlers))];
  const plays: string[] = [];
  const inventory: string[] = ['all:', '  hosts:'];
  roles.forEach((handlers, index) => {
    const role = join(work, 'roles', `config${index}`);
    mkdirSync(join(role, 'handlers'), { recursive: true });
    mkdirSync(join(role, 'tasks'), { recursive: true });
    writeFileSync(join(role, 'handlers', 'main.yml'), handlers);
    const names = tasksOf(readTaskFile('handlers.yml', handlers)).flatMap((task) => (task.name ? [task.name] : []));
    writeFileSync(
      join(role, 'tasks', 'main.yml'),
      [
        // An action that runs no module on the host (a module run costs ~0.7 CPU-s, nine hosts):
        // changed_when makes it notify as a changed template would.
        '- name: Change every config file',
        '  ansible.builtin.debug: { msg: every config file changed }',
        '  changed_when: true',
        '  notify:',
        ...names.map((name) => `    - ${name}`),
        '',
      ].join('\n'),
    );
    const hosts = scenarios.filter((scenario) => scenario.handlers === handlers).map((scenario) => scenario.host);
    plays.push(
      [
        `- hosts: ${hosts.join(':')}`,
        '  gather_facts: false',
        '  environment:',
        '    FAKE_DOCKER_STATE: "{{ docker_state }}"',
        '    FAKE_DOCKER_LOG: "{{ openclaw_base_dir }}/docker.log"',
        '  roles:',
        `    - config${index}`,
        '',
      ].join('\n'),
    );
  });
  for (const scenario of scenarios) {
    const base = join(work, scenario.host);
    mkdirSync(base);
    writeFileSync(join(base, 'docker.log'), '');
    inventory.push(
      `    ${scenario.host}:`,
      '      ansible_connection: local',
      `      docker_state: ${scenario.state}`,
      `      openclaw_base_dir: ${base}`,
    );
  }
  writeFileSync(join(work, 'inventory.yml'), inventory.join('\n') + '\n');
  writeFileSync(join(work, 'playbook.yml'), plays.join('\n'));
  const run = ansiblePlaybook(work, ['-i', join(work, 'inventory.yml'), join(work, 'playbook.yml')], {
    env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
  });
  if (run.error) throw new Error(`cannot run ansible-playbook (${run.error.message})`);
  const results = new Map<string, HandlerRun>();
  for (const scenario of scenarios) {
    const recap = new RegExp(`^${scenario.host}\\s+:.*\\bfailed=(\\d+)`, 'm').exec(run.stdout);
    if (!recap) throw new Error(`no recap for ${scenario.host}:\n${run.stdout}\n${run.stderr}`);
    results.set(scenario.host, { failed: recap[1] !== '0', docker: readFileSync(join(work, scenario.host, 'docker.log'), 'utf8') });
  }
  return results;
}

/** The shell script each handler runs, rendered with the repo's vars, keyed by handler name. */
function renderedScripts(handlersText: string, files: ReadonlyMap<string, string>): Map<string, string> {
  const rendered = renderTemplate(handlersText, loadVars(files));
  const handlers = parseYaml(rendered) as Record<string, unknown>[];
  const scripts = new Map<string, string>();
  for (const handler of handlers) {
    const module = Object.keys(handler).find((key) => /(^|\.)(shell|command)$/.test(key));
    const value = module === undefined ? undefined : handler[module];
    const script = typeof value === 'string' ? value : (value as { cmd?: string } | undefined)?.cmd;
    if (script !== undefined) scripts.set(String(handler.name), script);
  }
  return scripts;
}

function runScript(script: string, state: DockerState, bin: string): HandlerRun {
  const cwd = tempDir('handler-sh-');
  const log = join(cwd, 'docker.log');
  writeFileSync(log, '');
  const run = spawnSync('/bin/sh', ['-c', script], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, FAKE_DOCKER_STATE: state, FAKE_DOCKER_LOG: log },
  });
  return { failed: run.status !== 0, docker: readFileSync(log, 'utf8') };
}

const REPORT_FOLLOWED = (text: string): string =>
  text.replace(
    /(  ansible\.builtin\.command: docker compose restart [\w-]+\n  args:\n    chdir: "\{\{ openclaw_base_dir \}\}"\n)/g,
    '$1  failed_when: false\n',
  );

describe('bug 8: config handlers are safe on a first run', () => {
  it(
    'run by ansible-playbook: the fixture fails on a first run; fixed, it passes then, acts on existing containers, and still fails when a restart or the lookup fails',
    () => {
      const original = fixtureFiles().get(HANDLERS) ?? '';
      const reportFollowed = REPORT_FOLLOWED(original);
      expect(reportFollowed.match(/failed_when: false/g)).toHaveLength(2);
      const fixedFixture = fixed(fixtureFiles());
      const fixedReportFollowed = fixed(new Map([...fixtureFiles(), [HANDLERS, reportFollowed]]));
      expect(fixedReportFollowed).not.toContain('failed_when');

      const results = runHandlersWithAnsible([
        // A play stops the playbook when all its hosts fail: each play keeps one host that passes.
        { host: 'original_first_run', handlers: original, state: 'absent' },
        { host: 'original_later_run', handlers: original, state: 'exists' },
        { host: 'fixed_first_run', handlers: fixedFixture, state: 'absent' },
        { host: 'fixed_later_run', handlers: fixedFixture, state: 'exists' },
        { host: 'fixed_restart_fails', handlers: fixedFixture, state: 'broken' },
        { host: 'fixed_docker_down', handlers: fixedFixture, state: 'down' },
        { host: 'report_restart_fails', handlers: reportFollowed, state: 'broken' },
        { host: 'report_fixed_first_run', handlers: fixedReportFollowed, state: 'absent' },
        { host: 'report_fixed_restart_fails', handlers: fixedReportFollowed, state: 'broken' },
      ]);
      const result = (host: string): HandlerRun => results.get(host) as HandlerRun;

      expect(result('original_first_run').failed).toBe(true);
      expect(result('original_later_run').failed).toBe(false);
      expect(result('fixed_first_run').failed).toBe(false);
      expect(result('fixed_first_run').docker).toContain('compose ps --all --quiet openclaw-egress');
      expect(result('fixed_first_run').docker).toContain('compose ps --all --quiet litellm');
      expect(result('fixed_first_run').docker).not.toMatch(/restart/);
      expect(result('fixed_later_run').failed).toBe(false);
      expect(result('fixed_later_run').docker).toContain('compose restart openclaw-egress');
      expect(result('fixed_later_run').docker).toContain('compose restart litellm');
      expect(result('fixed_restart_fails').failed).toBe(true);
      expect(result('fixed_docker_down').failed).toBe(true);
      // failed_when: false hides the failing restart; the fix brings the failure back.
      expect(result('report_restart_fails').failed).toBe(false);
      expect(result('report_fixed_first_run').failed).toBe(false);
      expect(result('report_fixed_restart_fails').failed).toBe(true);
    },
    SLOW_TEST,
  );

  it('keeps names, args and the build handler; every restarting handler runs a guarded shell script', () => {
    const files = fixtureFiles();
    const after = fixed(files);
    const before = tasksOf(readTaskFile(HANDLERS, files.get(HANDLERS) ?? ''));
    const tasks = tasksOf(readTaskFile(HANDLERS, after));
    expect(tasks.map((task) => task.name)).toEqual(before.map((task) => task.name));
    expect(tasks.map((task) => task.module)).toEqual(['ansible.builtin.shell', 'ansible.builtin.command', 'ansible.builtin.shell']);
    const rebuild = (text: string): string => /- name: rebuild egress\n[\s\S]*?notify: restart egress\n/.exec(text)?.[0] ?? 'missing';
    expect(rebuild(after)).toBe(rebuild(files.get(HANDLERS) ?? ''));
    expect((parseYaml(after) as { args?: unknown }[]).map((handler) => handler.args)).toEqual(
      (parseYaml(files.get(HANDLERS) ?? '') as { args?: unknown }[]).map((handler) => handler.args),
    );
  });

  it(
    'variants — 4-space indent, ansible.builtin.shell with cmd:, short module names, -f options, roles under ansible/, CRLF — run right under /bin/sh',
    () => {
      const path = `ansible/${HANDLERS}`;
      const variant = [
        '---',
        '-   name: restart egress',
        '    ansible.builtin.shell:',
        '        cmd: docker compose -f docker-compose.yml restart openclaw-egress   # after ACL changes',
        '        chdir: "{{ openclaw_base_dir }}"',
        '    when: openclaw_base_dir is defined',
        '',
        '-   name: restart litellm',
        '    command: >',
        '        docker compose --project-name openclaw',
        '        restart --timeout 30 litellm',
        '    args:',
        '        chdir: "{{ openclaw_base_dir }}"',
        '    ignore_errors: true',
        '',
        '-   name: restart gateway',
        '    ansible.builtin.command:',
        '        argv: [docker, compose, restart, openclaw]',
      ].join('\r\n');
      const files = new Map([...fixtureFiles()].map(([key, text]) => [key.startsWith('roles/') ? `ansible/${key}` : key, text]));
      files.set(path, variant);
      const after = fixed(files, path);
      expect(after.replace(/\r\n/g, '')).not.toContain('\n');
      expect(after).toContain('\r\n    ansible.builtin.shell:\r\n        cmd: |  # after ACL changes\r\n            # No container yet');
      expect(after).toMatch(/\r\n            fi$/);
      expect(after).toContain('\r\n    shell: |\r\n        # No container yet');
      expect(after).not.toContain('ignore_errors');
      expect(after).toContain('    when: openclaw_base_dir is defined\r\n');

      const bin = fakeDockerBin();
      const scripts = renderedScripts(after, files);
      expect([...scripts.keys()]).toEqual(['restart egress', 'restart litellm', 'restart gateway']);
      for (const [name, script] of scripts) {
        const firstRun = runScript(script, 'absent', bin);
        expect(firstRun.failed, `${name} on a first run`).toBe(false);
        expect(firstRun.docker).not.toMatch(/ restart /);
        expect(runScript(script, 'exists', bin).docker, name).toMatch(/ restart /);
        expect(runScript(script, 'broken', bin).failed, `${name} when the restart fails`).toBe(true);
      }
      expect(runScript(scripts.get('restart litellm') ?? '', 'exists', bin).docker).toContain(
        'compose --project-name openclaw ps --all --quiet litellm',
      );
    },
    SLOW_TEST,
  );

  it('leaves a handler that already checks for the container, and refuses a command it cannot read', () => {
    const guarded = [
      '- name: restart egress',
      '  ansible.builtin.shell: |',
      "    if docker ps -a --format '{{ '{{' }}.Names{{ '}}' }}' | grep -qx openclaw-egress; then",
      '      docker compose restart openclaw-egress',
      '    fi',
      '  args:',
      '    chdir: "{{ openclaw_base_dir }}"',
      '',
    ].join('\n');
    const files = fixtureFiles();
    files.set(HANDLERS, guarded);
    expect(planFixes(files, [bug8]).outcomes[0]?.state).toBe('fixed');

    files.set(HANDLERS, '- name: restart egress\n  ansible.builtin.command:\n    chdir: /opt\n');
    const plan = planFixes(files, [bug8]);
    expect(plan.outcomes[0]?.state).toBe('unrecognised');
    expect(plan.outcomes[0]?.reason).toContain(`${HANDLERS}:1`);
  });

  it('a plain docker handler naming its container by a shell variable is not copied into a quoted filter', () => {
    // The shell expands $EGRESS_CONTAINER in `docker restart`; inside the guard's single-quoted --filter it would not.
    const files = fixtureFiles();
    files.set(
      HANDLERS,
      '- name: restart egress\n  ansible.builtin.shell: docker restart "$EGRESS_CONTAINER"\n  environment:\n    EGRESS_CONTAINER: openclaw-egress\n',
    );
    const [outcome] = planFixes(files, [bug8]).outcomes;
    expect(outcome?.state).toBe('unrecognised');
    expect(outcome?.reason).toBe(
      `handler 'restart egress' at ${HANDLERS}:1 names its container by the shell expansion "$EGRESS_CONTAINER", which cannot be resolved statically`,
    );
  });
});
