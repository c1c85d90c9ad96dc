/**
 * A small reader for rendered Dockerfiles: instructions with their line, grouped in stages.
 * Verify keeps its own (patches/lib has one for the modules) so that it stays independent of
 * the code it checks.
 */
import { joinContinuations, programOf, splitCommands, type SimpleCommand } from './shell.js';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
  /** 1-based line of the keyword in the rendered text. */
  readonly line: number;
}

export interface Stage {
  readonly from: Instruction;
  readonly instructions: readonly Instruction[];
}

export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  const instructions: Instruction[] = [];
  for (let index = 0; index < lines.length; index++) {
    const first = lines[index] ?? '';
    if (first.trim() === '' || first.trim().startsWith('#')) continue;
    const line = index + 1;
    let logical = first;
    // A line ending in a backslash continues; comment lines inside a continuation are dropped.
    while (/\\\s*$/.test(logical) && index + 1 < lines.length) {
      index++;
      const next = lines[index] ?? '';
      if (next.trim().startsWith('#')) {
        continue;
      }
      logical = `${logical.replace(/\\\s*$/, '\\')}\n${next}`;
    }
    const match = /^\s*([A-Za-z]+)\s*([\s\S]*)$/.exec(joinContinuations(logical));
    if (match) instructions.push({ keyword: (match[1] ?? '').toUpperCase(), args: (match[2] ?? '').trim(), line });
  }
  return instructions;
}

export function stagesOf(instructions: readonly Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') stages.push({ from: instruction, instructions: [] });
    else (stages.at(-1)?.instructions as Instruction[] | undefined)?.push(instruction);
  }
  return stages;
}

/** The simple commands of a RUN instruction (shell form or exec form). */
export function runCommands(instruction: Instruction): SimpleCommand[] {
  const args = instruction.args.trim();
  if (args.startsWith('[')) {
    try {
      const words = JSON.parse(args) as unknown;
      if (Array.isArray(words)) {
        const list = words.map(String);
        // ["sh", "-c", "script"] is a shell script after all.
        if (list.length === 3 && /(^|\/)(ba)?sh$/.test(list[0] ?? '') && list[1] === '-c') return splitCommands(list[2] ?? '');
        return [{ words: list, start: 0, operator: '' }];
      }
    } catch {
      // not JSON: shell form after all
    }
  }
  return splitCommands(args.replace(/^(--[a-z-]+(=\S*)?\s+)+/, ''));
}

/** Packages a RUN instruction installs with apk, apt-get or apt. */
export function installedPackages(instruction: Instruction): string[] {
  const packages: string[] = [];
  for (const command of runCommands(instruction)) {
    const { name, args } = programOf(command);
    const verb = name === 'apk' ? 'add' : name === 'apt-get' || name === 'apt' ? 'install' : undefined;
    if (!verb) continue;
    const at = args.indexOf(verb);
    if (at === -1) continue;
    const rest = args.slice(at + 1).filter((word) => !word.startsWith('-'));
    packages.push(...rest.map((word) => word.replace(/[=<>~].*$/, '')));
  }
  return packages;
}

export interface CopyArgs {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
}

/** COPY/ADD arguments: flags, then sources and destination (shell or JSON form). */
export function copyArgs(instruction: Instruction): CopyArgs | undefined {
  let rest = instruction.args;
  let from: string | undefined;
  for (;;) {
    const flag = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!flag) break;
    if (flag[1] === 'from') from = flag[2];
    rest = rest.slice(flag[0].length);
  }
  let words: string[];
  if (rest.trim().startsWith('[')) {
    try {
      words = (JSON.parse(rest) as unknown[]).map(String);
    } catch {
      words = rest.split(/\s+/).filter(Boolean);
    }
  } else words = rest.split(/\s+/).filter(Boolean);
  if (words.length < 2) return undefined;
  return { from, sources: words.slice(0, -1), dest: words.at(-1) ?? '' };
}

/** Resolves a path against a working directory the way WORKDIR and COPY do. */
export function resolveIn(workdir: string, path: string): string {
  const joined = path.startsWith('/') ? path : `${workdir.replace(/\/$/, '')}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}
