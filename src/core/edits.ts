/** Applying patch modules' text edits: sorted, checked for overlaps, everything else untouched. */
import type { TextEdit } from './types.js';

export class EditConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EditConflictError';
  }
}

/**
 * Applies edits to one file's text. Edits are ranges in the ORIGINAL text; they must not
 * overlap (two insertions at the same offset are kept in the order given).
 */
export function applyEditsToText(path: string, original: string, edits: readonly TextEdit[]): string {
  const ordered = edits
    .map((edit, index) => ({ edit, index }))
    .sort((a, b) => a.edit.start - b.edit.start || a.edit.end - b.edit.end || a.index - b.index);
  let result = '';
  let cursor = 0;
  for (const { edit } of ordered) {
    if (edit.start < 0 || edit.end < edit.start || edit.end > original.length) {
      throw new EditConflictError(`${path}: edit [${edit.start}, ${edit.end}) is outside the file (length ${original.length})`);
    }
    if (edit.start < cursor) {
      throw new EditConflictError(`${path}: overlapping edits at offset ${edit.start}`);
    }
    result += original.slice(cursor, edit.start) + edit.text;
    cursor = edit.end;
  }
  return result + original.slice(cursor);
}

/**
 * Applies a patch's edits to a set of files. Returns the new text of every file the edits touch;
 * a path that is not in `files` is created (its edits must be insertions at offset 0).
 */
export function applyEdits(files: ReadonlyMap<string, string>, edits: readonly TextEdit[]): Map<string, string> {
  const changed = new Map<string, string>();
  for (const [path, list] of groupByPath(edits)) {
    const original = files.get(path);
    if (original === undefined && list.some((edit) => edit.start !== 0 || edit.end !== 0)) {
      throw new EditConflictError(`${path}: edits a file that does not exist`);
    }
    changed.set(path, applyEditsToText(path, original ?? '', list));
  }
  return changed;
}

/** The edits of each file, in the order given. */
export function groupByPath(edits: readonly TextEdit[]): Map<string, TextEdit[]> {
  const byPath = new Map<string, TextEdit[]>();
  for (const edit of edits) byPath.set(edit.path, [...(byPath.get(edit.path) ?? []), edit]);
  return byPath;
}
