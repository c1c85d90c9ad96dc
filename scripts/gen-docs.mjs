#!/usr/bin/env node
// Regenerates docs/fixes.md from the compiled patch modules (run through `npm run docs`).
import { writeFileSync } from 'node:fs';
import { allPatches } from '../dist/patches/index.js';
import { fixesDocument } from '../dist/src/output/fixes-doc.js';

writeFileSync(new URL('../docs/fixes.md', import.meta.url), fixesDocument(allPatches));
console.log(`docs/fixes.md: ${allPatches.length} fixes`);
