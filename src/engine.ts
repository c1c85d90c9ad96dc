/**
 * The in-memory engine: runs the patch modules in priority order over the repo's files, each
 * on the result of the ones before it, applies their edits and proves each fix converged.
 * No git, no file system: callers load the files and decide what to do with the plan.
 */
import { createTwoFilesPatch } from 'diff';
import { applyEdits } from './edits.js';
import { createRepoView } from './repo-view.js';
import { parseYamlTemplate, YamlTemplateError } from './template-yaml.js';
import type { CheckResult, FixState, Patch, TextEdit } from './types.js';
import { UnrecognisedShape } from './yaml-edit.js';

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface FileChange {
  readonly path: string;
  /** undefined when the fix creates the file. */
  readonly before: string | undefined;
  readonly after: string;
}

export interface FixOutcome {
  readonly patch: Patch;
  readonly state: FixState;
  readonly reason: string;
  readonly changes: readonly string[];
  readonly notes: readonly string[];
  /** The files this fix changes, each relative to the state left by the fixes before it. */
  readonly files: readonly FileChange[];
}

export interface Plan {
  readonly outcomes: readonly FixOutcome[];
  /** Every loaded file after all fixes. */
  readonly result: ReadonlyMap<string, string>;
  readonly pending: readonly FixOutcome[];
}

/** Runs a module's check; a shape it cannot handle becomes 'unrecognised' with the reason. */
export function runCheck(patch: Patch, files: ReadonlyMap<string, string>): CheckResult {
  try {
    return patch.check(createRepoView(files));
  } catch (error) {
    if (error instanceof UnrecognisedShape) return { state: 'unrecognised', reason: error.message };
    throw error;
  }
}

const YAML_FILE = /\.(ya?ml)(\.j2)?$/;

function parses(path: string, text: string): boolean {
  try {
    parseYamlTemplate(path, text);
    return true;
  } catch (error) {
    if (error instanceof YamlTemplateError) return false;
    throw error;
  }
}

export function planFixes(initial: ReadonlyMap<string, string>, patches: readonly Patch[]): Plan {
  assertUniquePriorities(patches);
  let files = new Map(initial);
  const outcomes: FixOutcome[] = [];
  for (const patch of [...patches].sort((a, b) => a.priority - b.priority)) {
    const result = runCheck(patch, files);
    const base = { patch, state: result.state, reason: result.reason, changes: result.changes ?? [], notes: result.notes ?? [] };
    if (result.state !== 'needs-fix') {
      outcomes.push({ ...base, files: [] });
      continue;
    }
    const edits: readonly TextEdit[] = result.edits ?? [];
    if (edits.length === 0) throw new EngineError(`patch ${patch.id} reports needs-fix but returned no edits`);
    const changed = applyEdits(files, edits);
    const next = new Map(files);
    const fileChanges: FileChange[] = [];
    for (const [path, after] of changed) {
      const before = files.get(path);
      if (before === after) continue;
      // A fix must never turn a file that parsed into one that does not.
      if (YAML_FILE.test(path) && !parses(path, after) && (before === undefined || parses(path, before))) {
        throw new EngineError(`patch ${patch.id} would leave ${path} unparsable; nothing was written`);
      }
      next.set(path, after);
      fileChanges.push({ path, before, after });
    }
    const recheck = runCheck(patch, next);
    if (recheck.state !== 'fixed') {
      throw new EngineError(`patch ${patch.id} did not converge: after its edits it reports ${recheck.state} (${recheck.reason}); nothing was written`);
    }
    files = next;
    outcomes.push({ ...base, files: fileChanges.sort((a, b) => a.path.localeCompare(b.path)) });
  }
  return { outcomes, result: files, pending: outcomes.filter((outcome) => outcome.state === 'needs-fix') };
}

function assertUniquePriorities(patches: readonly Patch[]): void {
  const seen = new Map<number, string>();
  for (const patch of patches) {
    const other = seen.get(patch.priority);
    if (other) throw new EngineError(`patches ${other} and ${patch.id} share priority ${patch.priority}`);
    seen.set(patch.priority, patch.id);
  }
}

/** Unified diff of one fix, `a/` and `b/` prefixed like git's. */
export function unifiedDiff(outcome: FixOutcome): string {
  return outcome.files
    .map((change) =>
      createTwoFilesPatch(
        change.before === undefined ? '/dev/null' : `a/${change.path}`,
        `b/${change.path}`,
        change.before ?? '',
        change.after,
        undefined,
        undefined,
        { context: 3 },
      )
        // jsdiff starts with an "Index:"/"====" banner only for createPatch; two-file patches begin with ---.
        .replace(/^=+\n/m, ''),
    )
    .join('');
}

/** The files a patch set reads, for the loader: every module's globs. */
export function candidateGlobs(patches: readonly Patch[]): string[] {
  return [...new Set(patches.flatMap((patch) => patch.files))];
}
