#!/usr/bin/env node
// Part of `npm run build`: tsc compiles patches/<id>/<id>.ts into dist/patches/<id>/, and this
// copies what sits beside each module and is read at run time (its prose <id>.md, assets such
// as bug 3's Go entrypoint), so src/core/patch-home.ts finds them next to the compiled module.
// Usage: node scripts/copy-patch-homes.mjs [outDir]   (outDir defaults to dist/)
import { cpSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'patches');
const target = join(resolve(process.argv[2] ?? join(root, 'dist')), 'patches');
const copied = readdirSync(source, { recursive: true, encoding: 'utf8' }).filter((name) => /\.(md|go)$/.test(name));
for (const name of copied) cpSync(join(source, name), join(target, name));
