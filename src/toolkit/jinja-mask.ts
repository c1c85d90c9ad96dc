/**
 * Jinja inside YAML: mask it so the `yaml` parser can read the file, without moving a byte.
 *
 * Every Jinja construct is replaced by filler of exactly the same length (newlines kept), so
 * every offset the parser reports is an offset into the original text and edits can be made
 * on the original, Jinja and all. What the filler is depends on where the construct sits, the
 * way a real template puts it (see maskJinjaLayout):
 *
 * - a line holding only tags (`{% if … %}`, `{% endif %}`, `{# … #}`, `{% include %}`) becomes a
 *   blank line: YAML skips it in a mapping or list and keeps reading a block scalar (`command: >`)
 *   or a multi-line plain scalar across it, where a comment at column 0 would end them;
 * - such a line inside a block scalar, before the scalar's last content line, becomes content at
 *   the scalar's indentation (a blank line longer than that indentation before the first content
 *   line is a YAML error);
 * - an expression alone on a line where mapping entries or list items stand
 *   (`{{ extra_env | to_nice_yaml | indent(6) }}`, a macro call) is blank too, and reported as a
 *   *generator*: the entries it renders are unknown, so a key absent from the mapping may still
 *   come from it (template-yaml.ts attributes generators to their mapping or list);
 * - a tag at the end of a `key:` line (`environment:{% for … %}`, the `#jinja2: trim_blocks:
 *   False` style) becomes a trailing comment, so the key keeps its nested block;
 * - a tag right after a quoted scalar or a flow collection's bracket (`"a"{% endif %}`) becomes
 *   spaces; every other expression or tag becomes a run of `_`, which YAML reads as part of a
 *   plain or quoted scalar (so the node's range covers the Jinja that builds it);
 * - the body of a `{% macro %}` or block `{% set %}` is not output where it is written: blank.
 */
import { FileShapeError } from '../core/errors.js';

/** Jinja that does not scan or balance; it names the line, the file is the one being read. */
export class TemplateSyntaxError extends FileShapeError {
  constructor(
    override readonly line: number,
    detail: string,
  ) {
    super(undefined, line, detail, 'parse', `line ${line}: ${detail}`);
    this.name = 'TemplateSyntaxError';
  }
}

/** One Jinja construct found in a template. */
export interface JinjaSpan {
  readonly kind: 'expression' | 'statement' | 'comment';
  readonly start: number;
  readonly end: number;
  /** Tag content without delimiters and whitespace control, trimmed: `for model in litellm_models`. */
  readonly body: string;
}

const OPENERS: Record<string, { close: string; kind: JinjaSpan['kind'] }> = {
  '{{': { close: '}}', kind: 'expression' },
  '{%': { close: '%}', kind: 'statement' },
  '{#': { close: '#}', kind: 'comment' },
};

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Finds the end (exclusive) of a tag whose body starts at `from`, skipping string literals in expressions. */
function findClose(text: string, from: number, close: string, kind: JinjaSpan['kind']): number {
  let i = from;
  while (i < text.length) {
    const ch = text[i];
    if (kind !== 'comment' && (ch === '"' || ch === "'")) {
      // A Jinja string literal; a backslash escapes the next character (`'it\'s'`).
      let endQuote = i + 1;
      while (endQuote < text.length && text[endQuote] !== ch) endQuote += text[endQuote] === '\\' ? 2 : 1;
      if (endQuote >= text.length) return -1;
      i = endQuote + 1;
      continue;
    }
    if (text.startsWith(close, i)) return i + close.length;
    i++;
  }
  return -1;
}

/** Lists the Jinja constructs of a template in order. Throws TemplateSyntaxError on an unclosed tag. */
export function scanJinja(text: string): JinjaSpan[] {
  const spans: JinjaSpan[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{', i);
    if (open === -1 || open + 1 >= text.length) break;
    const opener = OPENERS[text.slice(open, open + 2)];
    if (!opener) {
      i = open + 1;
      continue;
    }
    const end = findClose(text, open + 2, opener.close, opener.kind);
    if (end === -1) {
      throw new TemplateSyntaxError(lineAt(text, open), `unclosed Jinja ${opener.kind} '${text.slice(open, open + 2)}'`);
    }
    const body = text
      .slice(open + 2, end - 2)
      .replace(/^[-+]/, '')
      .replace(/[-+]$/, '')
      .trim();
    spans.push({ kind: opener.kind, start: open, end, body });
    i = end;
    if (opener.kind === 'statement' && /^raw\b/.test(body)) {
      // Everything up to {% endraw %} is literal text, not Jinja.
      const endRaw = /\{%-?\s*endraw\s*-?%\}/g;
      endRaw.lastIndex = end;
      const match = endRaw.exec(text);
      if (!match) throw new TemplateSyntaxError(lineAt(text, open), "'{% raw %}' without '{% endraw %}'");
      spans.push({ kind: 'statement', start: match.index, end: match.index + match[0].length, body: 'endraw' });
      i = match.index + match[0].length;
    }
  }
  checkBlockBalance(text, spans);
  return spans;
}

/** Jinja2's block tags (each closed by `end<tag>`); a `set` without `=` is a block set. `trans` is the i18n extension's. */
const BLOCK_TAGS = new Set(['for', 'if', 'macro', 'call', 'filter', 'block', 'raw', 'with', 'autoescape', 'trans']);
/** Tags that split a block into branches: `{% elif %}`/`{% else %}` (also a for loop's else), `{% pluralize %}`. */
const BRANCH_TAGS = new Set(['elif', 'else', 'pluralize']);

/** One Jinja block: its opening tag, the tags between its branches, its closing tag. */
export interface JinjaBlock {
  /** `for`, `if`, `macro`, `set` … */
  readonly tag: string;
  readonly open: JinjaSpan;
  /** `{% elif %}` / `{% else %}` tags, in order. */
  readonly branches: readonly JinjaSpan[];
  readonly close: JinjaSpan;
}

function tagWord(span: JinjaSpan): string {
  return /^(\w+)/.exec(span.body)?.[1] ?? '';
}

/** The blocks of the scanned spans, outermost first by position. Throws TemplateSyntaxError when they do not balance. */
export function jinjaBlocks(text: string, spans: readonly JinjaSpan[]): JinjaBlock[] {
  const blocks: JinjaBlock[] = [];
  const stack: { tag: string; open: JinjaSpan; branches: JinjaSpan[] }[] = [];
  for (const span of spans) {
    if (span.kind !== 'statement') continue;
    const word = tagWord(span);
    if (BLOCK_TAGS.has(word) || (word === 'set' && !span.body.includes('='))) {
      stack.push({ tag: word, open: span, branches: [] });
    } else if (BRANCH_TAGS.has(word)) {
      const top = stack.at(-1);
      if (!top || (word === 'pluralize' ? top.tag !== 'trans' : top.tag !== 'if' && top.tag !== 'for')) {
        throw new TemplateSyntaxError(
          lineAt(text, span.start),
          `'{% ${word} %}' outside an '{% ${word === 'pluralize' ? 'trans' : 'if'} %}' block`,
        );
      }
      top.branches.push(span);
    } else if (word.startsWith('end') && word.length > 3) {
      const tag = word.slice(3);
      const top = stack.pop();
      if (!top || top.tag !== tag) {
        throw new TemplateSyntaxError(
          lineAt(text, span.start),
          top
            ? `'{% ${word} %}' closes '{% ${top.tag} %}' from line ${lineAt(text, top.open.start)}`
            : `'{% ${word} %}' without an opening tag`,
        );
      }
      blocks.push({ tag: top.tag, open: top.open, branches: top.branches, close: span });
    }
  }
  const open = stack.pop();
  if (open) throw new TemplateSyntaxError(lineAt(text, open.open.start), `'{% ${open.tag} %}' is never closed`);
  return blocks.sort((a, b) => a.open.start - b.open.start);
}

/** Unbalanced `{% if %}`/`{% for %}` would render to nothing sensible: refuse early with the line. */
function checkBlockBalance(text: string, spans: readonly JinjaSpan[]): void {
  jinjaBlocks(text, spans);
}

/**
 * Which Jinja blocks, and which branch of each, enclose `offset`: `''` outside any block,
 * `'12.0/40.1'` inside the first branch of the block opened at 12 and the second of the one at
 * 40. Two offsets with the same context are output together, the same number of times: a line
 * inserted at one is output exactly when the text at the other is.
 */
export function jinjaContextAt(blocks: readonly JinjaBlock[], offset: number): string {
  const parts: string[] = [];
  for (const block of blocks) {
    if (block.open.start >= offset) break;
    if (block.open.end > offset || block.close.start < offset) continue;
    parts.push(`${block.open.start}.${block.branches.filter((branch) => branch.end <= offset).length}`);
  }
  return parts.join('/');
}

/** Text with every Jinja construct replaced by same-length filler (see the module comment). */
export function maskJinja(text: string, spans: readonly JinjaSpan[] = scanJinja(text)): string {
  return maskJinjaLayout(text, spans).masked;
}

export interface MaskedTemplate {
  readonly masked: string;
  /**
   * Expressions and `{% include %}` tags alone on a line where mapping entries or list items
   * stand (not a value, not inside a scalar or flow collection): what they render is entries
   * nobody can read from the template. Masked as blank lines.
   */
  readonly generators: readonly JinjaSpan[];
  /**
   * For each generator, the column its entries stand at: the expression's own, or, when it is
   * written left of the entries around it (a macro call at column 0 inside a service), theirs.
   */
  readonly generatorColumns: readonly number[];
}

interface Line {
  readonly start: number;
  /** End of the line's text, before `\r\n`/`\n`. */
  readonly end: number;
  /** Column of the first character that is neither whitespace nor inside a Jinja span; -1 when none. */
  readonly indent: number;
  /** Column of the first character that is not whitespace (Jinja included); -1 on a blank line. */
  readonly textIndent: number;
  /** Whitespace and Jinja only (at least one Jinja construct), or whitespace only. */
  readonly kind: 'content' | 'jinja' | 'blank';
  /** The spans touching the line. */
  readonly spans: readonly JinjaSpan[];
}

function linesOf(text: string, spans: readonly JinjaSpan[]): Line[] {
  const lines: Line[] = [];
  let spanIndex = 0;
  for (let start = 0; start <= text.length;) {
    let next = text.indexOf('\n', start);
    if (next === -1) next = text.length;
    const end = next > start && text[next - 1] === '\r' ? next - 1 : next;
    while (spanIndex < spans.length && (spans[spanIndex] as JinjaSpan).end <= start) spanIndex++;
    const touching: JinjaSpan[] = [];
    for (let i = spanIndex; i < spans.length && (spans[i] as JinjaSpan).start < Math.max(end, start + 1); i++)
      touching.push(spans[i] as JinjaSpan);
    let indent = -1;
    for (let at = start; at < end; at++) {
      const ch = text[at];
      if (ch === ' ' || ch === '\t') continue;
      const inSpan = touching.find((span) => span.start <= at && at < span.end);
      if (inSpan) {
        at = inSpan.end - 1;
        continue;
      }
      indent = at - start;
      break;
    }
    const textIndent = /^[ \t]*/.exec(text.slice(start, end))?.[0].length ?? 0;
    lines.push({
      start,
      end,
      indent,
      textIndent: textIndent === end - start ? -1 : textIndent,
      kind: indent !== -1 ? 'content' : touching.length > 0 ? 'jinja' : 'blank',
      spans: touching,
    });
    if (next === text.length) break;
    start = next + 1;
  }
  return lines;
}

/** `key:` or `- key:` lines: the column where the line's innermost mapping keys (or list items) stand. */
function entryColumn(text: string, line: Line): number {
  const dashes = /^(?:-[ \t]+)*/.exec(text.slice(line.start + line.indent, line.end))?.[0] ?? '';
  return line.indent + dashes.length;
}

/** The line's text without a trailing YAML comment, Jinja replaced by `_`, trimmed at the end. */
function codeOf(text: string, line: Line): string {
  // Run by run, not character by character: a covered run becomes underscores, the text up to
  // the next span's start is copied (no span covers it, since none covers its first character).
  let code = '';
  for (let at = line.start; at < line.end;) {
    const span = line.spans.find((candidate) => candidate.start <= at && at < candidate.end);
    if (span) {
      const to = Math.min(span.end, line.end);
      code += '_'.repeat(to - at);
      at = to;
      continue;
    }
    let next = line.end;
    for (const candidate of line.spans) if (candidate.start > at && candidate.start < next) next = candidate.start;
    code += text.slice(at, next);
    at = next;
  }
  return code.replace(/(^|[ \t])#.*$/, '').trimEnd();
}

const BLOCK_SCALAR_HEADER = /(^|[:-]|[ \t][!&]\S*)[ \t]+[|>][1-9+-]{0,2}$|^[ \t]*[|>][1-9+-]{0,2}$/;

/** See the module comment. */
export function maskJinjaLayout(text: string, spans: readonly JinjaSpan[] = scanJinja(text)): MaskedTemplate {
  if (spans.length === 0) return { masked: text, generators: [], generatorColumns: [] };
  const chars = text.split('');
  const fill = (from: number, to: number, filler: (offset: number) => string): void => {
    for (let at = from; at < to; at++) if (chars[at] !== '\n' && chars[at] !== '\r') chars[at] = filler(at);
  };
  const blocks = jinjaBlocks(text, spans);
  // A macro's or block set's body is not output where it is written: for the layout it is Jinja.
  const bodies: JinjaSpan[] = blocks
    .filter((block) => block.tag === 'macro' || block.tag === 'set')
    .map((block) => ({ kind: 'comment' as const, start: block.open.end, end: block.close.start, body: '' }))
    .filter((body, _, all) => !all.some((outer) => outer !== body && outer.start <= body.start && body.end <= outer.end));
  const outside = (span: JinjaSpan): boolean => !bodies.some((body) => body.start <= span.start && span.end <= body.end);
  const lines = linesOf(
    text,
    [...spans.filter(outside), ...bodies].sort((a, b) => a.start - b.start),
  );

  // Inline constructs: `_`, except where `_` would glue onto a closed quoted scalar or bracket.
  for (const span of spans) {
    let before = span.start - 1;
    while (before >= 0 && spans.some((other) => other.start <= before && before < other.end)) before--;
    const previous = before >= 0 ? text[before] : '\n';
    const filler = /["'\]}]/.test(previous ?? '') && span.kind !== 'expression' ? ' ' : '_';
    let lineIndent = false; // inside the leading whitespace of a continuation line: kept, YAML reads it
    for (let at = span.start; at < span.end; at++) {
      const ch = text[at];
      if (ch === '\n' || ch === '\r') lineIndent = true;
      else if (!(lineIndent && (ch === ' ' || ch === '\t'))) {
        lineIndent = false;
        chars[at] = filler;
      }
    }
  }
  for (const body of bodies) fill(body.start, body.end, () => ' ');

  const generators: JinjaSpan[] = [];
  const generatorColumns: number[] = [];
  const previousContent = (index: number): Line | undefined => {
    for (let i = index - 1; i >= 0; i--) if ((lines[i] as Line).kind === 'content') return lines[i];
    return undefined;
  };
  const nextContent = (index: number): Line | undefined => {
    for (let i = index + 1; i < lines.length; i++) if ((lines[i] as Line).kind === 'content') return lines[i];
    return undefined;
  };
  let scalarEnd = -1; // index of the last content line of the block scalar being read
  let scalarIndent = 0;
  for (const [index, line] of lines.entries()) {
    if (line.kind === 'content') {
      // A tag at the end of a `key:` or `-` line: a trailing comment, so the nested block stays the key's.
      const last = line.spans.at(-1);
      if (
        index > scalarEnd &&
        last &&
        last.kind !== 'expression' &&
        last.start > line.start + line.indent &&
        text.slice(last.end, line.end).trim() === ''
      ) {
        let first = line.spans.length - 1;
        while (
          first > 0 &&
          (line.spans[first - 1] as JinjaSpan).kind !== 'expression' &&
          text.slice((line.spans[first - 1] as JinjaSpan).end, (line.spans[first] as JinjaSpan).start).trim() === ''
        )
          first--;
        const from = (line.spans[first] as JinjaSpan).start;
        const head = text.slice(line.start, from).trimEnd();
        if (/(^|[^ \t]):$/.test(head) || /(^|[ \t])-$/.test(head)) {
          const spaceBefore = from > line.start && /[ \t]/.test(text[from - 1] ?? '');
          fill(from, line.end, (at) => (at === from + (spaceBefore ? 0 : 1) ? '#' : ' '));
        }
      }
      if (index > scalarEnd && BLOCK_SCALAR_HEADER.test(codeOf(text, line))) {
        // The block scalar's content: following lines indented deeper than the key (or dash) that holds it.
        const code = text.slice(line.start + line.indent, line.end);
        const dashes = /^(?:-[ \t]+)*/.exec(code)?.[0] ?? '';
        const parent =
          /^[|>]/.test(code.slice(dashes.length)) && dashes.length > 0
            ? line.indent + dashes.lastIndexOf('-')
            : line.indent + dashes.length;
        let last = -1;
        let firstIndent = -1;
        for (let i = index + 1; i < lines.length; i++) {
          const candidate = lines[i] as Line;
          if (candidate.kind === 'blank') continue;
          // A tag line at any column does not end the scalar (Jinja takes it out); an expression deeper than the key is content.
          if (candidate.kind === 'jinja' && (candidate.textIndent <= parent || !candidate.spans.some((span) => span.kind === 'expression')))
            continue;
          const column = candidate.kind === 'content' ? candidate.indent : candidate.textIndent;
          if (column <= parent) break;
          if (firstIndent === -1) firstIndent = column;
          last = i;
        }
        if (last !== -1) {
          scalarEnd = last;
          scalarIndent = firstIndent;
        }
      }
      continue;
    }
    if (line.kind === 'blank') continue;
    if (index <= scalarEnd) {
      // Inside a block scalar: content at the scalar's indentation or deeper (a blank line when shorter).
      const indent = Math.max(scalarIndent, line.textIndent);
      fill(line.start, line.end, (at) => (at - line.start < indent ? ' ' : '_'));
      continue;
    }
    const expression = line.spans.find((span) => span.kind === 'expression');
    // The rest of an expression that started on a content line: part of that line's value.
    if (expression && expression.start < line.start) continue;
    const include = line.spans.find((span) => span.kind === 'statement' && /^include\b/.test(span.body));
    if (!expression) {
      fill(line.start, line.end, () => ' ');
      if (include) {
        generators.push(include);
        generatorColumns.push(include.start - line.start);
      }
      continue;
    }
    // An expression alone on its line: a value or scalar continuation (`_`), or entries (blank).
    const column = expression.start - line.start;
    const previous = previousContent(index);
    const following = nextContent(index);
    const previousCode = previous ? codeOf(text, previous) : '';
    const isValue =
      previous !== undefined &&
      column > previous.indent &&
      /(:|^-|[ \t]-|[,[{])$/.test(previousCode.trimStart()) &&
      !(following && following.indent === column);
    const isContinuation =
      previous !== undefined && column > previous.indent && column !== entryColumn(text, previous) && !/(:|-)$/.test(previousCode);
    if (isValue || isContinuation) continue; // already `_`
    // Written left of the entries around it (a macro call at column 0) while the template goes on
    // deeper: its entries stand where the previous line's do.
    const entries = previous && following && column < previous.indent && previous.indent < following.indent ? previous.indent : column;
    fill(line.start, Math.max(line.end, expression.end), () => ' ');
    if (following && following.indent > entries && line.end - line.start >= entries + 2 && expression.end <= line.end) {
      // The template goes on with lines nested under the last entry it renders (a macro's
      // `healthcheck:` followed by `start_period: 60s`): a placeholder key at the entries' column.
      fill(line.start + entries, line.end, (at) => (at === line.end - 1 ? ':' : '_'));
    }
    generators.push(expression);
    generatorColumns.push(entries);
  }
  return { masked: chars.join(''), generators, generatorColumns };
}
