/**
 * Generated variants of the fixture (indentation, quoting, flow or block lists, comments between
 * keys and items, shuffled keys, CRLF, trailing spaces, no final newline): every fix either
 * fixes the variant — and `verify` then finds its bug gone — or refuses it with a one-line
 * reason naming the file; and no fix ever corrupts a file: every YAML file still parses, every
 * comment line stays, every line a fix changes lies inside one of its own edits, and a second
 * run has nothing left to do.
 */
import { diffArrays } from 'diff';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { planFixes, type Plan } from '../src/core/engine.js';
import { parseYamlTemplate } from '../src/toolkit/template-yaml.js';
import type { CheckResult, Patch, RepoView, TextEdit } from '../src/core/types.js';
import { verifyRepo } from '../src/verify/index.js';
import { commentLines, isYamlPath, makeVariant, type Recipe } from './fuzz-variants.js';
import { fixtureFiles } from './helpers.js';
import { SLOW_TEST } from './budgets.js';

const RUNS = 200;
const SEED = 20260224;

const recipe: fc.Arbitrary<Recipe> = fc.record({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  indent: fc.constantFrom(2 as const, 4 as const),
  indentSeq: fc.boolean(),
  quoting: fc.constantFrom('keep' as const, 'double' as const, 'single' as const, 'plain' as const),
  lists: fc.constantFrom('keep' as const, 'flow' as const, 'block' as const),
  comments: fc.boolean(),
  shuffleKeys: fc.boolean(),
  crlf: fc.boolean(),
  trailingSpaces: fc.boolean(),
  finalNewline: fc.boolean(),
});

const labelOf = (patch: { bug: number | null; id: string }): string => (patch.bug === null ? patch.id : `bug ${patch.bug}`);

/** Lines (0-based) of `text` that an edit replaces or removes (a pure insertion covers none). */
function coveredLines(text: string, edits: readonly TextEdit[]): Set<number> {
  const covered = new Set<number>();
  let lineStart = 0;
  text.split('\n').forEach((line, index) => {
    const lineEnd = lineStart + line.length + 1; // through its newline
    if (edits.some((edit) => edit.start < lineEnd && edit.end > lineStart && edit.end > edit.start)) covered.add(index);
    // An insertion in the middle of a line rewrites that line.
    if (edits.some((edit) => edit.start === edit.end && edit.start > lineStart && edit.start < lineStart + line.length)) covered.add(index);
    lineStart = lineEnd;
  });
  return covered;
}

/**
 * The patches, wrapped so a plan also tells which edits each fix returned: the first answer of
 * a patch in a plan is the one the engine applied (the second is its convergence re-check).
 */
function recordingPatches(): { patches: Patch[]; editsOf: Map<string, readonly TextEdit[]> } {
  const editsOf = new Map<string, readonly TextEdit[]>();
  const patches = allPatches.map((patch) => ({
    ...patch,
    check(repo: RepoView): CheckResult {
      const result = patch.check(repo);
      if (!editsOf.has(patch.id)) editsOf.set(patch.id, result.edits ?? []);
      return result;
    },
  }));
  return { patches, editsOf };
}

/** Every check that `plan` corrupted nothing; returns the problems found. */
function corruption(plan: Plan, editsOf: ReadonlyMap<string, readonly TextEdit[]>): string[] {
  const problems: string[] = [];
  for (const outcome of plan.outcomes) {
    const edits = editsOf.get(outcome.patch.id) ?? [];
    for (const change of outcome.files) {
      if (change.before === undefined) continue; // a file the fix creates
      const where = `${labelOf(outcome.patch)} on ${change.path}`;
      const covered = coveredLines(
        change.before,
        edits.filter((edit) => edit.path === change.path),
      );
      // Lines compared without their CR: appending to a file with no final newline ends its last line.
      const lines = (text: string): string[] => text.split('\n').map((line) => line.replace(/\r$/, ''));
      let line = 0;
      for (const part of diffArrays(lines(change.before), lines(change.after))) {
        if (part.added) continue;
        if (part.removed) {
          for (let i = 0; i < part.value.length; i++)
            if (!covered.has(line + i))
              problems.push(`${where}: line ${line + i + 1} changed outside the fix's edits: ${JSON.stringify(part.value[i])}`);
        }
        line += part.value.length;
      }
      const kept = new Map<string, number>();
      for (const comment of commentLines(change.after)) kept.set(comment, (kept.get(comment) ?? 0) + 1);
      for (const comment of isYamlPath(change.path) ? commentLines(change.before) : []) {
        const left = kept.get(comment) ?? 0;
        if (left === 0) problems.push(`${where}: comment line lost: ${JSON.stringify(comment)}`);
        kept.set(comment, left - 1);
      }
      if (/\r\n/.test(change.before) && !/(^|[^\r])\n/.test(change.before) && /(^|[^\r])\n/.test(change.after))
        problems.push(`${where}: a CRLF file got a bare LF`);
    }
  }
  for (const [path, after] of plan.result) {
    if (!isYamlPath(path)) continue;
    try {
      parseYamlTemplate(path, after);
    } catch (error) {
      problems.push(`${path} no longer parses: ${(error as Error).message}`);
    }
  }
  return problems;
}

describe('fuzzed variants of the fixture', () => {
  it(
    `${RUNS} variants: each fix fixes (verify agrees) or refuses with a reason; nothing is corrupted`,
    async () => {
      const fixture = fixtureFiles();
      const counts = new Map<string, Record<'fixed' | 'already' | 'refused' | 'notApplicable', number>>();
      const sampleRefusals = new Map<string, string>();
      await fc.assert(
        fc.asyncProperty(recipe, async (r) => {
          const variant = makeVariant(fixture, r);
          const { patches, editsOf } = recordingPatches();
          const plan = planFixes(variant, patches);

          expect(corruption(plan, editsOf)).toEqual([]);
          const again = planFixes(plan.result, allPatches);
          expect(
            again.pending.map((outcome) => labelOf(outcome.patch)),
            'a second run must have nothing to do',
          ).toEqual([]);

          const verified = await verifyRepo(plan.result, { goCheck: false }); // compiling Go per variant is verify's own test's job
          // A verify check whose id names no fix would never be compared with one below.
          expect(verified.checks.map((check) => check.id).filter((id) => !allPatches.some((patch) => patch.id === id))).toEqual([]);
          for (const outcome of plan.outcomes) {
            const label = labelOf(outcome.patch);
            const count = counts.get(label) ?? { fixed: 0, already: 0, refused: 0, notApplicable: 0 };
            counts.set(label, count);
            if (outcome.state === 'unrecognised') {
              count.refused++;
              expect(outcome.reason, `${label} refuses without a reason`).toMatch(/\S/);
              expect(outcome.reason, `${label}: one line`).not.toMatch(/\n/);
              expect(
                [...variant.keys()].some((path) => outcome.reason.includes(path)),
                `${label}'s refusal names no file: ${outcome.reason}`,
              ).toBe(true);
              sampleRefusals.set(label, outcome.reason);
              continue;
            }
            if (outcome.state === 'not-applicable') {
              count.notApplicable++;
              continue;
            }
            if (outcome.state === 'needs-fix') count.fixed++;
            else count.already++;
            // Verify must see the property hold, not merely not fail: after a fix it cannot be absent.
            const check = verified.checks.find((candidate) => candidate.id === outcome.patch.id);
            if (check)
              expect(['ok', 'not-checked'], `verify ${label} after the fix: ${check.status}: ${check.message}`).toContain(check.status);
          }
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
      const table = [...counts]
        .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
        .map(
          ([label, c]) =>
            `  ${label.padEnd(34)} fixed ${String(c.fixed).padStart(3)}  already ${String(c.already).padStart(3)}  refused ${String(c.refused).padStart(3)}  n/a ${String(c.notApplicable).padStart(3)}`,
        );
      console.log(
        [
          `fuzz: ${RUNS} variants (seed ${SEED})`,
          ...table,
          ...[...sampleRefusals].map(([label, reason]) => `  e.g. ${label} refused: ${reason}`),
        ].join('\n'),
      );
      // The variants must exercise the fixes, not only their refusals.
      for (const [label, c] of counts) expect(c.fixed + c.already, `${label} never fixed any variant`).toBeGreaterThan(0);
    },
    SLOW_TEST,
  );
});
