#!/usr/bin/env node
// Part of `npm run build`: bundles the compiled CLI (dist/src/cli.js, tsc's output) and every
// package it imports into one CommonJS file, dist/openclaw-fix.cjs, which bin/openclaw-fix.js
// loads through the V8 code cache (src/code-cache.ts).
//
// Why: a short run (a dry run, --check) used to spend about a third of its time resolving and
// compiling some two hundred ES modules one by one (npm run bench). One file resolves once; a
// CommonJS script, unlike an ES module on Node 20, can be compiled from a code cache; and
// esbuild initialises a module reached only through `import()` (verify with the Go checker,
// the push and pull-request code, the patch-series writer) when it is first imported, as the
// unbundled modes did.
//
// Usage: node scripts/bundle.mjs [buildDir]   (buildDir holds dist/; defaults to the package root)
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const buildDir = resolve(process.argv[2] ?? root);
const outfile = join(buildDir, 'dist', 'openclaw-fix.cjs');
const LAZY_STRING_WIDTH = fileURLToPath(new URL('bundle/string-width-lazy.js', import.meta.url));
const LAZY_ASSERT = fileURLToPath(new URL('bundle/assert-lazy.js', import.meta.url));

/**
 * `import.meta.url` means "where this module's file is": the CLI reads package.json, the
 * catalogue, each fix's prose (<id>.md) and verify's Go stand-in beside its module, and yargs its
 * locales. In the bundle every module keeps its own URL, relative to the bundle's, so those
 * files are found where the build left them.
 */
const ownUrls = {
  name: 'own-import-meta-url',
  setup(bundler) {
    bundler.onLoad({ filter: /\.(c|m)?js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      const fromBundle = relative(dirname(outfile), args.path).split('\\').join('/');
      return {
        contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle)}, __bundleUrl).href`),
        loader: 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};

/**
 * yargs measures text with string-width, whose module builds an Intl.Segmenter and Unicode
 * property regular expressions when it is loaded: about 40 ms of every run (ICU data), which
 * only --help and a usage error need. Every import of it gets a stand-in that loads the real
 * module on its first call.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(bundler) {
    bundler.onResolve({ filter: /^string-width$/ }, (args) =>
      args.importer === LAZY_STRING_WIDTH ? undefined : { path: LAZY_STRING_WIDTH },
    );
  },
};

/**
 * yargs' platform shim imports node:assert for two checks of its own arguments; loading the
 * module costs a short run ~10 ms. The stand-in loads it on the first check.
 */
const lazyAssert = {
  name: 'lazy-assert',
  setup(bundler) {
    bundler.onResolve({ filter: /^(node:)?assert$/ }, (args) => (args.importer === LAZY_ASSERT ? undefined : { path: LAZY_ASSERT }));
  },
};

const result = await build({
  entryPoints: [join(buildDir, 'dist', 'src', 'cli.js')],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Node resolves a package's "import" entry; the bundle must pick the same files.
  conditions: ['import', 'node'],
  mainFields: ['module', 'main'],
  plugins: [lazyStringWidth, lazyAssert, ownUrls],
  banner: { js: `const __bundleUrl = require('node:url').pathToFileURL(__filename).href;` },
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
});

/**
 * esbuild escapes every non-ASCII character of strings, identifiers and regular expressions
 * (its default ASCII charset) but copies comments as they are. One `→` in a comment made Node
 * decode the whole 1.3 MB file as UTF-8 into a two-byte string on every run (~25 ms); an
 * ASCII file is copied byte for byte. Only comments can still hold such characters.
 */
for (const file of result.outputFiles) {
  const ascii = file.text.replace(
    /[^\x00-\x7f]/gu,
    (character) => `U+${character.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
  writeFileSync(file.path, ascii);
}
