#!/usr/bin/env node
// Writes dist/catalogue.json from the compiled patch modules (part of `npm run build`): what
// bin/openclaw-fix.js prints for a plain --list without loading them (src/output/catalogue.ts).
import { writeFileSync } from 'node:fs';
import { allPatches } from '../dist/patches/index.js';
import { catalogueFile } from '../dist/src/output/catalogue.js';

writeFileSync(new URL('../dist/catalogue.json', import.meta.url), catalogueFile(allPatches));
