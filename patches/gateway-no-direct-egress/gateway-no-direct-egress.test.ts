/**
 * Bug 4 (and how it meets the Telegram allow-list), proven on the RENDERED Compose files merged by Compose's
 * rules (src/model/compose-model.ts): a first deploy works, the gateway has no route out except
 * through the egress proxy, Caddy still publishes and cloudflared still dials out.
 */
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { bug4 as bug4Module } from './gateway-no-direct-egress.js';
import { extraTelegramEgress as extraTelegramEgressModule } from '../telegram-egress-allowlist/telegram-egress-allowlist.js';
import {
  canPublishPorts,
  firstRunProblems,
  mergeCompose,
  networksCreatedByUp,
  networksOf,
  routesOut,
  sharedNetworks,
  type ComposeProject,
} from '../../src/model/compose-model.js';
import { planFixes, runCheck } from '../../src/core/engine.js';
import { loadVars, renderTemplate } from '../../src/model/render/render.js';
import { fixtureFiles } from '../../test/helpers.js';
import { loadPatch } from '../../src/core/patch-home.js';

const bug4 = loadPatch(bug4Module);
const extraTelegramEgress = loadPatch(extraTelegramEgressModule);

type Files = Map<string, string>;

const BASE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
const CADDY = 'roles/reverse-proxy/templates/compose.caddy.yml.j2';
const TUNNEL = 'roles/reverse-proxy/templates/compose.cloudflared.yml.j2';
const MONITORING = 'roles/monitoring/templates/compose.monitoring.yml.j2';
const ACL = 'roles/openclaw-config/templates/smokescreen-acl.yaml.j2';
const GROUP_VARS = 'group_vars/all/vars.yml';

/** Path of a fixture file in a variant whose roles may live under a prefix. */
const at = (files: Files, path: string): string => [...files.keys()].find((key) => key === path || key.endsWith(`/${path}`)) ?? path;

function edit(files: Files, path: string, change: (text: string) => string): Files {
  const key = at(files, path);
  const before = files.get(key);
  if (before === undefined) throw new Error(`no ${path}`);
  const after = change(before);
  if (after === before) throw new Error(`variant changed nothing in ${path}`);
  return new Map(files).set(key, after);
}

/** Renders the deployment's Compose files as Ansible would and merges them as `docker compose -f … up` does. */
function deployedProject(files: Files, overlays: readonly string[]): ComposeProject {
  const vars = loadVars(files);
  const render = (path: string): unknown => parseYaml(renderTemplate(files.get(at(files, path)) ?? '', vars));
  return mergeCompose(render(BASE), overlays.map(render), { projectDirectory: String(vars.openclaw_base_dir) });
}

const DEPLOYMENTS = {
  caddy: [CADDY, MONITORING],
  cloudflared: [TUNNEL, MONITORING],
  'caddy without monitoring': [CADDY],
  'no reverse proxy': [],
} as const;

/** Everything the fix promises, on one rendered, merged deployment. */
function expectSafeFirstDeploy(project: ComposeProject): void {
  // A first deploy: no Docker network exists yet.
  expect(firstRunProblems(project, [])).toEqual([]);
  const created = new Set(networksCreatedByUp(project, []).map((network) => network.key));
  for (const service of project.services.keys())
    for (const key of networksOf(project, service)) expect(created, `${service} on ${key}`).toContain(key);

  expect(routesOut(project, 'openclaw')).toBe(false);
  for (const key of networksOf(project, 'openclaw')) expect(project.networks.get(key)?.internal, key).toBe(true);
  expect(routesOut(project, 'openclaw-egress')).toBe(true);
  expect(sharedNetworks(project, 'openclaw', 'openclaw-egress').length).toBeGreaterThan(0);

  if (project.services.has('caddy')) {
    expect(project.services.get('caddy')?.ports.length).toBeGreaterThan(0);
    expect(canPublishPorts(project, 'caddy')).toBe(true);
    expect(sharedNetworks(project, 'caddy', 'openclaw')).toContain('proxy-net');
  }
  if (project.services.has('cloudflared')) {
    expect(routesOut(project, 'cloudflared')).toBe(true);
    expect(sharedNetworks(project, 'cloudflared', 'openclaw')).toContain('proxy-net');
  }
  if (project.services.has('uptime-kuma')) {
    expect(canPublishPorts(project, 'uptime-kuma')).toBe(true);
    expect(sharedNetworks(project, 'uptime-kuma', 'openclaw')).toContain('openclaw-net');
  }
}

function fixed(files: Files): Files {
  const plan = planFixes(files, [bug4]);
  expect(plan.outcomes[0]?.state, plan.outcomes[0]?.reason).toBe('needs-fix');
  return new Map(plan.result);
}

describe('bug 4 on the bundled repo', () => {
  const before = fixtureFiles();

  it('the gateway reaches the internet directly before the fix', () => {
    const project = deployedProject(before, DEPLOYMENTS.caddy);
    expect(routesOut(project, 'openclaw')).toBe(true);
  });

  const after = fixed(before);

  it.each(Object.entries(DEPLOYMENTS))(
    'after the fix a first deploy (%s) works and the gateway leaves only through the egress proxy',
    (_, overlays) => {
      expectSafeFirstDeploy(deployedProject(after, overlays));
    },
  );

  it('the gateway is still told to use the proxy, which shares a network with it', () => {
    const vars = loadVars(after);
    const rendered = parseYaml(renderTemplate(after.get(BASE) ?? '', vars)) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    expect(rendered.services.openclaw?.environment.HTTPS_PROXY).toBe('http://openclaw-egress:4750');
  });

  it('changes only the lines it must, and leaves the monitoring overlay byte for byte', () => {
    const added = (path: string): string[] => {
      const old = new Set(before.get(path)?.split('\n'));
      return (after.get(path) ?? '').split('\n').filter((line) => !old.has(line));
    };
    expect(added(BASE)).toEqual(['    internal: true']);
    expect(
      before
        .get(BASE)
        ?.split('\n')
        .every((line) => after.get(BASE)?.split('\n').includes(line)),
    ).toBe(true);
    expect(added(CADDY)).toEqual([
      '      - ingress-net',
      'networks:',
      '  ingress-net:',
      '    driver: bridge    # internet side of caddy: proxy-net has no route out',
    ]);
    expect(after.get(TUNNEL)).toContain('networks: [proxy-net, ingress-net]');
    expect(after.get(MONITORING)).toBe(before.get(MONITORING));
  });

  it('a second run finds nothing to do', () => {
    expect(runCheck(bug4, after).state).toBe('fixed');
    expect(planFixes(after, [bug4]).pending).toEqual([]);
  });
});

describe('bug 4 on other shapes of the repo', () => {
  const base = fixtureFiles();
  const fourSpaces = (text: string): string => text.replace(/^( +)/gm, (spaces) => spaces.repeat(2));

  const variants: Record<string, Files> = {
    'roles under ansible/': new Map([...base].map(([path, text]) => [`ansible/${path}`, text])),
    '4-space indentation': [BASE, CADDY, TUNNEL, MONITORING].reduce((files, path) => edit(files, path, fourSpaces), base),
    'flow lists in the base and the Caddy overlay': edit(
      edit(base, BASE, (t) =>
        t.replace('    networks:\n      - openclaw-net\n      - proxy-net\n', '    networks: [openclaw-net, proxy-net]\n'),
      ),
      CADDY,
      (t) => t.replace('    networks:\n      - proxy-net\n', '    networks: ["proxy-net"]\n'),
    ),
    'long-form service networks': edit(
      edit(base, CADDY, (t) =>
        t.replace('    networks:\n      - proxy-net\n', '    networks:\n      proxy-net:\n        aliases: [edge]\n'),
      ),
      TUNNEL,
      (t) => t.replace('networks: [proxy-net]', 'networks: { proxy-net: { aliases: [tunnel] } }'),
    ),
    'overlays with their own networks sections': edit(
      edit(base, CADDY, (t) => `${t}\nnetworks:\n  caddy-admin:\n    internal: true\n`),
      TUNNEL,
      (t) => `${t}\nvolumes:\n  tunnel-state:\nnetworks: {}\n`,
    ),
    'proxy-net declared bare': edit(base, BASE, (t) =>
      t.replace('  proxy-net:\n    driver: bridge    # reverse proxy <-> gateway\n', '  proxy-net:\n'),
    ),
    'proxy-net in flow style': edit(base, BASE, (t) =>
      t.replace('  proxy-net:\n    driver: bridge    # reverse proxy <-> gateway\n', '  proxy-net: {driver: bridge}\n'),
    ),
    'proxy-net explicitly not internal': edit(base, BASE, (t) =>
      t.replace(
        '    driver: bridge    # reverse proxy <-> gateway\n',
        '    driver: bridge    # reverse proxy <-> gateway\n    internal: false\n',
      ),
    ),
    'ACL with a services list (Compose-like, not Compose)': edit(base, ACL, (t) => t.replace('services: {}', 'services: []')),
    'CRLF line endings': new Map([...base].map(([path, text]) => [path, path.endsWith('.j2') ? text.replace(/\n/g, '\r\n') : text])),
  };

  it.each(Object.entries(variants))('%s: a first deploy works, with Caddy or the tunnel, and the gateway has no route out', (_, files) => {
    const result = fixed(files);
    for (const overlays of Object.values(DEPLOYMENTS)) expectSafeFirstDeploy(deployedProject(result, overlays));
    expect(result.get(at(result, MONITORING))).toBe(files.get(at(files, MONITORING)));
    expect(runCheck(bug4, result).state).toBe('fixed');
  });

  it("writes in the file's style: 4-space nesting, flow lists stay flow, CRLF stays CRLF", () => {
    const four = fixed(variants['4-space indentation']!);
    expect(four.get(CADDY)).toContain('\n            - ingress-net\n');
    expect(four.get(CADDY)).toContain('\nnetworks:\n    ingress-net:\n        driver: bridge');
    expect(four.get(BASE)).toContain('    proxy-net:\n        driver: bridge    # reverse proxy <-> gateway\n        internal: true\n');
    const flow = fixed(variants['flow lists in the base and the Caddy overlay']!);
    expect(flow.get(CADDY)).toContain('networks: ["proxy-net", "ingress-net"]');
    const crlf = fixed(variants['CRLF line endings']!);
    for (const path of [BASE, CADDY, TUNNEL]) expect(crlf.get(path)?.replace(/\r\n/g, '')).not.toContain('\n');
  });

  it("refuses a gateway that is also on the egress proxy's route out, naming the line", () => {
    const files = edit(base, BASE, (t) =>
      t.replace('      - openclaw-net\n      - proxy-net\n', '      - openclaw-net\n      - proxy-net\n      - egress-net\n'),
    );
    const result = runCheck(bug4, files);
    expect(result.state).toBe('unrecognised');
    expect(result.reason).toMatch(/egress-net.*route out/);
    expect(result.reason).toContain(`${BASE}:`);
  });
});

describe("the report's literal proposal fails a first deploy (regression)", () => {
  const base = fixtureFiles();
  // proxy-net internal and ingress-net declared in the base file only, as the report's snippet has it.
  const reportBase = (files: Files): Files =>
    edit(files, BASE, (t) =>
      t.replace(
        '  proxy-net:\n    driver: bridge    # reverse proxy <-> gateway\n',
        '  proxy-net:\n    driver: bridge\n    internal: true\n  ingress-net:\n    driver: bridge\n',
      ),
    );

  it('ingress-net only in the base: no service uses it, so it is not created, and Caddy cannot publish its ports', () => {
    const project = deployedProject(reportBase(base), DEPLOYMENTS.caddy);
    expect(networksCreatedByUp(project).map((n) => n.key)).not.toContain('ingress-net');
    expect(firstRunProblems(project)).toEqual([expect.objectContaining({ kind: 'unpublishable-ports', service: 'caddy' })]);
    // The fix completes such a half-applied repo instead of declaring a second ingress-net.
    const repaired = fixed(reportBase(base));
    for (const overlays of Object.values(DEPLOYMENTS)) expectSafeFirstDeploy(deployedProject(repaired, overlays));
  });

  it('ingress-net as external: true is never created, so the first up fails', () => {
    const files = edit(
      edit(base, BASE, (t) => t.replace('    driver: bridge    # reverse proxy <-> gateway\n', '    driver: bridge\n    internal: true\n')),
      CADDY,
      (t) =>
        t
          .replace('      - proxy-net\n', '      - proxy-net\n      - ingress-net\n')
          .concat('\nnetworks:\n  ingress-net:\n    external: true\n'),
    );
    const project = deployedProject(files, DEPLOYMENTS.caddy);
    expect(firstRunProblems(project, []).map((p) => p.message)).toEqual([
      'network ingress-net declared as external, but could not be found',
    ]);
    expect(runCheck(bug4, files).state).toBe('unrecognised');
  });

  it('updating only the Caddy overlay, as the report says, cuts the Cloudflare Tunnel off', () => {
    const files = edit(reportBase(base), CADDY, (t) => t.replace('      - proxy-net\n', '      - proxy-net\n      - ingress-net\n'));
    expect(firstRunProblems(deployedProject(files, DEPLOYMENTS.caddy))).toEqual([]); // the merged project does create it for Caddy
    expect(routesOut(deployedProject(files, DEPLOYMENTS.cloudflared), 'cloudflared')).toBe(false);
    const check = runCheck(bug4, files);
    expect(check.state).toBe('needs-fix');
    expect(check.reason).toMatch(/^cloudflared has no route out/);
    const repaired = fixed(files);
    expect(repaired.get(TUNNEL)).toContain('\nnetworks:\n  ingress-net:\n    driver: bridge');
    for (const overlays of Object.values(DEPLOYMENTS)) expectSafeFirstDeploy(deployedProject(repaired, overlays));
  });
});

describe('Telegram after the gateway loses its direct route (the allow-list itself: patches/telegram-egress-allowlist/)', () => {
  const allowedDomains = (files: Files): string[] => {
    const acl = parseYaml(renderTemplate(files.get(at(files, ACL)) ?? '', loadVars(files))) as { default: { allowed_domains: string[] } };
    return acl.default.allowed_domains;
  };

  it('bug 4 says why api.telegram.org must be allowed, and with the allow-list fix the rendered ACL lets it through', () => {
    const files = fixtureFiles();
    expect(allowedDomains(files)).not.toContain('api.telegram.org');
    const plan = planFixes(files, [bug4, extraTelegramEgress]);
    const [network, telegram] = plan.outcomes;
    expect(network?.notes.join('\n')).toMatch(
      /only through the egress proxy.*api\.telegram\.org must be in the egress allow-list \(egress_allowed_domains\)/,
    );
    expect(telegram?.state).toBe('needs-fix');
    expect(allowedDomains(plan.result as Files)).toEqual([
      'api.anthropic.com',
      '*.anthropic.com',
      'api.openai.com',
      'registry.npmjs.org',
      'api.telegram.org',
    ]);
    expect(plan.result.get(GROUP_VARS)).toContain('  - registry.npmjs.org\n  - api.telegram.org\n');
    expect(runCheck(extraTelegramEgress, plan.result).state).toBe('fixed');
  });

  it('does nothing and says nothing when Telegram is off', () => {
    const off = edit(fixtureFiles(), GROUP_VARS, (t) => t.replace('telegram_enabled: true', 'telegram_enabled: false'));
    const plan = planFixes(off, [bug4, extraTelegramEgress]);
    expect(plan.outcomes.map((o) => o.state)).toEqual(['needs-fix', 'not-applicable']);
    expect(plan.outcomes[0]?.notes.join('\n')).not.toContain('telegram');
  });
});
