/**
 * Ansible task files (tasks/, handlers/) for the patch modules: find tasks wherever they sit
 * (top level or inside block/rescue/always), tell which module a task runs and what command a
 * command/shell/raw task runs, and insert or replace whole tasks in the file's own style.
 *
 * New tasks are written by the modules as lines with a 2-space indentation step, the first
 * line starting with `- ` at column 0; `reindentTask` moves them to the column of the task they
 * go beside and converts the step to the file's own (4-space files get 4-space nesting).
 */
import { isMap, isScalar, isSeq, YAMLSeq, type Node as YamlNode, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { parseYamlSnippet, parseYamlTemplate, sourceOf, type ParsedTemplate } from './template-yaml.js';
import { eolOf, indentStepOf, lineStartAt } from './text.js';
import type { TextEdit } from '../core/types.js';
import { endOfNodeLines, keptCommentLines, pairOf, where } from './yaml-edit.js';
import { isModuleKey } from './ansible-task-keywords.js';
import { UnrecognisedShape } from '../core/errors.js';

export interface TaskFile {
  readonly tpl: ParsedTemplate;
  /** The top-level task list. */
  readonly list: YAMLSeq;
}

export type TaskSection = 'tasks' | 'block' | 'rescue' | 'always';

export interface Task {
  readonly file: TaskFile;
  readonly map: YAMLMap;
  /** The list holding the task, and its position there. */
  readonly seq: YAMLSeq;
  readonly index: number;
  readonly section: TaskSection;
  /** The block task this one sits in, if any. */
  readonly parent: Task | undefined;
  readonly name: string | undefined;
  /** The module key as written (`ansible.builtin.command`, `command`), undefined for a block. */
  readonly module: string | undefined;
  /** The module's short name (`command`). */
  readonly shortModule: string | undefined;
}

/**
 * Parses a task or handler file; UnrecognisedShape when it is not a list of tasks. An empty
 * file (nothing, `---`, only comments) is a valid one without tasks, as Ansible reads it.
 */
export function readTaskFile(path: string, text: string): TaskFile {
  const tpl = parseYamlTemplate(path, text);
  const list = tpl.documents[0]?.contents ?? null;
  if (list === null || (isScalar(list) && list.value === null)) return { tpl, list: new YAMLSeq() };
  if (!isSeq(list)) throw new UnrecognisedShape(`${path} is not a list of tasks`);
  return { tpl, list };
}

/** The module key of a task map, as written; undefined for a block or an unknown shape. */
function moduleOf(map: YAMLMap): string | undefined {
  for (const pair of map.items) {
    if (!isScalar(pair.key)) continue;
    const key = String(pair.key.value);
    if (isModuleKey(key)) return key;
  }
  return undefined;
}

function shortModuleName(module: string): string {
  return module.slice(module.lastIndexOf('.') + 1);
}

function scalarValue(map: YAMLMap, key: string): string | undefined {
  const pair = map.items.find((item) => isScalar(item.key) && String(item.key.value) === key);
  return pair && isScalar(pair.value) ? String(pair.value.value) : undefined;
}

/** Every task of the file, depth first: a block comes before the tasks inside it. */
export function tasksOf(file: TaskFile): Task[] {
  const found: Task[] = [];
  const visit = (seq: YAMLSeq, section: TaskSection, parent: Task | undefined): void => {
    seq.items.forEach((item, index) => {
      if (!isMap(item)) return;
      const module = moduleOf(item);
      const task: Task = {
        file,
        map: item,
        seq,
        index,
        section,
        parent,
        name: scalarValue(item, 'name'),
        module,
        shortModule: module === undefined ? undefined : shortModuleName(module),
      };
      found.push(task);
      for (const nested of ['block', 'rescue', 'always'] as const) {
        const pair = item.items.find((p) => isScalar(p.key) && p.key.value === nested);
        if (pair && isSeq(pair.value)) visit(pair.value, nested, task);
      }
    });
  };
  visit(file.list, 'tasks', undefined);
  return found;
}

/** True when the file names modules fully qualified (`ansible.builtin.copy`); true for a file with no module yet. */
export function fqcnStyle(file: TaskFile): boolean {
  const modules = tasksOf(file).flatMap((task) => (task.module ? [task.module] : []));
  if (modules.length === 0) return true;
  return modules.filter((module) => module.includes('.')).length * 2 >= modules.length;
}

/** The key to write for a module in this file's style: `ansible.builtin.copy` or `copy`. */
export function moduleKey(file: TaskFile, short: string, collection = 'ansible.builtin'): string {
  return fqcnStyle(file) ? `${collection}.${short}` : short;
}

/** Column of the task's dash and the width from the dash to its first key (usually 2). */
function dashOf(task: Task): { column: number; width: number; lineStart: number; comment: string | undefined } {
  const { text } = task.file.tpl;
  const start = task.map.range?.[0] ?? 0;
  const lineStart = lineStartAt(text, start);
  const dash = /^([ \t]*)-([ \t]+)$/.exec(text.slice(lineStart, start));
  if (dash) return { column: (dash[1] ?? '').length, width: 1 + (dash[2] ?? '').length, lineStart, comment: undefined };
  // `- # about this task` with the first key on a later line (comment lines may sit between).
  if (text.slice(lineStart, start).trim() === '') {
    const keyColumn = start - lineStart;
    for (let at = lineStart; at > 0;) {
      const previous = lineStartAt(text, at - 1);
      const line = text.slice(previous, at).replace(/\r?\n$/, '');
      const alone = /^([ \t]*)-[ \t]*(#.*)?$/.exec(line);
      if (alone && (alone[1] ?? '').length < keyColumn) {
        return { column: (alone[1] ?? '').length, width: keyColumn - (alone[1] ?? '').length, lineStart: previous, comment: alone[2] };
      }
      if (line.trim() !== '' && !line.trim().startsWith('#')) break;
      at = previous;
    }
  }
  throw new UnrecognisedShape(`task at ${where(task.file.tpl, task.map)} does not start its own list item line`);
}

const BLOCK_SCALAR_HEADER = /:\s*[|>][-+0-9]*\s*(#.*)?$/;

/**
 * Re-indents task lines written with a 2-space step (first line `- …` at column 0) to start at
 * `column`, using `step` spaces per nesting level and `dashWidth` from a dash to its content.
 * Block scalar bodies keep their relative indentation.
 */
function reindentTask(lines: readonly string[], column: number, step: number, dashWidth = 2): string[] {
  // input indentation → output indentation, for the levels currently open
  let known = new Map<number, number>([[0, column]]);
  let scalar: { keyIndent: number; delta: number | undefined } | undefined;
  const out: string[] = [];
  for (const line of lines) {
    const content = line.trimStart();
    const indent = line.length - content.length;
    if (content === '') {
      out.push('');
      continue;
    }
    if (scalar && indent > scalar.keyIndent) {
      if (scalar.delta === undefined) {
        const parent = Math.max(...[...known.keys()].filter((level) => level <= scalar!.keyIndent));
        scalar.delta = (known.get(parent) ?? column) + step - indent;
      }
      out.push(' '.repeat(indent + scalar.delta) + content);
      continue;
    }
    scalar = undefined;
    let target = known.get(indent);
    if (target === undefined) {
      const parent = Math.max(...[...known.keys()].filter((level) => level < indent));
      target = (known.get(parent) ?? column) + step;
    }
    known = new Map([...known].filter(([level]) => level <= indent));
    known.set(indent, target);
    if (content.startsWith('- ')) known.set(indent + 2, target + dashWidth);
    if (BLOCK_SCALAR_HEADER.test(content)) scalar = { keyIndent: indent, delta: undefined };
    out.push(' '.repeat(target) + (content.startsWith('- ') ? '-' + ' '.repeat(dashWidth - 1) + content.slice(2) : content));
  }
  return out;
}

/** True when the tasks of the list holding `task` are separated by blank lines (new tasks follow suit). */
export function tasksSeparatedByBlankLines(task: Task): boolean {
  const { text } = task.file.tpl;
  const items = task.seq.items.filter(isMap);
  for (let i = 1; i < items.length; i++) {
    const previousEnd = (items[i - 1] as YamlNode).range?.[1] ?? 0;
    const nextStart = (items[i] as YamlNode).range?.[0] ?? 0;
    if (/\n[ \t]*\r?\n/.test(text.slice(Math.max(0, previousEnd - 1), nextStart))) return true;
  }
  return false;
}

function taskBlockText(anchor: Task, tasks: readonly (readonly string[])[]): { body: string; separator: string; eol: string } {
  const { tpl } = anchor.file;
  const eol = eolOf(tpl.text);
  const dash = dashOf(anchor);
  const step = indentStepOf(tpl.text);
  const rendered = tasks.map((lines) => reindentTask(lines, dash.column, step, dash.width).join(eol) + eol);
  const separator = tasksSeparatedByBlankLines(anchor) ? eol : '';
  return { body: rendered.join(separator), separator, eol };
}

/** Inserts whole tasks right after `anchor` (at its level), in the file's style. */
export function insertTasksAfter(anchor: Task, tasks: readonly (readonly string[])[]): TextEdit {
  const { tpl } = anchor.file;
  const { body, separator, eol } = taskBlockText(anchor, tasks);
  const offset = endOfNodeLines(tpl, anchor.map);
  const needsNewline = offset === tpl.text.length && tpl.text.length > 0 && !tpl.text.endsWith('\n');
  return { path: tpl.path, start: offset, end: offset, text: (needsNewline ? eol : '') + separator + body };
}

/**
 * Replaces a run of consecutive tasks of one list, from `first`'s dash line through `last`'s
 * last line (comments between them included), with whole tasks in the file's style. Full-line
 * comments the user wrote inside the replaced tasks are not ours to drop: they stay, above the
 * new tasks.
 */
export function replaceTaskRun(first: Task, last: Task, tasks: readonly (readonly string[])[]): TextEdit {
  if (first.seq !== last.seq || first.index > last.index) {
    throw new UnrecognisedShape(
      `tasks at ${where(first.file.tpl, first.map)} and ${where(last.file.tpl, last.map)} are not a run of one list`,
    );
  }
  const { tpl } = first.file;
  const eol = eolOf(tpl.text);
  const { body } = taskBlockText(first, tasks);
  const dash = dashOf(first);
  const start = dash.lineStart;
  const end = endOfNodeLines(tpl, last.map);
  // A comment on the dash line (`- # why`) is kept too, as a line of its own.
  const dashComment = dash.comment ? ' '.repeat(dash.column) + dash.comment + eol : '';
  const comments = dashComment + keptCommentLines(tpl.text, start, end);
  const text = (comments && !comments.endsWith('\n') ? comments + eol : comments) + body;
  const keepsNoFinalNewline = end === tpl.text.length && !tpl.text.endsWith('\n');
  return { path: tpl.path, start, end, text: keepsNoFinalNewline ? text.replace(/\r?\n$/, '') : text };
}

// ---------------------------------------------------------------------------------------------
// What a command/shell/raw task runs

const COMMAND_MODULES = new Set(['command', 'shell', 'raw']);

/** The command of a command/shell/raw task, and the YAML entries that hold it. */
export interface TaskCommand {
  /** free: `shell: docker …`; cmd: `cmd: …`; argv: `argv: [...]` (the last two under the module or under `args:`). */
  readonly form: 'free' | 'cmd' | 'argv';
  /** The command line as the module gets it, Jinja unrendered; an argv's words joined, shell-quoted. */
  readonly text: string;
  /** The argv form's words, as written. */
  readonly argv: readonly string[] | undefined;
  readonly modulePair: Pair<Scalar, YamlNode | null>;
  /** The entry whose value is the command (the module entry itself for the free form). */
  readonly holder: Pair<Scalar, YamlNode | null>;
}

/**
 * An entry's value as Ansible reads it before templating (a folded scalar folded, quotes and
 * escapes resolved, Jinja as text — the parsed template only has filler there): the entry's own
 * lines parsed as plain YAML. Undefined when they are not plain YAML once Jinja is read as text.
 * `inFlow`: the entry stands in a flow mapping (`{src: a, dest: b}`), where its text ends with its value.
 */
export function valueAsWritten(tpl: ParsedTemplate, pair: Pair<Scalar, YamlNode | null>, inFlow = false): unknown {
  const { text } = tpl;
  const keyStart = pair.key.range?.[0] ?? 0;
  if (inFlow) {
    // In a flow mapping only a scalar's own text is the entry's: plain as written, quoted with its escapes resolved.
    const value = pair.value;
    if (!isScalar(value)) return undefined;
    const source = sourceOf(tpl, value);
    if (value.type === 'PLAIN') return source;
    try {
      return parseYamlSnippet(source);
    } catch {
      return undefined;
    }
  }
  const column = keyStart - lineStartAt(text, keyStart);
  const lines = (' '.repeat(column) + text.slice(keyStart, endOfNodeLines(tpl, pair))).split(/\r?\n/);
  const dedented = lines.map((line) => line.slice(Math.min(column, line.length - line.trimStart().length))).join('\n');
  try {
    return (parseYamlSnippet(dedented) as Record<string, unknown>)[String(pair.key.value)];
  } catch {
    return undefined;
  }
}

/** The module's parameters when they are written as a mapping (block or flow); undefined for free-form `key=value` text, or none. */
export function moduleParameters(task: Task): YAMLMap | undefined {
  if (task.module === undefined) return undefined;
  const value = pairOf(task.map, task.module)?.value;
  return isMap(value) ? value : undefined;
}

/** A module parameter's value as written (see valueAsWritten) when it is a string; undefined when absent or not a string. */
export function parameterText(task: Task, name: string): string | undefined {
  const parameters = moduleParameters(task);
  const pair = parameters ? pairOf(parameters, name) : undefined;
  const value = pair ? valueAsWritten(task.file.tpl, pair, parameters?.flow ?? false) : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** A word as a POSIX shell reads it back: plain when it can be (blanks inside Jinja allowed), else single-quoted. */
function shellQuote(word: string): string {
  if (/^[\w@%+=:,./{}\- ]*$/.test(word) && !/\s/.test(word.replace(/\{\{.*?\}\}/g, ''))) return word;
  return `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * The command a command/shell/raw task runs; undefined for another module, or when the command
 * is missing or not a string (a list of words for argv).
 */
export function taskCommand(task: Task): TaskCommand | undefined {
  if (task.module === undefined || !COMMAND_MODULES.has(task.shortModule ?? '')) return undefined;
  const { tpl } = task.file;
  const modulePair = pairOf(task.map, task.module);
  if (!modulePair) return undefined;
  if (isScalar(modulePair.value) && modulePair.value.value !== null) {
    const text = valueAsWritten(tpl, modulePair);
    return typeof text === 'string' ? { form: 'free', text, argv: undefined, modulePair, holder: modulePair } : undefined;
  }
  const args = pairOf(task.map, 'args')?.value;
  for (const parameters of [modulePair.value, args]) {
    if (!isMap(parameters)) continue;
    const cmd = pairOf(parameters, 'cmd');
    if (cmd) {
      const text = valueAsWritten(tpl, cmd);
      return typeof text === 'string' ? { form: 'cmd', text, argv: undefined, modulePair, holder: cmd } : undefined;
    }
    const argvPair = pairOf(parameters, 'argv');
    if (argvPair) {
      const argv = valueAsWritten(tpl, argvPair);
      if (!Array.isArray(argv)) return undefined;
      const words = argv.map(String);
      return { form: 'argv', text: words.map(shellQuote).join(' '), argv: words, modulePair, holder: argvPair };
    }
  }
  return undefined;
}
