/** Line-oriented helpers over a file's text. Offsets are string indices; lines are 1-based. */

export function lineNumberAt(text: string, offset: number): number {
  let line = 1;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** `path:line` of an offset, for messages. */
export function locate(path: string, text: string, offset: number): string {
  return `${path}:${lineNumberAt(text, offset)}`;
}

export function lineStartAt(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset just past the line's newline (or the end of the text on the last line). */
export function nextLineStart(text: string, offset: number): number {
  const newline = text.indexOf('\n', offset);
  return newline === -1 ? text.length : newline + 1;
}

/** Offset of the line's end, before its `\r\n` or `\n`. */
export function lineEndAt(text: string, offset: number): number {
  let end = text.indexOf('\n', offset);
  if (end === -1) end = text.length;
  if (end > 0 && text[end - 1] === '\r') end--;
  return end;
}

/** A line of a text: where it starts, where the next one starts, and its content without the line ending. */
export interface Line {
  readonly start: number;
  /** Offset just past the line's newline (the end of the text on the last line). */
  readonly next: number;
  readonly content: string;
}

/** The line holding `offset`. */
export function lineAt(text: string, offset: number): Line {
  const start = lineStartAt(text, offset);
  return { start, next: nextLineStart(text, offset), content: text.slice(start, lineEndAt(text, offset)) };
}

/** Column (0-based) of an offset in its line. */
export function columnAt(text: string, offset: number): number {
  return offset - lineStartAt(text, offset);
}

/** The file's line ending: CRLF when its first line ends so, else LF. */
export function eolOf(text: string): '\n' | '\r\n' {
  const newline = text.indexOf('\n');
  return newline > 0 && text[newline - 1] === '\r' ? '\r\n' : '\n';
}

/**
 * The indentation step the file uses (2 or 4 usually): the most common positive difference
 * between the indentation of consecutive non-blank, non-comment lines.
 */
export function indentStepOf(text: string): number {
  const counts = new Map<number, number>();
  let previous = 0;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('{%') || trimmed.startsWith('{#')) continue;
    const indent = line.length - line.trimStart().length;
    if (indent > previous) counts.set(indent - previous, (counts.get(indent - previous) ?? 0) + 1);
    // A list item's content sits after its dash: `- name: x` nests its keys at the dash's
    // column + 2, which is the dash width, not the file's indentation step.
    const dash = /^-[ \t]+/.exec(trimmed);
    previous = dash ? indent + dash[0].length : indent;
  }
  let best = 2;
  let bestCount = 0;
  for (const [step, count] of counts) if (count > bestCount || (count === bestCount && step < best)) [best, bestCount] = [step, count];
  return best;
}

/** The text inside one pair of matching quotes (`"a"`, `'a'`) around all of it; the text itself when it has none. */
export function unquote(text: string): string {
  return /^(['"])[\s\S]*\1$/.test(text) ? text.slice(1, -1) : text;
}

/** `text` as a regular expression that matches it literally. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
