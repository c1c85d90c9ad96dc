/**
 * The in-memory engine: runs the patch modules in priority order over the repo's files, each
 * on the result of the ones before it, applies their edits and proves each fix converged.
 * No git, no file system: callers load the files and decide what to do with the plan.
 */
import { createTwoFilesPatch, diffArrays } from 'diff';
import { applyEdits, EditConflictError, groupByPath } from './edits.js';
import { failureReason } from './failure.js';
import { createRepoView, declaredBy } from './repo-view.js';
import { isMap, isSeq, visit, type Node as YamlNode } from 'yaml';
import { parseYamlTemplate, YamlTemplateError, type ParsedTemplate } from '../toolkit/template-yaml.js';
import { columnAt, escapeRegExp, locate } from '../toolkit/text.js';
import type { CheckResult, FixState, Patch, RepoView, TextEdit } from './types.js';
import { FileShapeError, UnrecognisedShape, UserError } from './errors.js';

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
  /** For an `unrecognised` fix whose check raised an exception: that exception (--debug prints its stack). */
  readonly error?: unknown;
}

export interface Plan {
  readonly outcomes: readonly FixOutcome[];
  /** Every loaded file after all fixes. */
  readonly result: ReadonlyMap<string, string>;
  readonly pending: readonly FixOutcome[];
}

/** What a module's check found, and the exception behind an `unrecognised` it could not finish. */
export interface CheckOutcome extends CheckResult {
  /** The exception a check raised, kept for --debug (its stack); undefined when the module answered itself. */
  readonly error?: unknown;
}

/**
 * Runs a module's check on the files its `files` globs match, and only those. Whatever stops
 * it — a shape it cannot handle (UnrecognisedShape), a file that does not parse, a template or
 * variable that does not render, a defect of the module — becomes this fix's `unrecognised`
 * state with the reason and `file:line` (failure.ts): never the run's.
 */
export function runCheck(patch: Patch, files: ReadonlyMap<string, string>): CheckOutcome {
  const view = createRepoView(files, patch.files, patch.scripts);
  let reading: string | undefined;
  const tracked: RepoView = {
    ...view,
    read: (path) => {
      const text = view.read(path);
      if (text !== undefined) reading = path;
      return text;
    },
  };
  try {
    return patch.check(tracked);
  } catch (error) {
    // A shape the module itself names needs no stack; a file a reader could not read (and a defect) keeps it for --debug.
    const named = error instanceof UnrecognisedShape && !(error instanceof FileShapeError);
    const notes = error instanceof UnrecognisedShape && error.notes.length > 0 ? { notes: error.notes } : {};
    return { state: 'unrecognised', reason: failureReason(error, reading, patch.id), ...notes, ...(named ? {} : { error }) };
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

export interface PlanOptions {
  /**
   * Paths no fix may write, with the reason (a path through a symlink: src/git/symlinks.ts). A
   * fix that edits one is `unrecognised` with that reason; the others still run.
   */
  readonly refusedPaths?: ReadonlyMap<string, string>;
}

/** Why the engine will not use a module's edits (the fix becomes unrecognised), or undefined when they are fine. */
function refusedEdits(patch: Patch, files: ReadonlyMap<string, string>, edits: readonly TextEdit[]): string | undefined {
  if (edits.length === 0) return `internal error in ${patch.id}: it reports needs-fix but returned no edits`;
  const outside = edits.find((edit) => !declaredBy(edit.path, patch.files) && !declaredBy(edit.path, patch.scripts ?? []));
  if (outside)
    return `internal error in ${patch.id}: it edits ${outside.path}, outside the files it declares (${[...patch.files, ...(patch.scripts ?? [])].join(', ')}); the edit was refused`;
  return editOfSharedAnchor(files, edits);
}

export function planFixes(initial: ReadonlyMap<string, string>, patches: readonly Patch[], options: PlanOptions = {}): Plan {
  assertApplyOrder(patches);
  let files = new Map(initial);
  const outcomes: FixOutcome[] = [];
  const originalLines = new OriginalLines();
  for (const patch of patches) {
    const result = runCheck(patch, files);
    const base = {
      patch,
      state: result.state,
      reason: result.reason,
      changes: result.changes ?? [],
      notes: result.notes ?? [],
      ...(result.error === undefined ? {} : { error: result.error }),
    };
    // A fix that cannot be made safely is this fix's problem alone: unrecognised, nothing of it
    // applied, the next fix runs on the files as they were.
    const refuse = (reason: string, error?: unknown): void => {
      outcomes.push({
        ...base,
        state: 'unrecognised',
        reason: originalLines.translate(reason),
        changes: [],
        files: [],
        ...(error === undefined ? {} : { error }),
      });
    };
    if (result.state !== 'needs-fix') {
      // Nothing of this fix is committed: its reason is for the user's own files, not for the
      // text the fixes before it left (whose diffs and commits number lines their own way).
      outcomes.push({ ...base, reason: originalLines.translate(result.reason), files: [] });
      continue;
    }
    const edits: readonly TextEdit[] = result.edits ?? [];
    const throughSymlink = edits.map((edit) => options.refusedPaths?.get(edit.path)).find((reason) => reason !== undefined);
    const refused = throughSymlink ?? refusedEdits(patch, files, edits);
    if (refused) {
      refuse(refused);
      continue;
    }
    let changed: Map<string, string>;
    try {
      changed = applyEdits(files, edits);
    } catch (error) {
      if (!(error instanceof EditConflictError)) throw error;
      refuse(`internal error in ${patch.id}: ${error.message}; nothing of this fix was applied`, error);
      continue;
    }
    const next = new Map(files);
    const fileChanges: FileChange[] = [];
    let broken: string | undefined;
    for (const [path, after] of changed) {
      const before = files.get(path);
      if (before === after) continue;
      // A fix must never turn a file that parsed into one that does not.
      if (YAML_FILE.test(path) && !parses(path, after) && (before === undefined || parses(path, before))) {
        broken = path;
        break;
      }
      next.set(path, after);
      fileChanges.push({ path, before, after });
    }
    if (broken) {
      refuse(`internal error in ${patch.id}: its edits would leave ${broken} unparsable, so they were not applied`);
      continue;
    }
    const recheck = runCheck(patch, next);
    if (recheck.state !== 'fixed') {
      refuse(
        `internal error in ${patch.id}: it did not converge (after its edits it reports ${recheck.state}: ${recheck.reason}), so its edits were not applied`,
        recheck.error,
      );
      continue;
    }
    files = next;
    for (const change of fileChanges) originalLines.record(change);
    outcomes.push({ ...base, files: fileChanges.sort((a, b) => a.path.localeCompare(b.path)) });
  }
  return { outcomes, result: files, pending: outcomes.filter((outcome) => outcome.state === 'needs-fix') };
}

/**
 * An edit inside a YAML node that carries an anchor (`&backends`) used by an alias elsewhere
 * (`*backends`, `<<: *backends`) would change every use of it, not only the one the fix is
 * about. Returns the reason naming both places, or undefined when no edit does that.
 */
function editOfSharedAnchor(files: ReadonlyMap<string, string>, edits: readonly TextEdit[]): string | undefined {
  for (const [path, fileEdits] of groupByPath(edits)) {
    const text = files.get(path);
    if (text === undefined || !YAML_FILE.test(path)) continue;
    let tpl: ParsedTemplate;
    try {
      tpl = parseYamlTemplate(path, text);
    } catch (error) {
      if (error instanceof YamlTemplateError) continue; // the engine's parse check speaks for such a file
      throw error;
    }
    const aliases = new Map<string, number>();
    const anchored: { name: string; start: number; end: number; node: YamlNode }[] = [];
    for (const doc of tpl.documents) {
      visit(doc, {
        Alias(_, alias) {
          if (!aliases.has(alias.source)) aliases.set(alias.source, alias.range?.[0] ?? 0);
        },
        Node(_, node) {
          if (node.anchor && node.range) anchored.push({ name: node.anchor, start: node.range[0], end: node.range[1], node });
        },
      });
    }
    for (const anchor of anchored) {
      const aliasAt = aliases.get(anchor.name);
      if (aliasAt === undefined) continue;
      const column = columnAt(text, anchor.start);
      const inside = fileEdits.find((edit) =>
        edit.start === edit.end
          ? (edit.start > anchor.start && edit.start < anchor.end) ||
            // An insertion where the anchored block ends belongs to it when indented like its content.
            (edit.start === anchor.end &&
              (isMap(anchor.node) || isSeq(anchor.node)) &&
              !anchor.node.flow &&
              /^ */.exec(edit.text)![0].length >= column)
          : edit.start < anchor.end && edit.end > anchor.start,
      );
      if (inside) {
        return `the edit at ${locate(path, text, inside.start)} changes &${anchor.name} (${locate(path, text, anchor.start)}), which *${anchor.name} at ${locate(path, text, aliasAt)} also uses; editing it would change that use too`;
      }
    }
  }
  return undefined;
}

/**
 * Line numbers of the files as loaded, for lines of the text the fixes have produced so far:
 * `translate` rewrites each `path:line` of a reason to the user's line (one an earlier fix added
 * keeps the number it has, having no counterpart).
 */
class OriginalLines {
  /** Per changed file: current line (index + 1) → line in the file as loaded, 0 for an added line. */
  private readonly maps = new Map<string, number[]>();

  record(change: FileChange): void {
    const beforeLines = (change.before ?? '').split('\n');
    const previous = this.maps.get(change.path) ?? (change.before === undefined ? [] : beforeLines.map((_, index) => index + 1));
    const next: number[] = [];
    let oldIndex = 0;
    for (const part of diffArrays(change.before === undefined ? [] : beforeLines, change.after.split('\n'))) {
      for (let i = 0; i < part.value.length; i++) {
        if (part.removed) oldIndex++;
        else if (part.added) next.push(0);
        else next.push(previous[oldIndex++] ?? 0);
      }
    }
    this.maps.set(change.path, next);
  }

  translate(reason: string): string {
    let translated = reason;
    for (const [path, map] of this.maps) {
      const mention = new RegExp(`(^|[^\\w./-])(${escapeRegExp(path)}):(\\d+)`, 'g');
      translated = translated.replace(mention, (whole, lead: string, file: string, line: string) => {
        const original = map[Number(line) - 1];
        return original ? `${lead}${file}:${original}` : whole;
      });
    }
    return translated;
  }
}

/** The patches come in apply order (patches/index.ts lists them so): priorities strictly increasing, none shared. */
function assertApplyOrder(patches: readonly Patch[]): void {
  patches.forEach((patch, index) => {
    const before = patches[index - 1];
    if (before && before.priority >= patch.priority) {
      throw new UserError(
        before.priority === patch.priority
          ? `patches ${before.id} and ${patch.id} share priority ${patch.priority}`
          : `patch ${patch.id} (priority ${patch.priority}) comes after ${before.id} (priority ${before.priority}): not in apply order`,
      );
    }
  });
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

/** The files a patch set reads only when they are shell scripts, for the loader: every module's `scripts` globs. */
export function candidateScripts(patches: readonly Patch[]): string[] {
  return [...new Set(patches.flatMap((patch) => patch.scripts ?? []))];
}
