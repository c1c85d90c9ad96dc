/**
 * PatchTester: one table of cases per fix, in the spirit of ESLint's RuleTester. Each fix's test
 * file (patches/<id>/<id>.test.ts) says what the fix leaves alone (`valid`) and what it changes
 * or refuses (`invalid`), and the tester runs every case through the real engine:
 *
 * - a valid case plans once and expects `fixed` (or `not-applicable`) and no byte changed;
 * - an invalid case plans once and expects `needs-fix` with exactly the files in `output`
 *   changed (or `unrecognised` with nothing changed), then ALWAYS plans again on the result:
 *   the second plan must have no edits (convergence: a fix that keeps finding work is a bug);
 * - `prove` hooks run on the fixed files for what only a real program can show (Ansible
 *   renders the template, Go compiles the entrypoint).
 *
 * Files are a Map (repo path → text), or a variant of the bundled deployment repo built with
 * `fixture(...)`: `fixture(edit(path, from, to), …)`.
 */
import { describe, expect, it } from 'vitest';
import { planFixes, type FixOutcome } from '../src/core/engine.js';
import { loadPatch } from '../src/core/patch-home.js';
import type { FixState, Patch, PatchModule } from '../src/core/types.js';
import { fixtureFiles } from './helpers.js';

export type Files = Map<string, string>;
/** One change to a file set: returns the next set (the input is not modified). */
export type FileEdit = (files: Files) => Files;
type Text = string | RegExp;

/** The bundled deployment repo (fixtures/deployment-repo) with `edits` applied in order. */
export function fixture(...edits: FileEdit[]): Files {
  return edits.reduce((files, change) => change(files), fixtureFiles());
}

/** Replace `from` (first match) by `to` in `path`; a `from` that is not there is the test's bug, so it throws. */
export function edit(path: string, from: string | RegExp, to: string): FileEdit {
  return (files) => {
    const text = files.get(path);
    if (text === undefined) throw new Error(`variant: ${path} is not in the repo`);
    const next = text.replace(from, to);
    if (next === text) throw new Error(`variant: ${String(from)} is not in ${path}`);
    return new Map(files).set(path, next);
  };
}

/** Set a file's whole text (a new file, or one rewritten); undefined removes it. */
export function write(path: string, text: string | undefined): FileEdit {
  return (files) => {
    const next = new Map(files);
    if (text === undefined) next.delete(path);
    else next.set(path, text);
    return next;
  };
}

interface CaseBase {
  readonly name: string;
  /** The repository's files, or a function building them (called when the case runs). */
  readonly files: Files | (() => Files);
  /** The outcome's one-line reason: equal to a string, or matching a RegExp. */
  readonly reason?: Text;
  /** Passed to vitest's `it` (cases that run Ansible or Go). */
  readonly timeout?: number;
}

export interface ValidCase extends CaseBase {
  /** `fixed` unless said otherwise. */
  readonly state?: 'fixed' | 'not-applicable';
}

/** What a changed file must be: its exact text, a pattern it matches, or a function that asserts. */
export type Expected = string | RegExp | ((text: string) => void);

export interface InvalidCase extends CaseBase {
  /** `needs-fix` unless said otherwise; `unrecognised` changes nothing and needs a `reason`. */
  readonly state?: 'needs-fix' | 'unrecognised';
  /**
   * For needs-fix: every file the fix changes, and what it must be afterwards (a path the fix
   * does not change must not be listed). Or one function given the files after and before.
   */
  readonly output?: Readonly<Record<string, Expected>> | ((after: Files, before: Files) => void);
  /** The commit body's "What changed" lines, each matched in order. */
  readonly changes?: readonly Text[];
  /** The notes for the user, each matched in order (default: whatever the fix says). */
  readonly notes?: readonly Text[];
  /** Runs on the fixed files after the convergence check: render with Ansible, compile with Go, … */
  readonly prove?: (after: Files, before: Files) => void | Promise<void>;
}

export interface PatchTesterOptions {
  /** Fixes that run with this one, in apply order (a fix that builds on an earlier one's result). */
  readonly with?: readonly PatchModule[];
}

function matches(actual: string, expected: Text, what: string): void {
  if (typeof expected === 'string') expect(actual, what).toBe(expected);
  else expect(actual, what).toMatch(expected);
}

function changedPaths(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((path) => before.get(path) !== after.get(path)).sort();
}

export class PatchTester {
  constructor(private readonly options: PatchTesterOptions = {}) {}

  /** The fix's outcome and the files after planning `files` with it (and the `with` fixes). */
  plan(module: PatchModule, files: ReadonlyMap<string, string>): { outcome: FixOutcome; result: Files; pending: readonly FixOutcome[] } {
    const patch = loadPatch(module);
    const patches: Patch[] = [...(this.options.with ?? []).map(loadPatch), patch].sort((a, b) => a.priority - b.priority);
    const plan = planFixes(files, patches);
    const outcome = plan.outcomes.find((candidate) => candidate.patch === patch);
    if (!outcome) throw new Error(`the plan has no outcome for ${module.id}`);
    return { outcome, result: new Map(plan.result), pending: plan.pending };
  }

  /** One `describe` named after the fix, one `it` per case. */
  run(module: PatchModule, cases: { valid?: readonly ValidCase[]; invalid?: readonly InvalidCase[] }): void {
    describe(`${module.id} (PatchTester)`, () => {
      for (const valid of cases.valid ?? []) {
        it(`valid: ${valid.name}`, () => this.runValid(module, valid), valid.timeout);
      }
      for (const invalid of cases.invalid ?? []) {
        it(`invalid: ${invalid.name}`, () => this.runInvalid(module, invalid), invalid.timeout);
      }
    });
  }

  runValid(module: PatchModule, valid: ValidCase): void {
    const before = typeof valid.files === 'function' ? valid.files() : valid.files;
    const { outcome, result } = this.plan(module, before);
    expect(outcome.state, outcome.reason).toBe(valid.state ?? 'fixed');
    if (valid.reason !== undefined) matches(outcome.reason, valid.reason, 'reason');
    expect(outcome.files, 'a valid case changes no file').toEqual([]);
    if (!this.options.with?.length) expect(changedPaths(before, result)).toEqual([]);
  }

  async runInvalid(module: PatchModule, invalid: InvalidCase): Promise<void> {
    const before = typeof invalid.files === 'function' ? invalid.files() : invalid.files;
    const { outcome, result } = this.plan(module, before);
    const state: FixState = invalid.state ?? 'needs-fix';
    expect(outcome.state, outcome.reason).toBe(state);
    if (invalid.reason !== undefined) matches(outcome.reason, invalid.reason, 'reason');
    if (state === 'unrecognised') {
      if (invalid.reason === undefined) throw new Error(`${invalid.name}: an unrecognised case must say which reason it expects`);
      expect(outcome.files, 'an unrecognised fix changes nothing').toEqual([]);
    } else {
      const touched = outcome.files.map((file) => file.path).sort();
      if (typeof invalid.output === 'function') invalid.output(result, before);
      else if (invalid.output) {
        expect(touched, 'the files the fix changes').toEqual(Object.keys(invalid.output).sort());
        for (const [path, expected] of Object.entries(invalid.output)) {
          const text = result.get(path) ?? '';
          if (typeof expected === 'function') expected(text);
          else matches(text, expected, path);
        }
      } else throw new Error(`${invalid.name}: a needs-fix case must say what the output is`);
    }
    invalid.changes?.forEach((expected, index) => matches(outcome.changes[index] ?? '', expected, `change ${index + 1}`));
    if (invalid.changes) expect(outcome.changes).toHaveLength(invalid.changes.length);
    invalid.notes?.forEach((expected, index) => matches(outcome.notes[index] ?? '', expected, `note ${index + 1}`));
    if (invalid.notes) expect(outcome.notes).toHaveLength(invalid.notes.length);

    // Convergence: the fix (and any run `with` it), run again on what it produced, finds nothing left to do.
    const again = this.plan(module, result);
    expect(
      again.pending.map((pending) => `${pending.patch.id}: ${pending.reason}`),
      'the second run has nothing pending',
    ).toEqual([]);
    if (state === 'needs-fix') expect(again.outcome.state, `second run: ${again.outcome.reason}`).toMatch(/^(fixed|not-applicable)$/);
    else expect(again.outcome.state).toBe(state);
    expect(
      again.outcome.files.map((file) => file.path),
      'the second run changes no file',
    ).toEqual([]);
    if (!this.options.with?.length) expect(changedPaths(result, again.result)).toEqual([]);

    if (invalid.prove) await invalid.prove(result, before);
  }
}
