/**
 * Style-preserving text edits on YAML nodes of a parsed template.
 *
 * Every helper returns TextEdits against the original text: the new text copies the
 * surrounding style (indentation, block or flow, quoting, line endings) and nothing outside
 * the edited span changes. A shape the helpers cannot edit safely raises UnrecognisedShape,
 * which the engine reports as the fix's "unrecognised" state.
 */
import { isMap, isPair, isScalar, isSeq, type Node as YamlNode, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { jinjaContextAt } from './jinja-mask.js';
import {
  generatorsOf,
  inheritedKey,
  jinjaContextOf,
  jinjaStatementIn,
  parseYamlSnippet,
  templateOfMap,
  type ParsedTemplate,
} from './template-yaml.js';
import { columnAt, eolOf, indentStepOf, lineAt, lineEndAt, lineNumberAt, lineStartAt, locate, nextLineStart } from './text.js';
import type { TextEdit } from '../core/types.js';
import { UnrecognisedShape } from '../core/errors.js';

type Range = [number, number, number];

function rangeOf(node: YamlNode | Pair): Range {
  if (isPair(node)) {
    const key = node.key as YamlNode | null;
    const value = node.value as YamlNode | null;
    const start = key?.range?.[0] ?? value?.range?.[0] ?? 0;
    const end = (value ?? key)?.range ?? [start, start, start];
    return [start, end[1], end[2]];
  }
  const range = node.range;
  if (!range) throw new UnrecognisedShape('a YAML node has no source position');
  return [range[0], range[1], range[2]];
}

/** `path:line` of a node, for messages. */
export function where(tpl: ParsedTemplate, node: YamlNode | Pair): string {
  return locate(tpl.path, tpl.text, rangeOf(node)[0]);
}

/** One indentation step of the file, as spaces. */
export function indentUnit(tpl: ParsedTemplate): string {
  return ' '.repeat(indentStepOf(tpl.text));
}

/**
 * Offset where the line after the node's last value line starts. Lines of Jinja tags after that
 * line (a block scalar's range takes in the blank lines their masks are) are not the node's.
 */
export function endOfNodeLines(tpl: ParsedTemplate, node: YamlNode | Pair): number {
  const valueEnd = rangeOf(node)[1];
  const end = valueEnd > 0 && tpl.text[valueEnd - 1] === '\n' ? valueEnd : nextLineStart(tpl.text, valueEnd);
  if (tpl.jinja.length === 0) return end;
  const start = rangeOf(node)[0];
  let cut = end;
  let passedJinja = false;
  while (cut > start) {
    const lineStart = lineStartAt(tpl.text, cut - 1);
    if (lineStart <= start) break;
    const kind = lineKind(tpl, lineStart);
    if (kind === 'content') break;
    if (kind === 'jinja') passedJinja = true;
    cut = lineStart;
  }
  return passedJinja ? cut : end;
}

/** Whether the line starting at `lineStart` has YAML content, only Jinja (and blanks), or nothing. */
function lineKind(tpl: ParsedTemplate, lineStart: number): 'content' | 'jinja' | 'blank' {
  const lineEnd = nextLineStart(tpl.text, lineStart);
  let jinja = false;
  for (let at = lineStart; at < lineEnd; at++) {
    const span = tpl.jinja.find((candidate) => candidate.start <= at && at < candidate.end);
    if (span) {
      jinja = true;
      at = span.end - 1;
    } else if (!/\s/.test(tpl.text[at] ?? '')) return 'content';
  }
  return jinja ? 'jinja' : 'blank';
}

/**
 * Where a line inserted into `collection` after the entry ending at `offset` goes: there, or past
 * the lines of Jinja tags that follow it (`{% endif %}`, `{% endfor %}`) until the Jinja context
 * is the collection's own, so the new entry is output exactly when the collection is (not only
 * in one branch, not once per loop iteration). UnrecognisedShape when no such place is found.
 */
function insertionPoint(tpl: ParsedTemplate, collection: YamlNode, offset: number, what: string): number {
  if (tpl.blocks.length === 0) return offset;
  const wanted = jinjaContextOf(tpl, collection);
  for (let at = offset; ; at = nextLineStart(tpl.text, at)) {
    if (jinjaContextAt(tpl.blocks, at) === wanted) return at;
    if (at >= tpl.text.length || lineKind(tpl, at) === 'content') break;
  }
  const block = tpl.blocks.filter((candidate) => candidate.open.end <= offset && candidate.close.start >= offset).at(-1);
  throw new UnrecognisedShape(
    `${what} at ${where(tpl, collection)} ends inside a Jinja '{% ${block?.open.body ?? '…'} %}' block (line ${lineNumberAt(tpl.text, block?.open.start ?? offset)}) that the ${what} itself is not in: a new entry there would be output only in that branch or once per loop`,
  );
}

function onlyWhitespaceBefore(text: string, offset: number): boolean {
  return text.slice(lineStartAt(text, offset), offset).trim() === '';
}

/** Refuses to edit inside a node that contains Jinja control flow: an insertion could land inside a loop or branch. */
function assertNoJinjaStatements(tpl: ParsedTemplate, node: YamlNode, what: string): void {
  const [start, end] = rangeOf(node);
  const inside = jinjaStatementIn(tpl, start, end);
  if (inside) throw new UnrecognisedShape(`${what} at ${where(tpl, node)} is built by a Jinja '{% ${inside.body} %}' block`);
}

/** Builds the inserted text for `lines` at `offset` in the file's line ending, minding a missing final newline. */
export function insertLines(tpl: ParsedTemplate, offset: number, lines: readonly string[]): TextEdit {
  return replaceLines(tpl, offset, offset, lines);
}

/**
 * Replaces the whole lines in [start, next) (`next`: a line start, or the end of the text) with
 * `lines` (none: an insertion at `start`), in the file's line ending, keeping a missing final
 * newline missing.
 */
export function replaceLines(tpl: ParsedTemplate, start: number, next: number, lines: readonly string[]): TextEdit {
  const eol = eolOf(tpl.text);
  const body = lines.join(eol);
  const atEndWithoutNewline = next === tpl.text.length && tpl.text.length > 0 && !tpl.text.endsWith('\n');
  if (!atEndWithoutNewline) return { path: tpl.path, start, end: next, text: body + eol };
  // The replaced span is the unterminated last line (or nothing after it): no newline at the end either.
  return { path: tpl.path, start, end: next, text: start === next ? eol + body : body };
}

/** The first line of an entry and the offset past its last line; UnrecognisedShape when it shares its first line with other content. */
export function entryLineSpan(tpl: ParsedTemplate, pair: Pair): { start: number; next: number } {
  const keyStart = rangeOf(pair)[0];
  const start = lineStartAt(tpl.text, keyStart);
  if (!onlyWhitespaceBefore(tpl.text, keyStart)) {
    throw new UnrecognisedShape(
      `'${String((pair.key as YamlNode & { value?: unknown }).value)}' at ${locate(tpl.path, tpl.text, keyStart)} shares its line with other content`,
    );
  }
  return { start, next: endOfNodeLines(tpl, pair) };
}

/**
 * The lines of an entry, its key through its value, re-based so that the key sits at column
 * `indent` and each later line keeps its offset from the key (blank lines stay blank): to copy
 * an entry into new text (a task, another mapping). `withComment`: the comment after the value
 * on its last line comes along, as it does with an entry that moves.
 */
export function entryLines(tpl: ParsedTemplate, pair: Pair, indent = 0, withComment = false): string[] {
  const { text } = tpl;
  const [start, valueEnd] = rangeOf(pair);
  let end = start + text.slice(start, valueEnd).replace(/\s+$/, '').length;
  if (withComment) end = lineEndAt(text, end);
  const column = columnAt(text, start);
  return text
    .slice(start, end)
    .replace(/\s+$/, '')
    .split(/\r?\n/)
    .map((line, index) => {
      if (index === 0) return ' '.repeat(indent) + line;
      const own = line.length - line.trimStart().length;
      return line.trim() === '' ? '' : ' '.repeat(indent + Math.max(0, own - column)) + line.trimStart();
    });
}

/** The indentation of a block mapping's entries; UnrecognisedShape for an empty one. */
export function entryIndent(tpl: ParsedTemplate, map: YAMLMap): string {
  const first = map.items[0];
  if (!first) throw new UnrecognisedShape(`empty mapping at ${where(tpl, map)}`);
  return ' '.repeat(columnAt(tpl.text, rangeOf(first)[0]));
}

const IF_LINE = /^\s*\{%[-+]?\s*if\s+(.+?)\s*[-+]?%\}\s*$/;
const ENDIF_LINE = /^\s*\{%[-+]?\s*endif\s*[-+]?%\}\s*$/;

/** `{% if C %}` on the line right before the entry and `{% endif %}` right after it (the entry is all the branch holds): C and the lines from the `if` through the `endif`. */
export function ifWrapperOf(tpl: ParsedTemplate, pair: Pair): { condition: string; start: number; next: number } | undefined {
  const { start, next } = entryLineSpan(tpl, pair);
  if (start === 0 || next >= tpl.text.length) return undefined;
  const previous = lineAt(tpl.text, start - 1);
  const following = lineAt(tpl.text, next);
  const condition = IF_LINE.exec(previous.content)?.[1];
  if (condition === undefined || !ENDIF_LINE.test(following.content)) return undefined;
  return { condition, start: previous.start, next: following.next };
}

/** True when the line right before the entry opens an `{% if %}`: the entry is already guarded. */
export function guardedByIf(tpl: ParsedTemplate, pair: Pair): boolean {
  const { start } = entryLineSpan(tpl, pair);
  return start > 0 && IF_LINE.test(lineAt(tpl.text, start - 1).content);
}

/** Offset after a mapping's last line, past the `{% endif %}` lines that close branches opened inside it. */
export function endOfMappingLines(tpl: ParsedTemplate, map: YAMLMap): number {
  const start = map.range?.[0] ?? 0;
  let end = endOfNodeLines(tpl, map);
  let open = 0;
  for (const span of tpl.jinja) {
    if (span.kind !== 'statement' || span.start < start || span.start >= end) continue;
    if (/^if\b/.test(span.body)) open++;
    else if (/^endif\b/.test(span.body)) open--;
  }
  while (open > 0 && end < tpl.text.length && ENDIF_LINE.test(lineAt(tpl.text, end).content)) {
    end = lineAt(tpl.text, end).next;
    open--;
  }
  return end;
}

/**
 * Quotes a new scalar the way an existing sibling is quoted (plain when there is no sibling).
 * Plain only where YAML reads the text back as the same string: `4750`, `true` or `a: b` get
 * double quotes even beside plain siblings. Jinja stays plain beside plain siblings: in a
 * template the rendered value is what YAML reads.
 */
export function quoteLike(sample: YamlNode | null | undefined, value: string): string {
  const type = isScalar(sample) ? sample.type : 'PLAIN';
  if (type === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  if (type === 'PLAIN' && (value.includes('{{') || readsBackAsString(value))) return value;
  return JSON.stringify(value);
}

/** True when `value`, written plain as a block or flow list item, reads back as that same string. */
function readsBackAsString(value: string): boolean {
  if (/^(y|n|yes|no|on|off)$/i.test(value) || value !== value.trim()) return false;
  try {
    const flow: unknown = parseYamlSnippet(`[${value}]`);
    const block: unknown = parseYamlSnippet(`- ${value}`);
    return Array.isArray(flow) && flow.length === 1 && flow[0] === value && Array.isArray(block) && block[0] === value;
  } catch {
    return false;
  }
}

/**
 * The entry `key` of the mapping, undefined when it has none. A key the mapping inherits through
 * a `<<: *anchor` merge key is UnrecognisedShape: reading it as absent would make a fix add the
 * key (overriding the inherited value), and editing it would change every mapping that merges it.
 */
export function pairOf(map: YAMLMap, key: string): Pair<Scalar, YamlNode | null> | undefined {
  const all = map.items.filter((pair) => isScalar(pair.key) && String(pair.key.value) === key) as Pair<Scalar, YamlNode | null>[];
  const own = all[0];
  const tpl = templateOfMap(map);
  if (all.length > 1 && tpl) {
    // `{% if %}healthcheck: …{% else %}healthcheck: …{% endif %}`: which one Compose gets depends on the variables.
    const lines = all.map((pair) => lineNumberAt(tpl.text, rangeOf(pair)[0]));
    const contexts = new Set(all.map((pair) => jinjaContextAt(tpl.blocks, rangeOf(pair)[0])));
    throw new UnrecognisedShape(
      contexts.size === all.length && contexts.size > 1
        ? `'${key}' of the mapping at ${where(tpl, map)} is written in alternative Jinja branches (lines ${lines.join(', ')}): which one is output depends on the variables`
        : `'${key}' appears ${all.length} times in the mapping at ${where(tpl, map)} (lines ${lines.join(', ')})`,
    );
  }
  if (own) return own;
  const generator = generatorsOf(map)[0];
  if (generator && tpl) {
    throw new UnrecognisedShape(
      `the mapping at ${where(tpl, map)} has no '${key}' written, but the Jinja at ${locate(tpl.path, tpl.text, generator.start)} (${tpl.text.slice(generator.start, generator.end)}) renders entries into it that may hold one`,
    );
  }
  const inherited = inheritedKey(map, key);
  if (inherited) {
    const tpl = inherited.template;
    throw new UnrecognisedShape(
      `'${key}' of the mapping at ${where(tpl, map)} comes from the merge key at ${where(tpl, inherited.merge)} (defined at ${where(tpl, inherited.source)}); editing it there would change every mapping that merges it`,
    );
  }
  return undefined;
}

/** The map under `key`, undefined when absent; UnrecognisedShape when present but not a map. */
export function mapAt(tpl: ParsedTemplate, map: YAMLMap, key: string): YAMLMap | undefined {
  const pair = pairOf(map, key);
  if (!pair || pair.value === null) return undefined;
  if (!isMap(pair.value)) throw new UnrecognisedShape(`'${key}' at ${where(tpl, pair)} is not a mapping`);
  return pair.value;
}

/** The sequence under `key`, undefined when absent; UnrecognisedShape when present but not a sequence. */
export function seqAt(tpl: ParsedTemplate, map: YAMLMap, key: string): YAMLSeq | undefined {
  const pair = pairOf(map, key);
  if (!pair || pair.value === null) return undefined;
  if (!isSeq(pair.value)) throw new UnrecognisedShape(`'${key}' at ${where(tpl, pair)} is not a list`);
  return pair.value;
}

/** Replaces a node's value text (not its trailing comment). */
export function replaceNode(tpl: ParsedTemplate, node: YamlNode, text: string): TextEdit {
  const [start, valueEnd] = rangeOf(node);
  let end = valueEnd;
  // Block scalars and block collections end after their last newline; keep that newline.
  while (end > start && (tpl.text[end - 1] === '\n' || tpl.text[end - 1] === '\r')) end--;
  return { path: tpl.path, start, end, text };
}

/** Appends items (already quoted/formatted scalars) to a block or flow sequence, in its style. */
export function appendToSeq(tpl: ParsedTemplate, seq: YAMLSeq, items: readonly string[]): TextEdit {
  const afterLoop = seq.flow ? appendAfterFlowLoop(tpl, seq, items) : undefined;
  if (afterLoop) return afterLoop;
  assertNoJinjaStatements(tpl, seq, 'the list');
  const generator = generatorsOf(seq)[0];
  if (generator)
    throw new UnrecognisedShape(
      `the list at ${where(tpl, seq)} also gets items from the Jinja at ${locate(tpl.path, tpl.text, generator.start)}, which may already hold what a fix would add`,
    );
  const last = seq.items.at(-1) as YamlNode | undefined;
  if (seq.flow) {
    const [start, valueEnd] = rangeOf(seq);
    const close = tpl.text.lastIndexOf(']', valueEnd);
    if (close < start) throw new UnrecognisedShape(`flow list at ${where(tpl, seq)} has no closing bracket`);
    if (!last) return { path: tpl.path, start: close, end: close, text: items.join(', ') };
    const lastEnd = rangeOf(last)[1];
    // Multi-line flow lists put each item on its own line; follow that.
    const between = tpl.text.slice(rangeOf(seq.items[0] as YamlNode)[0], lastEnd);
    if (between.includes('\n')) {
      const indent = ' '.repeat(columnAt(tpl.text, rangeOf(last)[0]));
      return { path: tpl.path, start: lastEnd, end: lastEnd, text: items.map((item) => `,${eolOf(tpl.text)}${indent}${item}`).join('') };
    }
    return { path: tpl.path, start: lastEnd, end: lastEnd, text: items.map((item) => `, ${item}`).join('') };
  }
  if (!last) throw new UnrecognisedShape(`empty block list at ${where(tpl, seq)}`);
  const lastStart = rangeOf(last)[0];
  const lineStart = lineStartAt(tpl.text, lastStart);
  const prefix = tpl.text.slice(lineStart, lastStart);
  const dash = /^(\s*)-(\s+)$/.exec(prefix);
  if (!dash) throw new UnrecognisedShape(`list item at ${where(tpl, last)} does not start its own line`);
  return insertLines(
    tpl,
    insertionPoint(tpl, seq, endOfNodeLines(tpl, last), 'the list'),
    items.map((item) => `${dash[1]}-${dash[2]}${item}`),
  );
}

/**
 * A multi-line flow list whose items end with a comma each and whose last items a Jinja loop or
 * branch writes (`{% for r in ranges %}\n  "--deny-range={{ r }}",\n{% endfor %}\n]`): the new
 * items go on lines of their own right before the `]` line, outside the loop, each with its
 * comma (YAML allows the trailing one). Undefined when the list is not of that shape.
 */
function appendAfterFlowLoop(tpl: ParsedTemplate, seq: YAMLSeq, items: readonly string[]): TextEdit | undefined {
  const last = seq.items.at(-1) as YamlNode | undefined;
  const [start, valueEnd] = rangeOf(seq);
  if (!last || !jinjaStatementIn(tpl, start, valueEnd)) return undefined;
  const close = tpl.text.lastIndexOf(']', valueEnd);
  const closeLine = lineStartAt(tpl.text, close);
  if (close < start || tpl.text.slice(closeLine, close).trim() !== '') return undefined;
  const lastEnd = rangeOf(last)[1];
  // After the last item: its comma, then only lines of Jinja tags (the loop's end) before `]`.
  if (!/^,[ \t]*\r?\n/.test(tpl.text.slice(lastEnd, closeLine))) return undefined;
  for (let at = nextLineStart(tpl.text, lastEnd); at < closeLine; at = nextLineStart(tpl.text, at))
    if (lineKind(tpl, at) === 'content') return undefined;
  if (jinjaContextAt(tpl.blocks, closeLine) !== jinjaContextOf(tpl, seq)) return undefined;
  const indent = ' '.repeat(columnAt(tpl.text, rangeOf(last)[0]));
  return { path: tpl.path, start: closeLine, end: closeLine, text: items.map((item) => `${indent}${item},${eolOf(tpl.text)}`).join('') };
}

/**
 * Inserts `key: …` lines into a block map: `lines[0]` is the `key: value` line, later lines are
 * its nested block, indented relative to the key (use indentUnit). Inserted after `afterKey`'s
 * entry when given and present, else after the last entry.
 */
export function insertIntoMap(tpl: ParsedTemplate, map: YAMLMap, lines: readonly string[], afterKey?: string): TextEdit {
  if (map.flow) {
    if (lines.length !== 1) throw new UnrecognisedShape(`flow mapping at ${where(tpl, map)} cannot take a nested block`);
    const [, valueEnd] = rangeOf(map);
    const close = tpl.text.lastIndexOf('}', valueEnd);
    const last = map.items.at(-1);
    if (!last) return { path: tpl.path, start: close, end: close, text: lines[0] ?? '' };
    const lastEnd = rangeOf(last)[1];
    return { path: tpl.path, start: lastEnd, end: lastEnd, text: `, ${lines[0]}` };
  }
  const anchor = (afterKey !== undefined ? pairOf(map, afterKey) : undefined) ?? map.items.at(-1);
  const indent = entryIndent(tpl, map);
  if (!anchor) throw new UnrecognisedShape(`empty mapping at ${where(tpl, map)}`);
  return insertLines(
    tpl,
    insertionPoint(tpl, map, endOfNodeLines(tpl, anchor), 'the mapping'),
    lines.map((line) => indent + line),
  );
}

/** Removes one entry of a block or flow map, with its lines (and trailing comment). */
export function removeFromMap(tpl: ParsedTemplate, map: YAMLMap, key: string): TextEdit {
  const index = map.items.findIndex((pair) => isScalar(pair.key) && String(pair.key.value) === key);
  const pair = map.items[index];
  if (!pair) throw new UnrecognisedShape(`no '${key}' in the mapping at ${where(tpl, map)}`);
  return removeItem(tpl, map.flow ?? false, map.items, index, pair);
}

/** Removes the item at `index` from a block or flow sequence. */
export function removeFromSeq(tpl: ParsedTemplate, seq: YAMLSeq, index: number): TextEdit {
  const item = seq.items[index] as YamlNode | undefined;
  if (!item) throw new UnrecognisedShape(`no item ${index} in the list at ${where(tpl, seq)}`);
  return removeItem(tpl, seq.flow ?? false, seq.items as YamlNode[], index, item);
}

function removeItem(
  tpl: ParsedTemplate,
  flow: boolean,
  siblings: readonly (YamlNode | Pair)[],
  index: number,
  item: YamlNode | Pair,
): TextEdit {
  const [start, valueEnd] = rangeOf(item);
  if (flow) {
    const next = siblings[index + 1];
    const previous = siblings[index - 1];
    // Take the separator on one side: "a, b, c" minus b is "a, c".
    if (next) return { path: tpl.path, start, end: rangeOf(next)[0], text: '' };
    if (previous) return { path: tpl.path, start: rangeOf(previous)[1], end: valueEnd, text: '' };
    return { path: tpl.path, start, end: valueEnd, text: '' };
  }
  const lineStart = lineStartAt(tpl.text, start);
  const prefix = tpl.text.slice(lineStart, start);
  if (!/^\s*(-\s+)?$/.test(prefix)) throw new UnrecognisedShape(`entry at ${where(tpl, item)} shares its line with other content`);
  if (/-\s+$/.test(prefix) && !isPair(item)) {
    // A sequence item: its dash goes with it.
  } else if (/-\s+$/.test(prefix)) {
    // The first key of a mapping inside a list item ("- name: x"): keep the dash for the next key.
    const next = siblings[index + 1];
    if (!next) throw new UnrecognisedShape(`entry at ${where(tpl, item)} is the only key of its list item`);
    assertRemovable(tpl, item, start, rangeOf(next)[0]);
    if (keptCommentLines(tpl.text, start, rangeOf(next)[0]) !== '')
      throw new UnrecognisedShape(`entry at ${where(tpl, item)} has comment lines inside it`);
    return { path: tpl.path, start, end: rangeOf(next)[0], text: '' };
  }
  // Comment lines around the entry stay: they may describe the section, and removing a
  // comment the user wrote is not ours to decide. A comment on the entry's own line goes with it;
  // full-line comments inside the entry stay where they were.
  const end = endOfNodeLines(tpl, item);
  assertRemovable(tpl, item, lineStart, end);
  return { path: tpl.path, start: lineStart, end, text: keptCommentLines(tpl.text, lineStart, end) };
}

/** Removing lines that hold Jinja statements could unbalance `{% if %}`/`{% for %}`: refuse. */
function assertRemovable(tpl: ParsedTemplate, item: YamlNode | Pair, start: number, end: number): void {
  if (tpl.jinja.some((span) => span.kind !== 'expression' && span.start < end && span.end > start)) {
    throw new UnrecognisedShape(`entry at ${where(tpl, item)} contains Jinja statements or comments`);
  }
}

/** The full-line comments among the lines of [start, end), each with its line ending. */
export function keptCommentLines(text: string, start: number, end: number): string {
  let kept = '';
  for (let at = start; at < end; at = nextLineStart(text, at)) {
    const line = text.slice(at, Math.min(nextLineStart(text, at), end));
    if (line.trimStart().startsWith('#')) kept += line;
  }
  return kept;
}

/** True when the node's lines start on a line of their own (block style, no content before). */
export function startsOwnLine(tpl: ParsedTemplate, node: YamlNode | Pair): boolean {
  return onlyWhitespaceBefore(tpl.text, rangeOf(node)[0]);
}
