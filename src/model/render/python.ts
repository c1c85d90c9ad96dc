/**
 * Python semantics Jinja has under Ansible and JavaScript does not: truth values, str() and
 * repr(), json.dumps, PyYAML's dump as Ansible's to_yaml/to_nice_yaml call it, equality of
 * lists and dicts, and LooseVersion/StrictVersion ordering.
 */
import nunjucks from 'nunjucks';
import { Unknown } from './unknown.js';

export type Dict = Record<string, unknown>;

export function isDict(value: unknown): value is Dict {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Unknown) &&
    !(value instanceof nunjucks.runtime.SafeString) &&
    !(value instanceof Uint8Array)
  );
}

/** Ansible's `bool` filter (to_bool): a boolean or None as is; 'yes', 'on', '1', 'true' in any case, and 1, are true. */
export function toBool(value: unknown): boolean | null {
  if (value === null || typeof value === 'boolean') return value;
  const normalised = typeof value === 'string' ? value.toLowerCase() : value;
  return (['yes', 'on', '1', 'true', 1] as unknown[]).includes(normalised);
}

/** Python's truth value: empty strings, lists and dicts, 0 and None are false. */
export function pythonTruthy(value: unknown): boolean {
  if (value instanceof nunjucks.runtime.SafeString) return value.toString() !== '';
  if (value instanceof Unknown) return true;
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
 * (`indent`, keys sorted, separators ',' and ': ') call it; `sortKeys` alone for Jinja's tojson.
 */
export function pythonJson(value: unknown, indent?: number, depth = 0, sortKeys = indent !== undefined): string {
  const wrap = (open: string, items: string[], close: string): string => {
    if (items.length === 0) return open + close;
    if (indent === undefined) return open + items.join(', ') + close;
    const inner = `\n${' '.repeat(indent * (depth + 1))}`;
    return `${open}${inner}${items.join(`,${inner}`)}\n${' '.repeat(indent * depth)}${close}`;
  };
  if (Array.isArray(value))
    return wrap(
      '[',
      value.map((item) => pythonJson(item, indent, depth + 1, sortKeys)),
      ']',
    );
  if (value instanceof nunjucks.runtime.SafeString || value instanceof Unknown) return pythonJsonString(value.toString());
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (sortKeys) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return wrap(
      '{',
      entries.map(([key, item]) => `${pythonJsonString(key)}: ${pythonJson(item, indent, depth + 1, sortKeys)}`),
      '}',
    );
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

/** A Python tuple (what splitext and dict.items() give): a list that prints with parentheses. */
export class PyTuple extends Array<unknown> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

export function pythonRepr(value: unknown): string {
  if (typeof value === 'string') return pythonStringRepr(value);
  if (value instanceof PyTuple) return value.length === 1 ? `(${pythonRepr(value[0])},)` : `(${value.map(pythonRepr).join(', ')})`;
  if (value instanceof Unknown) return pythonStringRepr(value.toString());
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (isDict(value))
    return `{${Object.entries(value)
      .map(([k, v]) => `${pythonStringRepr(k)}: ${pythonRepr(v)}`)
      .join(', ')}}`;
  return pythonStr(value);
}

/** What Jinja's `{{ value }}` prints under Ansible: Python's str(). */
export function pythonStr(value: unknown): string {
  if (value === undefined) return '';
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (value instanceof nunjucks.runtime.SafeString || value instanceof Unknown) return value.toString();
  if (value instanceof Uint8Array) return `b${pythonStringRepr(Buffer.from(value).toString('latin1'))}`;
  if (typeof value === 'function') return `<bound method ${value.name || 'function'}>`;
  if (Array.isArray(value) || isDict(value)) return pythonRepr(value);
  return String(value);
}

/** Python's `==`: lists and dicts by value, 1 == 1.0 == True. */
export function pythonEqual(a: unknown, b: unknown): boolean {
  if (a instanceof nunjucks.runtime.SafeString) a = a.toString();
  if (b instanceof nunjucks.runtime.SafeString) b = b.toString();
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => pythonEqual(item, b[index]));
  if (isDict(a) && isDict(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && pythonEqual(a[key], b[key]));
  }
  const numeric = (value: unknown): unknown => (typeof value === 'boolean' ? Number(value) : value);
  return numeric(a) === numeric(b) || (a === undefined && b === null) || (a === null && b === undefined);
}

/** Python's ordering for sort/min/max: numbers, strings (by code point), lists element-wise. */
export function pythonCompare(a: unknown, b: unknown): number {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let index = 0; index < Math.min(a.length, b.length); index++) {
      const order = pythonCompare(a[index], b[index]);
      if (order !== 0) return order;
    }
    return a.length - b.length;
  }
  const left = typeof a === 'boolean' ? Number(a) : a;
  const right = typeof b === 'boolean' ? Number(b) : b;
  if (typeof left === 'number' && typeof right === 'number') return left - right;
  const x = String(left);
  const y = String(right);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Ansible's `version` test (loose by default, as distutils LooseVersion compares): numbers
 * numerically, other parts as strings; `strict` requires N.N[.N][{a|b}N].
 */
export function compareVersions(left: string, right: string, type: string): number {
  if (type === 'strict' && !/^\d+\.\d+(\.\d+)?([ab]\d+)?$/.test(left)) throw new Error(`invalid version number '${left}'`);
  if (type === 'semver' || type === 'semantic') {
    const core = (version: string): number[] => (version.split(/[-+]/)[0] ?? '').split('.').map(Number);
    const [a, b] = [core(left), core(right)];
    for (let index = 0; index < 3; index++) if ((a[index] ?? 0) !== (b[index] ?? 0)) return (a[index] ?? 0) - (b[index] ?? 0);
    const [pa, pb] = [left.split('-')[1], right.split('-')[1]];
    if (pa === pb) return 0;
    if (pa === undefined) return 1;
    if (pb === undefined) return -1;
    return pythonCompare(pa, pb);
  }
  const parts = (version: string): (number | string)[] =>
    (version.match(/\d+|[a-z]+|\.|[^\d\w.]+/gi) ?? [])
      .filter((part) => part !== '.')
      .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  const [a, b] = [parts(left), parts(right)];
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    const [x, y] = [a[index] as number | string, b[index] as number | string];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    // LooseVersion under Python 3 cannot order an int against a str; Ansible then fails. Strings sort after numbers here.
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------
// PyYAML's dump, as Ansible's to_yaml (flow style for collections of scalars, indent 2) and
// to_nice_yaml (block style, indent 4) call it: keys sorted, allow_unicode, width 80.

const YAML11_IMPLICIT = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|y|Y|n|N)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^[-+]?(?:0b[0-1_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
  /^(?:<<|=)$/,
];

interface ScalarStyle {
  readonly plainBlock: boolean;
  readonly plainFlow: boolean;
  readonly singleQuoted: boolean;
  readonly multiline: boolean;
}

/** PyYAML's analyze_scalar, reduced to what decides the style of the strings a deployment has. */
function analyzeScalar(text: string): ScalarStyle {
  if (text === '') return { plainBlock: false, plainFlow: false, singleQuoted: true, multiline: false };
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let special = false;
  if (/^(?:---|\.\.\.)/.test(text)) blockIndicators = flowIndicators = true;
  const followedBySpace = (index: number): boolean => index + 1 >= text.length || /[\s\u0085\u2028\u2029]/.test(text[index + 1] ?? '');
  for (let index = 0; index < text.length; index++) {
    const ch = text[index] as string;
    const preceded = index === 0 || /[\s\u0085\u2028\u2029]/.test(text[index - 1] ?? '');
    if (index === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) flowIndicators = blockIndicators = true;
      if ('?:'.includes(ch)) {
        flowIndicators = true;
        if (followedBySpace(index)) blockIndicators = true;
      }
      if (ch === '-' && followedBySpace(index)) flowIndicators = blockIndicators = true;
    } else {
      if (',?[]{}'.includes(ch)) flowIndicators = true;
      if (ch === ':') {
        flowIndicators = true;
        if (followedBySpace(index)) blockIndicators = true;
      }
      if (ch === '#' && preceded) flowIndicators = blockIndicators = true;
    }
    if ('\n\u0085\u2028\u2029'.includes(ch)) lineBreaks = true;
    if (!(ch === '\n' || (ch >= ' ' && ch <= '~') || ch >= '\u00a0') || ch === '\ufeff') special = true;
  }
  const leadingSpace = /^[ \n]/.test(text);
  const trailingSpace = /[ \n]$/.test(text);
  let plain = !leadingSpace && !trailingSpace && !lineBreaks && !special;
  let plainFlow = plain && !flowIndicators;
  let plainBlock = plain && !blockIndicators;
  if (/ \n|\n /.test(text)) plain = plainBlock = plainFlow = false;
  return { plainBlock, plainFlow, singleQuoted: !special, multiline: lineBreaks };
}

interface DumpOptions {
  readonly indent: number;
  /** PyYAML default_flow_style: false = block everywhere, null = flow for collections of scalars. */
  readonly flowLeaves: boolean;
}

const WIDTH = 80;

/** A string scalar as PyYAML writes it at `column`, continuation lines at `indent`. */
function dumpString(text: string, flow: boolean, column: number, indent: number, simpleKey: boolean): string {
  const style = analyzeScalar(text);
  const resolvesOtherwise = YAML11_IMPLICIT.some((pattern) => pattern.test(text));
  if (!resolvesOtherwise && !(simpleKey && style.multiline) && (flow ? style.plainFlow : style.plainBlock))
    return foldAtSpaces(text, column, indent);
  if (style.singleQuoted && !(simpleKey && style.multiline)) {
    let out = "'";
    let col = column + 1;
    const pad = ' '.repeat(indent);
    const chunks = text.replace(/'/g, "''").split(/(\n+| )/);
    for (const chunk of chunks) {
      if (chunk.startsWith('\n')) {
        out += '\n'.repeat(chunk.length + 1) + pad;
        col = indent;
      } else if (chunk === ' ' && col > WIDTH) {
        out += `\n${pad}`;
        col = indent;
      } else {
        out += chunk;
        col += chunk.length;
      }
    }
    return `${out}'`;
  }
  return JSON.stringify(text);
}

/** PyYAML's write_plain: a space past the width becomes a line break and indentation. */
function foldAtSpaces(text: string, column: number, indent: number): string {
  let out = '';
  let col = column;
  for (const chunk of text.split(/( )/)) {
    if (chunk === ' ' && col > WIDTH) {
      out += `\n${' '.repeat(indent)}`;
      col = indent;
    } else {
      out += chunk;
      col += chunk.length;
    }
  }
  return out;
}

function dumpScalar(value: unknown, flow: boolean, column: number, indent: number, simpleKey = false): string {
  if (value === null || value === undefined) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return '.nan';
    if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
    return String(value);
  }
  return dumpString(String(value), flow, column, indent, simpleKey);
}

const isCollection = (value: unknown): value is unknown[] | Dict => Array.isArray(value) || isDict(value);
const sortedEntries = (value: Dict): [string, unknown][] => Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function dumpFlow(value: unknown, column: number, indent: number): string {
  if (Array.isArray(value)) return `[${value.map((item) => dumpFlow(item, column, indent)).join(', ')}]`;
  if (isDict(value))
    return `{${sortedEntries(value)
      .map(([key, item]) => `${dumpScalar(key, true, column, indent, true)}: ${dumpFlow(item, column, indent)}`)
      .join(', ')}}`;
  return dumpScalar(value, true, column, indent);
}

/** Lines of `value` as a block node whose content starts at `indent`. */
function dumpBlock(value: unknown, indent: number, options: DumpOptions): string[] {
  const inline = (item: unknown, column: number, at: number): string | undefined => {
    if (!isCollection(item)) return dumpScalar(item, false, column, at);
    if (Object.keys(item).length === 0) return Array.isArray(item) ? '[]' : '{}';
    if (options.flowLeaves && Object.values(item).every((child) => !isCollection(child))) return dumpFlow(item, column, at);
    return undefined;
  };
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const text = inline(item, indent + 2, indent + options.indent);
      if (text !== undefined) return [`${pad}- ${text}`];
      // PyYAML writes a nested collection after `-` padded to the indentation step.
      const nested = dumpBlock(item, indent + options.indent, options);
      const first = (nested[0] ?? '').slice(indent + options.indent);
      return [`${pad}-${' '.repeat(options.indent - 1)}${first}`, ...nested.slice(1)];
    });
  }
  if (isDict(value)) {
    return sortedEntries(value).flatMap(([key, item]) => {
      const keyText = dumpScalar(key, false, indent, indent, true);
      const text = inline(item, indent + keyText.length + 2, indent + options.indent);
      if (text !== undefined) return [`${pad}${keyText}: ${text}`];
      // A sequence under a mapping key is not indented (PyYAML's indentless sequence).
      return [`${pad}${keyText}:`, ...dumpBlock(item, Array.isArray(item) ? indent : indent + options.indent, options)];
    });
  }
  return [pad + (inline(value, indent, indent) ?? '')];
}

/** yaml.dump(value, indent=…, allow_unicode=True, default_flow_style=False|None) as Ansible calls it. */
export function pythonYamlDump(value: unknown, nice: boolean, indent = nice ? 4 : 2): string {
  const options: DumpOptions = { indent, flowLeaves: !nice };
  if (!isCollection(value)) return `${dumpScalar(value, false, 0, indent)}\n`; // Ansible drops PyYAML's `...` document end
  if (Object.keys(value).length === 0) return `${Array.isArray(value) ? '[]' : '{}'}\n`;
  if (options.flowLeaves && Object.values(value).every((child) => !isCollection(child))) return `${dumpFlow(value, 0, indent)}\n`;
  return `${dumpBlock(value, 0, options).join('\n')}\n`;
}
