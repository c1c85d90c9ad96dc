/**
 * Just enough POSIX shell reading for verify: split a script (a RUN line, a healthcheck, a
 * task's command, a maintenance script) into simple commands and their words, so checks
 * look at what runs rather than at substrings. Quotes are honoured; `$(…)` and backticks stay
 * inside their word; `&&`, `||`, `;`, `|` and newlines separate commands.
 */

export interface SimpleCommand {
  /** The words with quotes removed (`"a b"` → `a b`). */
  readonly words: readonly string[];
  /** Offset of the command's first character in the script. */
  readonly start: number;
  /** The operator that ends it (`&&`, `||`, `;`, `|`, newline as `\n`, or '' at the end). */
  readonly operator: string;
}

/** Joins backslash-newline continuations (Dockerfile RUN, shell scripts) into one logical line each. */
export function joinContinuations(text: string): string {
  return text.replace(/\\\r?\n/g, ' ');
}

const LEADING_KEYWORDS = new Set(['then', 'do', 'else', '{']);

export function splitCommands(script: string): SimpleCommand[] {
  const commands: SimpleCommand[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let start = -1;
  const endWord = (): void => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = (operator: string): void => {
    endWord();
    // `then`, `do`, `else` on a line of their own lead into the next line's command.
    if (operator === '\n' && words.length === 1 && LEADING_KEYWORDS.has(words[0] ?? '')) return;
    if (words.length > 0) commands.push({ words, start, operator });
    words = [];
    start = -1;
  };
  let i = 0;
  while (i < script.length) {
    const ch = script[i] ?? '';
    const two = script.slice(i, i + 2);
    if (!inWord && ch === '#') {
      // A comment runs to the end of the line.
      while (i < script.length && script[i] !== '\n') i++;
      continue;
    }
    if (two === '\\\n' || script.startsWith('\\\r\n', i)) {
      // A line continuation: nothing, not even a word break.
      i += two === '\\\n' ? 2 : 3;
      continue;
    }
    if (two === '&&' || two === '||') {
      endCommand(two);
      i += 2;
      continue;
    }
    if (ch === ';' || ch === '|' || ch === '\n' || ch === '&') {
      endCommand(ch === '&' ? ';' : ch);
      i++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      endWord();
      i++;
      continue;
    }
    if (start === -1) start = i;
    inWord = true;
    if (ch === "'") {
      const close = script.indexOf("'", i + 1);
      const end = close === -1 ? script.length : close;
      word += script.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < script.length && script[j] !== '"') {
        if (script[j] === '\\' && j + 1 < script.length) {
          word += script[j + 1];
          j += 2;
        } else if (script.startsWith('$(', j)) {
          const end = matchingParen(script, j + 1);
          word += script.slice(j, end + 1);
          j = end + 1;
        } else {
          word += script[j];
          j++;
        }
      }
      i = j + 1;
    } else if (script.startsWith('$(', i)) {
      const end = matchingParen(script, i + 1);
      word += script.slice(i, end + 1);
      i = end + 1;
    } else if (ch === '`') {
      const close = script.indexOf('`', i + 1);
      const end = close === -1 ? script.length : close;
      word += script.slice(i, end + 1);
      i = end + 1;
    } else if (ch === '\\' && i + 1 < script.length) {
      word += script[i + 1];
      i += 2;
    } else {
      word += ch;
      i++;
    }
  }
  endCommand('');
  return commands;
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return i;
  }
  return text.length - 1;
}

/** Words that precede the program without being it: shell keywords, `exec`, `sudo`, `env`. */
const PREFIX_WORDS = new Set(['if', 'elif', 'then', 'else', 'while', 'until', 'do', '!', '{', '(', 'exec', 'sudo', 'env']);

/** The command's program name without its directory (`/usr/bin/nc` → `nc`), skipping `exec`, `sudo`, `env X=y`. */
export function programOf(command: SimpleCommand): { name: string; args: readonly string[] } {
  let index = 0;
  const words = command.words;
  while (index < words.length) {
    const word = words[index] ?? '';
    if (PREFIX_WORDS.has(word) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(word)) index++;
    else break;
  }
  const name = (words[index] ?? '').split('/').pop() ?? '';
  return { name, args: words.slice(index + 1) };
}

/** Words inside `$(cat FILE)`, `$(<FILE)` or `` `cat FILE` ``: the files whose content a command substitutes into its arguments. */
export function substitutedFiles(text: string): string[] {
  const files: string[] = [];
  for (const match of text.matchAll(/\$\(\s*(?:cat\s+|<\s*)(["']?)([^"')\s]+)\1\s*\)|`\s*cat\s+(["']?)([^"'`\s]+)\3\s*`/g)) {
    const file = match[2] ?? match[4];
    if (file) files.push(file);
  }
  return files;
}
