/**
 * A fix is named only in its own home: code outside patches/<id>/ keys on the imported module
 * (its `id`, its `bug`), never on a copied id string or bug number, so renaming or adding a fix
 * touches its folder and one line of patches/index.ts. Tests, docs and each fix's own prose may
 * name fixes; code may not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { PROJECT_ROOT } from './helpers.js';

const CODE = /\.(ts|mjs|js)$/;

function codeFiles(dir: string): string[] {
  return readdirSync(join(PROJECT_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => CODE.test(name) && !name.endsWith('.test.ts'))
    .map((name) => join(dir, name).split(sep).join('/'));
}

/** Code that may not name any fix: everything but the fixes' own folders (and tests, docs). */
const SHARED_CODE = [
  ...codeFiles('src'),
  ...codeFiles('bin'),
  ...codeFiles('scripts'),
  ...(safeDir('bench') ? codeFiles('bench') : []),
  'patches/index.ts',
];

function safeDir(dir: string): boolean {
  try {
    readdirSync(join(PROJECT_ROOT, dir));
    return true;
  } catch {
    return false;
  }
}

/** Keying on a bug number: `bug === 7`, `bug: 7`, `bug !== 3`, `case 7:` beside a bug. */
const BUG_NUMBER_KEY = /\bbug\s*(?:===|!==|==|!=|:)\s*\d/;

describe('no fix is named by a literal outside its own folder', () => {
  it('the scan sees the code it must (src, bin, scripts, the index)', () => {
    expect(SHARED_CODE).toEqual(
      expect.arrayContaining(['src/verify/index.ts', 'src/cli.ts', 'bin/openclaw-fix.js', 'scripts/gen-docs.mjs', 'patches/index.ts']),
    );
  });

  it('no shared code contains a fix id or keys on a bug number', () => {
    const found: string[] = [];
    for (const file of SHARED_CODE) {
      const lines = readFileSync(join(PROJECT_ROOT, file), 'utf8').split('\n');
      lines.forEach((line, index) => {
        // Importing the module by its path is how code names a fix: `…/patches/<id>/<id>.js`.
        const code = line.replace(/([a-z0-9-]+)\/\1\.js'/g, "…'");
        for (const { id } of allPatches) if (code.includes(id)) found.push(`${file}:${index + 1}: names ${id}`);
        if (BUG_NUMBER_KEY.test(line)) found.push(`${file}:${index + 1}: keys on a bug number: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });

  it("no fix's code names another fix's id", () => {
    const found: string[] = [];
    for (const { id } of allPatches) {
      for (const file of codeFiles(join('patches', id))) {
        const text = readFileSync(join(PROJECT_ROOT, file), 'utf8').replace(/([a-z0-9-]+)\/\1\.js'/g, "…'");
        for (const other of allPatches)
          if (other.id !== id && text.includes(other.id))
            found.push(`${relative(PROJECT_ROOT, join(PROJECT_ROOT, file))} names ${other.id}`);
      }
    }
    expect(found).toEqual([]);
  });
});
