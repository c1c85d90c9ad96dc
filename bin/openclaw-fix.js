#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through `prepare`).
// A plain `--list` is answered from the catalogue the build wrote, without loading the fixes.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { quickList } from '../dist/src/output/catalogue.js';

// A run lasts a second or two: V8's optimising compiler (TurboFan) spends more CPU compiling,
// on background threads, than the optimised code gives back before the process ends. Without it
// a dry run of the bundled fixture costs about a quarter less CPU, and the 50,000-file repo's
// about a tenth less (npm run bench). Set before the CLI is loaded; the interpreter and the
// baseline compiler still run everything, only later tiering is off.
setFlagsFromString('--no-opt');

// A full disk or a reader that went away (`> /dev/full`, `| head -1`) must not end in a stack
// trace and exit 1 ("fixes pending") after the work is done: one line, exit 2.
let outputLost = false;
process.stdout.on('error', (error) => {
  if (!outputLost) {
    outputLost = true;
    const what = error.code === 'EPIPE' ? 'EPIPE: the reader closed it' : (error.code ?? error.message);
    process.stderr.write(
      `openclaw-fix: cannot write to standard output (${what}); the output is lost, not the run's work (--apply: see the fix branch)\n`,
    );
  }
  process.exitCode = 2;
});

/**
 * The CLI bundled into one file (scripts/bundle.mjs) and compiled from V8's code cache in the
 * user's cache directory (src/core/code-cache.ts; --no-cache: neither read nor written); the
 * unbundled modules when the bundle is missing (a build made by tsc alone).
 */
async function loadCli(args) {
  const bundle = fileURLToPath(new URL('../dist/openclaw-fix.cjs', import.meta.url));
  if (!existsSync(bundle)) {
    const { main } = await import('../dist/src/cli.js');
    return { main, saveCache: () => {} };
  }
  const { loadWithCodeCache } = await import('../dist/src/core/code-cache.js');
  const { userCacheDir } = await import('../dist/src/core/cache-dir.js');
  const loaded = loadWithCodeCache(bundle, args.includes('--no-cache') ? undefined : userCacheDir());
  return { main: loaded.exports.main, saveCache: () => loaded.saveCache() };
}

const argv = process.argv.slice(2);
const listed = quickList(argv);
if (listed !== undefined) {
  process.stdout.write(listed);
} else {
  const { main, saveCache } = await loadCli(argv);
  const code = await main(argv);
  saveCache();
  process.exitCode = outputLost ? 2 : code;
}
