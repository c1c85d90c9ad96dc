/**
 * Just enough POSIX shell to read the commands an Ansible task, a role's script template or a
 * Dockerfile's shell-form instruction runs: words (quotes, backslashes, line continuations,
 * `$(…)`), operators, subshell depth, comments, and Jinja constructs kept whole — Ansible renders
 * the Jinja before the shell sees the text, so a `'` inside `{{ '{{' }}` never closes a shell
 * quote. Every offset is into the text given, never into a copy.
 */
import { scanJinja, type JinjaSpan } from './jinja-mask.js';

export interface ShellWord {
  /** The word as written (quotes and Jinja included; line continuations and Jinja comments dropped). */
  readonly source: string;
  /** The word after quote removal; Jinja kept as written. `$(…)` and `$VAR` kept as written. */
  readonly value: string;
  /** True when some part of the word was quoted. */
  readonly quoted: boolean;
  readonly start: number;
  /** Just past the word's last character. */
  readonly end: number;
}

/** What ends a command: the control operators, and a line end outside a continuation (like `;`). */
export type ShellOperator = '&&' | '||' | ';' | '|' | '&' | '\n';

export type ShellToken =
  | { readonly kind: 'word'; readonly word: ShellWord }
  /** `depth` is the `(`…`)` subshell depth after the token. */
  | {
      readonly kind: 'operator';
      readonly op: ShellOperator | '(' | ')';
      readonly start: number;
      readonly end: number;
      readonly depth: number;
    }
  /** The text inside a `$(…)` (its own commands), reported before the word that holds it. */
  | { readonly kind: 'substitution'; readonly start: number; readonly end: number };

export interface ShellScanOptions {
  /** The range of `text` to read (default: all of it). */
  readonly start?: number;
  readonly end?: number;
  /** Jinja spans of the whole `text`, when the caller has them (else scanned; none if it does not scan). */
  readonly jinja?: readonly JinjaSpan[];
  /**
   * The range is a Dockerfile instruction's arguments: Docker removes its continuations (this
   * escape character, optional blanks, the line end) and the `skip` ranges (comment and blank
   * lines inside a continuation) before the shell reads the text — also inside quotes — so a
   * shell comment runs to the end of the instruction.
   */
  readonly dockerfile?: { readonly escape: string; readonly skip: readonly (readonly [number, number])[] };
}

export interface ShellCommand {
  /** Words of one simple command, without leading reserved words (`if`, `then`, `!`, …). */
  readonly words: readonly ShellWord[];
  readonly start: number;
}

/**
 * True when a file is a shell script: by its name (`.sh`, `.bash`, also as a `.j2` template) or its
 * shebang. A text that does not start with `#!` is a script only by its name: the loaders rely on
 * that to skip, from a file's first bytes, the files a module reads only as scripts (`scripts`).
 */
export function isShellScript(path: string, text: string): boolean {
  return /\.(sh|bash)(\.j2)?$/.test(path) || /^#!\S*\b(ba|da|z|k)?sh\b/.test(text) || /^#!\S*env\s+(ba|da|z|k)?sh\b/.test(text);
}

const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'time']);

function jinjaSpansOf(text: string): readonly JinjaSpan[] {
  try {
    return scanJinja(text);
  } catch {
    return [];
  }
}

/** Words, operators and `$(…)` contents of `text` (or of a range of it), in order. */
export function shellTokens(text: string, options: ShellScanOptions = {}): ShellToken[] {
  const end = options.end ?? text.length;
  const docker = options.dockerfile;
  const jinjaAt = new Map((options.jinja ?? jinjaSpansOf(text)).map((span) => [span.start, span]));
  const tokens: ShellToken[] = [];
  let depth = 0;
  let word: { source: string; value: string; quoted: boolean; start: number; end: number } | undefined;

  /** Where the text removed before the shell reads it (a continuation, a skipped line) ends, when one starts at `at`. */
  const removedUntil = (at: number): number | undefined => {
    if (docker) {
      const skipped = docker.skip.find(([from, to]) => at >= from && at < to);
      if (skipped) return skipped[1];
      if (!text.startsWith(docker.escape, at)) return undefined;
      const after = at + docker.escape.length;
      const blanksAndEol = /^[ \t]*(\r?\n|$)/.exec(text.slice(after, Math.min(end + 2, after + 64)));
      return blanksAndEol ? after + blanksAndEol[0].length : undefined;
    }
    if (text[at] !== '\\') return undefined;
    if (text[at + 1] === '\n') return at + 2;
    return text[at + 1] === '\r' && text[at + 2] === '\n' ? at + 3 : undefined;
  };
  /** Offset after the `)` that closes the `$(` at `open` (which points at `$`). */
  const closeOfSubstitution = (open: number): number => {
    let nesting = 0;
    let i = open + 1;
    while (i < end) {
      const skip = removedUntil(i) ?? jinjaAt.get(i)?.end;
      if (skip !== undefined) {
        i = skip;
        continue;
      }
      const ch = text[i];
      if (ch === '\\') i += 2;
      else if (ch === "'") {
        let j = i + 1;
        while (j < end && text[j] !== "'") j = jinjaAt.get(j)?.end ?? j + 1;
        i = j + 1;
      } else if (ch === '(') {
        nesting++;
        i++;
      } else if (ch === ')') {
        nesting--;
        i++;
        if (nesting === 0) return i;
      } else i++;
    }
    return end;
  };
  const add = (source: string, value: string, at: number, to: number, quoted = false): void => {
    word ??= { source: '', value: '', quoted: false, start: at, end: to };
    word.source += source;
    word.value += value;
    word.quoted ||= quoted;
    word.end = Math.min(to, end);
  };
  const endWord = (): void => {
    if (word) tokens.push({ kind: 'word', word: { ...word } });
    word = undefined;
  };
  const substitution = (open: number): number => {
    const close = closeOfSubstitution(open);
    tokens.push({ kind: 'substitution', start: open + 2, end: close - 1 });
    return close;
  };

  let i = options.start ?? 0;
  while (i < end) {
    const removed = removedUntil(i);
    if (removed !== undefined) {
      i = removed;
      continue;
    }
    const span = jinjaAt.get(i);
    if (span) {
      if (span.kind !== 'comment') add(text.slice(span.start, span.end), text.slice(span.start, span.end), i, span.end);
      i = span.end;
      continue;
    }
    const ch = text[i] ?? '';
    if (ch === '\\') {
      add(text.slice(i, i + 2), text[i + 1] ?? '', i, i + 2, true);
      i += 2;
      continue;
    }
    if (ch === "'") {
      // Jinja inside single quotes is still Jinja and may hold quotes of its own: skip it whole.
      let j = i + 1;
      let value = '';
      while (j < end && text[j] !== "'") {
        const removedInside = docker ? removedUntil(j) : undefined;
        if (removedInside !== undefined) {
          j = removedInside;
          continue;
        }
        const next = jinjaAt.get(j)?.end ?? j + 1;
        value += text.slice(j, next);
        j = next;
      }
      const close = Math.min(j + 1, end);
      add(text.slice(i, close), value, i, close, true);
      i = close;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let value = '';
      while (j < end && text[j] !== '"') {
        const removedInside = docker ? removedUntil(j) : undefined;
        if (removedInside !== undefined) {
          j = removedInside;
          continue;
        }
        const inner = jinjaAt.get(j);
        if (inner) {
          value += text.slice(inner.start, inner.end);
          j = inner.end;
          continue;
        }
        if (text[j] === '\\' && j + 1 < end) {
          value += '$`"\\\n'.includes(text[j + 1] ?? '') ? text[j + 1] : text.slice(j, j + 2);
          j += 2;
          continue;
        }
        if (text[j] === '$' && text[j + 1] === '(') {
          const close = substitution(j);
          value += text.slice(j, close);
          j = close;
          continue;
        }
        value += text[j];
        j++;
      }
      const close = Math.min(j + 1, end);
      add(text.slice(i, close), value, i, close, true);
      i = close;
      continue;
    }
    if (ch === '$' && text[i + 1] === '(') {
      const close = substitution(i);
      add(text.slice(i, close), text.slice(i, close), i, close);
      i = close;
      continue;
    }
    if (ch === '#' && !word) {
      // Docker joined the instruction's lines, so a comment in it runs to its end.
      const newline = docker ? -1 : text.indexOf('\n', i);
      i = newline === -1 || newline > end ? end : newline;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || (docker && ch === '\n')) {
      endWord();
      i++;
      continue;
    }
    const two = text.slice(i, i + 2);
    const op =
      two === '&&' || two === '||'
        ? two
        : ch === ';' || ch === '|' || ch === '&' || ch === '\n' || ch === '(' || ch === ')'
          ? ch
          : undefined;
    if (op) {
      endWord();
      if (op === '(') depth++;
      if (op === ')') depth = Math.max(0, depth - 1);
      tokens.push({ kind: 'operator', op, start: i, end: i + op.length, depth });
      i += op.length;
      continue;
    }
    add(ch, ch, i, i + 1);
    i++;
  }
  endWord();
  return tokens;
}

/**
 * The simple commands of a script, in order, including those inside `$(…)` (after the command
 * that holds them). Offsets are into `text`.
 */
export function shellCommands(text: string): ShellCommand[] {
  return commandsIn(text, 0, text.length, jinjaSpansOf(text));
}

function commandsIn(text: string, start: number, end: number, jinja: readonly JinjaSpan[]): ShellCommand[] {
  const commands: ShellCommand[] = [];
  const nested: ShellCommand[] = [];
  let words: ShellWord[] = [];
  const endCommand = (): void => {
    let first = 0;
    while (first < words.length && !words[first]?.quoted && RESERVED.has(words[first]?.value ?? '')) first++;
    const kept = words.slice(first);
    if (kept.length > 0) commands.push({ words: kept, start: kept[0]?.start ?? 0 });
    commands.push(...nested.splice(0));
    words = [];
  };
  for (const token of shellTokens(text, { start, end, jinja })) {
    if (token.kind === 'word') words.push(token.word);
    else if (token.kind === 'substitution') nested.push(...commandsIn(text, token.start, token.end, jinja));
    else endCommand();
  }
  endCommand();
  return commands;
}

/** The words after leading `VAR=value` assignments and `sudo`/`exec`/`command`/`env` wrappers. */
export function commandWords(command: ShellCommand): readonly ShellWord[] {
  let first = 0;
  const words = command.words;
  while (first < words.length) {
    const value = words[first]?.value ?? '';
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(value) || ['sudo', 'exec', 'command', 'env', 'nice'].includes(value)) first++;
    else break;
  }
  return words.slice(first);
}

/** The values of commandWords: the command and its arguments as the program gets them (Jinja as written). */
export function commandWordValues(command: ShellCommand): string[] {
  return commandWords(command).map((word) => word.value);
}

/** `docker run` options that take no value (everything else takes one unless written `--opt=value`). */
const DOCKER_RUN_FLAGS = new Set([
  '--detach',
  '--interactive',
  '--tty',
  '--rm',
  '--privileged',
  '--publish-all',
  '--init',
  '--read-only',
  '--sig-proxy',
  '--no-healthcheck',
  '--oom-kill-disable',
  '--quiet',
  '--disable-content-trust',
  '--help',
  '--use-api-socket',
]);
const DOCKER_RUN_SHORT_FLAGS = new Set(['d', 'i', 't', 'P', 'q']);

export interface DockerRun {
  readonly command: ShellCommand;
  /** The image word (its `value` is the image reference, Jinja kept); undefined when none follows the options. */
  readonly image: ShellWord | undefined;
}

/** Every `docker run` / `docker container run` of a script with the image it runs. */
export function dockerRuns(text: string): DockerRun[] {
  const runs: DockerRun[] = [];
  for (const command of shellCommands(text)) {
    const words = commandWords(command);
    if (words[0]?.value !== 'docker') continue;
    let i = 1;
    // docker's own global options (`docker --context x run …`, `-H host`)
    while (i < words.length && (words[i]?.value ?? '').startsWith('-'))
      i += (words[i]?.value ?? '').includes('=') || ['-D', '--debug'].includes(words[i]?.value ?? '') ? 1 : 2;
    if (words[i]?.value === 'container') i++;
    if (words[i]?.value !== 'run') continue;
    i++;
    let image: ShellWord | undefined;
    while (i < words.length) {
      const word = words[i] as ShellWord;
      const value = word.value;
      if (value === '--') {
        image = words[i + 1];
        break;
      }
      if (!value.startsWith('-') || value === '-') {
        image = word;
        break;
      }
      if (value.startsWith('--')) i += value.includes('=') || DOCKER_RUN_FLAGS.has(value) ? 1 : 2;
      else {
        // -it, -d, -v x, -eFOO=bar: flags until the first letter that takes a value
        const letters = value.slice(1);
        const valueLetter = [...letters].findIndex((letter) => !DOCKER_RUN_SHORT_FLAGS.has(letter));
        i += valueLetter === -1 || valueLetter < letters.length - 1 ? 1 : 2;
      }
    }
    runs.push({ command, image });
  }
  return runs;
}

/** `docker exec` options that take a value. */
const DOCKER_EXEC_VALUE_OPTIONS = new Set(['-u', '--user', '-e', '--env', '-w', '--workdir', '--env-file']);

/** A `docker exec` command, read from its words. */
export interface DockerExec {
  /** Source of the options between `exec` and the container (`-u node`), to reuse in new commands. */
  readonly options: string[];
  /** Source of the container name (may be Jinja). */
  readonly container: string;
  /** The values of the words after the container (quotes removed, Jinja as written). */
  readonly command: string[];
}

/** The command's `docker exec` (its words from the first, as written: no `sudo` or assignment before it), or undefined. */
export function dockerExecOf(words: readonly ShellWord[]): DockerExec | undefined {
  if (!/(^|\/)docker$/.test(words[0]?.value ?? '') || words[1]?.value !== 'exec') return undefined;
  const options: string[] = [];
  let i = 2;
  while (i < words.length && (words[i]?.value ?? '').startsWith('-')) {
    const option = words[i]?.value ?? '';
    options.push(words[i]?.source ?? '');
    if (DOCKER_EXEC_VALUE_OPTIONS.has(option)) options.push(words[++i]?.source ?? '');
    i++;
  }
  const container = words[i];
  if (container === undefined) return undefined;
  return { options, container: container.source, command: words.slice(i + 1).map((word) => word.value) };
}

// ---------------------------------------------------------------------------------------------
// Resolving a word's parameter expansions, as the shell would, where that can be done statically

/** What a script sets: each variable's assigned values, in order, and whether it reads other files' variables. */
export interface ShellVariables {
  readonly assigned: ReadonlyMap<string, readonly { readonly value: string; readonly start: number }[]>;
  /** `source file` / `. file` / `set -a` / `eval` before the word: a variable the script does not set may come from there. */
  readonly importsAt: readonly number[];
}

/** The assignments of a script (`NAME=value`, `export NAME=value`, `readonly`/`declare`/`local NAME=value`) and its `source`s. */
export function shellVariables(text: string): ShellVariables {
  const assigned = new Map<string, { value: string; start: number }[]>();
  const importsAt: number[] = [];
  for (const command of shellCommands(text)) {
    const words = command.words;
    const first = words[0]?.value ?? '';
    if (['source', '.', 'eval'].includes(first) || (first === 'set' && words.some((word) => /^-\w*a/.test(word.value))))
      importsAt.push(command.start);
    const declaring = ['export', 'readonly', 'declare', 'local', 'typeset'].includes(first);
    const candidates = declaring ? words.slice(1) : words.every((word) => /^[A-Za-z_]\w*=/.test(word.value)) ? words : [];
    for (const word of candidates) {
      const assignment = /^([A-Za-z_]\w*)=([\s\S]*)$/.exec(word.value);
      if (!assignment) continue;
      const name = assignment[1]!;
      assigned.set(name, [...(assigned.get(name) ?? []), { value: assignment[2] ?? '', start: word.start }]);
    }
  }
  return { assigned, importsAt };
}

export type ResolvedWord = { readonly value: string } | { readonly unresolved: string };

/**
 * The word's value with every parameter expansion replaced by what the shell would put there,
 * when that is known without running anything: `$NAME`/`${NAME}` set once before `at` (or to
 * one value every time), `${NAME:-default}`/`${NAME-default}`/`${NAME:=default}` (the value,
 * else the default when the script never sets it and imports nothing). Anything else — a
 * command substitution, a positional or special parameter, `${NAME:+…}`, `${#NAME}`, pattern
 * operators, a variable the script does not set — is `unresolved`, with the reason: never a
 * literal copy of `$…`. Jinja is left as written (Ansible renders it, in YAML as in the script).
 */
export function resolveShellWord(value: string, variables: ShellVariables, at: number, depth = 0): ResolvedWord {
  // Jinja is rendered before the shell ever runs, so an expression is one opaque piece of text to
  // the shell: `${BACKUP_IMAGE:-{{ backup_helper_image }}}` has the default `{{ backup_helper_image }}`,
  // whose own braces must not end the expansion. Mask each expression, resolve, then put it back.
  const jinja: string[] = [];
  const masked = value.replace(/\{\{[\s\S]*?\}\}/g, (expression) => `\u0000${jinja.push(expression) - 1}\u0000`);
  const unmask = (text: string): string => text.replace(/\u0000(\d+)\u0000/g, (_, index: string) => jinja[Number(index)] ?? '');
  if (/\$\(|`/.test(masked.replace(/\u0000\d+\u0000/g, ''))) return { unresolved: `${value} is computed by a command` };
  const expansion = /\$(?:\{([^}]*)\}|([A-Za-z_]\w*)|([0-9@*#?$!-]))/g;
  let out = '';
  let last = 0;
  for (const match of masked.matchAll(expansion)) {
    out += masked.slice(last, match.index);
    last = match.index + match[0].length;
    if (match[3] !== undefined) return { unresolved: `${value} uses the shell parameter $${match[3]}, known only when the script runs` };
    const body = match[1] ?? match[2] ?? '';
    const parts = /^([A-Za-z_]\w*)(?:(:?[-=])([\s\S]*))?$/.exec(body);
    if (!parts) return { unresolved: `${value} uses \${${unmask(body)}}, an expansion whose value is known only when the script runs` };
    const name = parts[1]!;
    const fallback = parts[2] !== undefined ? unmask(parts[3] ?? '') : undefined;
    const before = (variables.assigned.get(name) ?? []).filter((assignment) => assignment.start < at);
    const values = [...new Set(before.map((assignment) => assignment.value))];
    let replacement: string;
    // Where the replacement is read: an assignment's value is expanded where it is written, so
    // `BACKUP_IMAGE="${BACKUP_IMAGE:-…}"` refers to what BACKUP_IMAGE was before that line, not to itself.
    let readAt = at;
    if (values.length > 1)
      return { unresolved: `${value} uses $${name}, which the script sets to different values (${values.join(', ')})` };
    if (values.length === 1 && !(values[0] === '' && parts[2]?.startsWith(':'))) {
      replacement = values[0]!;
      readAt = before.at(-1)!.start;
    } else if (fallback !== undefined && variables.importsAt.every((start) => start >= at)) replacement = fallback;
    else if (variables.importsAt.some((start) => start < at))
      return { unresolved: `${value} uses $${name}, which the script does not set: it may come from a file it sources` };
    else return { unresolved: `${value} uses $${name}, which the script does not set (it would come from the environment)` };
    if (depth > 8) return { unresolved: `${value}: variables refer to each other too deeply` };
    const inner = resolveShellWord(replacement, variables, readAt, depth + 1);
    if ('unresolved' in inner) return inner;
    out += inner.value;
  }
  out += masked.slice(last);
  return { value: unmask(out) };
}

/** Shell builtins: their arguments never become another process's argv. */
export const SHELL_BUILTINS = new Set([
  'echo',
  'printf',
  'export',
  'local',
  'readonly',
  'declare',
  'typeset',
  'read',
  'test',
  '[',
  '[[',
  ':',
  'set',
  'unset',
  'return',
  'exit',
  'true',
  'false',
]);
