/**
 * "Not applicable" is earned (issue 10): a deployment repo whose roles are named and nested
 * differently from the report's — roles under deploy/roles/, `openclaw-config` called `gateway`,
 * the Compose template and Dockerfile one folder deeper, the egress service called `egress`, the
 * Telegram role `channels`, the backup role `backup` — still gets every fix, and --check does
 * not exit 0 while the bugs are there.
 */
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { planFixes } from '../src/core/engine.js';
import { verifyRepo } from '../src/verify/index.js';
import { fixtureFiles, gitRepoOf, runCli } from './helpers.js';

const ROLE_NAMES: Record<string, string> = {
  'openclaw-config': 'gateway',
  'openclaw-deploy': 'stack',
  'openclaw-harden': 'hardening',
  'openclaw-integrate': 'channels',
  maintenance: 'backup',
  'reverse-proxy': 'edge',
  monitoring: 'observability',
};

/** Where each file of the fixture goes in the renamed layout. */
function renamedPath(path: string): string {
  let renamed = path.replace(/^roles\/([^/]+)\//, (_match, role: string) => `deploy/roles/${ROLE_NAMES[role] ?? role}/`);
  renamed = renamed.replace('/templates/docker-compose.yml.j2', '/templates/compose/docker-compose.yml.j2');
  renamed = renamed.replace('/templates/Dockerfile.smokescreen.j2', '/templates/smokescreen/Dockerfile.j2');
  renamed = renamed.replace('/templates/backup.sh.j2', '/templates/scripts/openclaw-backup.sh.j2');
  if (!renamed.startsWith('deploy/roles/')) renamed = `deploy/${renamed}`;
  return renamed;
}

/** The fixture as a maintainer with other naming habits would have written it. */
function renamedFixture(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [path, text] of fixtureFiles()) {
    let renamed = text;
    for (const [from, to] of Object.entries(ROLE_NAMES)) renamed = renamed.replace(new RegExp(`role: ${from}\\b`, 'g'), `role: ${to}`);
    // The egress proxy's service (and container) is called `egress`: in Compose, the handlers, the proxy URLs.
    renamed = renamed.replace(/openclaw-egress/g, 'egress');
    renamed = renamed
      .replace('src: Dockerfile.smokescreen.j2', 'src: smokescreen/Dockerfile.j2')
      .replace('src: docker-compose.yml.j2', 'src: compose/docker-compose.yml.j2')
      .replace('src: backup.sh.j2', 'src: scripts/openclaw-backup.sh.j2');
    files.set(renamedPath(path), renamed);
  }
  return files;
}

describe('a repo with its own role names and folders', () => {
  it('gets every fix the fixture gets, each in the renamed files, and converges', () => {
    const original = planFixes(fixtureFiles(), allPatches);
    const files = renamedFixture();
    expect([...files.keys()].some((path) => path.startsWith('roles/'))).toBe(false);
    const plan = planFixes(files, allPatches);
    const states = (outcomes: typeof plan.outcomes) => outcomes.map((outcome) => `${outcome.patch.id}: ${outcome.state}`);
    expect(states(plan.outcomes)).toEqual(states(original.outcomes));
    expect(plan.outcomes.every((outcome) => outcome.state === 'needs-fix')).toBe(true);

    const edited = (id: string) => plan.outcomes.find((outcome) => outcome.patch.id === id)?.files.map((file) => file.path);
    expect(edited('egress-writable-run')).toEqual(['deploy/roles/gateway/templates/compose/docker-compose.yml.j2']);
    expect(edited('telegram-token-no-argv')).toEqual(['deploy/roles/channels/tasks/main.yml']);
    expect(edited('handlers-first-run-safe')).toEqual(['deploy/roles/gateway/handlers/main.yml']);
    expect(edited('backup-images-prepulled')).toContain('deploy/roles/backup/tasks/main.yml');
    expect(edited('egress-tcp-healthcheck')).toContain('deploy/roles/gateway/templates/smokescreen/Dockerfile.j2');
    expect(edited('litellm-no-egress-dependency')).toEqual(['deploy/roles/gateway/templates/compose/docker-compose.yml.j2']);
    // litellm's dependency on the renamed egress service is what bug 7 removes.
    const compose = plan.result.get('deploy/roles/gateway/templates/compose/docker-compose.yml.j2') ?? '';
    expect(compose).not.toMatch(/litellm:[\s\S]*?depends_on:[\s\S]*?egress:[\s\S]*?# ---- egress/);

    expect(planFixes(plan.result, allPatches).pending).toEqual([]);
  });

  it('verify finds the same bugs there, and each holds on the fixed files', async () => {
    const files = renamedFixture();
    const statuses = async (input: ReadonlyMap<string, string>) =>
      Object.fromEntries((await verifyRepo(input, { goCheck: false })).checks.map((check) => [check.id, check.status]));
    const before = await statuses(files);
    const after = await statuses(planFixes(files, allPatches).result);
    for (const id of [
      'egress-writable-run',
      'egress-tcp-healthcheck',
      'telegram-token-no-argv',
      'litellm-no-egress-dependency',
      'handlers-first-run-safe',
      'backup-images-prepulled',
    ]) {
      expect(before[id], id).toBe('failed');
      expect(after[id], id).toBe('ok');
    }
  });

  it('--check exits 1 while the bugs are there', async () => {
    const repo = gitRepoOf(renamedFixture());
    const result = await runCli(repo, ['--check']);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toMatch(/not applicable/i);
  });

  it('is not applicable only when the content shows the bug cannot be there', () => {
    const files = renamedFixture();
    // No Telegram token anywhere, no scheduled script: those two fixes have nothing to fix.
    files.set('deploy/roles/channels/tasks/main.yml', '- name: Nothing to integrate\n  ansible.builtin.debug:\n    msg: no channels\n');
    const backupTasks = files.get('deploy/roles/backup/tasks/main.yml') ?? '';
    files.set('deploy/roles/backup/tasks/main.yml', backupTasks.replace(/- name: Schedule nightly backup[\s\S]*?user: root\n/, ''));
    const plan = planFixes(files, allPatches);
    const outcome = (id: string) => plan.outcomes.find((candidate) => candidate.patch.id === id);
    expect(outcome('telegram-token-no-argv')?.state).toBe('not-applicable');
    expect(outcome('backup-images-prepulled')).toMatchObject({
      state: 'not-applicable',
      reason: expect.stringMatching(/no scheduled script/),
    });
  });
});
