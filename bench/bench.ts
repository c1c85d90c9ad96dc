/**
 * `npm run bench`: how openclaw-fix scales, on the fixture and on the fixture plus 50,000
 * generated files (a temp dir, committed with one `git fast-import`).
 *
 *   - committing the fixes (the pipeline `--apply` runs after planning) against `git am` of
 *     the same series on the same base: ≤ 1.5×, on both repos;
 *   - `--dry-run` on the large repo against the fixture: ≤ 1.5×;
 *   - peak RSS of the openclaw-fix process: ≤ 150 MiB.
 *
 * End-to-end `--apply` is printed too, without a target: Node's start-up and module loading
 * (measured with --version) cost a fixed ~0.2 s that `git am`, a C program, does not pay.
 * Each figure is the median of several runs. Exit 1 when a target is missed. A benchmark,
 * never a test: timings depend on the machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = join(PROJECT_ROOT, 'fixtures', 'deployment-repo');
const THIS_SCRIPT = fileURLToPath(import.meta.url);
const BRANCH = 'openclaw-fix/deployment-bugs';
const EXTRA_FILES = Number(process.env.OPENCLAW_BENCH_FILES ?? 50_000);
const RUNS = 7;
const IDENTITY = { GIT_AUTHOR_NAME: 'Bench', GIT_AUTHOR_EMAIL: 'bench@example.com', GIT_COMMITTER_NAME: 'Bench', GIT_COMMITTER_EMAIL: 'bench@example.com' };

const TARGET_RATIO = 1.5;
const TARGET_RSS_MIB = 150;

function git(cwd: string, args: string[], input?: string | Buffer): string {
  return execFileSync('git', args, { cwd, input, env: { ...process.env, ...IDENTITY }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};

/**
 * Child mode: `node bench.js --child DIR ARGS…` runs the CLI in this process and reports its
 * wall time and peak RSS; `--child-commit DIR` times only the commit pipeline, RUNS times.
 */
async function child(mode: string, dir: string, args: string[]): Promise<void> {
  if (mode === '--child') {
    const started = performance.now();
    const { main } = await import('../src/cli.js');
    const code = await main(args, { stdout: { write: () => true }, stderr: process.stderr, env: process.env, cwd: dir });
    process.stdout.write(`${JSON.stringify({ code, ms: performance.now() - started, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
    return;
  }
  const { Git, loadCommitFiles } = await import('../src/git.js');
  const { buildCommits } = await import('../src/apply.js');
  const { candidateGlobs, planFixes } = await import('../src/engine.js');
  const { allPatches } = await import('../patches/index.js');
  const repo = await Git.open(dir);
  const head = (await repo.head()) ?? '';
  const loaded = await loadCommitFiles(repo, head, candidateGlobs(allPatches));
  const plan = planFixes(loaded.files, allPatches);
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    await buildCommits(repo, head, plan, loaded.modes);
    times.push(performance.now() - started);
  }
  process.stdout.write(`${JSON.stringify({ ms: median(times), commits: plan.pending.length })}\n`);
}

interface ChildReport {
  code: number;
  ms: number;
  maxRssKiB: number;
}

function runCli(dir: string, args: string[]): ChildReport {
  const result = spawnSync(process.execPath, [THIS_SCRIPT, '--child', dir, ...args], { encoding: 'utf8', env: { ...process.env, ...IDENTITY, NO_COLOR: '1' } });
  const last = result.stdout.trim().split('\n').at(-1) ?? '';
  const report = (last.startsWith('{') ? JSON.parse(last) : { code: result.status ?? 1 }) as ChildReport;
  if (result.status !== 0 || report.code !== 0) throw new Error(`openclaw-fix ${args.join(' ')} failed in ${dir}: ${result.stderr}${result.stdout}`);
  return report;
}

/** Wall time of a git command, as a process, like the CLI's. */
function timeGit(dir: string, args: string[]): number {
  const started = performance.now();
  const result = spawnSync('git', args, { cwd: dir, env: { ...process.env, ...IDENTITY } });
  const ms = performance.now() - started;
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr.toString()}`);
  return ms;
}

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
    const path = index % 5 === 0 ? `roles/bulk-${String(index % 100).padStart(3, '0')}/files/asset-${index}.txt` : `vendor/pkg-${String(index % 400).padStart(3, '0')}/src/module-${index}.js`;
    chunks.push(Buffer.from(`M 100644 inline ${path}\n`));
    data(`// generated file ${index}\n`);
  }
  chunks.push(Buffer.from('done\n'));
  git(dir, ['fast-import', '--quiet', '--done'], Buffer.concat(chunks));
  git(dir, ['reset', '-q', '--hard', 'main']);
  return dir;
}

interface RepoFigures {
  name: string;
  commits: number;
  pipelineMs: number;
  gitAmMs: number;
  applyEndToEndMs: number;
  peakRssKiB: number;
}

function measure(parent: string, dir: string, name: string): RepoFigures {
  const base = git(dir, ['rev-parse', 'HEAD']).trim();
  const series = join(parent, `${name}.mbox`);
  const seriesResult = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'openclaw-fix.js'), '--repo', dir, '--format', 'patch'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  writeFileSync(series, seriesResult.stdout);

  const amClone = join(parent, `${name}-am`);
  git(parent, ['clone', '-q', dir, amClone]);
  const gitAm: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    git(amClone, ['reset', '-q', '--hard', base]);
    gitAm.push(timeGit(amClone, ['am', '-q', series]));
  }

  const pipeline = spawnSync(process.execPath, [THIS_SCRIPT, '--child-commit', dir], { encoding: 'utf8', env: { ...process.env, ...IDENTITY } });
  const { ms: pipelineMs, commits } = JSON.parse(pipeline.stdout.trim()) as { ms: number; commits: number };

  const apply: ChildReport[] = [];
  for (let run = 0; run < RUNS; run++) {
    git(dir, ['update-ref', '-d', `refs/heads/${BRANCH}`]);
    apply.push(runCli(dir, ['--apply']));
  }
  return {
    name,
    commits,
    pipelineMs,
    gitAmMs: median(gitAm),
    applyEndToEndMs: median(apply.map((report) => report.ms)),
    peakRssKiB: Math.max(...apply.map((report) => report.maxRssKiB)),
  };
}

async function bench(): Promise<number> {
  const parent = mkdtempSync(join(tmpdir(), 'openclaw-fix-bench-'));
  try {
    const small = makeRepo(parent, 'fixture', 0);
    process.stdout.write(`generating a repo with ${EXTRA_FILES.toLocaleString('en')} extra files…\n`);
    const large = makeRepo(parent, 'large', EXTRA_FILES);
    const startup = median(Array.from({ length: RUNS }, () => runCli(small, ['--version']).ms));
    const figures = [measure(parent, small, 'fixture'), measure(parent, large, `fixture + ${EXTRA_FILES.toLocaleString('en')} files`)];
    // Alternating the two repos, so that load from other processes weighs on both alike.
    const smallDryRuns: ChildReport[] = [];
    const largeDryRuns: ChildReport[] = [];
    for (let run = 0; run < RUNS; run++) {
      smallDryRuns.push(runCli(small, ['--dry-run']));
      largeDryRuns.push(runCli(large, ['--dry-run']));
    }
    const smallDryRun = median(smallDryRuns.map((report) => report.ms));
    const largeDryRun = median(largeDryRuns.map((report) => report.ms));

    let missed = 0;
    const ms = (value: number): string => `${value.toFixed(0)} ms`;
    const check = (label: string, value: string, ratio: number, target: number, unit = '×'): void => {
      const pass = ratio <= target;
      if (!pass) missed++;
      process.stdout.write(`${pass ? 'PASS' : 'FAIL'}  ${label.padEnd(62)} ${value.padEnd(34)} target ≤ ${target}${unit}\n`);
    };
    process.stdout.write(`\nopenclaw-fix bench (median of ${RUNS} runs; Node ${process.version})\n\n`);
    for (const repo of figures) {
      check(`[${repo.name}] commit ${repo.commits} fixes vs git am of the series`, `${ms(repo.pipelineMs)} vs ${ms(repo.gitAmMs)} = ${(repo.pipelineMs / repo.gitAmMs).toFixed(2)}×`, repo.pipelineMs / repo.gitAmMs, TARGET_RATIO);
    }
    check('--dry-run, large repo vs fixture', `${ms(largeDryRun)} vs ${ms(smallDryRun)} = ${(largeDryRun / smallDryRun).toFixed(2)}×`, largeDryRun / smallDryRun, TARGET_RATIO);
    const peakMiB = Math.max(...figures.map((repo) => repo.peakRssKiB), ...[...smallDryRuns, ...largeDryRuns].map((report) => report.maxRssKiB)) / 1024;
    check('peak RSS of openclaw-fix (--apply, --dry-run, both repos)', `${peakMiB.toFixed(1)} MiB`, peakMiB, TARGET_RSS_MIB, ' MiB');
    process.stdout.write('\nwithout a target:\n');
    for (const repo of figures) {
      process.stdout.write(`info  [${repo.name}] --apply end to end, verification included: ${ms(repo.applyEndToEndMs)} (git am ${ms(repo.gitAmMs)})\n`);
    }
    process.stdout.write(`info  Node start-up and module loading (--version): ${ms(startup)} of every run\n`);
    process.stdout.write(missed === 0 ? '\nall targets met\n' : `\n${missed} target${missed === 1 ? '' : 's'} missed\n`);
    return missed === 0 ? 0 : 1;
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
}

const [mode, dir, ...rest] = process.argv.slice(2);
if (mode === '--child' || mode === '--child-commit') {
  await child(mode, dir ?? '.', rest);
} else {
  process.exitCode = await bench();
}
