/** The docs stay current: docs/fixes.md is what each fix's own prose (patches/<id>/<id>.md) says. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { fixesDocument } from '../src/output/fixes-doc.js';

describe('docs/fixes.md', () => {
  it("matches the fixes' prose (run `npm run docs` after changing a patches/<id>/<id>.md)", () => {
    const onDisk = readFileSync(new URL('../docs/fixes.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(fixesDocument(allPatches));
  });

  it('lists the report bugs in its priority order, then the fixes beyond it', () => {
    const bugs = allPatches.map((patch) => patch.bug);
    const reportOrder = [2, 1, 3, 5, 4, 6, 7, 8, 9];
    const inReport = bugs.filter((bug): bug is number => bug !== null);
    expect(inReport).toEqual(reportOrder.filter((bug) => inReport.includes(bug)));
    expect(bugs.indexOf(null) === -1 || bugs.slice(bugs.indexOf(null)).every((bug) => bug === null)).toBe(true);
  });
});
