/**
 * Just enough POSIX shell to read the commands an Ansible task or a role's script template
 * runs: words (quotes, backslashes, `\`-newline continuations, `$(…)`), command separators,
 * comments, and Jinja constructs kept whole — Ansible renders the Jinja before the shell sees
 * the text, so a `'` inside `{{ '{{' }}` never closes a shell quote.
 */
import { scanJinja, type JinjaSpan } from '../../src/jinja-mask.js';

export interface ShellWord {
  /** The word as written (quotes and Jinja included). */
  readonly source: string;
  /** The word after quote removal; Jinja kept as written. `$(…)` and `$VAR` kept as written. */
  readonly value: string;
  /** True when some part of the word was quoted. */
  readonly quoted: boolean;
  readonly start: number;
  readonly end: number;
}

export interface ShellCommand {
  /** Words of one simple command, without leading reserved words (`if`, `then`, `!`, …). */
  readonly words: readonly ShellWord[];
  readonly start: number;
}

const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'time']);

/** Offset after the `)` that closes the `$(` starting at `open` (which points at `$`). */
function closeOfSubstitution(text: string, open: number, jinjaAt: Map<number, JinjaSpan>): number {
  let depth = 0;
  let i = open + 1;
  while (i < text.length) {
    const jinja = jinjaAt.get(i);
    if (jinja) {
      i = jinja.end;
      continue;
    }
    const ch = text[i];
    if (ch === '\\') i += 2;
    else if (ch === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== "'") j = jinjaAt.get(j)?.end ?? j + 1;
      i = j + 1;
    }
    else if (ch === '(') {
      depth++;
      i++;
    } else if (ch === ')') {
      depth--;
      i++;
      if (depth === 0) return i;
    } else i++;
  }
  return text.length;
}

/**
 * The simple commands of a script, in order, including those inside `$(…)` (after the command
 * that holds them). Offsets are into `text`.
 */
export function shellCommands(text: string, offset = 0): ShellCommand[] {
  let jinja: JinjaSpan[] = [];
  try {
    jinja = scanJinja(text);
  } catch {
    jinja = [];
  }
  const jinjaAt = new Map(jinja.map((span) => [span.start, span]));
  const commands: ShellCommand[] = [];
  const nested: ShellCommand[] = [];
  let words: ShellWord[] = [];
  let word: { source: string; value: string; quoted: boolean; start: number } | undefined;

  const endWord = (end: number): void => {
    if (word) words.push({ ...word, end: end + offset, start: word.start + offset });
    word = undefined;
  };
  const endCommand = (): void => {
    let first = 0;
    while (first < words.length && !words[first]?.quoted && RESERVED.has(words[first]?.value ?? '')) first++;
    const kept = words.slice(first);
    if (kept.length > 0) commands.push({ words: kept, start: kept[0]?.start ?? 0 });
    commands.push(...nested.splice(0));
    words = [];
  };
  const add = (source: string, value: string, at: number, quoted = false): void => {
    if (!word) word = { source: '', value: '', quoted: false, start: at };
    word.source += source;
    word.value += value;
    word.quoted ||= quoted;
  };

  let i = 0;
  while (i < text.length) {
    const span = jinjaAt.get(i);
    if (span) {
      if (span.kind === 'comment') {
        i = span.end;
        continue;
      }
      const piece = text.slice(span.start, span.end);
      add(piece, piece, i);
      i = span.end;
      continue;
    }
    const ch = text[i] ?? '';
    if (ch === '\\' && text[i + 1] === '\n') {
      i += 2; // line continuation
      continue;
    }
    if (ch === '\\' && text[i + 1] === '\r' && text[i + 2] === '\n') {
      i += 3;
      continue;
    }
    if (ch === '\\') {
      add(text.slice(i, i + 2), text[i + 1] ?? '', i, true);
      i += 2;
      continue;
    }
    if (ch === "'") {
      // Jinja inside single quotes is still Jinja and may hold quotes of its own: skip it whole.
      let j = i + 1;
      while (j < text.length && text[j] !== "'") j = jinjaAt.get(j)?.end ?? j + 1;
      add(text.slice(i, j + 1), text.slice(i + 1, j), i, true);
      i = j + 1;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== '"') {
        const inner = jinjaAt.get(j);
        if (inner) {
          value += text.slice(inner.start, inner.end);
          j = inner.end;
          continue;
        }
        if (text[j] === '\\' && j + 1 < text.length) {
          value += '$`"\\\n'.includes(text[j + 1] ?? '') ? text[j + 1] : text.slice(j, j + 2);
          j += 2;
          continue;
        }
        if (text[j] === '$' && text[j + 1] === '(') {
          const close = closeOfSubstitution(text, j, jinjaAt);
          nested.push(...shellCommands(text.slice(j + 2, close - 1), offset + j + 2));
          value += text.slice(j, close);
          j = close;
          continue;
        }
        value += text[j];
        j++;
      }
      add(text.slice(i, j + 1), value, i, true);
      i = j + 1;
      continue;
    }
    if (ch === '$' && text[i + 1] === '(') {
      const close = closeOfSubstitution(text, i, jinjaAt);
      nested.push(...shellCommands(text.slice(i + 2, close - 1), offset + i + 2));
      add(text.slice(i, close), text.slice(i, close), i);
      i = close;
      continue;
    }
    if (ch === '#' && !word) {
      const newline = text.indexOf('\n', i);
      i = newline === -1 ? text.length : newline;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      endWord(i);
      i++;
      continue;
    }
    if (ch === '\n' || ch === ';' || ch === '&' || ch === '|' || ch === '(' || ch === ')') {
      endWord(i);
      endCommand();
      i++;
      continue;
    }
    add(ch, ch, i);
    i++;
  }
  endWord(text.length);
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

/** `docker run` options that take no value (everything else takes one unless written `--opt=value`). */
const DOCKER_RUN_FLAGS = new Set([
  '--detach', '--interactive', '--tty', '--rm', '--privileged', '--publish-all', '--init', '--read-only',
  '--sig-proxy', '--no-healthcheck', '--oom-kill-disable', '--quiet', '--disable-content-trust', '--help', '--use-api-socket',
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
    while (i < words.length && (words[i]?.value ?? '').startsWith('-')) i += (words[i]?.value ?? '').includes('=') || ['-D', '--debug'].includes(words[i]?.value ?? '') ? 1 : 2;
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
