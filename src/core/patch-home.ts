/**
 * A fix has one home, `patches/<id>/`: the module `<id>.ts` (facts and a check), its prose
 * `<id>.md`, its assets (files it writes into the repo, such as bug 3's Go entrypoint) and its
 * test `<id>.test.ts`. The module declares its own URL (`home: import.meta.url`); this file reads
 * the prose and assets beside it, in the source tree or in `dist/` (the build copies them), so a
 * patch module never touches the file system.
 *
 * The `.md` is the one place a fix's words live: docs/fixes.md is generated from it, and the
 * commit message, PR body and `--json` quote its sections:
 *
 *     # <title: the commit subject>
 *     ## What is wrong      one paragraph (`problem`)
 *     ## The fix            one paragraph (`why`)
 *     ## Departs from the report   one paragraph, or no such section when the fix follows it
 *     ## Details            free Markdown for docs/fixes.md, to the end of the file
 *
 * A one-paragraph section may be wrapped: its lines are joined with single spaces, as Markdown
 * renders them, so the commit message says the same words on one line.
 */
import { readFileSync } from 'node:fs';
import type { Patch, PatchAssets, PatchModule, PatchProse } from './types.js';

/**
 * A fix's home that is incomplete or malformed is a defect of the tool (a build that did not copy
 * the .md, a patch under construction), not of the user's repository: a plain Error, which the
 * CLI reports as an internal error (src/core/errors.ts keeps UserError and UnrecognisedShape for
 * the repository's problems).
 */
const homeError = (message: string): Error => new Error(message);

const SECTIONS: Record<string, keyof Omit<PatchProse, 'title'>> = {
  'What is wrong': 'problem',
  'The fix': 'why',
  'Departs from the report': 'departsFromReport',
  Details: 'details',
};
const PARAGRAPH_SECTIONS = new Set<string>(['problem', 'why', 'departsFromReport']);

/** The prose of fix `id` from the text of its `<id>.md` (`file` names it in errors). */
export function parseProse(text: string, file: string): PatchProse {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const title = /^# (.+)$/.exec(lines[0] ?? '')?.[1]?.trim();
  if (!title) throw homeError(`${file}:1: the first line must be "# <title>" (the commit subject)`);
  const bodies = new Map<string, string[]>();
  let current: string[] | undefined;
  let fenced = false;
  lines.slice(1).forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? undefined : /^## (.+)$/.exec(line)?.[1]?.trim();
    if (heading === undefined) {
      if (current) current.push(line);
      else if (line.trim() !== '') throw homeError(`${file}:${index + 2}: text before the first "## " section`);
      return;
    }
    const field = SECTIONS[heading];
    if (!field)
      throw homeError(
        `${file}:${index + 2}: unknown section "## ${heading}" (expected ${Object.keys(SECTIONS)
          .map((name) => `"## ${name}"`)
          .join(', ')})`,
      );
    if (bodies.has(field)) throw homeError(`${file}:${index + 2}: "## ${heading}" appears twice`);
    current = [];
    bodies.set(field, current);
  });
  const section = (field: string): string | undefined => {
    const body = bodies.get(field)?.join('\n').trim();
    if (body === undefined || !PARAGRAPH_SECTIONS.has(field)) return body;
    if (/\n\s*\n/.test(body))
      throw homeError(`${file}: the ${field} section must be one paragraph (it becomes one line of the commit message)`);
    return body
      .split('\n')
      .map((line) => line.trim())
      .join(' ');
  };
  const problem = section('problem');
  const why = section('why');
  if (!problem) throw homeError(`${file}: "## What is wrong" is missing or empty`);
  if (!why) throw homeError(`${file}: "## The fix" is missing or empty`);
  const details = section('details');
  return { title, problem, why, departsFromReport: section('departsFromReport') || null, ...(details ? { details } : {}) };
}

function readBeside(module: PatchModule, name: string): string {
  const url = new URL(name, module.home);
  try {
    return readFileSync(url, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw homeError(
      `fix ${module.id}: cannot read ${url.pathname} (${reason}); the fix's folder is incomplete (a build that did not copy it?)`,
    );
  }
}

const loaded = new WeakMap<PatchModule, Patch>();

/** The fix as the engine runs it: the module's facts, the prose of its `.md`, its check with its assets bound. */
export function loadPatch(module: PatchModule): Patch {
  const known = loaded.get(module);
  if (known) return known;
  const texts = new Map((module.assets ?? []).map((name) => [name, readBeside(module, name)]));
  const assets: PatchAssets = {
    text(name) {
      const text = texts.get(name);
      if (text === undefined) throw homeError(`fix ${module.id} reads asset ${name}, which it does not declare in \`assets\``);
      return text;
    },
  };
  const prose = parseProse(readBeside(module, `${module.id}.md`), `patches/${module.id}/${module.id}.md`);
  const { id, bug, priority, scope, files, scripts } = module;
  const patch: Patch = {
    id,
    bug,
    priority,
    scope,
    files,
    ...(scripts === undefined ? {} : { scripts }),
    ...prose,
    check: (repo) => module.check(repo, assets),
  };
  loaded.set(module, patch);
  return patch;
}

/** The text of asset `name` of `module` (tests and verify use what the fix writes). */
export function assetText(module: PatchModule, name: string): string {
  if (!(module.assets ?? []).includes(name)) throw homeError(`fix ${module.id} does not declare asset ${name}`);
  return readBeside(module, name);
}

/**
 * Every fix, loaded, in the order given, which must be the apply order: priorities strictly
 * increasing. The list in patches/index.ts is the one place that order is written down.
 */
export function loadPatches(modules: readonly PatchModule[]): Patch[] {
  modules.forEach((module, index) => {
    const before = modules[index - 1];
    if (before && before.priority >= module.priority) {
      throw homeError(
        `patches/index.ts lists ${module.id} (priority ${module.priority}) after ${before.id} (priority ${before.priority}): list the fixes in apply order`,
      );
    }
  });
  return modules.map(loadPatch);
}
