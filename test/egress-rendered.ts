/**
 * What the egress fixes (bugs 2 and 1) promise, read from what Ansible would deploy: the
 * RENDERED Compose service and Dockerfile of the egress proxy. Their PatchTester tables
 * (patches/egress-writable-run/, patches/egress-tcp-healthcheck/) prove every case with it.
 */
import { expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { findApkAdds, parseDockerfile, runtimeStage } from '../src/toolkit/dockerfile.js';
import { loadVars, renderTemplate } from '../src/model/render/render.js';

export const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
export const DOCKERFILE = 'roles/openclaw-config/templates/Dockerfile.smokescreen.j2';

type Files = ReadonlyMap<string, string>;

// ---- what the deployment gets: rendered output -------------------------------------------------

export interface RenderedEgress {
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

export function renderEgress(files: Files): RenderedEgress {
  const vars = loadVars(files);
  const compose = parseYaml(renderTemplate(files.get(pathOf(files, COMPOSE))!, vars)) as {
    services: Record<string, Record<string, unknown>>;
  };
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
  else if (Array.isArray(test) && test[0] === 'CMD')
    probe = test.slice(1).map((item) => {
      expect(typeof item, 'Compose wants every test item to be a string').toBe('string');
      return item as string;
    });
  else throw new Error(`unexpected healthcheck test ${JSON.stringify(test)}`);

  const dockerfile = parseDockerfile('Dockerfile', renderTemplate(files.get(pathOf(files, DOCKERFILE))!, vars));
  const runtimePackages = findApkAdds(dockerfile, runtimeStage(dockerfile)!).flatMap((apk) => apk.packages.map((word) => word.value));
  return { readOnly: egress.read_only, tmpfsMounts, command, probe, probeTimeout, runtimePackages };
}

export function flagValue(command: readonly string[], name: string): string | undefined {
  for (const [index, arg] of command.entries()) {
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
    if (arg === `--${name}`) return command[index + 1];
  }
  return undefined;
}

/** The properties the two fixes promise, read from what Ansible would deploy. */
export function expectEgressStartsHealthy(files: Files): RenderedEgress {
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
