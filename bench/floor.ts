/**
 * The bench's "floor" row: the least a run built on the design card's libraries can cost, as a
 * whole process. It loads `yaml`, `nunjucks` and `diff` and parses each of the repository's
 * YAML files (templates included, Jinja masked) once with `yaml`, and does nothing else: no
 * fix, no render, no diff, no second parse of an edited file. A dry run cannot cost less than
 * this; the bench sets it beside `git am` so a target below it shows as out of reach.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const YAML = require('yaml') as typeof import('yaml');
require('nunjucks');
require('diff');

const root = process.cwd();
const yamlFiles = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  .split('\0')
  .filter((path) => /\.ya?ml(\.j2)?$/.test(path));
let documents = 0;
for (const path of yamlFiles) {
  // Each Jinja span replaced by as many `x`s: one pass of a regular expression, the cheapest mask.
  const text = readFileSync(join(root, path), 'utf8').replace(/\{[{%#][\s\S]*?[}%#]\}/g, (span) => 'x'.repeat(span.length));
  documents += YAML.parseAllDocuments(text).length;
}
if (documents === 0) process.exitCode = 1;
