/**
 * Jinja inside YAML: mask it so the `yaml` parser can read the file, without moving a byte.
 *
 * Every Jinja construct is replaced by filler of exactly the same length (newlines kept), so
 * every offset the parser reports is an offset into the original text and edits can be made
 * on the original, Jinja and all. Statement and comment tags that sit alone on their lines
 * (`{% for … %}`, `{% endif %}`, `{# … #}`) become YAML comments; expressions and inline tags
 * become a run of `_`, which YAML reads as part of a plain or quoted scalar.
 */

export class TemplateSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
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
      const endQuote = text.indexOf(ch, i + 1);
      if (endQuote === -1) return -1;
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

const BLOCK_TAGS = new Set(['for', 'if', 'macro', 'call', 'filter', 'block', 'raw']);

/** Unbalanced `{% if %}`/`{% for %}` would render to nothing sensible: refuse early with the line. */
function checkBlockBalance(text: string, spans: readonly JinjaSpan[]): void {
  const stack: { tag: string; start: number }[] = [];
  for (const span of spans) {
    if (span.kind !== 'statement') continue;
    const word = /^(\w+)/.exec(span.body)?.[1] ?? '';
    if (BLOCK_TAGS.has(word) || (word === 'set' && !span.body.includes('='))) {
      stack.push({ tag: word, start: span.start });
    } else if (word.startsWith('end')) {
      const tag = word.slice(3);
      const top = stack.pop();
      if (!top || top.tag !== tag) {
        throw new TemplateSyntaxError(
          lineAt(text, span.start),
          top ? `'{% ${word} %}' closes '{% ${top.tag} %}' from line ${lineAt(text, top.start)}` : `'{% ${word} %}' without an opening tag`,
        );
      }
    }
  }
  const open = stack.pop();
  if (open) throw new TemplateSyntaxError(lineAt(text, open.start), `'{% ${open.tag} %}' is never closed`);
}

/** Text with every Jinja construct replaced by same-length filler (see the module comment). */
export function maskJinja(text: string, spans: readonly JinjaSpan[] = scanJinja(text)): string {
  if (spans.length === 0) return text;
  const chars = text.split('');
  for (const span of spans) {
    const standalone = span.kind !== 'expression' && isAloneOnItsLines(text, span, spans);
    let lineIndent = false; // inside the leading whitespace of a continuation line
    for (let i = span.start; i < span.end; i++) {
      if (chars[i] === '\n' || chars[i] === '\r') {
        lineIndent = true;
        continue;
      }
      if (lineIndent && (chars[i] === ' ' || chars[i] === '\t')) continue; // keep the indentation YAML reads
      const firstOnLine = i === span.start || lineIndent;
      lineIndent = false;
      if (standalone) chars[i] = firstOnLine ? '#' : ' ';
      else chars[i] = '_';
    }
  }
  return chars.join('');
}

/** True when only whitespace and other non-expression tags share the lines the span covers. */
function isAloneOnItsLines(text: string, span: JinjaSpan, spans: readonly JinjaSpan[]): boolean {
  const lineStart = text.lastIndexOf('\n', span.start - 1) + 1;
  let lineEnd = text.indexOf('\n', span.end);
  if (lineEnd === -1) lineEnd = text.length;
  let rest = text.slice(lineStart, lineEnd);
  // Blank out the tags on these lines; what is left must be whitespace.
  for (const other of spans) {
    if (other.kind === 'expression' || other.end <= lineStart || other.start >= lineEnd) continue;
    const from = Math.max(other.start, lineStart) - lineStart;
    const to = Math.min(other.end, lineEnd) - lineStart;
    rest = rest.slice(0, from) + ' '.repeat(to - from) + rest.slice(to);
  }
  return rest.trim() === '';
}
