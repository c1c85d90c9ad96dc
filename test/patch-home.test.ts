/**
 * A fix's home (src/core/patch-home.ts): its prose comes from patches/<id>/<id>.md and its
 * assets from the same folder, the list in patches/index.ts is the apply order, and a
 * malformed .md is refused with the file and line rather than half read.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { bug3 } from '../patches/egress-plain-http-role/egress-plain-http-role.js';
import { bug7 } from '../patches/litellm-no-egress-dependency/litellm-no-egress-dependency.js';
import { assetText, loadPatch, loadPatches, parseProse } from '../src/core/patch-home.js';
import { commitMessage } from '../src/output/commit-message.js';
import type { PatchModule } from '../src/core/types.js';
import { tempDir } from './helpers.js';

const PATCHES = new URL('../patches/', import.meta.url);

describe('a fix has one home', () => {
  it('every fix in the index has its folder patches/<id>/ with <id>.ts, <id>.md and <id>.test.ts, and nothing else is a fix folder', () => {
    const folders = readdirSync(PATCHES, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(folders.sort()).toEqual(allPatches.map((patch) => patch.id).sort());
    for (const { id } of allPatches) {
      const files = readdirSync(new URL(`${id}/`, PATCHES));
      expect(files, id).toEqual(expect.arrayContaining([`${id}.ts`, `${id}.md`, `${id}.test.ts`]));
    }
  });

  it('reads a one-paragraph section wrapped over lines as one line, as the commit message quotes it', () => {
    const prose = parseProse('# fix the thing\n\n## What is wrong\n\nThe thing\n  is broken.\n\n## The fix\n\nMend it.\n', 'x.md');
    expect(prose).toEqual({ title: 'fix the thing', problem: 'The thing is broken.', why: 'Mend it.', departsFromReport: null });
    const patch = loadPatch(bug7);
    expect(commitMessage({ patch, state: 'needs-fix', reason: '', changes: [], notes: [], files: [] })).toContain(
      `What was wrong: ${patch.problem}\n\nWhy: ${patch.why}\n`,
    );
    expect(patch.problem).not.toContain('\n');
  });

  it('keeps Details verbatim, code fences and all, and does not take a heading inside a fence for a section', () => {
    const prose = parseProse(
      '# t\n\n## What is wrong\n\np\n\n## The fix\n\nw\n\n## Details\n\nText.\n\n```md\n## not a section\n```\n',
      'x.md',
    );
    expect(prose.details).toBe('Text.\n\n```md\n## not a section\n```');
  });

  it.each([
    ['no title', '## What is wrong\n\np\n', /x\.md:1: the first line must be "# <title>"/],
    ['an unknown section', '# t\n\n## What is wrong\n\np\n\n## The fix\n\nw\n\n## Notes\n\nn\n', /x\.md:11: unknown section "## Notes"/],
    ['a section twice', '# t\n\n## What is wrong\n\np\n\n## What is wrong\n\nq\n', /x\.md:7: "## What is wrong" appears twice/],
    ['no "The fix"', '# t\n\n## What is wrong\n\np\n', /"## The fix" is missing/],
    [
      'two paragraphs where the commit message wants one',
      '# t\n\n## What is wrong\n\np\n\nq\n\n## The fix\n\nw\n',
      /problem section must be one paragraph/,
    ],
    ['text before the first section', '# t\nstray\n## What is wrong\n\np\n', /x\.md:2: text before the first "## " section/],
  ])('refuses a .md with %s', (_what, text, message) => {
    expect(() => parseProse(text, 'x.md')).toThrow(message);
  });

  it('gives a check only the assets its module declares, and names a missing file', () => {
    const reads: PatchModule = { ...bug7, check: (_repo, assets) => ({ state: 'fixed', reason: assets.text('smokescreen-main.go') }) };
    expect(() => loadPatch(reads).check({ paths: [], read: () => undefined, glob: () => [], roleFiles: () => [] })).toThrow(
      /does not declare in `assets`/,
    );
    expect(() => assetText(bug7, 'smokescreen-main.go')).toThrow(/does not declare asset smokescreen-main\.go/);
    const homeless: PatchModule = { ...bug7, home: new URL('../nowhere/x.js', import.meta.url).href };
    expect(() => loadPatch(homeless)).toThrow(
      /fix litellm-no-egress-dependency: cannot read .*nowhere\/litellm-no-egress-dependency\.md \(ENOENT\)/,
    );
  });

  it('takes the index as the apply order and refuses a list out of order', () => {
    expect(allPatches.map((patch) => patch.priority)).toEqual([...allPatches.map((patch) => patch.priority)].sort((a, b) => a - b));
    const later: PatchModule = { ...bug7, id: 'later', priority: 99 };
    expect(() => loadPatches([later, bug7])).toThrow(
      /lists litellm-no-egress-dependency \(priority 7\) after later \(priority 99\): list the fixes in apply order/,
    );
  });

  it("ships each fix's prose and assets in the build: npm run build copies them beside the compiled module", () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toContain('node scripts/copy-patch-homes.mjs');
    const out = tempDir();
    execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/copy-patch-homes.mjs', import.meta.url)), out]);
    for (const module of [bug3, bug7]) {
      const built = { ...module, home: pathToFileURL(join(out, 'patches', module.id, `${module.id}.js`)).href };
      expect(loadPatch(built).title, module.id).toBe(loadPatch(module).title);
      for (const asset of module.assets ?? []) expect(assetText(built, asset)).toBe(assetText(module, asset));
    }
  });
});
