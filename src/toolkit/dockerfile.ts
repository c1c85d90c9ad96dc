/**
 * A small, lossless reader for Dockerfile templates (Jinja `{{ }}` / `{% %}` / `{# #}` allowed),
 * shared by the patch modules that edit the Smokescreen image (Bug 1: runtime stage, Bug 3:
 * build stage).
 *
 * Nothing is re-serialised: every instruction, shell command and word carries offsets into the
 * ORIGINAL text, so a patch edits exactly the bytes it means to and everything else (comments,
 * blank lines, CRLF, Jinja) stays as it was.
 *
 * What it understands, following Docker's own rules:
 * - instructions (`KEYWORD args`), keywords case-insensitive, reported upper-cased;
 * - line continuations with the escape character (`\`, or the one set by a `# escape=` parser
 *   directive) — comment lines and blank lines inside a continuation are skipped, as Docker does;
 * - heredocs (`RUN <<EOF … EOF`): the instruction runs to the terminator line, and is flagged so
 *   callers can refuse to split it;
 * - stages: every `FROM image [AS name]` starts one; the runtime stage is the last;
 * - lines made only of Jinja tags (`{% if %}`, `{# … #}`) between instructions are template
 *   lines, not instructions; a Jinja tag inside an instruction sets `hasJinjaStatement`.
 * - shell-form commands (RUN/CMD/ENTRYPOINT/HEALTHCHECK CMD) split at `&&`, `||`, `;`, `|`, `&`
 *   into parts of words, read by lib/shell.ts's tokenizer (quotes, `$(…)` and Jinja atomic).
 *
 * Why not the npm `dockerfile-ast` package: it reports line/character positions rather than
 * offsets, brings the vscode-languageserver types, and reads a `{% if %}` line as an
 * instruction; this file is smaller than the glue it would need.
 */
import { scanJinja, TemplateSyntaxError, type JinjaSpan } from './jinja-mask.js';
import { posix } from 'node:path';
import { eolOf, escapeRegExp, locate } from './text.js';
import type { RepoView, TextEdit } from '../core/types.js';

import { shellTokens, type ShellOperator, type ShellWord } from './shell.js';
import { FileShapeError, UnrecognisedShape } from '../core/errors.js';

/** Templates and plain files that may be a Dockerfile, wherever the roles live. */
export const DOCKERFILE_GLOBS = [
  '**/templates/**/Dockerfile*',
  '**/files/**/Dockerfile*',
  '**/templates/**/*.{Dockerfile,dockerfile}*',
  '**/files/**/*.{Dockerfile,dockerfile}*',
];

/** One physical line of the file. `end` is before the line ending; `next` is after it. */
export interface PhysicalLine {
  readonly start: number;
  readonly end: number;
  readonly next: number;
  /** 1-based. */
  readonly number: number;
  readonly text: string;
  /** A comment line (or blank line) inside a continuation: Docker drops it from the instruction. */
  readonly skipped: boolean;
}

export interface DockerInstruction {
  /** Upper-cased keyword (`RUN`, `FROM`, …); a Jinja expression in keyword position is kept as written. */
  readonly keyword: string;
  /** Offset of the start of the instruction's first line (its indentation included). */
  readonly lineStart: number;
  /** Offset of the keyword. */
  readonly start: number;
  /** Offset where the arguments start (after the keyword and its whitespace). */
  readonly argsStart: number;
  /** Offset just past the last character of the last line (before its line ending). */
  readonly end: number;
  /** Offset just past the last line's line ending (start of the next line, or the end of the text). */
  readonly next: number;
  /** 1-based line of the keyword. */
  readonly line: number;
  /** Arguments with continuations joined and skipped lines dropped, as Docker sees them (Jinja unrendered). */
  readonly logical: string;
  readonly lines: readonly PhysicalLine[];
  /** Exec form: the arguments are a JSON array (`["smokescreen"]`). */
  readonly execForm: boolean;
  readonly heredoc: boolean;
  /** A Jinja `{% … %}` tag sits inside the instruction: its text depends on the rendering. */
  readonly hasJinjaStatement: boolean;
  /** Index of the stage it belongs to; -1 before the first FROM (global ARGs). */
  readonly stage: number;
}

export interface DockerStage {
  readonly index: number;
  readonly from: DockerInstruction;
  /** The image reference as written (Jinja included), e.g. `golang:{{ smokescreen_go_version }}-alpine`. */
  readonly image: string;
  /** The `AS name`, when given. */
  readonly name: string | undefined;
  /** Instructions after the FROM, up to the next FROM. */
  readonly instructions: readonly DockerInstruction[];
  /** Offset of the FROM line's start. */
  readonly start: number;
  /** Offset where the next stage's FROM line starts, or the end of the text. */
  readonly end: number;
}

export interface ParsedDockerfile {
  readonly path: string;
  readonly text: string;
  readonly escape: string;
  readonly jinja: readonly JinjaSpan[];
  readonly instructions: readonly DockerInstruction[];
  readonly stages: readonly DockerStage[];
  /** Comment lines outside instructions (parser directives included), with their offsets. */
  readonly comments: readonly PhysicalLine[];
}

/** One simple command (or pipeline element) of a shell-form instruction. */
export interface ShellPart {
  readonly words: readonly ShellWord[];
  /** Offset of the first word. */
  readonly start: number;
  /** Offset just past the last word. */
  readonly end: number;
  /** The operator that follows this part, and where it is; null for the last part. */
  readonly separator: { readonly op: ShellOperator; readonly start: number; readonly end: number } | null;
  /** Nesting depth of `(`…`)` subshells at the part's start; only depth-0 parts are safe to split at. */
  readonly depth: number;
}

// ---------------------------------------------------------------------------------------------
// Parsing

function physicalLines(text: string): { start: number; end: number; next: number; number: number; text: string }[] {
  const lines = [];
  let start = 0;
  let number = 1;
  while (start < text.length) {
    const newline = text.indexOf('\n', start);
    const next = newline === -1 ? text.length : newline + 1;
    let end = newline === -1 ? text.length : newline;
    if (end > start && text[end - 1] === '\r') end--;
    lines.push({ start, end, next, number, text: text.slice(start, end) });
    start = next;
    number++;
  }
  return lines;
}

/** `# escape=\`` among the leading parser directives. */
function escapeDirective(lines: readonly { text: string }[]): string {
  for (const line of lines) {
    const directive = /^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(line.text);
    if (!directive) break;
    if (directive[1]?.toLowerCase() === 'escape' && (directive[2] === '`' || directive[2] === '\\')) return directive[2];
  }
  return '\\';
}

function onlyJinjaTags(line: { start: number; end: number; text: string }, jinja: readonly JinjaSpan[]): boolean {
  if (line.text.trim() === '') return false;
  let rest = line.text;
  let any = false;
  for (const span of jinja) {
    if (span.kind === 'expression' || span.end <= line.start || span.start >= line.end) continue;
    const from = Math.max(span.start, line.start) - line.start;
    const to = Math.min(span.end, line.end) - line.start;
    rest = rest.slice(0, from) + ' '.repeat(to - from) + rest.slice(to);
    any = true;
  }
  return any && rest.trim() === '';
}

function continues(lineText: string, escape: string): boolean {
  return lineText.trimEnd().endsWith(escape);
}

export function parseDockerfile(path: string, text: string): ParsedDockerfile {
  let jinja: JinjaSpan[];
  try {
    jinja = scanJinja(text);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new FileShapeError(path, error.line, error.detail, 'parse');
    throw error;
  }
  const all = physicalLines(text);
  const escape = escapeDirective(all);
  const instructions: DockerInstruction[] = [];
  const comments: PhysicalLine[] = [];
  let stage = -1;
  let i = 0;
  while (i < all.length) {
    const first = all[i]!;
    const trimmed = first.text.trim();
    if (trimmed === '' || onlyJinjaTags(first, jinja)) {
      i++;
      continue;
    }
    if (trimmed.startsWith('#')) {
      comments.push({ ...first, skipped: false });
      i++;
      continue;
    }
    const keywordMatch = /^(\s*)(\{\{.*?\}\}|\S+)(\s*)/.exec(first.text)!;
    const rawKeyword = keywordMatch[2]!;
    const keyword = /^[A-Za-z]+$/.test(rawKeyword) ? rawKeyword.toUpperCase() : rawKeyword;
    const start = first.start + keywordMatch[1]!.length;
    const argsStart = first.start + keywordMatch[0].length;
    const lines: PhysicalLine[] = [{ ...first, skipped: false }];
    const heredoc = /^(RUN|COPY|ADD)$/.test(keyword)
      ? /<<(-?)\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?/.exec(first.text.slice(keywordMatch[0].length))
      : null;
    i++;
    if (heredoc) {
      const terminator = heredoc[2]!;
      const stripTabs = heredoc[1] === '-';
      while (i < all.length) {
        const line = all[i]!;
        lines.push({ ...line, skipped: false });
        i++;
        if ((stripTabs ? line.text.replace(/^\t+/, '') : line.text) === terminator) break;
      }
    } else {
      let open = continues(first.text, escape);
      while (open && i < all.length) {
        const line = all[i]!;
        const lineTrimmed = line.text.trim();
        // Docker drops comment lines and empty lines inside a continuation; the instruction goes on.
        const skipped = lineTrimmed === '' || lineTrimmed.startsWith('#');
        lines.push({ ...line, skipped });
        i++;
        if (!skipped) open = continues(line.text, escape);
      }
    }
    const last = lines.at(-1)!;
    const logical = logicalText(text, argsStart, lines, escape, heredoc !== null);
    if (keyword === 'FROM') stage++;
    instructions.push({
      keyword,
      lineStart: first.start,
      start,
      argsStart,
      end: last.end,
      next: last.next,
      line: first.number,
      logical,
      lines,
      execForm: !heredoc && /^\[/.test(logical.trim()) && /\]\s*$/.test(logical),
      heredoc: heredoc !== null,
      hasJinjaStatement: jinja.some((span) => span.kind === 'statement' && span.start >= first.start && span.start < last.end),
      stage,
    });
  }
  const parsed = { path, text, escape, jinja, instructions, comments };
  return { ...parsed, stages: buildStages(parsed) };
}

function logicalText(text: string, argsStart: number, lines: readonly PhysicalLine[], escape: string, heredoc: boolean): string {
  if (heredoc) return text.slice(argsStart, lines.at(-1)!.end);
  let joined = '';
  for (const [index, line] of lines.entries()) {
    if (line.skipped) continue;
    let piece = index === 0 ? text.slice(argsStart, line.end) : line.text;
    if (index < lines.length - 1 || continues(piece, escape)) {
      const trimmedEnd = piece.trimEnd();
      if (trimmedEnd.endsWith(escape)) piece = trimmedEnd.slice(0, -escape.length);
    }
    joined += piece;
  }
  return joined;
}

function buildStages(parsed: Omit<ParsedDockerfile, 'stages'>): DockerStage[] {
  const froms = parsed.instructions.filter((instruction) => instruction.keyword === 'FROM');
  return froms.map((from, index) => {
    const words = shellParts(parsed, from)[0]?.words.filter((word) => !word.value.startsWith('--')) ?? [];
    const image = words[0]?.source ?? '';
    const name = words[1]?.value.toLowerCase() === 'as' ? words[2]?.value : undefined;
    const nextFrom = froms[index + 1];
    return {
      index,
      from,
      image,
      name,
      instructions: parsed.instructions.filter((instruction) => instruction.stage === index && instruction !== from),
      start: from.lineStart,
      end: nextFrom ? nextFrom.lineStart : parsed.text.length,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Shell form

/**
 * Splits the instruction's arguments (shell form) into commands at top-level operators, each
 * into words, with offsets into the original text. For `HEALTHCHECK [options] CMD …` pass the
 * instruction; the words before `CMD` are the first part's words (callers skip them).
 * Exec form and heredocs are not shell text: UnrecognisedShape.
 */
export function shellParts(df: Pick<ParsedDockerfile, 'path' | 'text' | 'escape' | 'jinja'>, instruction: DockerInstruction): ShellPart[] {
  if (instruction.heredoc)
    throw new UnrecognisedShape(`${instruction.keyword} at ${locate(df.path, df.text, instruction.start)} uses a heredoc`);
  if (instruction.execForm)
    throw new UnrecognisedShape(`${instruction.keyword} at ${locate(df.path, df.text, instruction.start)} is in exec (JSON) form`);
  const skip = instruction.lines.filter((line) => line.skipped).map((line) => [line.start, line.next] as const);
  const tokens = shellTokens(df.text, {
    start: instruction.argsStart,
    end: instruction.end,
    jinja: df.jinja,
    dockerfile: { escape: df.escape, skip },
  });
  const parts: ShellPart[] = [];
  let words: ShellWord[] = [];
  let partDepth = 0;
  const endPart = (separator: ShellPart['separator']): void => {
    // A separator with no command before it (`a && && b`, a shell syntax error) is dropped.
    if (words.length > 0) parts.push({ words, start: words[0]!.start, end: words.at(-1)!.end, separator, depth: partDepth });
    words = [];
  };
  for (const token of tokens) {
    if (token.kind === 'word') words.push(token.word);
    if (token.kind !== 'operator' || token.op === ')') continue;
    if (token.op === '(') partDepth = token.depth;
    else {
      endPart({ op: token.op, start: token.start, end: token.end });
      partDepth = token.depth;
    }
  }
  endPart(null);
  return parts;
}

/** The word values of a part, for matching (`apk`, `add`, …). */
export function wordValues(part: ShellPart): string[] {
  return part.words.map((word) => word.value);
}

// ---------------------------------------------------------------------------------------------
// Finders

/**
 * The Dockerfile template of the Smokescreen image, found by content; undefined when there is
 * none. Bug 1 edits its runtime stage and Bug 3 its build stage, so both must find the same
 * file: the one that fetches stripe/smokescreen, else the one named for Smokescreen, else the
 * one mentioning it. Two at the first level that has any is UnrecognisedShape.
 */
export function smokescreenDockerfile(repo: RepoView): ParsedDockerfile | undefined {
  const paths = repo.glob(...DOCKERFILE_GLOBS);
  const text = (path: string): string => repo.read(path) ?? '';
  const levels = [
    paths.filter((path) => /stripe\/smokescreen/.test(text(path))),
    paths.filter((path) => /smokescreen/i.test(posix.basename(path))),
    paths.filter((path) => /smokescreen/i.test(text(path))),
  ];
  const chosen = levels.find((level) => level.length > 0) ?? [];
  if (chosen.length > 1) throw new UnrecognisedShape(`more than one Dockerfile template builds Smokescreen: ${chosen.join(', ')}`);
  const path = chosen[0];
  return path === undefined ? undefined : parseDockerfile(path, text(path));
}

/** The stage the image runs from: the last one. */
export function runtimeStage(df: ParsedDockerfile): DockerStage | undefined {
  return df.stages.at(-1);
}

/** `path:line` of an offset in the Dockerfile. */
export function whereIn(df: Pick<ParsedDockerfile, 'path' | 'text'>, offset: number): string {
  return locate(df.path, df.text, offset);
}

/** Options of `apk` that take a separate argument (the next word is not a package). */
const APK_OPTIONS_WITH_ARGUMENT = new Set([
  '-t',
  '--virtual',
  '-X',
  '--repository',
  '-p',
  '--root',
  '--arch',
  '--cache-dir',
  '--keys-dir',
  '--repositories-file',
]);

export interface ApkAdd {
  readonly instruction: DockerInstruction;
  readonly part: ShellPart;
  /** Index of `part` among the instruction's shell parts. */
  readonly partIndex: number;
  /** The package words, in order (a Jinja expression counts as one word). */
  readonly packages: readonly ShellWord[];
}

/** Every `apk add` command in the stage's RUN instructions (shell form), in order. */
export function findApkAdds(df: ParsedDockerfile, stage: DockerStage): ApkAdd[] {
  const found: ApkAdd[] = [];
  for (const instruction of stage.instructions) {
    if (instruction.keyword !== 'RUN' || instruction.execForm || instruction.heredoc) continue;
    shellParts(df, instruction).forEach((part, partIndex) => {
      const values = wordValues(part);
      if (values[0] !== 'apk') return;
      let index = 1;
      // Global options may come before the applet: `apk --no-cache add …`.
      while (index < values.length && values[index]!.startsWith('-')) index += APK_OPTIONS_WITH_ARGUMENT.has(values[index]!) ? 2 : 1;
      if (values[index] !== 'add') return;
      const packages: ShellWord[] = [];
      for (let k = index + 1; k < part.words.length; k++) {
        const word = part.words[k]!;
        if (word.value.startsWith('-')) {
          if (APK_OPTIONS_WITH_ARGUMENT.has(word.value)) k++;
          continue;
        }
        packages.push(word);
      }
      found.push({ instruction, part, partIndex, packages });
    });
  }
  return found;
}

/** True when a package word names `name` (also `name=1.2-r0`, `name>1`, `name@edge`). */
export function isPackage(word: ShellWord, name: string): boolean {
  return word.value === name || new RegExp(`^${escapeRegExp(name)}([=<>~@].*)?$`).test(word.value);
}

// ---------------------------------------------------------------------------------------------
// Edits

function lineOfOffset(instruction: DockerInstruction, offset: number): PhysicalLine {
  const line = instruction.lines.find((candidate) => offset >= candidate.start && offset <= candidate.end);
  if (!line) throw new Error(`offset ${offset} is outside the instruction at line ${instruction.line}`);
  return line;
}

/** Adds a package to an `apk add` list in the list's style: same line, or its own continuation line when the list has one package per line. */
export function addApkPackage(df: ParsedDockerfile, apk: ApkAdd, name: string): TextEdit {
  const last = apk.packages.at(-1);
  if (!last) throw new UnrecognisedShape(`'apk add' at ${whereIn(df, apk.part.start)} lists no package`);
  const lastLine = lineOfOffset(apk.instruction, last.start);
  const onePerLine =
    apk.packages.length > 1 &&
    new Set(apk.packages.map((word) => lineOfOffset(apk.instruction, word.start).start)).size === apk.packages.length &&
    lastLine.text.trim().startsWith(last.source);
  if (onePerLine) {
    const indent = /^[ \t]*/.exec(lastLine.text)![0];
    return { path: df.path, start: last.end, end: last.end, text: ` ${df.escape}${eolOf(df.text)}${indent}${name}` };
  }
  return { path: df.path, start: last.end, end: last.end, text: ` ${name}` };
}

/**
 * Removes one package word from an `apk add` list: the whole continuation line when the word
 * is alone on it, else the word and the blank before it. Refuses to remove the only package.
 */
export function removeApkPackage(df: ParsedDockerfile, apk: ApkAdd, word: ShellWord): TextEdit {
  if (apk.packages.length < 2) throw new UnrecognisedShape(`'apk add' at ${whereIn(df, word.start)} would be left without packages`);
  // A package name Docker joins across a continuation (`cu\` + `rl`) spans lines: not ours to cut.
  if (df.text.slice(word.start, word.end).includes('\n'))
    throw new UnrecognisedShape(`package '${word.value}' at ${whereIn(df, word.start)} is split across lines`);
  const line = lineOfOffset(apk.instruction, word.start);
  const rest = (df.text.slice(line.start, word.start) + df.text.slice(word.end, line.end)).trim();
  if ((rest === df.escape || rest === '') && line.start !== apk.instruction.lineStart) {
    return { path: df.path, start: line.start, end: line.next, text: '' };
  }
  let start = word.start;
  while (start > line.start && (df.text[start - 1] === ' ' || df.text[start - 1] === '\t')) start--;
  if (start === line.start) {
    // First on its line: take the blanks after it instead, keeping the indentation.
    let end = word.end;
    while (end < line.end && (df.text[end] === ' ' || df.text[end] === '\t')) end++;
    return { path: df.path, start: word.start, end, text: '' };
  }
  return { path: df.path, start, end: word.end, text: '' };
}

/** Inserts whole lines (without line endings) before the instruction, at its indentation. */
export function insertLinesBefore(df: ParsedDockerfile, instruction: DockerInstruction, lines: readonly string[]): TextEdit {
  const indent = df.text.slice(instruction.lineStart, instruction.start);
  const eol = eolOf(df.text);
  return {
    path: df.path,
    start: instruction.lineStart,
    end: instruction.lineStart,
    text: lines.map((line) => indent + line + eol).join(''),
  };
}

/** Inserts whole lines (without line endings) after the instruction, at its indentation. */
export function insertLinesAfter(df: ParsedDockerfile, instruction: DockerInstruction, lines: readonly string[]): TextEdit {
  const indent = df.text.slice(instruction.lineStart, instruction.start);
  const eol = eolOf(df.text);
  const body = lines.map((line) => indent + line).join(eol);
  const missingFinalNewline = instruction.next === instruction.end;
  return { path: df.path, start: instruction.next, end: instruction.next, text: missingFinalNewline ? eol + body : body + eol };
}

/**
 * Splits a shell-form RUN after its part `partIndex` (which must be followed by a top-level
 * `&&`): `RUN a && b` becomes `RUN a`, the `between` lines, `RUN <prefix>b`. The operator and the
 * continuation around it go; `b` keeps its own position on its line when it started one.
 */
export function splitRunAfter(
  df: ParsedDockerfile,
  instruction: DockerInstruction,
  partIndex: number,
  between: readonly string[] = [],
  prefix = '',
): TextEdit {
  const parts = shellParts(df, instruction);
  const part = parts[partIndex];
  const next = parts[partIndex + 1];
  const at = whereIn(df, instruction.start);
  if (instruction.keyword !== 'RUN') throw new UnrecognisedShape(`${instruction.keyword} at ${at} is not a RUN`);
  if (instruction.hasJinjaStatement) throw new UnrecognisedShape(`RUN at ${at} contains a Jinja block`);
  if (!part || !next || part.separator?.op !== '&&' || part.depth !== 0 || next.depth !== 0) {
    throw new UnrecognisedShape(`RUN at ${at} cannot be split there: the commands are not joined by a top-level '&&'`);
  }
  const eol = eolOf(df.text);
  const indent = df.text.slice(instruction.lineStart, instruction.start);
  const keyword = df.text.slice(instruction.start, instruction.argsStart).trimEnd();
  const middle = between.map((line) => indent + line + eol).join('');
  return { path: df.path, start: part.end, end: next.start, text: `${eol}${middle}${indent}${keyword} ${prefix}` };
}
