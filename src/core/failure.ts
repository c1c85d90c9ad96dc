/**
 * Confining failures: what the engine and `verify` make of an exception raised while one fix
 * (or one check) reads, parses or renders the repo's files. A problem in one file stops only
 * the fixes that need that file; it becomes their `unrecognised` (or `not checked`) reason,
 * naming `file:line` and the cause, and every other fix still runs. Exit 2 is left for
 * problems of the repository as a whole (src/git/git.ts, src/git/apply.ts).
 */
import { scanJinja, TemplateSyntaxError } from '../toolkit/jinja-mask.js';
import { FileShapeError, UnrecognisedShape } from './errors.js';

/**
 * A problem of one repo file the renderer or a variable loader found (a variable whose value
 * does not render, a vars file that is not YAML): the file, its line when known, and why.
 */
export class FileProblem extends FileShapeError {
  constructor(
    override readonly path: string,
    line: number | undefined,
    detail: string,
  ) {
    super(path, line, detail, 'read', `${path}${line ? `:${line}` : ''}: ${detail}`);
    this.name = 'FileProblem';
  }
}

/**
 * An error that names its own place: `path` (or none), `line` and `detail`, as YamlTemplateError,
 * FileProblem and the renderer's RenderError do (duck-typed: the renderer is not imported here).
 */
interface PlacedError extends Error {
  readonly path: string | undefined;
  readonly line: number | undefined;
  readonly detail: string;
}

function isPlaced(error: unknown): error is PlacedError {
  if (!(error instanceof Error)) return false;
  const { path, line, detail } = error as Partial<PlacedError>;
  return typeof detail === 'string' && (path === undefined || typeof path === 'string') && (line === undefined || typeof line === 'number');
}

/** A verify check whose evidence holds values only Ansible knows at run time (src/model/render/unknown.ts). */
export class UnknownValues extends FileShapeError {
  constructor(readonly reasons: readonly string[]) {
    const message = `depends on ${reasons.join('; ')}`;
    super(undefined, undefined, message, 'read', message);
    this.name = 'UnknownValues';
  }
}

/** nunjucks wraps every error as `(unknown path) [Line 1, Column 9]\n  Error: <what>`. */
function isNunjucksError(error: Error): boolean {
  return error.name === 'Template render error' || /^\((unknown path|[^)\n]*)\)( \[Line \d+, Column \d+\])?\n/.test(error.message);
}

export interface Described {
  /** One line: the exception's own message, without wrappers such as nunjucks's "(unknown path)". */
  readonly message: string;
  /** The file it names, when it names one. */
  readonly path?: string;
  /** The line in that file (or in the template being rendered), when known. */
  readonly line?: number;
}

/** The message of any exception as one line, with the file and line it names. */
export function describeError(error: unknown): Described {
  if (error instanceof TemplateSyntaxError) return { message: error.detail, line: error.line };
  if (isPlaced(error))
    return { message: error.detail, ...(error.path ? { path: error.path } : {}), ...(error.line ? { line: error.line } : {}) };
  if (!(error instanceof Error)) return { message: firstLine(String(error)) };
  if (isNunjucksError(error)) {
    const position = /\[Line (\d+), Column \d+\]/.exec(error.message);
    const lines = error.message
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    const inner = lines
      .slice(1)
      .join(' ')
      .replace(/^(Template render error:\s*)?(\([^)]*\)\s*(\[Line \d+, Column \d+\])?\s*)?/, '')
      .replace(/^(\w*Error): /, (_, name: string) => (name === 'Error' ? '' : `${name}: `));
    return {
      message: inner || firstLine(error.message).replace(/^\(unknown path\)\s*/, '') || error.name,
      ...(position ? { line: Number(position[1]) } : {}),
    };
  }
  // The `yaml` library's parse errors: "<message> at line 3, column 5:" followed by a snippet.
  const yamlPosition = /^(.*?) at line (\d+), column \d+:?$/m.exec(error.message);
  if (error.name === 'YAMLParseError' && yamlPosition) return { message: yamlPosition[1] ?? error.message, line: Number(yamlPosition[2]) };
  const message = firstLine(error.message);
  return { message: message || error.name };
}

/**
 * True when the exception is about the repo's content (a YAML or Jinja syntax error, a template
 * or variable that does not render), not a defect of the tool: reported as the fix's reason
 * without the word "internal".
 */
export function isContentError(error: unknown): boolean {
  if (error instanceof UnrecognisedShape) return true;
  if (!(error instanceof Error)) return false;
  // By name too: an error of that kind from a copy of the module loaded twice (or built elsewhere) is one as well.
  return (
    isNunjucksError(error) ||
    error.name === 'RenderError' ||
    error.name === 'UnknownValues' ||
    error.name === 'YAMLParseError' ||
    error.name === 'YAMLWarning'
  );
}

/**
 * The reason a fix (or a verify check) gives when reading its files raised `error`:
 * `file:line` and what is wrong. `reading` is the file the fix read last, for an exception
 * that does not name its own (a template being rendered, a defect of the tool).
 */
export function failureReason(error: unknown, reading: string | undefined, fix: string): string {
  if (error instanceof UnrecognisedShape) return error.reasonWhileReading(reading);
  const described = describeError(error);
  const path = described.path ?? reading;
  const at = path ? `${path}${described.line ? `:${described.line}` : ''}` : undefined;
  if (isContentError(error)) {
    const verb = error instanceof Error && error.name === 'YAMLParseError' ? 'cannot parse' : 'cannot read';
    const rendering = error instanceof Error && (isNunjucksError(error) || error.name === 'RenderError');
    return `${rendering ? 'cannot render' : verb} ${at ?? 'a file'}: ${described.message}`;
  }
  return `internal error in ${fix}${at ? ` while reading ${at}` : ''}: ${described.message}`;
}

/** `--debug` or OPENCLAW_FIX_DEBUG=1 (any value but empty, 0 or false): print stacks of internal errors. */
export function debugFromEnv(env: NodeJS.ProcessEnv): boolean {
  const value = env.OPENCLAW_FIX_DEBUG;
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/** The stack of an exception for --debug (its message when it has none). */
export function stackOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find(Boolean) ?? ''
  );
}

// ---- broken files a reader may pass over --------------------------------------------------
// A fix that looks for its file by content reads every candidate; a candidate that does not
// parse stops it only when it could be the file it is looking for.

/**
 * False when a file that does not parse clearly is not a Compose file: each top-level
 * `services:` has an inline value (a Smokescreen ACL's `services: {}`) or a list under it.
 * True when it may be one (the caller must then not guess without it).
 */
export function mayBeComposeFile(text: string): boolean {
  const lines = text.split(/\r?\n/);
  return lines.some((line, index) => {
    const services = /^services\s*:(.*)$/.exec(line);
    if (!services) return false;
    if ((services[1] ?? '').replace(/\s+#.*$/, '').trim() !== '') return false;
    const next = lines.slice(index + 1).find((later) => later.trim() !== '' && !/^\s*#/.test(later) && !/^\s*\{[%#]/.test(later));
    return next === undefined || !/^\s*- /.test(next);
  });
}

/**
 * Refuses a template whose Jinja does not scan or balance (a stray `{% endfor %}`, an unclosed
 * expression), naming `file:line`: Ansible cannot render it, so a reader must not read its text
 * as if it would (a shell script's commands, say).
 */
export function assertJinjaSyntax(path: string, text: string): void {
  try {
    scanJinja(text);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new FileProblem(path, error.line, `not valid Jinja: ${error.detail}`);
    throw error;
  }
}

/** True when a key `name:` appears indented in the text (a broken file naming no such key cannot define it). */
export function mayDefineKey(text: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^[ \\t]+(["']?)${escaped}\\1[ \\t]*:`, 'm').test(text) || /^[ \t]+["']?\{\{/m.test(text);
}
