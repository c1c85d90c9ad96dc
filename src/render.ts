/**
 * Rendering the repo's Jinja templates the way Ansible's `template` module would, with
 * nunjucks: used to prove a fix in effect (tests, `verify`) on the rendered output rather than
 * on template text. test/ansible-crosscheck.test.ts renders every role template with both and
 * requires the same bytes; the differences nunjucks cannot close are listed in KNOWN_DIFFERENCES.
 */
import nunjucks from 'nunjucks';
import { parse as parseYaml } from 'yaml';
import { scanJinja, type JinjaSpan } from './jinja-mask.js';
import { describeError, FileProblem } from './failure.js';
import { parseYamlTemplate, type ParsedTemplate } from './template-yaml.js';
import { escapeRegExp, lineNumberAt } from './text.js';

export type Vars = Record<string, unknown>;

const ANSIBLE_VAULT_HEADER = '$ANSIBLE_VAULT;';
/** Ansible's value of `ansible_managed` when ansible.cfg does not set one. */
const DEFAULT_ANSIBLE_MANAGED = 'Ansible managed';

/**
 * Where nunjucks output can still differ from Ansible's, on purpose kept narrow. JavaScript has
 * one number type, so a YAML float with an integral value (`max_budget: 100.0`) renders as `100`
 * where Python prints `100.0`; the parsed value is the same. Every other value prints as
 * Python's `str()` would (True, ['a', None], {'k': 'v'}), and a None alone as nothing.
 */
export const KNOWN_DIFFERENCES = ['an integral float (100.0) renders as 100'] as const;

/** Ansible's `bool` filter (to_bool): a boolean or None as is; 'yes', 'on', '1', 'true' in any case, and 1, are true. */
function toBool(value: unknown): boolean | null {
  if (value === null || typeof value === 'boolean') return value;
  const normalised = typeof value === 'string' ? value.toLowerCase() : value;
  return (['yes', 'on', '1', 'true', 1] as unknown[]).includes(normalised);
}

/** Python's truth value, which `ternary` tests: empty strings, lists and dicts, 0 and None are false. */
function pythonTruthy(value: unknown): boolean {
  if (value instanceof nunjucks.runtime.SafeString) return value.toString() !== '';
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value) || Number.isNaN(value);
}

/** A JSON string as Python's json.dumps writes it (ensure_ascii: every non-ASCII character escaped). */
function pythonJsonString(text: string): string {
  return JSON.stringify(text).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Python's json.dumps as Ansible's `to_json` (separators ', ' and ': ') and `to_nice_json`
 * (`indent`, keys sorted, separators ',' and ': ') call it.
 */
function pythonJson(value: unknown, indent?: number, depth = 0): string {
  const wrap = (open: string, items: string[], close: string): string => {
    if (items.length === 0) return open + close;
    if (indent === undefined) return open + items.join(', ') + close;
    const inner = `\n${' '.repeat(indent * (depth + 1))}`;
    return `${open}${inner}${items.join(`,${inner}`)}\n${' '.repeat(indent * depth)}${close}`;
  };
  if (Array.isArray(value)) return wrap('[', value.map((item) => pythonJson(item, indent, depth + 1)), ']');
  if (value instanceof nunjucks.runtime.SafeString) return pythonJsonString(value.toString());
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (indent !== undefined) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return wrap('{', entries.map(([key, item]) => `${pythonJsonString(key)}: ${pythonJson(item, indent, depth + 1)}`), '}');
  }
  if (typeof value === 'string') return pythonJsonString(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return JSON.stringify(value) ?? 'null';
}

/** Python's repr() of a string: single quotes unless the text holds one and no double quote. */
function pythonStringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const escaped = text.replace(/[\\\n\r\t]/g, (ch) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[ch] ?? ch);
  return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
}

function pythonRepr(value: unknown): string {
  if (typeof value === 'string') return pythonStringRepr(value);
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (value && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${pythonStringRepr(k)}: ${pythonRepr(v)}`).join(', ')}}`;
  return pythonStr(value);
}

/** What Jinja's `{{ value }}` prints under Ansible: Python's str(). */
function pythonStr(value: unknown): string {
  if (value === undefined) return '';
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (value instanceof nunjucks.runtime.SafeString) return value.toString();
  return pythonRepr(value);
}

/** Jinja options a template may set on its first line (`#jinja2: lstrip_blocks: True`), as Ansible reads them. */
interface JinjaOptions {
  trimBlocks: boolean;
  lstripBlocks: boolean;
}

/**
 * A nunjucks environment with the Ansible filters and lookups the deployment's templates use.
 * `onVaultLookup` hears every `vault_*` name a template looks up that has no value.
 */
function ansibleEnvironment(options: Partial<JinjaOptions> = {}, onVaultLookup?: (name: string) => void): nunjucks.Environment {
  const env = new nunjucks.Environment(null, {
    autoescape: false,
    throwOnUndefined: false,
    trimBlocks: options.trimBlocks ?? true,
    lstripBlocks: false, // jinjaCompatible applies Jinja's lstrip_blocks itself
  });
  env.addFilter('bool', toBool);
  env.addFilter('to_json', (value: unknown) => pythonJson(value));
  env.addFilter('to_nice_json', (value: unknown, indent = 4) => pythonJson(value, indent));
  env.addFilter('mandatory', (value: unknown) => {
    if (value === undefined) throw new Error('mandatory variable is undefined');
    return value;
  });
  env.addFilter('quote', (value: unknown) => `'${String(value).replace(/'/g, `'"'"'`)}'`);
  env.addFilter('int', (value: unknown) => Number.parseInt(String(value), 10) || 0);
  env.addFilter('float', (value: unknown) => Number.parseFloat(String(value)) || 0);
  env.addFilter('string', (value: unknown) => pythonStr(value));
  env.addFilter('ternary', (value: unknown, yes: unknown, no: unknown) => (pythonTruthy(value) ? yes : no));
  env.addFilter('regex_replace', (value: unknown, pattern: string, replacement = '') => String(value).replace(new RegExp(pattern, 'g'), replacement.replace(/\\(\d)/g, '$$$1')));
  env.addFilter('b64encode', (value: unknown) => Buffer.from(String(value)).toString('base64'));
  env.addFilter('d', (value: unknown, fallback: unknown, boolean = false) => ((boolean ? !value : value === undefined) ? fallback : value));
  // Ansible's finalize prints a None result as nothing; inside a list or through `| string` it is None.
  env.addFilter(PYTHON_STR_FILTER, (value: unknown) => (value === null ? '' : pythonStr(value)));
  // lookup('vars', name): a vault variable without a value gets the same placeholder as in loadVars.
  const lookup = function (this: { ctx: Vars }, plugin: unknown, ...terms: unknown[]): unknown {
    if (plugin !== 'vars') throw new Error(`lookup('${String(plugin)}') is not supported by the renderer (only lookup('vars', …))`);
    const names = terms.filter((term): term is string => typeof term === 'string');
    const values = names.map((name) => {
      if (name in this.ctx) return this.ctx[name];
      if (name.startsWith('vault_')) {
        onVaultLookup?.(name);
        return vaultPlaceholder(name);
      }
      throw new Error(`lookup('vars', '${name}'): no variable found with this name`);
    });
    return values.length === 1 ? values[0] : values.map(pythonStr).join(',');
  };
  env.addGlobal('lookup', lookup);
  return env;
}

const PYTHON_STR_FILTER = '__ansible_str';
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
    else throw new Error(`#jinja2: override '${pair.trim()}' is not supported by the renderer`);
  }
  return { options, body: eol === -1 ? '' : text.slice(eol + 1) };
}

function countTrailingNewlines(text: string): number {
  let count = 0;
  while (count < text.length && text[text.length - 1 - count] === '\n') count++;
  return count;
}

/**
 * Rewrites a template so nunjucks prints what Jinja prints: comments are removed with the
 * whitespace Jinja's trim_blocks and lstrip_blocks take around them (nunjucks trims only around
 * block tags), `{% raw %}` blocks print their text with Jinja's whitespace rules, block tags get
 * Jinja's lstrip_blocks (also on a line that starts where a removed newline was), and every
 * `{{ expr }}` goes through Python's str() (True, lists), None as nothing.
 */
function jinjaCompatible(text: string, { trimBlocks, lstripBlocks }: JinjaOptions): string {
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
  let out = '';
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
      out += textBefore(cursor, span.start, open) + nunjucksStringExpression(literal);
      cursor = resumeAfter(endRaw.end, /-%\}$/.test(endSource));
      index++;
    } else if (span.kind === 'comment') {
      out += textBefore(cursor, span.start, open);
      cursor = resumeAfter(span.end, close.startsWith('-'));
    } else if (span.kind === 'expression') {
      out += text.slice(cursor, span.start) + (span.body === '' ? source : `${open} (${span.body}) | ${PYTHON_STR_FILTER} ${close}`);
      cursor = span.end;
    } else {
      out += textBefore(cursor, span.start, open) + source.replace(/^\{%\+/, '{%'); // nunjucks knows no `{%+`
      cursor = span.end;
    }
  }
  return out + text.slice(cursor);
}

/** `{{ "…" }}` printing `literal` as is. */
function nunjucksStringExpression(literal: string): string {
  const escaped = literal.replace(/[\\"\n\r\t]/g, (ch) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[ch] ?? ch);
  return `{{ "${escaped}" }}`;
}

/**
 * Renders a template as `ansible -m template` does: line endings become `\n` (the module's
 * newline_sequence), trim_blocks on and lstrip_blocks off unless the first line says
 * `#jinja2: …`, one final newline dropped by Jinja and the template's trailing newlines then
 * restored by Ansible. Pass `env` only to render with a custom environment as is.
 */
export function renderTemplate(text: string, vars: Vars, env?: nunjucks.Environment): string {
  const dataNewlines = countTrailingNewlines(text);
  const { options, body } = templateOverrides(text);
  let source = body.replace(/\r\n?/g, '\n');
  if (source.endsWith('\n')) source = source.slice(0, -1); // Jinja's keep_trailing_newline=False
  const environment = env ?? ansibleEnvironment(options);
  let result = environment.renderString(jinjaCompatible(source, { trimBlocks: options.trimBlocks ?? true, lstripBlocks: options.lstripBlocks ?? false }), vars);
  const missing = dataNewlines - countTrailingNewlines(result);
  if (missing > 0) result += '\n'.repeat(missing);
  return result;
}

/** Placeholder for a variable that lives in an encrypted vault: tests and verify never see secrets. */
export function vaultPlaceholder(name: string): string {
  return `VAULT-PLACEHOLDER-${name}`;
}

/** `[defaults] ansible_managed` from the repo's ansible.cfg (the one nearest the root), else Ansible's default. */
function ansibleManaged(files: ReadonlyMap<string, string>): string {
  const cfg = [...files.keys()].filter((path) => /(^|\/)ansible\.cfg$/.test(path)).sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))[0];
  if (cfg === undefined) return DEFAULT_ANSIBLE_MANAGED;
  let section = '';
  for (const line of (files.get(cfg) ?? '').split(/\r?\n/)) {
    const header = /^\s*\[([^\]]+)\]/.exec(line);
    if (header) section = header[1]?.trim() ?? '';
    const entry = /^\s*ansible_managed\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (section === 'defaults' && entry) return entry[1] ?? '';
  }
  return DEFAULT_ANSIBLE_MANAGED;
}

const ROLE_TEMPLATE = /(^|\/)roles\/[^/]+\/templates\/.+\.j2$/;

/**
 * The variables a play would see for the templates: role defaults, then group_vars/all (later
 * wins, as in Ansible's precedence), read as YAML 1.1 like Ansible does (`yes` is true).
 * Vault-encrypted files are skipped; every `vault_*` name the repo references — literally, or
 * through `lookup('vars', 'vault_' ~ …)` in a role template — gets a placeholder.
 * `ansible_managed` is the repo's ansible.cfg value. String values that are themselves Jinja
 * (`"{{ vault_x }}"`) are resolved, a few passes deep, like Ansible's lazy templating.
 */
/**
 * The variable files a play reads for the templates, lowest precedence first (role defaults,
 * then group_vars/all), without vault-encrypted ones: loadVars merges them in this order, and a
 * fix that edits a variable looks for its definition in the same files.
 */
export function varFiles(files: ReadonlyMap<string, string>): string[] {
  const sources = [...files.keys()].sort();
  const defaults = sources.filter((path) => /(^|\/)roles\/[^/]+\/defaults\/main\.ya?ml$/.test(path));
  const groupAll = sources.filter((path) => /(^|\/)group_vars\/all(\.ya?ml|\/[^/]+\.ya?ml)$/.test(path));
  return [...defaults, ...groupAll].filter((path) => !(files.get(path) ?? '').startsWith(ANSIBLE_VAULT_HEADER));
}

export function loadVars(files: ReadonlyMap<string, string>, overrides: Vars = {}): Vars {
  const vars: Vars = { ansible_managed: ansibleManaged(files) };
  for (const name of referencedVaultNames(files)) vars[name] = vaultPlaceholder(name);
  const definedIn = new Map<string, string>();
  for (const path of varFiles(files)) {
    const text = files.get(path) ?? '';
    let data: unknown;
    try {
      data = parseYaml(text, { version: '1.1' });
    } catch (error) {
      const { message, line } = describeError(error);
      throw new FileProblem(path, line, `not valid YAML: ${message}`);
    }
    if (data && typeof data === 'object' && !Array.isArray(data)) {
      Object.assign(vars, data);
      for (const name of Object.keys(data)) definedIn.set(name, path);
    }
  }
  Object.assign(vars, overrides);
  // A variable that does not render names itself and the file that defines it (failure.ts).
  const resolved = resolveLazyVars(vars, (name, error) => {
    const path = definedIn.get(name);
    const detail = `variable ${name} does not render: ${describeError(error).message}`;
    if (path === undefined) return error;
    const offset = (files.get(path) ?? '').search(new RegExp(`^${escapeRegExp(name)}\\s*:`, 'm'));
    return new FileProblem(path, offset === -1 ? undefined : lineNumberAt(files.get(path) ?? '', offset), detail);
  });
  // Vault names built at render time (`lookup('vars', 'vault_' ~ model.key_env | lower)`):
  // render the role templates that call lookup once and give each name looked up a placeholder too.
  const looked = new Set<string>();
  const probe = ansibleEnvironment({}, (name) => looked.add(name));
  for (const path of [...files.keys()].sort().filter((p) => ROLE_TEMPLATE.test(p) && /\blookup\s*\(/.test(files.get(p) ?? ''))) {
    try {
      renderTemplate(files.get(path) ?? '', resolved, probe);
    } catch {
      // a template that does not render is reported by whoever renders it for real
    }
  }
  for (const name of looked) if (!(name in resolved)) resolved[name] = vaultPlaceholder(name);
  return resolved;
}

function referencedVaultNames(files: ReadonlyMap<string, string>): Set<string> {
  const names = new Set<string>();
  for (const text of files.values()) for (const match of text.matchAll(/\bvault_[A-Za-z0-9_]+/g)) names.add(match[0]);
  return names;
}

function resolveLazyVars(vars: Vars, failure: (name: string, error: unknown) => unknown = (_name, error) => error): Vars {
  const env = ansibleEnvironment();
  // Like Ansible, a value that is one expression (`"{{ other_list }}"`) keeps its type.
  let captured: unknown;
  env.addFilter('__capture', (value: unknown) => {
    captured = value;
    return '';
  });
  const resolve = (value: unknown, context: Vars): unknown => {
    if (typeof value !== 'string' || !(value.includes('{{') || value.includes('{%'))) {
      if (Array.isArray(value)) return value.map((item) => resolve(item, context));
      if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, context)]));
      return value;
    }
    const spans = scanJinja(value);
    const only = spans.length === 1 ? spans[0] : undefined;
    if (only?.kind === 'expression' && only.start === 0 && only.end === value.length) {
      captured = undefined;
      env.renderString(`{{ (${only.body}) | __capture }}`, context);
      return captured === undefined ? value : captured; // not resolvable yet: a later pass may be
    }
    return renderTemplate(value, context, env);
  };
  let current = vars;
  for (let pass = 0; pass < 5; pass++) {
    const next = Object.fromEntries(
      Object.entries(current).map(([key, value]) => {
        try {
          return [key, resolve(value, current)];
        } catch (error) {
          throw failure(key, error);
        }
      }),
    );
    if (JSON.stringify(next) === JSON.stringify(current)) return next;
    current = next;
  }
  return current;
}

/**
 * Renders a YAML template and parses the result into plain data, `<<: *anchor` merge keys
 * resolved as Compose, Ansible and LiteLLM's YAML readers resolve them.
 */
export function renderYaml(path: string, text: string, vars: Vars): unknown {
  return renderParsedYaml(parseYamlTemplate(path, text), vars); // the parse refuses malformed input with file:line
}

/** renderYaml for a template already parsed (and so known to be well-formed). */
export function renderParsedYaml(template: ParsedTemplate, vars: Vars): unknown {
  let rendered: string;
  try {
    rendered = renderTemplate(template.text, vars);
  } catch (error) {
    if (error instanceof FileProblem) throw error; // a variable's own problem, named where it is defined
    const { message, line } = describeError(error);
    throw new FileProblem(template.path, line, `cannot render the template: ${message}`); // nunjucks alone names no file
  }
  return parseYaml(rendered, { merge: true });
}
