/**
 * Bugs 2 and 1 (the egress proxy starts with a writable /run and an explicit stats socket
 * directory, and is probed with a bounded TCP check that its image can run), through the
 * engine on the fixture and on in-memory variants, proved on the RENDERED Compose file and
 * Dockerfile.
 */
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { bug1 as bug1Module } from '../patches/egress-tcp-healthcheck/egress-tcp-healthcheck.js';
import { bug2 as bug2Module } from '../patches/egress-writable-run/egress-writable-run.js';
import { findApkAdds, parseDockerfile, runtimeStage } from '../src/toolkit/dockerfile.js';
import { planFixes, type Plan } from '../src/core/engine.js';
import { loadVars, renderTemplate } from '../src/model/render/render.js';
import { fixtureFiles } from './helpers.js';
import { loadPatch } from '../src/core/patch-home.js';

const bug1 = loadPatch(bug1Module);
const bug2 = loadPatch(bug2Module);

const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
const DOCKERFILE = 'roles/openclaw-config/templates/Dockerfile.smokescreen.j2';
const PATCHES = [bug2, bug1];

type Files = Map<string, string>;

/** The fixture with string replacements in one file; each replacement must match. */
function variant(edits: Record<string, [string | RegExp, string][]>): Files {
  const files = fixtureFiles();
  for (const [path, replacements] of Object.entries(edits)) {
    let text = files.get(path)!;
    for (const [from, to] of replacements) {
      const next = text.replace(from, to);
      expect(next, `replacement of ${String(from)} in ${path}`).not.toBe(text);
      text = next;
    }
    files.set(path, text);
  }
  return files;
}

const stateOf = (plan: Plan, id: string) => plan.outcomes.find((outcome) => outcome.patch.id === id)!;

/** Plans, checks every pending fix converged, and that a second run over the result changes nothing. */
function fixTwice(files: Files): { plan: Plan; result: Files } {
  const plan = planFixes(files, PATCHES);
  const again = planFixes(plan.result, PATCHES);
  for (const outcome of again.outcomes) expect([outcome.patch.id, outcome.state]).toEqual([outcome.patch.id, 'fixed']);
  expect(again.pending).toEqual([]);
  expect(again.result).toEqual(plan.result);
  return { plan, result: new Map(plan.result) };
}

// ---- what the deployment gets: rendered output -------------------------------------------------

interface RenderedEgress {
  readonly readOnly: unknown;
  readonly tmpfsMounts: string[];
  readonly command: string[];
  readonly probe: string[];
  /** The healthcheck's `timeout` in seconds (Compose's default 30s when unset). */
  readonly probeTimeout: number;
  readonly runtimePackages: string[];
}

function pathOf(files: Files, suffix: string): string {
  const path = [...files.keys()].find((candidate) => candidate.endsWith(suffix));
  if (!path) throw new Error(`no ${suffix}`);
  return path;
}

function renderEgress(files: Files): RenderedEgress {
  const vars = loadVars(files);
  const compose = parseYaml(renderTemplate(files.get(pathOf(files, COMPOSE))!, vars)) as { services: Record<string, Record<string, unknown>> };
  const egress = compose.services['openclaw-egress']!;
  const tmpfs = egress.tmpfs;
  const tmpfsMounts = (Array.isArray(tmpfs) ? tmpfs : [tmpfs]).map((entry) => String(entry).split(':')[0]!);
  const command = Array.isArray(egress.command) ? (egress.command as unknown[]).map(String) : String(egress.command).split(/\s+/);
  const { test, timeout } = egress.healthcheck as { test: unknown; timeout?: string };
  const probeTimeout = timeout === undefined ? 30 : Number(/^(\d+)s$/.exec(timeout)?.[1] ?? NaN);
  // Compose: a string test and ["CMD-SHELL", s] run `s` in a shell; ["CMD", …] is argv.
  let probe: string[];
  if (typeof test === 'string') probe = ['sh', '-c', test];
  else if (Array.isArray(test) && test[0] === 'CMD-SHELL') probe = ['sh', '-c', String(test[1])];
  else if (Array.isArray(test) && test[0] === 'CMD') probe = test.slice(1).map((item) => {
    expect(typeof item, 'Compose wants every test item to be a string').toBe('string');
    return item as string;
  });
  else throw new Error(`unexpected healthcheck test ${JSON.stringify(test)}`);

  const dockerfile = parseDockerfile('Dockerfile', renderTemplate(files.get(pathOf(files, DOCKERFILE))!, vars));
  const runtimePackages = findApkAdds(dockerfile, runtimeStage(dockerfile)!).flatMap((apk) => apk.packages.map((word) => word.value));
  return { readOnly: egress.read_only, tmpfsMounts, command, probe, probeTimeout, runtimePackages };
}

function flagValue(command: readonly string[], name: string): string | undefined {
  for (const [index, arg] of command.entries()) {
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
    if (arg === `--${name}`) return command[index + 1];
  }
  return undefined;
}

/** The properties the two fixes promise, read from what Ansible would deploy. */
function expectEgressStartsHealthy(files: Files): RenderedEgress {
  const rendered = renderEgress(files);
  expect(rendered.readOnly).toBe(true);
  expect(rendered.tmpfsMounts).toEqual(expect.arrayContaining(['/run', '/tmp']));
  // The socket directory must exist at start: a tmpfs mount point, not a path below one.
  expect(rendered.tmpfsMounts).toContain(flagValue(rendered.command, 'stats-socket-dir'));

  const listenPort = flagValue(rendered.command, 'listen-port') ?? '4750';
  let argv = rendered.probe;
  if (argv[0] === 'sh') {
    const script = argv[2]!;
    expect(script, 'a shell probe must be one command, not one that can fall back to success').not.toMatch(/\|\||;|&&/);
    argv = script.trim().split(/\s+/);
  }
  expect(argv[0]).toBe('nc');
  expect(argv).toContain('-z');
  const timeout = argv[argv.indexOf('-w') + 1];
  expect(argv.indexOf('-w')).toBeGreaterThan(0);
  expect(Number(timeout)).toBeGreaterThan(0);
  expect(Number(timeout)).toBeLessThan(rendered.probeTimeout); // nc gives up before Docker kills the check
  expect(argv.slice(-2)).toEqual(['127.0.0.1', listenPort]);

  expect(rendered.runtimePackages).toContain('netcat-openbsd');
  return rendered;
}

// ---- the fixture -----------------------------------------------------------------------------

describe('the fixture', () => {
  it('needs both fixes; afterwards the rendered egress service starts and is probed over TCP, and a re-run is a no-op', () => {
    const before = fixtureFiles();
    const initial = planFixes(before, PATCHES);
    expect(stateOf(initial, 'egress-writable-run').state).toBe('needs-fix');
    expect(stateOf(initial, 'egress-writable-run').reason).toContain(`${COMPOSE}:108`);
    expect(stateOf(initial, 'egress-tcp-healthcheck').state).toBe('needs-fix');
    expect(() => expectEgressStartsHealthy(before)).toThrow();

    const { result } = fixTwice(before);
    const rendered = expectEgressStartsHealthy(result);
    expect(flagValue(rendered.command, 'stats-socket-dir')).toBe('/run');
    // curl served only the old healthcheck: it is gone from the image, and the comment above names nc.
    expect(rendered.runtimePackages).not.toContain('curl');
    expect(result.get(DOCKERFILE)).toContain('# netcat-openbsd is only here for the compose healthcheck\nRUN apk add --no-cache ca-certificates netcat-openbsd && adduser -D -H smokescreen\n');
    // The style of the lists the fixes extended: block, double-quoted command items, plain tmpfs items.
    expect(result.get(COMPOSE)).toContain('    tmpfs:\n      - /tmp:size=16M\n      - /run:size=8M\n    command:\n');
    expect(result.get(COMPOSE)).toContain('      - "--deny-range=192.168.0.0/16"\n      - "--stats-socket-dir=/run"\n    volumes:');
    expect(result.get(COMPOSE)).toContain('      test: ["CMD", "nc", "-z", "-w", "3", "127.0.0.1", "4750"]\n');
  });
});

// ---- Bug 2 variants --------------------------------------------------------------------------

describe('Bug 2 on other shapes', () => {
  it('follows a 4-space indentation', () => {
    const compose = fixtureFiles().get(COMPOSE)!.replace(/^( +)/gm, (spaces) => spaces + spaces);
    const { result } = fixTwice(new Map([...fixtureFiles(), [COMPOSE, compose]]));
    expect(result.get(COMPOSE)).toContain('        tmpfs:\n            - /tmp:size=16M\n            - /run:size=8M\n');
    expect(result.get(COMPOSE)).toContain('            - "--stats-socket-dir=/run"\n        volumes:');
    expectEgressStartsHealthy(result);
  });

  it('extends flow lists with unquoted items, and the probe follows --listen-port', () => {
    const files = variant({
      [COMPOSE]: [
        ['tmpfs:\n      - /tmp:size=16M\n    command:', 'tmpfs: [/tmp:size=16M]\n    command:'],
        [/command:\n( +- .*\n)+/, 'command: [--egress-acl-file=/etc/smokescreen/acl.yaml, --listen-ip=0.0.0.0, --listen-port=4800, --deny-range=10.0.0.0/8]\n'],
      ],
    });
    const { result } = fixTwice(files);
    expect(result.get(COMPOSE)).toContain('tmpfs: [/tmp:size=16M, /run:size=8M]\n');
    expect(result.get(COMPOSE)).toContain('--deny-range=10.0.0.0/8, --stats-socket-dir=/run]\n');
    expect(expectEgressStartsHealthy(result).probe.at(-1)).toBe('4800');
  });

  it('handles tmpfs and command written as single strings', () => {
    const files = variant({
      [COMPOSE]: [
        ['tmpfs:\n      - /tmp:size=16M\n    command:', 'tmpfs: /tmp:size=16M\n    command:'],
        [/command:\n( +- .*\n)+/, 'command: "--egress-acl-file=/etc/smokescreen/acl.yaml --listen-ip=0.0.0.0"\n'],
      ],
    });
    const { result } = fixTwice(files);
    expect(result.get(COMPOSE)).toContain('tmpfs: [/tmp:size=16M, /run:size=8M]\n');
    expect(result.get(COMPOSE)).toContain('command: "--egress-acl-file=/etc/smokescreen/acl.yaml --listen-ip=0.0.0.0 --stats-socket-dir=/run"\n');
    expectEgressStartsHealthy(result);
  });

  it('completes a half-applied fix: /run present, flag missing', () => {
    const files = variant({ [COMPOSE]: [['      - /tmp:size=16M\n    command:', '      - /tmp:size=16M\n      - /run:size=8M\n    command:']] });
    const { plan, result } = fixTwice(files);
    const outcome = stateOf(plan, 'egress-writable-run');
    expect(outcome.reason).toMatch(/no --stats-socket-dir/);
    expect(outcome.reason).not.toMatch(/no \/run tmpfs/);
    expect(result.get(COMPOSE)!.match(/\/run:size=8M/g)).toHaveLength(2); // docker-proxy's, and egress's once (not duplicated)
    expectEgressStartsHealthy(result);
  });

  it('accepts the flag in its two-argument spelling on a tmpfs mount point, and corrects one on the read-only root', () => {
    const present = variant({
      [COMPOSE]: [
        ['      - /tmp:size=16M\n    command:', '      - /tmp:size=16M\n      - /run:size=8M\n    command:'],
        ['      - "--listen-ip=0.0.0.0"\n', '      - "--listen-ip=0.0.0.0"\n      - "--stats-socket-dir"\n      - "/tmp/"\n'],
      ],
    });
    expect(stateOf(planFixes(present, [bug2]), 'egress-writable-run').state).toBe('fixed');

    const wrong = variant({ [COMPOSE]: [['      - "--listen-ip=0.0.0.0"\n', '      - "--listen-ip=0.0.0.0"\n      - "--stats-socket-dir=/var/run/smokescreen"\n']] });
    const { result } = fixTwice(wrong);
    expect(result.get(COMPOSE)).toContain('      - "--stats-socket-dir=/run"\n      - "--deny-range=10.0.0.0/8"\n');
    expect(result.get(COMPOSE)!.match(/stats-socket-dir/g)).toHaveLength(1);
    expectEgressStartsHealthy(result);
  });

  it('adds a tmpfs list after read_only when the service has none, in the service\'s list style', () => {
    const files = variant({ [COMPOSE]: [['    tmpfs:\n      - /tmp:size=16M\n    command:', '    command:']] });
    const { result } = fixTwice(files);
    expect(result.get(COMPOSE)).toContain('    read_only: true\n    tmpfs:\n      - /run:size=8M\n    command:\n');
    const rendered = renderEgress(result);
    expect(rendered.tmpfsMounts).toEqual(['/run']);
    expect(flagValue(rendered.command, 'stats-socket-dir')).toBe('/run');
  });

  it('refuses a tmpfs list built by a Jinja loop, naming file:line', () => {
    const files = variant({ [COMPOSE]: [['    tmpfs:\n      - /tmp:size=16M\n    command:', '    tmpfs:\n{% for mount in egress_tmpfs %}\n      - {{ mount }}\n{% endfor %}\n    command:']] });
    const outcome = stateOf(planFixes(files, [bug2]), 'egress-writable-run');
    expect(outcome.state).toBe('unrecognised');
    expect(outcome.reason).toMatch(new RegExp(`${COMPOSE.replace(/\./g, '\\.')}:\\d+`));
  });
});

// ---- Bug 1 variants --------------------------------------------------------------------------

const HEALTHCHECK_TEST = '      test: ["CMD", "curl", "-sf", "http://localhost:4750/healthcheck"]\n';

describe('Bug 1 on other shapes', () => {
  it.each([
    ['a plain string', '      test: curl -sf http://localhost:4750/healthcheck\n', '      test: nc -z -w 3 127.0.0.1 4750\n'],
    ['CMD-SHELL', '      test: ["CMD-SHELL", "curl -sf http://localhost:4750/healthcheck || exit 1"]\n', '      test: ["CMD-SHELL", "nc -z -w 3 127.0.0.1 4750"]\n'],
    [
      'a block CMD list with plain items',
      '      test:\n        - CMD\n        - curl\n        - -sf\n        - http://localhost:4750/healthcheck\n',
      '      test:\n        - CMD\n        - nc\n        - -z\n        - -w\n        - "3"\n        - 127.0.0.1\n        - "4750"\n',
    ],
  ])('keeps the form of a test written as %s', (_name, test, expected) => {
    const { result } = fixTwice(variant({ [COMPOSE]: [[HEALTHCHECK_TEST, test]] }));
    expect(result.get(COMPOSE)).toContain(expected);
    expectEgressStartsHealthy(result);
  });

  it("replaces the report's always-successful snippet and says why", () => {
    const snippet =
      `      test: ["CMD-SHELL", "wget --no-verbose --tries=1 --spider http://localhost:4750/ 2>&1 | grep -q 'connected' || curl -so /dev/null -w '' http://localhost:4750/ 2>&1 && exit 0 || exit 0"]\n`;
    const files = variant({ [COMPOSE]: [[HEALTHCHECK_TEST, snippet]] });
    expect(stateOf(planFixes(files, [bug1]), 'egress-tcp-healthcheck').reason).toMatch(/always succeeds/);
    expectEgressStartsHealthy(fixTwice(files).result);
  });

  it('leaves a bounded TCP probe alone when netcat is installed, and fixes only the Dockerfile when it is not', () => {
    const tcp = '      test: ["CMD", "nc", "-z", "-w", "2", "localhost", "4750"]\n';
    const done = variant({ [COMPOSE]: [[HEALTHCHECK_TEST, tcp]], [DOCKERFILE]: [[' curl && adduser', ' netcat-openbsd && adduser']] });
    expect(stateOf(planFixes(done, [bug1]), 'egress-tcp-healthcheck').state).toBe('fixed');

    const noNetcat = variant({ [COMPOSE]: [[HEALTHCHECK_TEST, tcp]] });
    const plan = planFixes(noNetcat, [bug1]);
    expect(stateOf(plan, 'egress-tcp-healthcheck').files.map((file) => file.path)).toEqual([DOCKERFILE]);
    expect(renderEgress(fixTwice(noNetcat).result).runtimePackages).toContain('netcat-openbsd');
  });

  it('replaces an unbounded nc probe (no -w)', () => {
    const files = variant({ [COMPOSE]: [[HEALTHCHECK_TEST, '      test: ["CMD-SHELL", "nc -z localhost 4750"]\n']] });
    expect(stateOf(planFixes(files, [bug1]), 'egress-tcp-healthcheck').reason).toMatch(/without a -w timeout/);
    expectEgressStartsHealthy(fixTwice(files).result);
  });

  it('adds netcat on its own line to a one-per-line apk list and keeps curl when another RUN uses it', () => {
    const files = variant({
      [DOCKERFILE]: [
        [
          'RUN apk add --no-cache ca-certificates curl && adduser -D -H smokescreen\n',
          'RUN apk add --no-cache \\\n        ca-certificates \\\n        curl \\\n    && adduser -D -H smokescreen\nRUN curl --version\n',
        ],
      ],
    });
    const { plan, result } = fixTwice(files);
    expect(result.get(DOCKERFILE)).toContain('        curl \\\n        netcat-openbsd \\\n    && adduser -D -H smokescreen\n');
    // The comment is about curl, which stays: its bytes stay too.
    expect(result.get(DOCKERFILE)).toContain('# curl is only here for the compose healthcheck\n');
    expect(stateOf(plan, 'egress-tcp-healthcheck').notes.join('\n')).toMatch(/curl stays .*RUN at .*Dockerfile\.smokescreen\.j2:19/);
    expect(expectEgressStartsHealthy(result).runtimePackages).toContain('curl');
  });

  it('finds the apk add chained after other commands and drops unused curl there', () => {
    const files = variant({
      [DOCKERFILE]: [['RUN apk add --no-cache ca-certificates curl && adduser -D -H smokescreen\n', 'RUN set -eux; adduser -D -H smokescreen && apk --no-cache add ca-certificates curl\n']],
    });
    const { result } = fixTwice(files);
    expect(result.get(DOCKERFILE)).toContain('RUN set -eux; adduser -D -H smokescreen && apk --no-cache add ca-certificates netcat-openbsd\n');
    expect(expectEgressStartsHealthy(result).runtimePackages).not.toContain('curl');
  });

  it('refuses a probe computed by Jinja and a runtime stage without apk, naming file:line', () => {
    const computed = variant({ [COMPOSE]: [[HEALTHCHECK_TEST, '      test: "{{ egress_healthcheck }}"\n']] });
    const outcome = stateOf(planFixes(computed, [bug1]), 'egress-tcp-healthcheck');
    expect(outcome.state).toBe('unrecognised');
    expect(outcome.reason).toContain(`${COMPOSE}:137`);

    const distroless = variant({
      [DOCKERFILE]: [['FROM alpine:{{ smokescreen_alpine_version }}\n', 'FROM gcr.io/distroless/static\n'], [/# curl.*\nRUN apk.*\n/, '']],
    });
    const refused = stateOf(planFixes(distroless, [bug1]), 'egress-tcp-healthcheck');
    expect(refused.state).toBe('unrecognised');
    expect(refused.reason).toContain(`${DOCKERFILE}:13`);
  });
});

// ---- both, on repository layouts -----------------------------------------------------------------

describe('both fixes on other layouts', () => {
  it('keeps CRLF line endings', () => {
    const files = fixtureFiles();
    for (const path of [COMPOSE, DOCKERFILE]) files.set(path, files.get(path)!.replace(/\n/g, '\r\n'));
    const { result } = fixTwice(files);
    for (const path of [COMPOSE, DOCKERFILE]) {
      expect(result.get(path)).not.toBe(files.get(path));
      expect(result.get(path)!.replace(/\r\n/g, '')).not.toContain('\n');
    }
    expectEgressStartsHealthy(result);
  });

  it('finds the role templates under ansible/', () => {
    const files = new Map([...fixtureFiles()].map(([path, text]) => [`ansible/${path}`, text]));
    const { plan, result } = fixTwice(files);
    expect(plan.pending.map((outcome) => outcome.patch.id)).toEqual(['egress-writable-run', 'egress-tcp-healthcheck']);
    expectEgressStartsHealthy(result);
  });
});
