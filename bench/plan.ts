/**
 * `node dist/bench/plan.js [repo-dir] [runs]`: the CPU cost of planning a dry run, in process.
 * Each run is a fresh Node process that loads the repo's candidate files (walking the directory,
 * filtered by the fixes' globs as the loader filters git's listing), then times one planFixes,
 * cold: module loading and the loader are outside the figure, the code's first-run costs
 * (compilation, the parser warming up) are inside it, as a user pays them. Prints the median
 * wall and CPU milliseconds of the runs (default: the bundled fixture, 7 runs).
 *
 * Complements `npm run bench` (whole processes): this isolates the engine and the checks.
 * A benchmark, never a test: timings belong to the machine.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allPatches } from '../patches/index.js';
import { candidateGlobs, candidateScripts, planFixes } from '../src/core/engine.js';
import { matchesAny } from '../src/core/repo-view.js';
import { decodeLossless } from '../src/core/bytes.js';
import { isShellScript } from '../src/toolkit/shell.js';
import { median } from './median.js';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

function loadFiles(root: string): Map<string, string> {
  const globs = candidateGlobs(allPatches);
  const scripts = candidateScripts(allPatches);
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === '.git') continue;
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const path = relative(root, full).split('\\').join('/');
        if (matchesAny(path, globs)) files.set(path, decodeLossless(readFileSync(full)));
        else if (matchesAny(path, scripts)) {
          const text = decodeLossless(readFileSync(full));
          if (isShellScript(path, text)) files.set(path, text); // as the loaders do
        }
      }
    }
  };
  walk(root);
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** One cold planFixes in this process: {wallMs, cpuMs, states}. */
function measureOnce(root: string): void {
  const files = loadFiles(root);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const plan = planFixes(files, allPatches);
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - started;
  process.stdout.write(
    `${JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000, files: files.size, states: plan.outcomes.map((o) => o.state) })}\n`,
  );
}

if (process.env.OPENCLAW_PLAN_BENCH_CHILD === '1') {
  measureOnce(resolve(process.argv[2]!));
} else {
  const root = resolve(process.argv[2] ?? join(PROJECT_ROOT, 'fixtures', 'deployment-repo'));
  const runs = Math.max(1, Number(process.argv[3] ?? 7));
  const results: { wallMs: number; cpuMs: number; files: number }[] = [];
  for (let index = 0; index < runs; index++) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), root], {
      env: { ...process.env, OPENCLAW_PLAN_BENCH_CHILD: '1' },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`run ${index + 1} failed: ${child.stderr}`);
    results.push(JSON.parse(child.stdout) as { wallMs: number; cpuMs: number; files: number });
  }
  const round = (value: number): number => Math.round(value);
  process.stdout.write(
    `planFixes on ${root} (${results[0]?.files ?? 0} candidate files), ${runs} fresh processes: ` +
      `median wall ${round(median(results.map((r) => r.wallMs)))} ms, CPU ${round(median(results.map((r) => r.cpuMs)))} ms ` +
      `(CPU of each: ${results.map((r) => round(r.cpuMs)).join(', ')})\n`,
  );
}
