/**
 * Compose as the deployment reads it: the base stack brought up by its own role, overlays brought
 * up by later roles (`docker compose -f docker-compose.yml -f compose.caddy.yml up -d`) that join
 * the base project's networks by full name and add labels to base services. Written against
 * test/overlay-repo.ts, a repo shaped like the real one.
 */
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { bug4 as bug4Module } from '../patches/gateway-no-direct-egress/gateway-no-direct-egress.js';
import { composeDeploymentOf } from '../src/model/compose-templates.js';
import { deployScenarios } from '../src/model/compose-deploy.js';
import {
  firstRunProblems,
  hostAfterUp,
  mergeCompose,
  routesOut,
  sharedNetworks,
  canPublishPorts,
  type HostNetwork,
} from '../src/model/compose-model.js';
import { planFixes, runCheck } from '../src/core/engine.js';
import { loadVars, renderTemplate } from '../src/model/render/render.js';
import { createRepoView } from '../src/core/repo-view.js';
import { verifyRepo } from '../src/verify/index.js';
import { DEFAULT_FIX_BRANCH, git, gitRepoOf, runCli } from './helpers.js';
import { BASE, CADDY, MONITORING, overlayRepo } from './overlay-repo.js';
import { loadPatch } from '../src/core/patch-home.js';

const bug4 = loadPatch(bug4Module);

type Files = Map<string, string>;

function deploymentOf(files: Files) {
  return composeDeploymentOf(createRepoView(files)).deployment;
}

/** Renders the templates as Ansible would and runs each `up` of the play in order on one fresh host. */
function deploy(files: Files) {
  const vars = loadVars(files);
  const deployment = deploymentOf(files);
  const [steps] = deployScenarios(deployment, BASE, [CADDY, MONITORING], String(vars.openclaw_base_dir));
  let host: ReadonlyMap<string, HostNetwork> = new Map();
  return (steps ?? []).map((step) => {
    const docs = step.templates.map((path) => parseYaml(renderTemplate(files.get(path) ?? '', vars)) as unknown);
    const project = mergeCompose(docs[0], docs.slice(1), { projectDirectory: step.projectDirectory, projectName: step.projectName });
    const before = host;
    host = hostAfterUp(project, host);
    return { step, project, host: before, problems: firstRunProblems(project, before) };
  });
}

describe('which role brings up which Compose files, in which order', () => {
  it('reads the playbook role order, the template tasks and the up commands (command, shell with cd, docker_compose_v2)', () => {
    const { ups, ordered } = deploymentOf(overlayRepo());
    expect(ordered).toBe(true);
    expect(ups.map((up) => [up.role, up.files, up.templates, up.projectDirectory])).toEqual([
      ['openclaw-deploy', ['docker-compose.yml'], [BASE], '/opt/openclaw'],
      ['reverse-proxy', ['docker-compose.yml', 'compose.caddy.yml'], [BASE, CADDY], '/opt/openclaw'],
      ['monitoring', ['docker-compose.yml', 'compose.monitoring.yml'], [BASE, MONITORING], '/opt/openclaw'],
    ]);
    expect(ups[1]?.at).toBe('roles/reverse-proxy/tasks/main.yml:14');
  });

  it('a file list built at run time (a loop over a set_fact list) is not guessed: every base+overlay combination is checked', () => {
    const files = overlayRepo();
    files.set(
      'roles/openclaw-deploy/tasks/main.yml',
      `---
- name: Collect the compose files
  ansible.builtin.set_fact:
    compose_files: "{{ ['docker-compose.yml'] + (['compose.caddy.yml'] if reverse_proxy_mode == 'caddy' else []) }}"

- name: Start the stack
  ansible.builtin.command: >
    docker compose {% for f in compose_files %}-f {{ f }} {% endfor %}up -d
  args:
    chdir: "{{ openclaw_base_dir }}"
`,
    );
    const { ups } = deploymentOf(files);
    expect(ups[0]).toMatchObject({ role: 'openclaw-deploy', resolved: false, files: [] });
    const scenarios = deployScenarios(deploymentOf(files), BASE, [CADDY, MONITORING], '/opt/openclaw');
    // The reverse-proxy and monitoring roles' own ups stay as read, after the open one.
    expect(scenarios.map((steps) => steps.map((step) => step.templates))).toEqual([
      [[BASE], [BASE, CADDY], [BASE, MONITORING]],
      [
        [BASE, CADDY],
        [BASE, CADDY],
        [BASE, MONITORING],
      ],
      [
        [BASE, MONITORING],
        [BASE, CADDY],
        [BASE, MONITORING],
      ],
    ]);
  });
});

describe('overlays brought up after the base, joining its networks by full name', () => {
  it('the repo as written deploys on a fresh host: the overlays find openclaw_proxy-net and openclaw_openclaw-net made by the base', () => {
    const ups = deploy(overlayRepo());
    expect(ups.map((up) => up.problems)).toEqual([[], [], []]);
    // The same overlay brought up before the base fails as Compose does.
    const files = overlayRepo();
    files.set(
      'playbook.yml',
      (files.get('playbook.yml') ?? '')
        .replace('    - role: openclaw-deploy       # builds the egress image, brings the base stack up\n      tags: [deploy]\n', '')
        .replace('    - role: openclaw-harden', '    - role: openclaw-deploy\n    - role: openclaw-harden'),
    );
    const early = deploy(files);
    expect(early[0]?.step.templates).toEqual([BASE, CADDY]);
    expect(early[0]?.problems.map((problem) => problem.message)).toEqual([
      'network openclaw_proxy-net declared as external, but could not be found',
    ]);
  });

  it("bug 4 makes the base project's proxy-net internal and gives Caddy a network Compose creates, naming each network", () => {
    const files = overlayRepo();
    const plan = planFixes(files, [bug4]);
    const [outcome] = plan.outcomes;
    expect(outcome?.state).toBe('needs-fix');
    expect(outcome?.reason).toBe(
      `openclaw can reach the internet directly through proxy-net (openclaw_proxy-net, not internal) at ${BASE}:191`,
    );
    expect(outcome?.changes).toEqual([
      `${BASE}: network proxy-net (Docker network openclaw_proxy-net) is internal (no route out); ${CADDY} joins it as external proxy-net`,
      `${CADDY}: caddy reaches the internet through ingress-net (a bridge network Compose creates with the overlay), declared there; proxy-net no longer routes out`,
    ]);
    expect(plan.result.get(BASE)).toContain('  proxy-net:\n    driver: bridge    # reverse proxy <-> gateway\n    internal: true\n');
    expect(plan.result.get(CADDY)).toContain('    networks: [proxy-net, ingress-net]\n');
    expect(plan.result.get(CADDY)).toMatch(
      /networks:\n  proxy-net:\n    external: true\n    name: openclaw_proxy-net\n  ingress-net:\n    driver: bridge {4}# internet side of caddy: proxy-net has no route out\n$/,
    );
    expect(plan.result.get(MONITORING)).toBe(files.get(MONITORING));

    // Deployed in the play's order on a fresh host: every up works, the gateway leaves only through the proxy.
    const ups = deploy(plan.result as Files);
    for (const { project, host, problems, step } of ups) {
      expect(problems, step.label).toEqual([]);
      expect(routesOut(project, 'openclaw', host), step.label).toBe(false);
      expect(routesOut(project, 'openclaw-egress', host), step.label).toBe(true);
    }
    const caddy = ups[1]!;
    expect(canPublishPorts(caddy.project, 'caddy', caddy.host)).toBe(true);
    expect(sharedNetworks(caddy.project, 'caddy', 'openclaw')).toEqual(['proxy-net']);
    expect(runCheck(bug4, plan.result).state).toBe('fixed');
  });

  it('an overlay that adds labels to base services leaves bugs 1, 2 and 4 recognised; every fix verifies on the result', async () => {
    const files = overlayRepo();
    const plan = planFixes(files, allPatches);
    expect(plan.outcomes.filter((o) => o.state !== 'needs-fix').map((o) => `${o.patch.id}: ${o.reason}`)).toEqual([]);
    const report = await verifyRepo(new Map([...files, ...plan.result]), { goCheck: false });
    for (const check of report.checks) expect(['ok', 'not-checked'], `${check.id}: ${check.message}`).toContain(check.status);
    expect(report.checks.find((c) => c.id === 'gateway-no-direct-egress')?.message).toMatch(
      /at each `up` of the deployment: `docker compose -f docker-compose.yml up` \(roles\/openclaw-deploy\/tasks\/main.yml:8\); `docker compose -f docker-compose.yml -f compose.caddy.yml up`/,
    );
  });

  it("verify on the unfixed repo names the route out, and does not claim the overlay's external network is missing", async () => {
    const report = await verifyRepo(overlayRepo(), { goCheck: false });
    const network = report.checks.find((c) => c.id === 'gateway-no-direct-egress');
    expect(network?.status).toBe('failed');
    expect(network?.message).toMatch(/the gateway has a route out that bypasses the proxy, through proxy-net/);
    expect(network?.message).not.toMatch(/could not be found/);
    for (const id of ['egress-writable-run', 'egress-tcp-healthcheck'])
      expect(report.checks.find((c) => c.id === id)?.message).toMatch(/docker-compose\.yml\.j2/);
  });

  it('an overlay that overrides a key a fix edits makes that fix unrecognised, naming both files', () => {
    const files = overlayRepo();
    files.set(
      MONITORING,
      (files.get(MONITORING) ?? '').replace(
        '      kuma.egress.port.hostname: openclaw-egress\n',
        '      kuma.egress.port.hostname: openclaw-egress\n    healthcheck:\n      disable: true\n',
      ),
    );
    const check = runCheck(
      allPatches.find((p) => p.id === 'egress-tcp-healthcheck')!,
      files,
    );
    expect(check.state).toBe('unrecognised');
    expect(check.reason).toBe(
      `healthcheck of openclaw-egress is set both in ${BASE} and in the overlay at ${MONITORING}:10: Compose merges the overlay's over the base's`,
    );
  });
});

describe('the overlay repo end to end, as a maintainer runs the tool', () => {
  it('dry run and --apply exit 0 with every fix, verify passes on the branch, a second --apply is a no-op', async () => {
    const repo = gitRepoOf(overlayRepo());
    const dryRun = await runCli(repo, []);
    expect(dryRun.stderr).toBe('');
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).not.toMatch(/unrecognised/);

    const apply = await runCli(repo, ['--apply']);
    expect(apply.stderr).toBe('');
    expect(apply.code).toBe(0);
    expect(git(repo, 'log', '--format=%s', `main..${DEFAULT_FIX_BRANCH}`)).toContain('(bug 4)');
    expect(git(repo, 'show', `${DEFAULT_FIX_BRANCH}:${CADDY}`)).toContain('networks: [proxy-net, ingress-net]');

    git(repo, 'checkout', '-q', DEFAULT_FIX_BRANCH);
    const verify = await runCli(repo, ['verify']);
    expect(verify.stderr).toBe('');
    expect(verify.stdout.split('\n').filter((line) => line && !line.endsWith(': ok') && !line.includes('not checked'))).toEqual([]);
    expect(verify.code).toBe(0);

    const again = await runCli(repo, ['--apply']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Nothing to do/);
  });
});
