/**
 * nunjucks made to evaluate Jinja as Ansible does: Python truth values in `if`/`and`/`or`/`not`,
 * `+` on lists, `==` on lists and dicts, `.items()` and the other dict and str methods, `True`,
 * `False`, `None`; Ansible's and Jinja2's common filters and tests; lookups; and `Unknown`
 * (src/model/render/unknown.ts) for whatever needs the controller or the host. A filter or test the
 * renderer does not know raises UnsupportedJinjaError, which renderTemplate turns into a
 * RenderError naming the template's `file:line`.
 *
 * The compiler and runtime patches are installed once, on nunjucks' own prototypes (nunjucks
 * has no other extension point for them); they change nothing for a template that uses none
 * of the Python semantics, and they only act differently while one of our renders runs.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import nunjucks from 'nunjucks';
import { parse as parseYaml } from 'yaml';
import { ANSIBLE_YAML_TAGS } from '../../toolkit/ansible-yaml.js';
import {
  compareVersions,
  isDict,
  PyTuple,
  pythonCompare,
  pythonEqual,
  pythonJson,
  pythonRepr,
  pythonStr,
  pythonTruthy,
  pythonYamlDump,
  toBool,
  type Dict,
} from './python.js';
import { containsUnknown, Unknown, unknownReasons } from './unknown.js';
import { FileShapeError } from '../../core/errors.js';

/** A Jinja feature the renderer does not implement: a filter, a test, a lookup, an include it cannot find. */
export class UnsupportedJinjaError extends FileShapeError {
  constructor(
    readonly kind: 'filter' | 'test' | 'include' | 'syntax',
    readonly feature: string,
    detail?: string,
  ) {
    const message = detail ?? `the ${kind} '${feature}' is not supported by the renderer`;
    super(undefined, undefined, message, 'render', message);
    this.name = 'UnsupportedJinjaError';
  }
}

/** Where an unknown value decided the shape of the output (an `if` or a `for` on it): the text is one possibility, not what Ansible would write. */
export interface UnknownUse {
  /** Line in the template (1-based), when known. */
  readonly line: number | undefined;
  readonly kind: 'condition' | 'loop';
  readonly reasons: readonly string[];
}

/** What one render knows while it runs (renders nest: a variable resolved lazily renders inside another render). */
export interface RenderState {
  readonly path: string | undefined;
  readonly uses: UnknownUse[];
  /** nunjucks line (0-based, in the compiled text) → template line (1-based). */
  readonly templateLine: (line: number) => number;
  /** A variable no scope defines: Unknown for facts, `omit`, `hostvars`…; undefined for a plain undefined name. */
  readonly missing: (name: string) => unknown;
  /** Every unknown read so far (compared around a condition). */
  touched: number;
  currentLine: number;
  /** The error a filter threw, kept because nunjucks flattens it into a message. */
  thrown: Error | undefined;
  /** Resolves `lookup('vars', name)` for a name the context lacks. */
  readonly resolveVar?: (name: string) => unknown;
  /** Finds the text of an `{% include %}`d or imported template. */
  readonly loadTemplate?: (name: string) => { path: string; src: string } | undefined;
  /** What `{{ expr }}` prints (Python's str(), an undefined name as Unknown), by expression index. */
  readonly print: (value: unknown, index: number) => string;
  /** Hears the value of `__capture`. */
  readonly capture?: (value: unknown) => void;
}

const states: RenderState[] = [];

export function currentState(): RenderState | undefined {
  return states[states.length - 1];
}

export function withState<T>(state: RenderState, run: () => T): T {
  states.push(state);
  try {
    return run();
  } finally {
    states.pop();
  }
}

function touch(value: unknown): void {
  const state = currentState();
  if (state && containsUnknown(value, false)) state.touched++;
}

// ---------------------------------------------------------------------------------------------
// Runtime and compiler patches

interface Runtime {
  contextOrFrameLookup: (context: unknown, frame: unknown, name: string) => unknown;
  memberLookup: (obj: unknown, val: unknown, ...slice: unknown[]) => unknown;
  fromIterator: (arr: unknown) => unknown;
  [key: string]: unknown;
}

interface CompilerProto {
  _emit(code: string): void;
  _emitLine(code: string): void;
  _compileExpression(node: unknown, frame: unknown): void;
  _withScopedSyntax(run: () => void): void;
  compile(node: unknown, frame: unknown): void;
  [key: string]: unknown;
}

interface JinjaNode {
  lineno: number;
  colno: number;
  [key: string]: unknown;
}

const PATCHED = Symbol.for('openclaw-fix.nunjucks-patched');

const DICT_METHODS: Record<string, (dict: Dict, ...args: unknown[]) => unknown> = {
  items: (dict) => Object.entries(dict).map((entry) => PyTuple.from(entry)),
  keys: (dict) => Object.keys(dict),
  values: (dict) => Object.values(dict),
  get: (dict, key, fallback = null) => (String(key) in dict ? dict[String(key)] : fallback),
};

const STRING_METHODS: Record<string, (text: string, ...args: unknown[]) => unknown> = {
  startswith: (text, prefix) => (Array.isArray(prefix) ? prefix : [prefix]).some((item) => text.startsWith(String(item))),
  endswith: (text, suffix) => (Array.isArray(suffix) ? suffix : [suffix]).some((item) => text.endsWith(String(item))),
  split: (text, separator, limit) => pythonSplit(text, separator, limit),
  strip: (text, chars) => pythonStrip(text, chars, true, true),
  lstrip: (text, chars) => pythonStrip(text, chars, true, false),
  rstrip: (text, chars) => pythonStrip(text, chars, false, true),
  lower: (text) => text.toLowerCase(),
  upper: (text) => text.toUpperCase(),
  replace: (text, old, replacement) => text.split(String(old)).join(String(replacement)),
  join: (text, items) => (Array.isArray(items) ? items.map(pythonStr).join(text) : ''),
  format: (text, ...args) => {
    let index = 0;
    return text.replace(/\{(\d*)\}/g, (_m, position: string) => pythonStr(args[position === '' ? index++ : Number(position)]));
  },
};

function pythonSplit(text: string, separator?: unknown, limit?: unknown): string[] {
  const max = typeof limit === 'number' && limit >= 0 ? limit : Infinity;
  if (separator === undefined || separator === null) {
    const words = text
      .trim()
      .split(/\s+/)
      .filter((word) => word !== '');
    if (words.length <= max + 1) return words;
    const head = words.slice(0, max);
    let rest = text.trim();
    for (const word of head) rest = rest.slice(rest.indexOf(word) + word.length).replace(/^\s+/, '');
    return [...head, rest];
  }
  const parts = text.split(String(separator));
  return parts.length <= max + 1 ? parts : [...parts.slice(0, max), parts.slice(max).join(String(separator))];
}

function pythonStrip(text: string, chars: unknown, left: boolean, right: boolean): string {
  const set = typeof chars === 'string' ? chars : ' \t\n\r\x0b\x0c';
  let start = 0;
  let end = text.length;
  if (left) while (start < end && set.includes(text[start] ?? '')) start++;
  if (right) while (end > start && set.includes(text[end - 1] ?? '')) end--;
  return text.slice(start, end);
}

/** Python's `format % values` for the conversions templates use: %s %r %d %i %f (with flags and width) and %(name)s. */
function percentFormat(format: string, values: unknown): string {
  const positional = Array.isArray(values) ? values : [values];
  let index = 0;
  return format.replace(
    /%(\(([^)]*)\))?([-+ 0#]*)(\d+)?(?:\.(\d+))?([sridfxX%])/g,
    (_m, _named, name: string | undefined, flags: string, width: string | undefined, precision: string | undefined, kind: string) => {
      if (kind === '%') return '%';
      const value = name !== undefined && isDict(values) ? values[name] : positional[index++];
      let text: string;
      if (kind === 's') text = pythonStr(value);
      else if (kind === 'r') text = pythonRepr(value);
      else if (kind === 'f') text = Number(value).toFixed(precision === undefined ? 6 : Number(precision));
      else if (kind === 'x' || kind === 'X') text = Math.trunc(Number(value)).toString(16)[kind === 'X' ? 'toUpperCase' : 'toLowerCase']();
      else text = String(Math.trunc(Number(value)));
      const size = Number(width ?? 0);
      if (text.length >= size) return text;
      if (flags.includes('-')) return text.padEnd(size);
      return flags.includes('0') && kind !== 's' && kind !== 'r' ? text.padStart(size, '0') : text.padStart(size);
    },
  );
}

function installPatches(): void {
  const holder = nunjucks as unknown as Record<symbol, boolean>;
  if (holder[PATCHED]) return;
  holder[PATCHED] = true;
  // nunjucks' own Jinja compatibility first: slices (`'abc'[1:]`), list and dict methods; ours wrap it.
  (nunjucks as unknown as { installJinjaCompat(): void }).installJinjaCompat();
  const runtime = nunjucks.runtime as unknown as Runtime;
  const compilerModule = (nunjucks as unknown as { compiler: { Compiler: { prototype: CompilerProto } } }).compiler;
  const proto = compilerModule.Compiler.prototype;

  const originalLookup = runtime.contextOrFrameLookup;
  runtime.contextOrFrameLookup = (context, frame, name) => {
    let value = originalLookup(context, frame, name);
    if (value === undefined) {
      if (name === 'True') return true;
      if (name === 'False') return false;
      if (name === 'None') return null;
      value = currentState()?.missing(name);
    }
    touch(value);
    return value;
  };
  const originalMember = runtime.memberLookup;
  runtime.memberLookup = (obj, val, ...slice: unknown[]) => {
    if (slice.length >= 2) {
      if (obj instanceof Unknown) return obj;
      const sliced = originalMember(obj, val, ...slice);
      return typeof obj === 'string' && Array.isArray(sliced) ? sliced.join('') : sliced;
    }
    if (obj instanceof Unknown) {
      touch(obj);
      return obj;
    }
    if (typeof obj === 'string' && containsUnknown(obj, false)) touch(obj);
    const key = String(val);
    if (isDict(obj) && !Object.prototype.hasOwnProperty.call(obj, key) && key in DICT_METHODS) {
      const method = DICT_METHODS[key] as (dict: Dict, ...args: unknown[]) => unknown;
      return (...args: unknown[]) => method(obj, ...args);
    }
    if (typeof obj === 'string' && key in STRING_METHODS) {
      const method = STRING_METHODS[key] as (text: string, ...args: unknown[]) => unknown;
      return (...args: unknown[]) => method(obj, ...args);
    }
    if (Array.isArray(obj) && typeof val === 'number' && val < 0) return obj[obj.length + val];
    const result = originalMember(obj, val);
    touch(result);
    return result;
  };
  const originalFromIterator = runtime.fromIterator;
  runtime.fromIterator = (arr) => {
    const state = currentState();
    if (arr instanceof Unknown) {
      state?.uses.push({ line: state.templateLine(state.currentLine), kind: 'loop', reasons: [arr.reason] });
      return [];
    }
    if (isDict(arr)) return Object.keys(arr); // Python iterates a dict's keys
    if (typeof arr === 'string') return [...arr];
    return originalFromIterator(arr);
  };
  runtime.__ocfSetLine = (line: number) => {
    const state = currentState();
    if (state) state.currentLine = line;
  };
  const pending: number[] = [];
  runtime.__ocfCondBegin = () => pending.push(currentState()?.touched ?? 0);
  runtime.__ocfCondEnd = (value: unknown, line: number) => {
    const state = currentState();
    const before = pending.pop() ?? 0;
    if (state && (state.touched > before || value instanceof Unknown)) {
      state.uses.push({
        line: state.templateLine(line),
        kind: 'condition',
        reasons: unknownReasons(value).length > 0 ? unknownReasons(value) : ['a value only Ansible knows at run time'],
      });
    }
    return pythonTruthy(value);
  };
  runtime.__ocfTruthy = pythonTruthy;
  runtime.__ocfOr = (left: unknown, right: () => unknown) => (pythonTruthy(left) ? left : right());
  runtime.__ocfAnd = (left: unknown, right: () => unknown) => (pythonTruthy(left) ? right() : left);
  runtime.__ocfAdd = (left: unknown, right: unknown) => {
    if (Array.isArray(left) && Array.isArray(right)) return [...left, ...right];
    if (left instanceof Unknown || right instanceof Unknown) return Unknown.from([left, right], 'unknown');
    if (typeof left === 'number' && typeof right === 'number') return left + right;
    if (typeof left === 'boolean' || typeof right === 'boolean') return Number(left) + Number(right);
    return String(left) + String(right);
  };
  runtime.__ocfMul = (left: unknown, right: unknown) => {
    if (typeof left === 'string' && typeof right === 'number') return left.repeat(Math.max(0, right));
    if (Array.isArray(left) && typeof right === 'number') return Array.from({ length: Math.max(0, right) }, () => left).flat();
    return Number(left) * Number(right);
  };
  // Python's %: string formatting (`'%s:%d' % (host, port)`), or a modulo with the divisor's sign.
  runtime.__ocfMod = (left: unknown, right: unknown) => {
    if (typeof left === 'string') return percentFormat(left, right);
    const [a, b] = [Number(left), Number(right)];
    return ((a % b) + b) % b;
  };
  runtime.__ocfCompare = (op: string, left: unknown, right: unknown) => {
    if (left instanceof Unknown || right instanceof Unknown) {
      touch(left instanceof Unknown ? left : right);
      return Unknown.from([left, right], 'unknown');
    }
    switch (op) {
      case '==':
      case '===':
        return pythonEqual(left, right);
      case '!=':
      case '!==':
        return !pythonEqual(left, right);
      case '<':
        return pythonCompare(left, right) < 0;
      case '>':
        return pythonCompare(left, right) > 0;
      case '<=':
        return pythonCompare(left, right) <= 0;
      default:
        return pythonCompare(left, right) >= 0;
    }
  };

  // Python string literals: an unknown escape keeps its backslash (`'\d+'` is a regex), octal and \x escapes.
  const lexer = (nunjucks as unknown as { lexer: { Tokenizer?: { prototype: Record<string, unknown> } } }).lexer;
  const tokenizer =
    lexer.Tokenizer?.prototype ??
    (nunjucks as unknown as { lexer: { lex(src: string): { constructor: { prototype: Record<string, unknown> } } } }).lexer.lex('')
      .constructor.prototype;
  tokenizer._parseString = function (this: { forward(): void; current(): string; isFinished(): boolean }, delimiter: string) {
    this.forward();
    let text = '';
    const escapes: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      a: '\x07',
      b: '\b',
      f: '\f',
      v: '\v',
      '\\': '\\',
      "'": "'",
      '"': '"',
      '\n': '',
    };
    while (!this.isFinished() && this.current() !== delimiter) {
      const ch = this.current();
      this.forward();
      if (ch !== '\\' || this.isFinished()) {
        text += ch;
        continue;
      }
      const next = this.current();
      this.forward();
      if (next in escapes) text += escapes[next];
      else if (/[0-7]/.test(next)) {
        let digits = next;
        while (digits.length < 3 && /[0-7]/.test(this.current())) {
          digits += this.current();
          this.forward();
        }
        text += String.fromCharCode(Number.parseInt(digits, 8));
      } else if (next === 'x' || next === 'u' || next === 'U') {
        const length = next === 'x' ? 2 : next === 'u' ? 4 : 8;
        let digits = '';
        while (digits.length < length && /[0-9a-fA-F]/.test(this.current())) {
          digits += this.current();
          this.forward();
        }
        text += String.fromCodePoint(Number.parseInt(digits || '0', 16));
      } else text += `\\${next}`;
    }
    this.forward();
    return text;
  };

  proto.compileOr = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    this._emit('runtime.__ocfOr(');
    this.compile(node.left, frame);
    this._emit(', function() { return ');
    this.compile(node.right, frame);
    this._emit('; })');
  };
  proto.compileAnd = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    this._emit('runtime.__ocfAnd(');
    this.compile(node.left, frame);
    this._emit(', function() { return ');
    this.compile(node.right, frame);
    this._emit('; })');
  };
  proto.compileNot = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    this._emit('!runtime.__ocfTruthy(');
    this.compile(node.target, frame);
    this._emit(')');
  };
  proto.compileAdd = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    this._emit('runtime.__ocfAdd(');
    this.compile(node.left, frame);
    this._emit(', ');
    this.compile(node.right, frame);
    this._emit(')');
  };
  proto.compileMul = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    this._emit('runtime.__ocfMul(');
    this.compile(node.left, frame);
    this._emit(', ');
    this.compile(node.right, frame);
    this._emit(')');
  };
  // `(a, b)` is a tuple in Jinja; nunjucks compiled it as JavaScript's comma operator (b).
  const originalGroup = proto.compileGroup as (this: CompilerProto, node: JinjaNode, frame: unknown) => void;
  proto.compileGroup = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    const children = node.children as unknown[];
    if (children.length < 2) return originalGroup.call(this, node, frame);
    this._emit('runtime.__ocfTuple([');
    children.forEach((child, index) => {
      if (index > 0) this._emit(', ');
      this.compile(child, frame);
    });
    this._emit('])');
  };
  runtime.__ocfTuple = (items: unknown[]) => PyTuple.from(items);
  proto.compileMod = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    this._emit('runtime.__ocfMod(');
    this.compile(node.left, frame);
    this._emit(', ');
    this.compile(node.right, frame);
    this._emit(')');
  };
  proto.compileCompare = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    // Python chains `a < b < c` as `a < b and b < c`; every deployment writes one operator.
    const ops = node.ops as { type: string; expr: unknown }[];
    let emitted = 0;
    ops.forEach((op, index) => {
      if (index > 0) this._emit(' && ');
      this._emit(`runtime.__ocfCompare(${JSON.stringify(op.type)}, `);
      this.compile(index === 0 ? node.expr : (ops[index - 1] as { expr: unknown }).expr, frame);
      this._emit(', ');
      this.compile(op.expr, frame);
      this._emit(')');
      emitted++;
    });
    if (emitted === 0) this.compile(node.expr, frame);
  };
  proto.compileInlineIf = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    this._emit('(runtime.__ocfCondBegin(), runtime.__ocfCondEnd(');
    this.compile(node.cond, frame);
    this._emit(`, ${node.lineno}) ? `);
    this.compile(node.body, frame);
    this._emit(' : ');
    if (node.else_ !== null && node.else_ !== undefined) this.compile(node.else_, frame);
    else this._emit('""');
    this._emit(')');
  };
  proto.compileIf = function (this: CompilerProto, node: JinjaNode, frame: unknown, async?: boolean) {
    if (async) throw new Error('asynchronous if is not supported');
    this._emitLine(`lineno = ${node.lineno}; colno = ${node.colno}; runtime.__ocfSetLine(${node.lineno});`);
    this._emit('if(runtime.__ocfCondBegin(), runtime.__ocfCondEnd(');
    this._compileExpression(node.cond, frame);
    this._emitLine(`, ${node.lineno})) {`);
    this._withScopedSyntax(() => this.compile(node.body, frame));
    if (node.else_) {
      this._emitLine('}\nelse {');
      this._withScopedSyntax(() => this.compile(node.else_, frame));
    }
    this._emitLine('}');
  };
  const originalFor = proto.compileFor as (this: CompilerProto, node: JinjaNode, frame: unknown) => void;
  proto.compileFor = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    this._emitLine(`lineno = ${node.lineno}; colno = ${node.colno}; runtime.__ocfSetLine(${node.lineno});`);
    originalFor.call(this, node, frame);
  };
  // nunjucks compiles a test's arguments without commas between them (`is version('1', '<')`).
  proto.compileIs = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
    const right = node.right as { name?: { value: string }; value?: string; args?: { children: unknown[] } };
    const name = right.name ? right.name.value : String(right.value);
    this._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, env.getTest(${JSON.stringify(name)}).call(context, `);
    this.compile(node.left, frame);
    for (const arg of right.args?.children ?? []) {
      this._emit(', ');
      this.compile(arg, frame);
    }
    this._emit(') === true)');
  };
  // Filters record their line, so an error in one names it.
  for (const name of ['compileFilter']) {
    const original = proto[name] as (this: CompilerProto, node: JinjaNode, frame: unknown) => void;
    proto[name] = function (this: CompilerProto, node: JinjaNode, frame: unknown) {
      this._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, `);
      original.call(this, node, frame);
      this._emit(')');
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Arguments: nunjucks passes keyword arguments as a last object marked __keywords.

type Args = Record<string, unknown>;

/** Python-style binding of positional and keyword arguments to parameter names. */
function bind(args: readonly unknown[], names: readonly string[]): Args {
  const last = args[args.length - 1];
  const keywords = isDict(last) && Object.prototype.hasOwnProperty.call(last, '__keywords') ? last : undefined;
  const positional = keywords ? args.slice(0, -1) : args;
  const bound: Args = {};
  names.forEach((name, index) => {
    if (index < positional.length) bound[name] = positional[index];
  });
  if (keywords) for (const [key, value] of Object.entries(keywords)) if (key !== '__keywords') bound[key] = value;
  bound.__rest = positional.slice(names.length);
  return bound;
}

function stripKeywords(args: readonly unknown[]): unknown[] {
  const last = args[args.length - 1];
  return isDict(last) && Object.prototype.hasOwnProperty.call(last, '__keywords') ? args.slice(0, -1) : [...args];
}

// ---------------------------------------------------------------------------------------------
// Regular expressions: Python's re syntax as JavaScript reads it.

function pythonRegExp(pattern: unknown, flags: string): RegExp {
  let source = String(pattern);
  let extra = '';
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source);
  if (inline) {
    source = source.slice(inline[0].length);
    for (const flag of inline[1] ?? '') if ('ims'.includes(flag) && !flags.includes(flag)) extra += flag;
  }
  source = source
    .replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>')
    .replace(/\\A/g, '(?<![\\s\\S])')
    .replace(/\\Z/g, '(?![\\s\\S])');
  try {
    return new RegExp(source, flags + extra);
  } catch (error) {
    throw new Error(`invalid regular expression '${String(pattern)}': ${(error as Error).message}`);
  }
}

/** Python's re.sub replacement (`\1`, `\g<1>`, `\g<name>`) as a JavaScript replacement string. */
function pythonReplacement(replacement: unknown): string {
  return String(replacement ?? '')
    .replace(/\$/g, '$$$$')
    .replace(/\\g<(\d+)>/g, '$$$1')
    .replace(/\\g<([A-Za-z_]\w*)>/g, '$$<$1>')
    .replace(/\\(\d{1,2})/g, '$$$1')
    .replace(/\\n/g, '\n')
    .replace(/\\t/g, '\t')
    .replace(/\\\\/g, '\\');
}

function regexFlags(args: Args): string {
  return (toBool(args.ignorecase) ? 'i' : '') + (toBool(args.multiline) ? 'm' : '');
}

// ---------------------------------------------------------------------------------------------
// Filters

type Filter = (this: FilterContext, value: unknown, ...args: unknown[]) => unknown;

interface FilterContext {
  readonly ctx: Record<string, unknown>;
  readonly env: nunjucks.Environment;
}

function attributeOf(item: unknown, attribute: unknown): unknown {
  let current = item;
  for (const part of String(attribute).split('.')) {
    if (current instanceof Unknown) return current;
    if (Array.isArray(current) && /^\d+$/.test(part)) current = current[Number(part)];
    else if (isDict(current)) current = current[part];
    else return undefined;
  }
  return current;
}

function toList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') return [...value];
  if (isDict(value)) return Object.keys(value);
  if (value === undefined || value === null) return [];
  return [value];
}

function deepMerge(left: unknown, right: unknown, recursive: boolean, listMerge: string): unknown {
  if (isDict(left) && isDict(right)) {
    const merged: Dict = { ...left };
    for (const [key, value] of Object.entries(right))
      merged[key] =
        recursive && key in left
          ? deepMerge(left[key], value, recursive, listMerge)
          : recursive && isDict(value) && isDict(left[key])
            ? deepMerge(left[key], value, true, listMerge)
            : value;
    return merged;
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    switch (listMerge) {
      case 'keep':
        return left;
      case 'append':
        return [...left, ...right];
      case 'prepend':
        return [...right, ...left];
      case 'append_rp':
        return [...left.filter((item) => !right.some((other) => pythonEqual(item, other))), ...right];
      case 'prepend_rp':
        return [...right, ...left.filter((item) => !right.some((other) => pythonEqual(item, other)))];
      default:
        return right;
    }
  }
  return right;
}

/** Jinja's unique (which Ansible's uses): strings compared without case unless `caseSensitive`, the first one kept. */
function unique(items: readonly unknown[], caseSensitive = false): unknown[] {
  const key = (item: unknown): unknown => (typeof item === 'string' && !caseSensitive ? item.toLowerCase() : item);
  const out: unknown[] = [];
  for (const item of items) if (!out.some((other) => pythonEqual(key(other), key(item)))) out.push(item);
  return out;
}

function flatten(items: readonly unknown[], levels: number | undefined, skipNulls: boolean): unknown[] {
  const out: unknown[] = [];
  for (const item of items) {
    if (skipNulls && (item === null || item === 'None' || item === undefined)) continue;
    if (Array.isArray(item) && (levels === undefined || levels > 0))
      out.push(...flatten(item, levels === undefined ? undefined : levels - 1, skipNulls));
    else out.push(item);
  }
  return out;
}

/** Jinja's indent (jinja2 3.x): blank lines stay empty unless `blank`, the first line only with `first`. */
function indent(text: string, width: unknown, first: unknown, blank: unknown): string {
  const indention = typeof width === 'string' ? width : ' '.repeat(Number(width ?? 4));
  const lines = `${text}\n`.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  lines.pop(); // splitlines drops the empty text after the last break
  let rendered: string;
  if (pythonTruthy(blank)) rendered = lines.join(`\n${indention}`);
  else {
    const [head = '', ...rest] = lines;
    rendered = head + (rest.length > 0 ? `\n${rest.map((line) => (line ? indention + line : line)).join('\n')}` : '');
  }
  return pythonTruthy(first) ? indention + rendered : rendered;
}

/** shlex.quote */
function shellQuote(text: string): string {
  if (text === '') return "''";
  if (/^[\w@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'"'"'`)}'`;
}

function pythonInt(value: unknown, fallback: unknown = 0, base: unknown = 10): unknown {
  if (typeof value === 'boolean') return Number(value);
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : fallback;
  const text = String(value ?? '')
    .trim()
    .replace(/_/g, '');
  const radix = Number(base);
  if (radix === 10 && /^[+-]?\d+$/.test(text)) return Number.parseInt(text, 10);
  if (radix !== 10) {
    const parsed = Number.parseInt(text.replace(/^0[xob]/i, ''), radix);
    if (!Number.isNaN(parsed)) return parsed;
  }
  const float = Number(text);
  return text !== '' && Number.isFinite(float) ? Math.trunc(float) : fallback;
}

function minMax(items: unknown, attribute: unknown, sign: 1 | -1): unknown {
  const list = toList(items);
  if (list.length === 0) return undefined;
  const key = (item: unknown): unknown => {
    const value = attribute === undefined || attribute === null ? item : attributeOf(item, attribute);
    return typeof value === 'string' ? value.toLowerCase() : value;
  };
  return list.reduce((best, item) => (sign * pythonCompare(key(item), key(best)) < 0 ? item : best));
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'str';
  if (Array.isArray(value)) return 'list';
  return 'dict';
}

/** Filters Ansible has whose result needs randomness, the controller or the host: always Unknown. */
const UNKNOWN_FILTERS = [
  'password_hash',
  'random',
  'shuffle',
  'to_uuid',
  'expanduser',
  'expandvars',
  'realpath',
  'vault',
  'unvault',
  'strftime',
  'to_datetime',
  'json_query',
  'ipaddr',
  'ipv4',
  'ipv6',
  'ipwrap',
  'ansible.utils.ipaddr',
  'ansible.netcommon.ipaddr',
  'community.general.json_query',
  'human_to_bytes',
  'human_readable',
  'subelements',
  'extract',
  'groupby',
  'urlsplit',
  'comment',
  'fileglob',
  'win_basename',
  'win_dirname',
  'win_splitdrive',
  'win_expanduser',
  'path_join_unknown',
  'product',
  'permutations',
  'combinations',
  'log',
  'pow',
  'root',
];

function filters(): Record<string, Filter> {
  const getFilter = (env: nunjucks.Environment, name: string): Filter => env.getFilter(name) as unknown as Filter;
  const getTest = (env: nunjucks.Environment, name: string): ((value: unknown, ...args: unknown[]) => unknown) =>
    (env as unknown as { getTest(name: string): never }).getTest(name);
  const defaultFilter: Filter = function (value, ...rest) {
    const args = bind(rest, ['default_value', 'boolean']);
    const fallback = args.default_value === undefined ? '' : args.default_value;
    return value === undefined || (pythonTruthy(args.boolean) && !pythonTruthy(value)) ? fallback : value;
  };
  const selectOrReject = (keep: boolean): Filter =>
    function (value, ...rest) {
      const [test, ...testArgs] = stripKeywords(rest);
      return toList(value).filter(
        (item) => pythonTruthy(test === undefined ? item : getTest(this.env, String(test)).call(this, item, ...testArgs)) === keep,
      );
    };
  const attrSelect = (keep: boolean): Filter =>
    function (value, ...rest) {
      const [attribute, test, ...testArgs] = stripKeywords(rest);
      return toList(value).filter((item) => {
        const field = attributeOf(item, attribute);
        const passes = test === undefined ? pythonTruthy(field) : getTest(this.env, String(test)).call(this, field, ...testArgs);
        return pythonTruthy(passes) === keep;
      });
    };
  const table: Record<string, Filter> = {
    bool: (value) => toBool(value),
    to_json: (value, ...rest) => {
      const args = bind(rest, ['indent', 'sort_keys']);
      return pythonJson(
        value,
        typeof args.indent === 'number' ? args.indent : undefined,
        0,
        pythonTruthy(args.sort_keys) || typeof args.indent === 'number',
      );
    },
    to_nice_json: (value, ...rest) => pythonJson(value, Number(bind(rest, ['indent']).indent ?? 4)),
    tojson: (value, ...rest) => {
      const args = bind(rest, ['indent']);
      return new nunjucks.runtime.SafeString(
        pythonJson(value, typeof args.indent === 'number' ? args.indent : undefined, 0, true).replace(
          /[<>&']/g,
          (ch) => `\\u00${ch.charCodeAt(0).toString(16)}`,
        ),
      );
    },
    from_json: (value) => JSON.parse(String(value)) as unknown,
    from_yaml: (value) =>
      typeof value === 'string'
        ? (parseYaml(value, { version: '1.1', customTags: ANSIBLE_YAML_TAGS, logLevel: 'error' }) as unknown)
        : value,
    to_yaml: (value, ...rest) => pythonYamlDump(value, false, Number(bind(rest, ['indent']).indent ?? 2)),
    to_nice_yaml: (value, ...rest) => pythonYamlDump(value, true, Number(bind(rest, ['indent']).indent ?? 4)),
    mandatory: (value, ...rest) => {
      if (value === undefined) throw new Error(String(bind(rest, ['msg']).msg ?? 'Mandatory variable not defined.'));
      return value;
    },
    quote: (value) => shellQuote(pythonStr(value)),
    int: (value, ...rest) => {
      const args = bind(rest, ['default', 'base']);
      return pythonInt(value, args.default ?? 0, args.base ?? 10);
    },
    float: (value, ...rest) => {
      const parsed = Number(typeof value === 'string' ? value.trim() : value);
      return Number.isFinite(parsed) && value !== '' && value !== null ? parsed : (bind(rest, ['default']).default ?? 0);
    },
    string: (value) => pythonStr(value),
    lower: (value) => pythonStr(value).toLowerCase(),
    upper: (value) => pythonStr(value).toUpperCase(),
    capitalize: (value) => {
      const text = pythonStr(value);
      return text.charAt(0).toUpperCase() + text.slice(1).toLowerCase();
    },
    title: (value) =>
      pythonStr(value).replace(/[A-Za-z\u00c0-\uffff]+/g, (word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase()),
    trim: (value, chars) => pythonStrip(pythonStr(value), chars, true, true),
    replace: (value, old, replacement, count) => {
      let text = pythonStr(value);
      let remaining = typeof count === 'number' ? count : Infinity;
      let out = '';
      const needle = String(old);
      if (needle === '') return text;
      while (remaining-- > 0) {
        const at = text.indexOf(needle);
        if (at === -1) break;
        out += text.slice(0, at) + pythonStr(replacement);
        text = text.slice(at + needle.length);
      }
      return out + text;
    },
    ternary: (value, yes, no, none) => (value === null && none !== undefined ? none : pythonTruthy(value) ? yes : no),
    regex_replace: (value, ...rest) => {
      const args = bind(rest, ['pattern', 'replacement', 'ignorecase', 'multiline', 'count']);
      const count = Number(args.count ?? 0);
      const regex = pythonRegExp(args.pattern ?? '', `${count > 0 ? '' : 'g'}${regexFlags(args)}`);
      const replacement = pythonReplacement(args.replacement);
      let text = pythonStr(value);
      if (count <= 0) return text.replace(regex, replacement);
      for (let done = 0, from = 0; done < count; done++) {
        const sticky = new RegExp(regex.source, `${regex.flags}g`);
        sticky.lastIndex = from;
        const match = sticky.exec(text);
        if (!match) break;
        const replaced = match[0].replace(new RegExp(regex.source, regex.flags), replacement);
        text = text.slice(0, match.index) + replaced + text.slice(match.index + match[0].length);
        from = match.index + replaced.length + (match[0] === '' ? 1 : 0);
      }
      return text;
    },
    regex_search: (value, ...rest) => {
      const args = bind(rest, ['pattern']);
      const groups = (args.__rest as unknown[]).map(String);
      const match = pythonRegExp(args.pattern ?? '', regexFlags(args)).exec(pythonStr(value));
      if (!match) return null;
      if (groups.length === 0) return match[0];
      return groups.map((group) => {
        const named = /^\\g<(\w+)>$/.exec(group);
        const numbered = /^\\(\d+)$/.exec(group);
        if (named) return /^\d+$/.test(named[1] ?? '') ? match[Number(named[1])] : match.groups?.[named[1] ?? ''];
        if (numbered) return match[Number(numbered[1])];
        throw new Error(`regex_search: unknown argument ${group}`);
      });
    },
    regex_findall: (value, ...rest) => {
      const args = bind(rest, ['pattern', 'multiline', 'ignorecase']);
      const regex = pythonRegExp(args.pattern ?? '', `g${regexFlags(args)}`);
      return [...pythonStr(value).matchAll(regex)].map((match) =>
        match.length === 1 ? match[0] : match.length === 2 ? match[1] : match.slice(1),
      );
    },
    regex_escape: (value) => pythonStr(value).replace(/[^A-Za-z0-9_]/g, (ch) => `\\${ch}`),
    b64encode: (value) => Buffer.from(pythonStr(value)).toString('base64'),
    b64decode: (value) => Buffer.from(pythonStr(value), 'base64').toString('utf8'),
    basename: (value) =>
      posix.basename(pythonStr(value)) === '' || pythonStr(value).endsWith('/') ? '' : posix.basename(pythonStr(value)),
    dirname: (value) => {
      const text = pythonStr(value);
      const at = text.lastIndexOf('/') + 1;
      const head = text.slice(0, at);
      return head && head !== '/'.repeat(head.length) ? head.replace(/\/+$/, '') : head;
    },
    splitext: (value) => {
      const text = pythonStr(value);
      const base = posix.basename(text);
      const dot = base.replace(/^\.+/, (dots) => '_'.repeat(dots.length)).lastIndexOf('.');
      return PyTuple.from(dot <= 0 ? [text, ''] : [text.slice(0, text.length - base.length + dot), base.slice(dot)]);
    },
    path_join: (value) =>
      toList(typeof value === 'string' ? [value] : value)
        .map(pythonStr)
        .reduce(
          (joined, part) => (part.startsWith('/') ? part : joined === '' || joined.endsWith('/') ? joined + part : `${joined}/${part}`),
          '',
        ),
    hash: (value, algorithm = 'sha1') => createHash(String(algorithm)).update(pythonStr(value)).digest('hex'),
    checksum: (value) => createHash('sha1').update(pythonStr(value)).digest('hex'),
    sha1: (value) => createHash('sha1').update(pythonStr(value)).digest('hex'),
    md5: (value) => createHash('md5').update(pythonStr(value)).digest('hex'),
    default: defaultFilter,
    d: defaultFilter,
    combine: (value, ...rest) => {
      const args = bind(rest, []);
      const dicts = [
        ...flatten(Array.isArray(value) ? value : [value], undefined, false),
        ...flatten(args.__rest as unknown[], undefined, false),
      ];
      for (const dict of dicts) if (!isDict(dict)) throw new Error(`combine: expected dicts, got ${typeName(dict)}`);
      return dicts.reduce(
        (merged, dict) => deepMerge(merged, dict, pythonTruthy(args.recursive), String(args.list_merge ?? 'replace')),
        {},
      );
    },
    dict2items: (value, ...rest) => {
      const args = bind(rest, ['key_name', 'value_name']);
      if (!isDict(value)) throw new Error(`dict2items requires a dictionary, got ${typeName(value)}`);
      return Object.entries(value).map(([key, item]) => ({
        [String(args.key_name ?? 'key')]: key,
        [String(args.value_name ?? 'value')]: item,
      }));
    },
    items2dict: (value, ...rest) => {
      const args = bind(rest, ['key_name', 'value_name']);
      return Object.fromEntries(
        toList(value).map((item) => [pythonStr(attributeOf(item, args.key_name ?? 'key')), attributeOf(item, args.value_name ?? 'value')]),
      );
    },
    items: (value) => (isDict(value) ? Object.entries(value).map((entry) => PyTuple.from(entry)) : []),
    dictsort: (value, ...rest) => {
      const args = bind(rest, ['case_sensitive', 'by', 'reverse']);
      const index = args.by === 'value' ? 1 : 0;
      const key = (entry: [string, unknown]): unknown =>
        typeof entry[index] === 'string' && !pythonTruthy(args.case_sensitive) ? (entry[index] as string).toLowerCase() : entry[index];
      const sign = pythonTruthy(args.reverse) ? -1 : 1;
      return Object.entries(isDict(value) ? value : {})
        .sort((a, b) => sign * pythonCompare(key(a), key(b)))
        .map((entry) => PyTuple.from(entry));
    },
    map: function (value, ...rest) {
      const args = bind(rest, []);
      const positional = args.__rest as unknown[];
      if ('attribute' in args)
        return toList(value).map((item) => {
          const field = attributeOf(item, args.attribute);
          return field === undefined && 'default' in args ? args.default : field;
        });
      const [name, ...filterArgs] = positional;
      if (name === undefined) return toList(value);
      const filter = getFilter(this.env, String(name));
      return toList(value).map((item) => filter.call(this, item, ...filterArgs));
    },
    select: selectOrReject(true),
    reject: selectOrReject(false),
    selectattr: attrSelect(true),
    rejectattr: attrSelect(false),
    join: (value, ...rest) => {
      const args = bind(rest, ['d', 'attribute']);
      const items = toList(value).map((item) =>
        args.attribute === undefined || args.attribute === null ? item : attributeOf(item, args.attribute),
      );
      return items.map(pythonStr).join(args.d === undefined ? '' : pythonStr(args.d));
    },
    list: (value) => toList(value),
    length: (value) =>
      isDict(value)
        ? Object.keys(value).length
        : typeof value === 'string' || Array.isArray(value)
          ? value.length
          : value === undefined || value === null
            ? 0
            : toList(value).length,
    count: (value) => (isDict(value) ? Object.keys(value).length : toList(value).length),
    first: (value) => toList(value)[0],
    last: (value) => toList(value).at(-1),
    unique: (value, ...rest) => unique(toList(value), pythonTruthy(bind(rest, ['case_sensitive']).case_sensitive)),
    union: (value, other) => unique([...toList(value), ...toList(other)]),
    intersect: (value, other) => unique(toList(value).filter((item) => toList(other).some((o) => pythonEqual(o, item)))),
    difference: (value, other) => unique(toList(value).filter((item) => !toList(other).some((o) => pythonEqual(o, item)))),
    symmetric_difference: (value, other) => {
      const [a, b] = [toList(value), toList(other)];
      return unique([
        ...a.filter((item) => !b.some((o) => pythonEqual(o, item))),
        ...b.filter((item) => !a.some((o) => pythonEqual(o, item))),
      ]);
    },
    flatten: (value, ...rest) => {
      const args = bind(rest, ['levels', 'skip_nulls']);
      return flatten(
        toList(value),
        typeof args.levels === 'number' ? args.levels : undefined,
        args.skip_nulls === undefined ? true : pythonTruthy(args.skip_nulls),
      );
    },
    min: (value, ...rest) => minMax(value, bind(rest, []).attribute, 1),
    max: (value, ...rest) => minMax(value, bind(rest, []).attribute, -1),
    sum: (value, ...rest) => {
      const args = bind(rest, ['attribute', 'start']);
      return toList(value).reduce<unknown>(
        (total, item) => runtimeAdd(total, args.attribute === undefined ? item : attributeOf(item, args.attribute)),
        args.start ?? 0,
      );
    },
    sort: (value, ...rest) => {
      const args = bind(rest, ['reverse', 'case_sensitive', 'attribute']);
      const key = (item: unknown): unknown => {
        const field = args.attribute === undefined ? item : attributeOf(item, args.attribute);
        return typeof field === 'string' && !pythonTruthy(args.case_sensitive) ? field.toLowerCase() : field;
      };
      const sign = pythonTruthy(args.reverse) ? -1 : 1; // Python's reverse sort keeps equal items in order
      return [...toList(value)].sort((a, b) => sign * pythonCompare(key(a), key(b)));
    },
    reverse: (value) => (typeof value === 'string' ? [...value].reverse().join('') : [...toList(value)].reverse()),
    abs: (value) => Math.abs(Number(value)),
    round: (value, precision = 0, method = 'common') => {
      const factor = 10 ** Number(precision);
      const scaled = Number(value) * factor;
      const rounded =
        method === 'ceil' ? Math.ceil(scaled) : method === 'floor' ? Math.floor(scaled) : Math.sign(scaled) * Math.round(Math.abs(scaled));
      return rounded / factor;
    },
    indent: (value, ...rest) => {
      const args = bind(rest, ['width', 'first', 'blank']);
      return indent(pythonStr(value), args.width, args.first ?? args.indentfirst, args.blank);
    },
    split: (value, separator, limit) => pythonSplit(pythonStr(value), separator, limit),
    zip: (value, ...others) => {
      const lists = [toList(value), ...stripKeywords(others).map(toList)];
      const length = Math.min(...lists.map((list) => list.length));
      return Array.from({ length }, (_unused, index) => lists.map((list) => list[index]));
    },
    type_debug: (value) => typeName(value),
    format: (value, ...rest) => {
      let index = 0;
      const args = stripKeywords(rest);
      return pythonStr(value).replace(/%([sdr%])/g, (_m, kind: string) =>
        kind === '%' ? '%' : kind === 'd' ? String(Math.trunc(Number(args[index++]))) : pythonStr(args[index++]),
      );
    },
    attr: (value, name) => attributeOf(value, name),
    version_compare: function (value, ...rest) {
      return getTest(this.env, 'version').call(this, value, ...rest);
    },
  };
  for (const name of UNKNOWN_FILTERS) {
    table[name] = (value, ...rest) => Unknown.from([value, ...rest], `the ${name} filter's result is only known when Ansible runs`);
  }
  return table;
}

function runtimeAdd(left: unknown, right: unknown): unknown {
  return ((nunjucks.runtime as unknown as Runtime).__ocfAdd as (a: unknown, b: unknown) => unknown)(left, right);
}

/** Filters that look at an unknown themselves instead of returning one: they keep its sentinel, or test definedness. */
const PASS_UNKNOWN = new Set([
  'default',
  'd',
  'mandatory',
  'string',
  'to_json',
  'to_nice_json',
  'tojson',
  'to_yaml',
  'to_nice_yaml',
  'join',
  'list',
  'length',
  'count',
  'first',
  'last',
  'unique',
  'flatten',
  'combine',
  'dict2items',
  'items2dict',
  'map',
  'select',
  'reject',
  'selectattr',
  'rejectattr',
  'reverse',
  'indent',
  'type_debug',
  'items',
  'union',
  'zip',
]);

// ---------------------------------------------------------------------------------------------
// Tests

type Test = (this: FilterContext, value: unknown, ...args: unknown[]) => unknown;

const VERSION_OPERATORS: Record<string, (order: number) => boolean> = {
  '<': (o) => o < 0,
  lt: (o) => o < 0,
  '<=': (o) => o <= 0,
  le: (o) => o <= 0,
  '>': (o) => o > 0,
  gt: (o) => o > 0,
  '>=': (o) => o >= 0,
  ge: (o) => o >= 0,
  '==': (o) => o === 0,
  '=': (o) => o === 0,
  eq: (o) => o === 0,
  '!=': (o) => o !== 0,
  '<>': (o) => o !== 0,
  ne: (o) => o !== 0,
};

function tests(): Record<string, Test> {
  const table: Record<string, Test> = {
    defined: (value) => value !== undefined,
    undefined: (value) => value === undefined,
    none: (value) => value === null,
    boolean: (value) => typeof value === 'boolean',
    true: (value) => value === true,
    false: (value) => value === false,
    string: (value) => typeof value === 'string',
    number: (value) => typeof value === 'number',
    integer: (value) => typeof value === 'number' && Number.isInteger(value),
    float: (value) => typeof value === 'number' && !Number.isInteger(value),
    mapping: (value) => isDict(value),
    iterable: (value) => Array.isArray(value) || isDict(value) || typeof value === 'string',
    sequence: (value) => Array.isArray(value) || isDict(value) || typeof value === 'string',
    callable: (value) => typeof value === 'function',
    sameas: (value, other) => value === other,
    eq: (value, other) => pythonEqual(value, other),
    equalto: (value, other) => pythonEqual(value, other),
    '==': (value, other) => pythonEqual(value, other),
    ne: (value, other) => !pythonEqual(value, other),
    '!=': (value, other) => !pythonEqual(value, other),
    lt: (value, other) => pythonCompare(value, other) < 0,
    '<': (value, other) => pythonCompare(value, other) < 0,
    le: (value, other) => pythonCompare(value, other) <= 0,
    '<=': (value, other) => pythonCompare(value, other) <= 0,
    gt: (value, other) => pythonCompare(value, other) > 0,
    '>': (value, other) => pythonCompare(value, other) > 0,
    ge: (value, other) => pythonCompare(value, other) >= 0,
    '>=': (value, other) => pythonCompare(value, other) >= 0,
    in: (value, container) =>
      typeof container === 'string'
        ? container.includes(pythonStr(value))
        : isDict(container)
          ? pythonStr(value) in container
          : toList(container).some((item) => pythonEqual(item, value)),
    contains: (container, value) =>
      typeof container === 'string' ? container.includes(pythonStr(value)) : toList(container).some((item) => pythonEqual(item, value)),
    match: (value, pattern, ...rest) => {
      const args = bind(rest, ['ignorecase', 'multiline']);
      return pythonRegExp(`^(?:${String(pattern)})`, regexFlags(args)).test(pythonStr(value));
    },
    search: (value, pattern, ...rest) => pythonRegExp(pattern, regexFlags(bind(rest, ['ignorecase', 'multiline']))).test(pythonStr(value)),
    regex: (value, pattern, ...rest) => {
      const args = bind(rest, ['ignorecase', 'multiline', 'match_type']);
      const source = args.match_type === 'match' ? `^(?:${String(pattern)})` : String(pattern);
      return pythonRegExp(source, regexFlags(args)).test(pythonStr(value));
    },
    version: (value, ...rest) => {
      const args = bind(rest, ['version', 'operator', 'strict', 'version_type']);
      const type = pythonTruthy(args.strict) ? 'strict' : String(args.version_type ?? 'loose');
      const operator = String(args.operator ?? 'eq');
      const check = VERSION_OPERATORS[operator];
      if (!check) throw new Error(`version: invalid operator '${operator}'`);
      return check(compareVersions(pythonStr(value), pythonStr(args.version), type));
    },
    subset: (value, other) => toList(value).every((item) => toList(other).some((o) => pythonEqual(o, item))),
    superset: (value, other) => toList(other).every((item) => toList(value).some((o) => pythonEqual(o, item))),
    truthy: (value) => pythonTruthy(value),
    falsy: (value) => !pythonTruthy(value),
    divisibleby: (value, divisor) => Number(value) % Number(divisor) === 0,
    odd: (value) => Math.abs(Number(value) % 2) === 1,
    even: (value) => Number(value) % 2 === 0,
    lower: (value) => typeof value === 'string' && value === value.toLowerCase(),
    upper: (value) => typeof value === 'string' && value === value.toUpperCase(),
    any: (value) => toList(value).some(pythonTruthy),
    all: (value) => toList(value).every(pythonTruthy),
  };
  table.version_compare = table.version as Test;
  for (const name of [
    'succeeded',
    'success',
    'failed',
    'failure',
    'changed',
    'change',
    'skipped',
    'skip',
    'finished',
    'started',
    'unreachable',
    'reachable',
    'exists',
    'file',
    'directory',
    'link',
    'abs',
    'mount',
    'same_file',
    'is_file',
    'is_dir',
    'is_link',
    'is_abs',
    'vault_encrypted',
  ]) {
    table[name] = (value) => Unknown.from([value], `the '${name}' test needs the controller or the host`);
  }
  return table;
}

/** Tests that decide on an unknown themselves: an unknown value is defined. */
const TESTS_PASS_UNKNOWN = new Set(['defined', 'undefined', 'none']);

// ---------------------------------------------------------------------------------------------
// The environment

function directlyUnknown(values: readonly unknown[]): boolean {
  return values.some((value) => {
    if (value instanceof Unknown || (typeof value === 'string' && containsUnknown(value, false))) return true;
    return isDict(value) && Object.prototype.hasOwnProperty.call(value, '__keywords') && directlyUnknown(Object.values(value));
  });
}

/** Lookups (and `query`/`q`) that need the controller give an Unknown naming the plugin and its terms. */
function lookupFunction(wantList: boolean) {
  return function (this: { ctx: Record<string, unknown> }, plugin: unknown, ...rest: unknown[]): unknown {
    const terms = stripKeywords(rest);
    const args = bind(rest, []);
    const name = String(plugin).replace(/^ansible\.(builtin|legacy)\./, '');
    const described = `${wantList ? 'query' : 'lookup'}('${String(plugin)}'${terms.map((term) => `, ${pythonRepr(term)}`).join('')})`;
    if (name === 'vars' && !directlyUnknown(terms)) {
      const values = terms.map((term) => {
        const key = pythonStr(term);
        const value = key in this.ctx ? this.ctx[key] : currentState()?.resolveVar?.(key);
        if (value !== undefined) return value;
        if ('default' in args) return args.default;
        throw new Error(`lookup('vars', '${key}'): no variable found with this name`);
      });
      return wantList || pythonTruthy(args.wantlist) ? values : values.length === 1 ? values[0] : values.map(pythonStr).join(',');
    }
    const unknown = new Unknown(`${described} is read on the Ansible controller when the play runs`);
    touch(unknown);
    return unknown;
  };
}

/** A fresh Ansible-flavoured nunjucks environment (one per render: filters close over its options). */
const environments = new Map<boolean, nunjucks.Environment>();
const compiled = new Map<string, nunjucks.Template>();

/**
 * Renders `source` (already made nunjucks-compatible) with `context` while `state` is the
 * current render. Environments (one per trim_blocks) and compiled templates are kept: creating
 * them cost more than rendering (every lazily resolved variable is a small template).
 */
export function renderWithState(source: string, context: Record<string, unknown>, trimBlocks: boolean, state: RenderState): string {
  let env = environments.get(trimBlocks);
  if (!env) environments.set(trimBlocks, (env = ansibleEnvironment(trimBlocks)));
  const key = `${trimBlocks ? 1 : 0}${source}`;
  let template = compiled.get(key);
  if (!template) {
    if (compiled.size >= 2000) compiled.clear();
    template = new nunjucks.Template(source, env, undefined, true);
    compiled.set(key, template);
  }
  const ready = template;
  return withState(state, () => ready.render(context));
}

function ansibleEnvironment(trimBlocks: boolean): nunjucks.Environment {
  installPatches();
  const loader = {
    getSource(name: string) {
      const found = currentState()?.loadTemplate?.(name);
      if (!found) throw new UnsupportedJinjaError('include', name, `cannot find the included template '${name}'`);
      return { src: found.src, path: found.path, noCache: true };
    },
  };
  const env = new nunjucks.Environment(
    loader as unknown as nunjucks.ILoader,
    { autoescape: false, throwOnUndefined: false, trimBlocks, lstripBlocks: false, dev: true } as nunjucks.ConfigureOptions,
  ); // dev: errors keep their line
  const register = (name: string, filter: Filter): void => {
    const wrapped = function (this: FilterContext, value: unknown, ...args: unknown[]): unknown {
      if (!PASS_UNKNOWN.has(name) && directlyUnknown([value, ...args])) {
        touch(value);
        return Unknown.from([value, ...args], 'unknown');
      }
      try {
        const result = filter.call(this, value, ...args);
        touch(result);
        return result;
      } catch (error) {
        const state = currentState();
        const wrappedError = error instanceof UnsupportedJinjaError ? error : new Error(`${name}: ${(error as Error).message}`);
        if (state) state.thrown = wrappedError;
        throw wrappedError;
      }
    };
    env.addFilter(name, wrapped as never);
  };
  for (const [name, filter] of Object.entries(filters())) register(name, filter);
  for (const [name, test] of Object.entries(tests())) {
    (env as unknown as { addTest(name: string, test: unknown): void }).addTest(name, function (
      this: FilterContext,
      value: unknown,
      ...args: unknown[]
    ) {
      if (!TESTS_PASS_UNKNOWN.has(name) && directlyUnknown([value, ...args])) {
        touch(value);
        return Unknown.from([value, ...args], 'unknown');
      }
      if (value instanceof Unknown) touch(value);
      try {
        return test.call(this, value, ...args);
      } catch (error) {
        const state = currentState();
        if (state) state.thrown = error as Error;
        throw error;
      }
    } as never);
  }
  // An unknown filter or test is an error of this template only, naming it.
  const envWithLookups = env as unknown as {
    getFilter(name: string): unknown;
    getTest(name: string): unknown;
    filters: Record<string, unknown>;
    tests: Record<string, unknown>;
  };
  envWithLookups.getFilter = (name: string) => {
    const filter =
      envWithLookups.filters[name] ??
      envWithLookups.filters[name.replace(/^(ansible\.builtin|ansible\.legacy|community\.general|ansible\.utils)\./, '')];
    if (filter) return filter;
    const error = new UnsupportedJinjaError('filter', name);
    const state = currentState();
    if (state) state.thrown = error;
    throw error;
  };
  envWithLookups.getTest = (name: string) => {
    const test = envWithLookups.tests[name] ?? envWithLookups.tests[name.replace(/^(ansible\.builtin|ansible\.legacy)\./, '')];
    if (test) return test;
    const error = new UnsupportedJinjaError('test', name);
    const state = currentState();
    if (state) state.thrown = error;
    throw error;
  };
  env.addGlobal('lookup', lookupFunction(false));
  env.addGlobal('query', lookupFunction(true));
  env.addGlobal('q', lookupFunction(true));
  // Ansible's finalize prints a None result as nothing; inside a list or through `| string` it is None.
  env.addFilter(PRINT_FILTER, (value: unknown, index: number) => currentState()?.print(value, index) ?? pythonStr(value));
  env.addFilter('__capture', (value: unknown) => {
    currentState()?.capture?.(value);
    return '';
  });
  env.addGlobal('dict', (...args: unknown[]) => {
    const kwargs = bind(args, []);
    const rest = kwargs.__rest as unknown[];
    delete kwargs.__rest;
    const base = isDict(rest[0]) ? rest[0] : Array.isArray(rest[0]) ? Object.fromEntries(rest[0] as [string, unknown][]) : {};
    return { ...base, ...kwargs };
  });
  env.addGlobal('now', () => new Unknown('now() is the time the play runs'));
  return env;
}

/** The filter every `{{ expr }}` goes through (see RenderState.print). */
export const PRINT_FILTER = '__ansible_str';

export { isDict, pythonStr };
