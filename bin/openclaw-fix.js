#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through `prepare`).
// A plain `--list` is answered from the catalogue the build wrote, without loading the fixes.
import { quickList } from '../dist/src/output/catalogue.js';

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

const argv = process.argv.slice(2);
const listed = quickList(argv);
if (listed !== undefined) {
  process.stdout.write(listed);
} else {
  const { main } = await import('../dist/src/cli.js');
  const code = await main(argv);
  process.exitCode = outputLost ? 2 : code;
}
