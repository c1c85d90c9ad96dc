/**
 * Rendering the repo's Jinja templates the way Ansible's `template` module would, with
 * nunjucks made to evaluate Jinja like Python (src/model/render/jinja.ts): used to prove a fix in
 * effect (tests, `verify`) on the rendered output rather than on template text.
 * test/ansible-crosscheck.test.ts renders templates with both and requires the same bytes;
 * the differences nunjucks cannot close are listed in KNOWN_DIFFERENCES.
 *
 * What needs Ansible's controller or the managed host (lookups, facts, hostvars, registered
 * variables, `omit`, password_hash…) renders as an Unknown (src/model/render/unknown.ts): a value
 * prints as a sentinel token that `containsUnknown` finds in the rendered text or in data
 * parsed from it; an `if` or `for` that an unknown decided is listed by
 * renderTemplateDetailed. A filter or test the renderer does not know, or any other error,
 * throws RenderError naming the template's `file:line`: it stops that template only.
 */
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { scanJinja, TemplateSyntaxError, type JinjaSpan } from '../../toolkit/jinja-mask.js';
import { UnsafeText, VaultText } from '../../toolkit/ansible-yaml.js';
import { PRINT_FILTER, renderWithState, UnsupportedJinjaError, type RenderState, type UnknownUse } from './jinja.js';
import { isDict, pythonStr } from './python.js';
import { containsUnknown, Unknown } from './unknown.js';
import { ansibleCfgValue, variableSources, VARIABLE_GLOBS, type VarSource } from './vars.js';
import { parseYamlTemplate, type ParsedTemplate } from '../../toolkit/template-yaml.js';
import { filesOfView } from '../../core/repo-view.js';
import { FileShapeError } from '../../core/errors.js';
import type { RepoView } from '../../core/types.js';

export { ANSIBLE_YAML_TAGS } from '../../toolkit/ansible-yaml.js';
export { UnsupportedJinjaError, type UnknownUse } from './jinja.js';
export { containsUnknown, isUnknown, Unknown, unknownReasons } from './unknown.js';
export { VARIABLE_GLOBS };

export type Vars = Record<string, unknown>;

/** Ansible's value of `ansible_managed` when ansible.cfg does not set one. */
const DEFAULT_ANSIBLE_MANAGED = 'Ansible managed';

/**
 * Where nunjucks output can still differ from Ansible's, on purpose kept narrow. JavaScript has
 * one number type, so a YAML float with an integral value (`max_budget: 100.0`) renders as `100`
 * where Python prints `100.0`; the parsed value is the same. Every other value prints as
 * Python's `str()` would (True, ['a', None], {'k': 'v'}), and a None alone as nothing.
 */
export const KNOWN_DIFFERENCES = ['an integral float (100.0) renders as 100'] as const;

/** A template that cannot be rendered: where, and why. `unsupported` is set for a filter, test or include the renderer does not know. */
export class RenderError extends FileShapeError {
  constructor(
    path: string | undefined,
    line: number | undefined,
    detail: string,
    readonly unsupported?: { readonly kind: UnsupportedJinjaError['kind']; readonly name: string },
  ) {
    super(path, line, detail, 'render', `${path ?? 'template'}${line === undefined ? '' : `:${line}`}: ${detail}`);
    this.name = 'RenderError';
  }
}

/** Jinja options a template may set on its first line (`#jinja2: lstrip_blocks: True`), as Ansible reads them. */
interface JinjaOptions {
  trimBlocks: boolean;
  lstripBlocks: boolean;
}

const JINJA2_OVERRIDE = '#jinja2:';

/** Reads Ansible's `#jinja2:` first-line override; returns the options and the text without that line. */
function templateOverrides(text: string): { options: Partial<JinjaOptions>; body: string } {
  if (!text.startsWith(JINJA2_OVERRIDE)) return { options: {}, body: text };
  const eol = text.indexOf('\n');
  const line = text.slice(JINJA2_OVERRIDE.length, eol === -1 ? text.length : eol);
  const options: Partial<JinjaOptions> = {};
  for (const pair of line.split(',')) {
    const [key = '', value = ''] = pair.split(/:(.*)/s).map((part) => part.trim());
    const flag = value === 'True' ? true : value === 'False' ? false : undefined;
    if (key === 'trim_blocks' && flag !== undefined) options.trimBlocks = flag;
    else if (key === 'lstrip_blocks' && flag !== undefined) options.lstripBlocks = flag;
    else throw new UnsupportedJinjaError('syntax', '#jinja2', `#jinja2: override '${pair.trim()}' is not supported by the renderer`);
  }
  return { options, body: eol === -1 ? '' : text.slice(eol + 1) };
}

function countTrailingNewlines(text: string): number {
  let count = 0;
  while (count < text.length && text[text.length - 1 - count] === '\n') count++;
  return count;
}

/** The rewritten template, and where each of its offsets came from in the template. */
interface Compatible {
  readonly text: string;
  /** Each expression's source, by the index __ansible_str receives. */
  readonly expressions: readonly string[];
  /** Offset in `text` → offset in the source. */
  readonly sourceOffset: (offset: number) => number;
}

/**
 * Rewrites a template so nunjucks prints what Jinja prints: comments are removed with the
 * whitespace Jinja's trim_blocks and lstrip_blocks take around them (nunjucks trims only around
 * block tags), `{% raw %}` blocks print their text with Jinja's whitespace rules, block tags get
 * Jinja's lstrip_blocks (also on a line that starts where a removed newline was), and every
 * `{{ expr }}` goes through Python's str() (True, lists), None as nothing.
 */
function jinjaCompatible(text: string, { trimBlocks, lstripBlocks }: JinjaOptions): Compatible {
  /**
   * The text from `from` up to a tag that opens with `open` (`{%`, `{#-`, `{%+`), as Jinja keeps
   * it: every trailing whitespace before `-`; under lstrip_blocks (unless `+`) the indentation
   * before a tag that starts its line.
   */
  const textBefore = (from: number, to: number, open: string): string => {
    const before = text.slice(from, to);
    if (open.endsWith('-')) return before.replace(/\s+$/, '');
    if (!lstripBlocks || open.endsWith('+')) return before;
    const lineStart = before.lastIndexOf('\n') + 1;
    const startsLine = lineStart > 0 || from === 0 || text[from - 1] === '\n';
    return startsLine && /^[ \t]*$/.test(before.slice(lineStart)) ? before.slice(0, lineStart) : before;
  };
  /** Where the text resumes after a tag ending at `end`: past every whitespace after `-%}`, else past the newline trim_blocks takes. */
  const resumeAfter = (end: number, trimsWhitespace: boolean): number => {
    let cursor = end;
    if (trimsWhitespace) while (cursor < text.length && /\s/.test(text[cursor] ?? '')) cursor++;
    else if (trimBlocks && text[cursor] === '\n') cursor++;
    return cursor;
  };
  const spans: JinjaSpan[] = scanJinja(text);
  const starts: number[] = [];
  const sources: number[] = [];
  const expressions: string[] = [];
  let out = '';
  /** Appends `piece`, which came from the source at `from`. */
  const emit = (piece: string, from: number): void => {
    starts.push(out.length);
    sources.push(from);
    out += piece;
  };
  let cursor = 0;
  for (let index = 0; index < spans.length; index++) {
    const span = spans[index] as JinjaSpan;
    const source = text.slice(span.start, span.end);
    const open = /^..[-+]?/.exec(source)?.[0] ?? '';
    const close = /[-+]?..$/.exec(source)?.[0] ?? '';
    const endRaw = span.kind === 'statement' && /^raw\b/.test(span.body) ? spans[index + 1] : undefined;
    if (endRaw) {
      // nunjucks trims the newline after {% raw %} and keeps the one after {% endraw %}; Jinja
      // does the opposite (its trim_blocks applies to endraw only). Print the literal as a string.
      const endSource = text.slice(endRaw.start, endRaw.end);
      let literal = textBefore(span.end, endRaw.start, /^..[-+]?/.exec(endSource)?.[0] ?? '');
      if (close.startsWith('-')) literal = literal.replace(/^\s+/, '');
      emit(textBefore(cursor, span.start, open), cursor);
      emit(nunjucksStringExpression(literal), span.start);
      cursor = resumeAfter(endRaw.end, /-%\}$/.test(endSource));
      index++;
    } else if (span.kind === 'comment') {
      emit(textBefore(cursor, span.start, open), cursor);
      cursor = resumeAfter(span.end, close.startsWith('-'));
    } else if (span.kind === 'expression') {
      emit(text.slice(cursor, span.start), cursor);
      if (span.body === '') emit(source, span.start);
      else {
        // The expression's own text first, so nunjucks' line and column point into it.
        emit(`${open} (`, span.start);
        emit(span.body, span.start + source.indexOf(span.body));
        emit(`) | ${PRINT_FILTER}(${expressions.length}) ${close}`, span.end - close.length);
        expressions.push(span.body);
      }
      cursor = span.end;
    } else {
      if (isFilteredLoop(span.body))
        throw new TemplateSyntaxError(
          lineOfOffset(text, span.start),
          `'{% ${span.body} %}': a loop with an if filter is not supported by the renderer`,
        );
      emit(textBefore(cursor, span.start, open), cursor);
      emit(source.replace(/^\{%\+/, '{%'), span.start); // nunjucks knows no `{%+`
      cursor = span.end;
    }
  }
  emit(text.slice(cursor), cursor);
  const sourceOffset = (offset: number): number => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return (sources[low] ?? 0) + (offset - (starts[low] ?? 0));
  };
  return { text: out, expressions, sourceOffset };
}

/** `for x in items if cond` (Jinja's loop filter, which nunjucks ignores): an `if` outside brackets and strings with no `else` after it. */
function isFilteredLoop(body: string): boolean {
  if (!/^for\b/.test(body)) return false;
  let flat = body.replace(/'[^']*'|"[^"]*"/g, "''");
  for (let previous = ''; previous !== flat;) [previous, flat] = [flat, flat.replace(/\([^()]*\)|\[[^[\]]*\]|\{[^{}]*\}/g, '()')];
  const afterIn = flat.slice(flat.search(/\bin\b/));
  return /\bif\b/.test(afterIn) && !/\bif\b.*\belse\b/.test(afterIn);
}

/** `{{ "…" }}` printing `literal` as is. */
function nunjucksStringExpression(literal: string): string {
  const escaped = literal.replace(/[\\"\n\r\t]/g, (ch) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[ch] ?? ch);
  return `{{ "${escaped}" }}`;
}

function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset && index < text.length; index++) if (text.charCodeAt(index) === 10) line++;
  return line;
}

function offsetOfLine(text: string, line: number, column: number): number {
  let offset = 0;
  for (let current = 0; current < line && offset !== -1; current++) offset = text.indexOf('\n', offset) + 1;
  return Math.max(0, offset) + Math.max(0, column);
}

/** Names that only exist when the play runs on the host: what they stand for. */
function runtimeOnly(name: string): string | undefined {
  if (name === 'hostvars') return "hostvars holds every host's variables when the play runs";
  if (name === 'omit') return 'omit leaves a module parameter out; it has no value in a file';
  if (name === 'item' || name === 'ansible_loop' || name === 'ansible_loop_var')
    return `'${name}' is the loop variable of the task that renders this`;
  if (name.startsWith('ansible_')) return `the fact ${name} is gathered from the host when the play runs`;
  if (
    [
      'playbook_dir',
      'role_path',
      'role_name',
      'inventory_dir',
      'inventory_file',
      'ansible_check_mode',
      'play_hosts',
      'role_names',
      'template_path',
      'template_fullpath',
      'template_host',
      'template_uid',
      'template_run_date',
      'template_destpath',
    ].includes(name)
  )
    return `${name} is set by Ansible when the play runs`;
  return undefined;
}

export interface RenderOptions {
  /** The template's repo path: for errors (`file:line`) and to find `{% include %}`d templates. */
  readonly path?: string;
  /** The repo's files, to find `{% include %}`d and imported templates. */
  readonly files?: ReadonlyMap<string, string>;
  /** Hears every `vault_*` name a template looks up that has no value. */
  readonly onVaultLookup?: (name: string) => void;
  /** Resolves a name `lookup('vars', …)` does not find among the variables. */
  readonly resolveVar?: (name: string) => unknown;
}

export interface RenderResult {
  readonly text: string;
  /** Where an unknown value decided an `if` or a `for`: the text is one possibility, not what Ansible would write. */
  readonly uses: readonly UnknownUse[];
}

/** Where Ansible's template module looks for `{% include 'x' %}`: next to the template, then the role's templates/. */
function includeLoader(path: string | undefined, files: ReadonlyMap<string, string> | undefined) {
  return (name: string): { path: string; src: string } | undefined => {
    if (!files || !path) return undefined;
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    const roleTemplates = /^(.*?(?:^|\/)roles\/[^/]+)\//.exec(path)?.[1];
    const candidates = [dir ? `${dir}/${name}` : name, ...(roleTemplates ? [`${roleTemplates}/templates/${name}`] : []), name].map(
      (candidate) => posix.normalize(candidate),
    );
    const found = candidates.find((candidate) => files.has(candidate));
    if (found === undefined) return undefined;
    const text = (files.get(found) ?? '').replace(/\r\n?/g, '\n');
    const { options, body } = templateOverrides(text);
    const source = body.endsWith('\n') ? body.slice(0, -1) : body;
    return {
      path: found,
      src: jinjaCompatible(source, { trimBlocks: options.trimBlocks ?? true, lstripBlocks: options.lstripBlocks ?? false }).text,
    };
  };
}

function renderCore(text: string, vars: Vars, options: RenderOptions, capture?: (value: unknown) => void): RenderResult {
  const dataNewlines = countTrailingNewlines(text);
  let headerLines = 0;
  let compatible: Compatible;
  let source: string;
  let jinjaOptions: Partial<JinjaOptions>;
  try {
    const overrides = templateOverrides(text);
    headerLines = overrides.body === text ? 0 : 1;
    jinjaOptions = overrides.options;
    source = overrides.body.replace(/\r\n?/g, '\n');
    if (source.endsWith('\n')) source = source.slice(0, -1); // Jinja's keep_trailing_newline=False
    compatible = jinjaCompatible(source, { trimBlocks: jinjaOptions.trimBlocks ?? true, lstripBlocks: jinjaOptions.lstripBlocks ?? false });
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new RenderError(options.path, error.line + headerLines, error.detail);
    if (error instanceof UnsupportedJinjaError)
      throw new RenderError(options.path, 1, error.message, { kind: error.kind, name: error.feature });
    throw error;
  }
  const templateLine = (line: number, column = 0): number =>
    headerLines + lineOfOffset(source, compatible.sourceOffset(offsetOfLine(compatible.text, line, column)));
  const state: RenderState = {
    path: options.path,
    uses: [],
    templateLine,
    missing: (name) => {
      const why = runtimeOnly(name);
      return why === undefined ? undefined : new Unknown(why);
    },
    touched: 0,
    currentLine: 0,
    thrown: undefined,
    loadTemplate: includeLoader(options.path, options.files),
    resolveVar: (name) => {
      const resolved = options.resolveVar?.(name);
      if (resolved !== undefined) return resolved;
      if (name.startsWith('vault_')) {
        options.onVaultLookup?.(name);
        return vaultPlaceholder(name);
      }
      return undefined;
    },
    // An undefined name printed is an error in Ansible unless something the tool cannot see defines it (-e, AWX).
    print: (value, index) => {
      if (value === undefined)
        return new Unknown(
          `'${compatible.expressions[index] ?? ''}' is undefined here; Ansible would need it from extra vars or fail`,
        ).toString();
      return value === null ? '' : pythonStr(value);
    },
    capture,
  };
  let result: string;
  try {
    // Ansible's `vars`: every variable by name (`vars['x_' ~ y]`).
    const context = 'vars' in vars ? vars : { ...vars, vars };
    result = renderWithState(compatible.text, context, jinjaOptions.trimBlocks ?? true, state);
  } catch (error) {
    const thrown = state.thrown ?? (error instanceof Error ? error : new Error(String(error)));
    const templateError = error as { lineno?: number; colno?: number; message?: string };
    const line =
      typeof templateError.lineno === 'number'
        ? templateLine(templateError.lineno, Math.max(0, (templateError.colno ?? 1) - 1))
        : undefined;
    if (thrown instanceof RenderError) throw thrown;
    const detail = state.thrown
      ? thrown.message
      : (templateError.message ?? String(error))
          .replace(/^\(unknown path\)( \[Line \d+, Column \d+\])?\s*/, '')
          .replace(/^Error: /, '')
          .split('\n')
          .map((part) => part.trim())
          .filter(Boolean)
          .join(': ');
    if (thrown instanceof UnsupportedJinjaError)
      throw new RenderError(options.path, line, thrown.message, { kind: thrown.kind, name: thrown.feature });
    throw new RenderError(options.path, line, detail || 'cannot render the template');
  }
  const missing = dataNewlines - countTrailingNewlines(result);
  if (missing > 0) result += '\n'.repeat(missing);
  return { text: result, uses: state.uses };
}

/**
 * Renders a template as `ansible -m template` does: line endings become `\n` (the module's
 * newline_sequence), trim_blocks on and lstrip_blocks off unless the first line says
 * `#jinja2: …`, one final newline dropped by Jinja and the template's trailing newlines then
 * restored by Ansible. Unknown values print as their sentinel (containsUnknown finds them);
 * anything it cannot render throws RenderError with the template's line.
 */
export function renderTemplate(text: string, vars: Vars, options: RenderOptions = {}): string {
  return renderCore(text, vars, options).text;
}

/** renderTemplate, and where an unknown value decided an `if` or a `for` (the text then shows one of Ansible's possible outputs). */
export function renderTemplateDetailed(text: string, vars: Vars, options: RenderOptions = {}): RenderResult {
  return renderCore(text, vars, options);
}

/** Placeholder for a variable that lives in an encrypted vault: tests and verify never see secrets. */
export function vaultPlaceholder(name: string): string {
  return `VAULT-PLACEHOLDER-${name}`;
}

/** `[defaults] ansible_managed` from the repo's ansible.cfg (the one nearest the root), else Ansible's default. */
function ansibleManaged(files: ReadonlyMap<string, string>): string {
  return ansibleCfgValue(files, 'ansible_managed')?.value ?? DEFAULT_ANSIBLE_MANAGED;
}

const ROLE_TEMPLATE = /(^|\/)roles\/[^/]+\/templates\/.+\.j2$/;

/**
 * The variable files a play reads for the templates, lowest precedence first (role defaults,
 * group_vars of every group the host is in, host_vars, vars_files, role vars, include_vars),
 * without vault-encrypted ones: loadVars merges them in this order, and a fix that edits a
 * variable looks for its definition in the same files.
 */
export function varFiles(files: ReadonlyMap<string, string>): string[] {
  const paths: string[] = [];
  for (const source of safeSources(files).sources)
    if (
      source.lines.size > 0 &&
      !paths.includes(source.path) &&
      files.has(source.path) &&
      source.kind !== 'inventory group vars' &&
      source.kind !== 'inventory host vars' &&
      source.kind !== 'play vars'
    )
      paths.push(source.path);
  return paths;
}

/**
 * For a caller that decides from the variables (a fix, a verify check): the first variable file
 * loadVars could not parse, as a RenderError naming its `file:line` and why. loadVars leaves
 * such a file's variables out, so any variable the caller needs may be missing: it must stop,
 * naming the file, rather than decide without them (src/core/failure.ts confines it to that caller).
 */
export function assertVarFilesReadable(files: ReadonlyMap<string, string>): void {
  const [first] = safeSources(files).broken;
  if (!first) return;
  const placed = /^(.+?):(\d+): ([\s\S]*)$/.exec(first.message);
  throw placed && placed[1] === first.path
    ? new RenderError(first.path, Number(placed[2]), placed[3] ?? first.message)
    : new RenderError(first.path, undefined, first.message);
}

/**
 * The repo's variables for a fix that decides from them: loadVars over the view's files, after
 * assertVarFilesReadable (a variable file that does not parse stops the fix, naming it).
 */
export function repoVars(repo: RepoView, options: LoadVarsOptions = {}): Vars {
  const files = filesOfView(repo);
  assertVarFilesReadable(files);
  return loadVars(files, {}, options);
}

/** A static renderer; `unreadable` says why nothing renders when the variables could not be read. */
export type StaticRender = ((text: string) => string | undefined) & { unreadable?: string };

/**
 * Renders a string with the repo's variables when that needs nothing only a run of Ansible knows
 * (a fact, a lookup, a value that decides a loop); undefined then, or when it does not render.
 * The variables are loaded on first use. A variable file that does not parse stops the caller
 * there (repoVars), unless `unreadableVars: 'unrendered'`: then nothing with Jinja renders and
 * `unreadable` names the file, for a caller that can still match what is written.
 */
export function staticRenderer(repo: RepoView, options: { unreadableVars?: 'throw' | 'unrendered' } = {}): StaticRender {
  let vars: Vars | undefined;
  const render: StaticRender = (text) => {
    if (!text.includes('{{') && !text.includes('{%')) return text;
    if (vars === undefined) {
      try {
        vars = repoVars(repo);
      } catch (error) {
        if (options.unreadableVars !== 'unrendered') throw error;
        render.unreadable = error instanceof Error ? error.message : String(error);
        vars = {};
      }
    }
    if (render.unreadable !== undefined) return undefined;
    try {
      const result = renderTemplateDetailed(text, vars);
      return result.uses.length > 0 || containsUnknown(result.text) ? undefined : result.text;
    } catch {
      return undefined;
    }
  };
  return render;
}

type Sources = ReturnType<typeof variableSources> & { broken: { path: string; message: string }[] };

/** Sources by files map and role: the maps are never changed once made, and verify renders many templates of one map. */
const sourcesCache = new WeakMap<ReadonlyMap<string, string>, Map<string, Sources>>();

/** The last few files maps the caches were keyed by, most recent first. */
const recentFileMaps: ReadonlyMap<string, string>[] = [];

/**
 * The map with the same paths and texts as `files` that the caches already know, else `files`.
 * Every fix builds its own map of the files it may read and the engine a new one after each
 * fix, nearly always with the same variable files: keyed by map alone, the variables were read
 * and parsed again for each fix and each check (a fifth of a dry run). Unchanged texts are the
 * same strings, so comparing is cheap.
 */
function knownFiles(files: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  const index = recentFileMaps.findIndex((known) => sameTexts(known, files));
  const found = index === -1 ? files : recentFileMaps[index]!;
  if (index !== -1) recentFileMaps.splice(index, 1);
  recentFileMaps.unshift(found);
  recentFileMaps.length = Math.min(recentFileMaps.length, 8);
  return found;
}

function sameTexts(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [path, text] of a) if (b.get(path) !== text) return false;
  return true;
}

function safeSources(given: ReadonlyMap<string, string>, role?: string): Sources {
  const files = knownFiles(given);
  let byRole = sourcesCache.get(files);
  if (!byRole) sourcesCache.set(files, (byRole = new Map()));
  const key = role ?? '';
  let sources = byRole.get(key);
  if (!sources) byRole.set(key, (sources = readSources(files, role)));
  return sources;
}

function readSources(files: ReadonlyMap<string, string>, role?: string): Sources {
  // A broken variable file makes its own variables unknown, not the whole run: read the others.
  const broken: { path: string; message: string }[] = [];
  const readable = new Map(files);
  for (;;) {
    try {
      return { ...variableSources(readable, role), broken };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const path = /^(.+?):\d+:/.exec(message)?.[1];
      if (path === undefined || !readable.has(path)) throw error;
      broken.push({ path, message });
      readable.delete(path);
    }
  }
}

/** Variable files that cannot be read (not valid YAML), with `file:line: why`: loadVars leaves them out, so a fix or check that needs their variables can say so. */
export function brokenVarFiles(files: ReadonlyMap<string, string>): { readonly path: string; readonly message: string }[] {
  return safeSources(files).broken;
}

export interface LoadVarsOptions {
  /** The template being rendered: its role's defaults and vars win over other roles'. */
  readonly forTemplate?: string;
}

/**
 * The variables a play would see for the templates (see varFiles for where they come from),
 * read as YAML 1.1 like Ansible does (`yes` is true), templated lazily like Ansible: a value
 * naming other variables (`"{{ base_dir }}/uploads"`) is resolved with theirs. Vault-encrypted
 * files are skipped; every `vault_*` name the repo references, and every `!vault` value, gets
 * a placeholder. `!unsafe` values are never templated. A value that needs the controller or
 * the host (a lookup, a fact, a registered variable), or that cannot be rendered, is an
 * Unknown naming its `file:line`: it never stops the other variables.
 */
export function loadVars(files: ReadonlyMap<string, string>, overrides: Vars = {}, options: LoadVarsOptions = {}): Vars {
  let role = options.forTemplate === undefined ? undefined : /(?:^|\/)roles\/([^/]+)\//.exec(options.forTemplate)?.[1];
  if (role !== undefined && !roleDefinesSharedName(safeSources(files).sources, role)) role = undefined; // the same variables as the play's
  if (Object.keys(overrides).length > 0) return computeVars(files, overrides, role);
  const known = knownFiles(files);
  let byRole = varsCache.get(known);
  if (!byRole) varsCache.set(known, (byRole = new Map()));
  let vars = byRole.get(role ?? '');
  if (!vars) byRole.set(role ?? '', (vars = computeVars(files, overrides, role)));
  return { ...vars };
}

const varsCache = new WeakMap<ReadonlyMap<string, string>, Map<string, Vars>>();

/** True when `role`'s defaults or vars define a name another role's also define: only then does the rendering role change the values. */
function roleDefinesSharedName(sources: readonly VarSource[], role: string): boolean {
  const own = new Set(sources.filter((source) => source.role === role).flatMap((source) => Object.keys(source.data)));
  return sources.some(
    (source) => source.role !== undefined && source.role !== role && Object.keys(source.data).some((name) => own.has(name)),
  );
}

function computeVars(files: ReadonlyMap<string, string>, overrides: Vars, role: string | undefined): Vars {
  const { host, sources, runtime, broken } = safeSources(files, role);
  const raw = new Map<string, { value: unknown; where: string }>();
  raw.set('ansible_managed', { value: ansibleManaged(files), where: 'ansible.cfg' });
  raw.set('inventory_hostname', { value: host.name, where: host.inventory ?? 'inventory' });
  raw.set('inventory_hostname_short', { value: host.name.split('.')[0], where: host.inventory ?? 'inventory' });
  raw.set('group_names', {
    value: host.groups.filter((group) => group !== 'all' && group !== 'ungrouped').sort(),
    where: host.inventory ?? 'inventory',
  });
  raw.set('groups', { value: host.groupHosts, where: host.inventory ?? 'inventory' });
  for (const name of referencedVaultNames(files)) raw.set(name, { value: vaultPlaceholder(name), where: 'vault' });
  for (const { path, message } of broken) raw.set(`__broken_${path}`, { value: new Unknown(message), where: path });
  const sourceOf = (source: VarSource, name: string): string =>
    `${source.path}${source.lines.has(name) ? `:${source.lines.get(name)}` : ''}`;
  for (const source of sources)
    for (const [name, value] of Object.entries(source.data)) raw.set(name, { value, where: sourceOf(source, name) });
  for (const variable of runtime) {
    const verb = variable.how === 'register' ? 'registered by a task' : 'set by set_fact';
    raw.set(variable.name, {
      value: new Unknown(`${variable.name} is ${verb} in ${variable.where} when the play runs`),
      where: variable.where,
    });
  }
  for (const [name, value] of Object.entries(overrides)) raw.set(name, { value, where: 'override' });

  const resolved = new Map<string, unknown>();
  const resolving = new Set<string>();
  const get = (name: string): unknown => {
    if (resolved.has(name)) return resolved.get(name);
    const entry = raw.get(name);
    if (entry === undefined) return undefined;
    if (resolving.has(name)) return new Unknown(`${name} at ${entry.where} refers to itself`);
    resolving.add(name);
    let value: unknown;
    try {
      value = resolveValue(entry.value, name, entry.where);
    } catch (error) {
      value = new Unknown(
        `${name} at ${entry.where} cannot be rendered: ${error instanceof RenderError ? error.detail : error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      );
    } finally {
      resolving.delete(name);
    }
    resolved.set(name, value);
    return value;
  };
  /** The `vars` Ansible exposes: every variable, resolved when read. */
  const varsProxy = new Proxy({} as Vars, {
    get: (_target, key) => (typeof key === 'string' ? get(key) : undefined),
    has: (_target, key) => typeof key === 'string' && raw.has(key),
    ownKeys: () => [...raw.keys()],
    getOwnPropertyDescriptor: (_target, key) =>
      typeof key === 'string' && raw.has(key) ? { enumerable: true, configurable: true, value: get(key) } : undefined,
  });
  const contextFor = (text: string): Vars => {
    const context: Vars = { vars: varsProxy };
    let bodies: string[];
    try {
      bodies = scanJinja(text).map((span) => span.body);
    } catch {
      bodies = [text];
    }
    for (const body of bodies)
      for (const identifier of body.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [])
        if (raw.has(identifier) && !(identifier in context)) context[identifier] = get(identifier);
    return context;
  };
  const resolveString = (text: string, where: string): unknown => {
    if (!text.includes('{{') && !text.includes('{%')) return text;
    const context = contextFor(text);
    const renderOptions: RenderOptions = { path: where.replace(/:\d+$/, ''), resolveVar: get };
    const spans = scanJinja(text);
    const only = spans.length === 1 ? spans[0] : undefined;
    if (only?.kind === 'expression' && only.start === 0 && only.end === text.length) {
      // Like Ansible, a value that is one expression (`"{{ other_list }}"`) keeps its type.
      let captured: unknown;
      let seen = false;
      renderCore(`{{ (${only.body}) | __capture }}`, context, renderOptions, (value) => {
        captured = value;
        seen = true;
      });
      if (seen && captured !== undefined) return captured;
      if (seen) return new Unknown(`'${only.body}' at ${where} names a variable that is not defined here`);
    }
    return renderCore(text, context, renderOptions).text;
  };
  const resolveValue = (value: unknown, name: string, where: string): unknown => {
    if (value instanceof UnsafeText) return value.text;
    if (value instanceof VaultText) return vaultPlaceholder(name);
    if (typeof value === 'string') return resolveString(value, where);
    if (Array.isArray(value)) return value.map((item) => resolveValue(item, name, where));
    if (isDict(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveValue(item, name, where)]));
    return value;
  };

  const vars: Vars = {};
  for (const name of raw.keys()) if (!name.startsWith('__broken_')) vars[name] = get(name);
  // Vault names built at render time (`lookup('vars', 'vault_' ~ model.key_env | lower)`):
  // render the role templates that call lookup once and give each name looked up a placeholder too.
  const looked = new Set<string>();
  // Filtered, then sorted: the same order as sorting every loaded path first, without that sort.
  for (const path of [...files.keys()].filter((p) => ROLE_TEMPLATE.test(p) && /\blookup\s*\(/.test(files.get(p) ?? '')).sort()) {
    try {
      renderCore(files.get(path) ?? '', vars, { path, files, onVaultLookup: (name) => looked.add(name) });
    } catch {
      // a template that does not render is reported by whoever renders it for real
    }
  }
  for (const name of looked) if (!(name in vars)) vars[name] = vaultPlaceholder(name);
  return vars;
}

function referencedVaultNames(files: ReadonlyMap<string, string>): Set<string> {
  const names = new Set<string>();
  for (const text of files.values()) {
    if (!text.includes('vault_')) continue; // every match contains it; most files have none
    for (const match of text.matchAll(/\bvault_[A-Za-z0-9_]+/g)) names.add(match[0]);
  }
  return names;
}

/**
 * Renders a YAML template and parses the result into plain data, `<<: *anchor` merge keys
 * resolved as Compose, Ansible and LiteLLM's YAML readers resolve them.
 */
export function renderYaml(path: string, text: string, vars: Vars, options: Omit<RenderOptions, 'path'> = {}): unknown {
  return renderParsedYaml(parseYamlTemplate(path, text), vars, options); // the parse refuses malformed input with file:line
}

/** renderYaml for a template already parsed (and so known to be well-formed). */
export function renderParsedYaml(template: ParsedTemplate, vars: Vars, options: Omit<RenderOptions, 'path'> = {}): unknown {
  return parseYaml(renderTemplate(template.text, vars, { ...options, path: template.path }), { merge: true, logLevel: 'error' });
}
