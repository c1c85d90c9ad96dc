/**
 * `npm run bench`: what a user, a bot and CI pay for a run of openclaw-fix, as whole processes
 * (Node's start-up and module loading included), side by side in one run:
 *
 *   `node -e 0`, `git am` of the same fix series, the floor (Node, the design card's libraries
 *   and one parse of each YAML file, bench/floor.ts), and openclaw-fix `--list`, a dry run with a
 *   warm and with an empty cache, `--apply` with a cold and with a warm cache (XDG_CACHE_HOME:
 *   a new empty directory for each cold run, one reused directory for the warm ones; it holds
 *   the Go proof and V8's code cache of the CLI) and `verify` on the fixed tree,
 *   on the bundled fixture and on the fixture plus 50,000 generated files.
 *
 * Every round runs each command once, in turn, so load from other processes on a shared
 * machine weighs on all of them alike; ratios are taken within a round (A/B pair by pair) and
 * the median of the rounds is quoted. Peak RSS is each openclaw-fix process's own maximum
 * resident set, reported by the process at exit.
 *
 * Targets: dry run ≤ 3× git am; warm --apply ≤ 4× git am; --list ≤ 2× node -e 0; dry run on
 * the large repo ≤ 1.5× the fixture; peak RSS ≤ 150 MiB. Exit 1 when one is missed. A
 * benchmark, never a test: timings belong to the machine.
 *
 * OPENCLAW_BENCH_RUNS (default 5) rounds; OPENCLAW_BENCH_FILES (default 50000) generated files;
 * OPENCLAW_BENCH_CLI another build's bin/openclaw-fix.js to measure instead of this one's;
 * OPENCLAW_BENCH_BASELINE one more, measured in the same rounds (before/after, side by side).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './median.js';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(PROJECT_ROOT, 'fixtures', 'deployment-repo');
const CLI = resolve(process.env.OPENCLAW_BENCH_CLI ?? join(PROJECT_ROOT, 'bin', 'openclaw-fix.js'));
/** Another build's bin/openclaw-fix.js, measured in the same rounds (a before/after comparison). */
const BASELINE = process.env.OPENCLAW_BENCH_BASELINE ? resolve(process.env.OPENCLAW_BENCH_BASELINE) : undefined;
const BRANCH = 'openclaw-fix/deployment-bugs';
/** Node, the design card's libraries and one parse of each YAML file: what no dry run can go below (bench/floor.ts). */
const FLOOR = fileURLToPath(new URL('./floor.js', import.meta.url));
const EXTRA_FILES = Number(process.env.OPENCLAW_BENCH_FILES ?? 50_000);
const ROUNDS = Math.max(1, Number(process.env.OPENCLAW_BENCH_RUNS ?? 5));
const IDENTITY = {
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

const TARGETS = { dryVsAm: 3, warmApplyVsAm: 4, listVsNode: 2, largeVsFixtureDry: 1.5, rssMiB: 150 } as const;

function git(cwd: string, args: string[], input?: string | Buffer): string {
  return execFileSync('git', args, { cwd, input, env: { ...process.env, ...IDENTITY }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

// -- processes --

interface Timed {
  ms: number;
  /** Peak RSS of the openclaw-fix process, KiB (undefined for other programs). */
  maxRssKiB?: number;
}

interface Command {
  file: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Exit codes that count as a normal run. */
  codes?: readonly number[];
}

/** A `--require`d file that makes a Node process report its peak RSS when it exits. */
let rssReporter = '';

function time(command: Command): Timed {
  const rssFile = join(tmpdir(), `openclaw-fix-bench-rss-${process.pid}`);
  const isNode = command.file === process.execPath;
  const args = isNode ? ['--require', rssReporter, ...command.args] : command.args;
  rmSync(rssFile, { force: true });
  const started = performance.now();
  const result = spawnSync(command.file, args, {
    cwd: command.cwd,
    env: { ...process.env, ...IDENTITY, NO_COLOR: '1', OPENCLAW_BENCH_RSS_FILE: rssFile, ...command.env },
    maxBuffer: 256 * 1024 * 1024,
  });
  const ms = performance.now() - started;
  if (result.status === null || !(command.codes ?? [0]).includes(result.status)) {
    throw new Error(
      `${[command.file, ...command.args].join(' ')} in ${command.cwd} exited ${result.status ?? result.signal}: ${String(result.stderr).slice(0, 2000)}`,
    );
  }
  let maxRssKiB: number | undefined;
  try {
    maxRssKiB = Number(readFileSync(rssFile, 'utf8'));
  } catch {
    // not a Node process
  }
  rmSync(rssFile, { force: true });
  return { ms, ...(maxRssKiB !== undefined ? { maxRssKiB } : {}) };
}

// -- repositories --

function listFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current)) {
      const full = join(current, entry);
      if (statSync(full).isDirectory()) walk(full);
      else files.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return files.sort();
}

/** The fixture, plus `extraFiles` generated ones, as one commit on `main` with a checked-out work tree. */
function makeRepo(parent: string, name: string, extraFiles: number): string {
  const dir = join(parent, name);
  git(parent, ['init', '-q', '-b', 'main', dir]);
  const chunks: Buffer[] = [];
  const data = (content: Buffer | string): void => {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
    chunks.push(Buffer.from(`data ${bytes.length}\n`), bytes, Buffer.from('\n'));
  };
  chunks.push(Buffer.from(`commit refs/heads/main\ncommitter Bench <bench@example.com> 1700000000 +0000\n`));
  data('deployment repo\n');
  for (const path of listFiles(FIXTURE)) {
    chunks.push(Buffer.from(`M 100644 inline ${path}\n`));
    data(readFileSync(join(FIXTURE, path)));
  }
  // A big monorepo: most files far from the roles, a fifth inside roles that no fix reads.
  for (let index = 0; index < extraFiles; index++) {
    const path =
      index % 5 === 0
        ? `roles/bulk-${String(index % 100).padStart(3, '0')}/files/asset-${index}.txt`
        : `vendor/pkg-${String(index % 400).padStart(3, '0')}/src/module-${index}.js`;
    chunks.push(Buffer.from(`M 100644 inline ${path}\n`));
    data(`// generated file ${index}\n`);
  }
  chunks.push(Buffer.from('done\n'));
  git(dir, ['fast-import', '--quiet', '--done'], Buffer.concat(chunks));
  git(dir, ['reset', '-q', '--hard', 'main']);
  return dir;
}

// -- the measured commands of one repo --

const ROWS = [
  'node -e 0',
  'git am of the series',
  'floor (bench/floor.ts)',
  '--list',
  'dry run',
  'dry run, empty cache',
  '--apply, cold cache',
  '--apply, warm cache',
  'verify (fixed tree)',
] as const;
type Row = (typeof ROWS)[number];
/** The rows that measure something else than openclaw-fix (no RSS of ours to report). */
const NOT_OPENCLAW: ReadonlySet<Row> = new Set<Row>(['node -e 0', 'git am of the series', 'floor (bench/floor.ts)']);

interface RepoBench {
  name: string;
  commits: number;
  /** Runs one round with the CLI at `cli`: every row once. */
  round(cli: string): Map<Row, Timed>;
}

function prepare(parent: string, dir: string, name: string, clis: readonly string[]): RepoBench {
  const base = git(dir, ['rev-parse', 'HEAD']).trim();
  const series = join(parent, `${name}.mbox`);
  const seriesRun = spawnSync(process.execPath, [CLI, '--repo', dir, '--format', 'patch'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...IDENTITY },
  });
  if (seriesRun.status !== 0) throw new Error(`--format patch failed: ${seriesRun.stderr}`);
  writeFileSync(series, seriesRun.stdout);
  const commits = (seriesRun.stdout.match(/^From [0-9a-f]{40} /gm) ?? []).length;

  const amClone = join(parent, `${name}-am`);
  git(parent, ['clone', '-q', '--no-checkout', dir, amClone]);
  git(amClone, ['checkout', '-q', '-B', 'main', base]);

  const deleteBranch = (): void => {
    spawnSync('git', ['update-ref', '-d', `refs/heads/${BRANCH}`], { cwd: dir });
  };
  const apply = (cli: string, cache: string): Command => ({
    file: process.execPath,
    args: [cli, '--apply'],
    cwd: dir,
    env: { XDG_CACHE_HOME: cache },
  });
  // One warm cache per CLI, warmed by a first run; the branch it writes is the fixed tree verify reads.
  const warmCaches = new Map<string, string>();
  for (const cli of clis) {
    const cache = mkdtempSync(join(parent, 'warm-cache-'));
    deleteBranch();
    time(apply(cli, cache));
    warmCaches.set(cli, cache);
  }
  const fixed = join(parent, `${name}-fixed`);
  git(parent, ['clone', '-q', '--no-checkout', '--branch', BRANCH, dir, fixed]);
  git(fixed, ['checkout', '-q', BRANCH]);

  const round = (cli: string): Map<Row, Timed> => {
    const warmCache = warmCaches.get(cli)!;
    const figures = new Map<Row, Timed>();
    figures.set('node -e 0', time({ file: process.execPath, args: ['-e', '0'], cwd: dir }));
    git(amClone, ['reset', '-q', '--hard', base]);
    figures.set('git am of the series', time({ file: 'git', args: ['am', '-q', series], cwd: amClone }));
    // With the launcher's --no-opt, which makes a run this short cheaper.
    figures.set('floor (bench/floor.ts)', time({ file: process.execPath, args: ['--no-opt', FLOOR], cwd: dir }));
    figures.set('--list', time({ file: process.execPath, args: [cli, '--list'], cwd: dir }));
    // A user's second and later runs: the code cache the first one wrote (src/core/code-cache.ts).
    figures.set('dry run', time({ file: process.execPath, args: [cli], cwd: dir, env: { XDG_CACHE_HOME: warmCache } }));
    // The first run after an install, or with the cache deleted: the bundle compiled from source.
    const emptyCache = mkdtempSync(join(parent, 'empty-cache-'));
    figures.set('dry run, empty cache', time({ file: process.execPath, args: [cli], cwd: dir, env: { XDG_CACHE_HOME: emptyCache } }));
    rmSync(emptyCache, { recursive: true, force: true });
    deleteBranch();
    const coldCache = mkdtempSync(join(parent, 'cold-cache-'));
    figures.set('--apply, cold cache', time(apply(cli, coldCache)));
    rmSync(coldCache, { recursive: true, force: true });
    deleteBranch();
    figures.set('--apply, warm cache', time(apply(cli, warmCache)));
    figures.set(
      'verify (fixed tree)',
      time({ file: process.execPath, args: [cli, 'verify'], cwd: fixed, env: { XDG_CACHE_HOME: warmCache }, codes: [0, 1] }),
    );
    return figures;
  };
  return { name, commits, round };
}

// -- report --

function machineLine(): string {
  const cpu = cpus();
  const git = execFileSync('git', ['--version'], { encoding: 'utf8' }).trim();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}; ${git}; load average ${loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')}`;
}

async function bench(): Promise<number> {
  const parent = mkdtempSync(join(tmpdir(), 'openclaw-fix-bench-'));
  rssReporter = join(parent, 'report-rss.cjs');
  writeFileSync(
    rssReporter,
    "process.on('exit', () => { const out = process.env.OPENCLAW_BENCH_RSS_FILE; if (out) require('fs').writeFileSync(out, String(process.resourceUsage().maxRSS)); });\n",
  );
  try {
    process.stdout.write(`openclaw-fix bench: ${CLI}\nmachine: ${machineLine()}\n`);
    const small = makeRepo(parent, 'fixture', 0);
    process.stdout.write(`generating a repo with ${EXTRA_FILES.toLocaleString('en')} extra files…\n`);
    const large = makeRepo(parent, 'large', EXTRA_FILES);
    const clis = BASELINE ? [CLI, BASELINE] : [CLI];
    const repos = [prepare(parent, small, 'fixture', clis), prepare(parent, large, `+${EXTRA_FILES.toLocaleString('en')} files`, clis)];
    /** rounds[round][cli][repo]: each round runs every CLI on every repo, in turn. */
    const rounds: Map<Row, Timed>[][][] = [];
    for (let index = 0; index < ROUNDS; index++) {
      process.stdout.write(`round ${index + 1}/${ROUNDS}\n`);
      rounds.push(clis.map((cli) => repos.map((repo) => repo.round(cli))));
    }
    const at = (round: Map<Row, Timed>[][], cli: number, repo: number, row: Row): Timed => round[cli]![repo]!.get(row)!;
    const figure = (cli: number, repo: number, row: Row): number => median(rounds.map((round) => at(round, cli, repo, row).ms));
    /** Median over the rounds of the ratio within each round. */
    const ratio = (cli: number, a: [number, Row], b: [number, Row]): number =>
      median(rounds.map((round) => at(round, cli, a[0], a[1]).ms / at(round, cli, b[0], b[1]).ms));
    const rssMiB = (cli: number, repo: number, row: Row): number =>
      Math.max(...rounds.map((round) => at(round, cli, repo, row).maxRssKiB ?? 0)) / 1024;

    const ms = (value: number): string => `${value.toFixed(0)} ms`;
    const columns = repos.map((repo) => `${repo.name} (${repo.commits} commits)`);
    clis.forEach((cli, index) => {
      const lines: string[] = [];
      lines.push(
        `\n${index === 0 ? 'this build' : 'baseline'} (${cli}): whole processes, median of ${ROUNDS} rounds; ratios within each round, then their median\n`,
      );
      lines.push(`| ${'command'.padEnd(24)} | ${columns.map((column) => column.padEnd(34)).join(' | ')} |`);
      lines.push(`| ${'-'.repeat(24)} | ${columns.map(() => '-'.repeat(34)).join(' | ')} |`);
      for (const row of ROWS) {
        const cells = repos.map((_, repo) => {
          const parts = [ms(figure(index, repo, row))];
          if (row === '--list') parts.push(`${ratio(index, [repo, row], [repo, 'node -e 0']).toFixed(2)}× node`);
          if (row !== 'node -e 0' && row !== 'git am of the series' && row !== '--list')
            parts.push(`${ratio(index, [repo, row], [repo, 'git am of the series']).toFixed(2)}× git am`);
          if (!NOT_OPENCLAW.has(row)) parts.push(`${rssMiB(index, repo, row).toFixed(0)} MiB`);
          return parts.join(', ').padEnd(34);
        });
        lines.push(`| ${row.padEnd(24)} | ${cells.join(' | ')} |`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
    process.stdout.write(`\ntargets (this build):\n`);

    let missed = 0;
    const check = (label: string, value: number, target: number, unit: string): void => {
      const pass = value <= target;
      if (!pass) missed++;
      process.stdout.write(
        `${pass ? 'PASS' : 'FAIL'}  ${label.padEnd(48)} ${value.toFixed(2).padStart(7)}${unit}  target ≤ ${target}${unit}\n`,
      );
    };
    repos.forEach((repo, index) => {
      check(`[${repo.name}] dry run vs git am`, ratio(0, [index, 'dry run'], [index, 'git am of the series']), TARGETS.dryVsAm, '×');
      check(
        `[${repo.name}] --apply, warm cache vs git am`,
        ratio(0, [index, '--apply, warm cache'], [index, 'git am of the series']),
        TARGETS.warmApplyVsAm,
        '×',
      );
    });
    check('--list vs node -e 0', ratio(0, [0, '--list'], [0, 'node -e 0']), TARGETS.listVsNode, '×');
    check(`dry run, ${repos[1]!.name} vs fixture`, ratio(0, [1, 'dry run'], [0, 'dry run']), TARGETS.largeVsFixtureDry, '×');
    const peak = Math.max(...repos.flatMap((_, repo) => ROWS.filter((row) => !NOT_OPENCLAW.has(row)).map((row) => rssMiB(0, repo, row))));
    check('peak RSS of openclaw-fix, any command', peak, TARGETS.rssMiB, ' MiB');
    process.stdout.write(
      `machine at the end: load average ${loadavg()
        .map((value) => value.toFixed(1))
        .join(' ')}\n`,
    );
    process.stdout.write(missed === 0 ? '\nall targets met\n' : `\n${missed} target${missed === 1 ? '' : 's'} missed\n`);
    return missed === 0 ? 0 : 1;
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}

process.exitCode = await bench();
