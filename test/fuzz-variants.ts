/**
 * Variants of the fixture repo for the fuzz test: the same deployment written in other styles a
 * real repository might use. Pure YAML files (vars, tasks, handlers) are re-serialised by the
 * `yaml` library; role templates are rewritten as text, guided by the Jinja-masked parse, so
 * their Jinja stays byte for byte. Every variant must still parse: `makeVariant` checks that.
 */
import { isScalar, parseDocument, visit, type Document, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { parseYamlTemplate, YamlTemplateError, type ParsedTemplate } from '../src/toolkit/template-yaml.js';
import { indentStepOf, lineNumberAt, lineStartAt } from '../src/toolkit/text.js';
import { endOfNodeLines } from '../src/toolkit/yaml-edit.js';

export interface Recipe {
  /** Seeds every per-file and per-line choice below. */
  readonly seed: number;
  readonly indent: 2 | 4;
  /** Sequence dashes indented under their key (`key:\n  - a`) or not (`key:\n- a`), pure YAML only. */
  readonly indentSeq: boolean;
  readonly quoting: 'keep' | 'double' | 'single' | 'plain';
  readonly lists: 'keep' | 'flow' | 'block';
  readonly comments: boolean;
  readonly shuffleKeys: boolean;
  readonly crlf: boolean;
  readonly trailingSpaces: boolean;
  readonly finalNewline: boolean;
}

/** A small deterministic PRNG (mulberry32): the recipe's seed decides every choice. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const chance = (rng: Rng, p: number): boolean => rng() < p;

function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const YAML_TEMPLATE = /\.ya?ml\.j2$/;
const PURE_YAML = /\.ya?ml$/;

export function isYamlPath(path: string): boolean {
  return YAML_TEMPLATE.test(path) || PURE_YAML.test(path);
}

// ---- pure YAML: the yaml library re-serialises ------------------------------------------

const SCALAR_STYLE = { double: 'QUOTE_DOUBLE', single: 'QUOTE_SINGLE', plain: 'PLAIN' } as const;

function hasAnchor(node: unknown): boolean {
  let found = false;
  visit(node as Document, {
    Node(_key, inner) {
      if ((inner as { anchor?: string }).anchor) found = true;
    },
  });
  return found;
}

function restyleDocument(text: string, recipe: Recipe, rng: Rng): string {
  const doc = parseDocument(text, { version: '1.1', keepSourceTokens: false });
  if (doc.errors.length > 0) return text;
  let note = 0;
  visit(doc, {
    Scalar(key, node) {
      const isValue = key === 'value' || typeof key === 'number';
      if (!isValue || typeof node.value !== 'string' || node.type?.startsWith('BLOCK')) return;
      if (recipe.quoting !== 'keep' && chance(rng, 0.7)) node.type = SCALAR_STYLE[recipe.quoting];
    },
    Seq(_key, node) {
      if (recipe.lists !== 'keep' && node.items.every((item) => isScalar(item) && !String(item.value).includes('\n')))
        node.flow = recipe.lists === 'flow' && chance(rng, 0.8);
    },
    Map(_key, node) {
      if (recipe.shuffleKeys && !node.flow && !hasAnchor(node) && chance(rng, 0.5)) node.items = shuffled(node.items, rng);
    },
    Pair(_key, pair: Pair) {
      const keyNode = pair.key as Scalar | null;
      if (recipe.comments && isScalar(keyNode) && chance(rng, 0.15))
        keyNode.commentBefore = [keyNode.commentBefore, ` fuzz: note ${++note}`].filter(Boolean).join('\n');
    },
  });
  return doc.toString({
    indent: recipe.indent,
    indentSeq: recipe.indentSeq,
    lineWidth: 0,
    minContentWidth: 0,
    flowCollectionPadding: chance(rng, 0.5),
  });
}

// ---- role templates: text edits guided by the masked parse --------------------------------

/** Line numbers (0-based) where a block mapping key or block sequence item starts its line. */
function structuralLines(tpl: ParsedTemplate): Set<number> {
  const lines = new Set<number>();
  const lineOf = (offset: number): number => lineNumberAt(tpl.text, offset) - 1;
  const firstOnLine = (offset: number): boolean => tpl.text.slice(lineStartAt(tpl.text, offset), offset).trim() === '';
  for (const doc of tpl.documents) {
    visit(doc, {
      Map(_key, node) {
        if (node.flow) return;
        for (const pair of node.items) {
          const start = (pair.key as Scalar | null)?.range?.[0];
          if (start !== undefined && firstOnLine(start)) lines.add(lineOf(start));
        }
      },
      Seq(_key, node) {
        if (node.flow) return;
        for (const item of node.items) {
          const start = (item as Scalar).range?.[0];
          if (start === undefined) continue;
          const dash = tpl.text.lastIndexOf('-', start);
          if (dash >= 0 && firstOnLine(dash)) lines.add(lineOf(dash));
        }
      },
    });
  }
  return lines;
}

/** Doubles the indentation; a `- ` item line pads its dash so compact mappings stay aligned. */
function doubleIndent(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const indent = /^ */.exec(line)?.[0].length ?? 0;
      const rest = line.slice(indent);
      if (rest.startsWith('- ')) return `${' '.repeat(indent * 2)}-${' '.repeat(3)}${rest.slice(2)}`;
      return ' '.repeat(indent * 2) + rest;
    })
    .join('\n');
}

/** `"simple"` ↔ `'simple'` ↔ simple, only where the value has no Jinja, quotes or escapes. */
function requote(text: string, style: Recipe['quoting'], rng: Rng): string {
  if (style === 'keep') return text;
  return text
    .split('\n')
    .map((line) => {
      const match = /^(\s*(?:- |[A-Za-z0-9_.-]+: +))(["'])([^"'\\{}#]*)\2(\s*)$/.exec(line);
      if (!match || !chance(rng, 0.7)) return line;
      const [, head = '', , value = '', tail = ''] = match;
      if (style === 'double') return `${head}"${value}"${tail}`;
      if (style === 'single') return `${head}'${value}'${tail}`;
      // Plain only where YAML would read the same string back.
      const probe = parseDocument(`k: ${value}`).toJS() as { k?: unknown };
      return probe.k === value && !/^[\s[\]{}&*!|>%@`,?:-]/.test(value) && !/\s$/.test(value) ? `${head}${value}${tail}` : line;
    })
    .join('\n');
}

const SIMPLE_ITEM = /^(\s*)- ((?:"[^"\\{}]*"|'[^'{}]*'|[^\s"'{}[\]#,&*!|>][^{}[\]#,]*?))\s*$/;

/** Block lists of simple scalars become `[a, b]`, and the other way round. */
function restyleLists(text: string, style: Recipe['lists'], step: number, rng: Rng): string {
  if (style === 'keep') return text;
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (style === 'flow') {
      const key = /^(\s*)([A-Za-z0-9_.-]+):\s*$/.exec(line);
      const items: string[] = [];
      let j = i + 1;
      while (key && j < lines.length) {
        const item = SIMPLE_ITEM.exec(lines[j] ?? '');
        if (!item || (item[1] ?? '').length < (key[1] ?? '').length) break;
        items.push((item[2] ?? '').trim());
        j++;
      }
      const next = lines[j] ?? '';
      const nextIndent = /^ */.exec(next)?.[0].length ?? 0;
      const ends = next.trim() === '' || (nextIndent <= (key?.[1] ?? '').length && !next.trimStart().startsWith('- '));
      if (key && items.length > 0 && ends && chance(rng, 0.8)) {
        out.push(`${key[1]}${key[2]}: [${items.join(', ')}]`);
        i = j - 1;
        continue;
      }
    } else {
      const flow = /^(\s*)([A-Za-z0-9_.-]+): \[([^\]{}#]*)\]\s*$/.exec(line);
      if (flow && chance(rng, 0.8)) {
        const items = (flow[3] ?? '')
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean);
        if (items.every((item) => !/^["']/.test(item) || /^(["']).*\1$/.test(item))) {
          out.push(`${flow[1]}${flow[2]}:`, ...items.map((item) => `${flow[1]}${' '.repeat(step)}- ${item}`));
          continue;
        }
      }
    }
    out.push(line);
  }
  return out.join('\n');
}

function insertComments(text: string, rng: Rng): string {
  const tpl = parseYamlTemplate('variant', text);
  const targets = structuralLines(tpl);
  let note = 0;
  return text
    .split('\n')
    .flatMap((line, index) => {
      if (!targets.has(index) || !chance(rng, 0.2)) return [line];
      const indent = /^\s*/.exec(line)?.[0] ?? '';
      return [`${indent}# fuzz: note ${++note}`, line];
    })
    .join('\n');
}

/** Permutes the pairs of one block mapping that holds no Jinja statements and no anchors. */
function shuffleOneMap(text: string, rng: Rng): string {
  const tpl = parseYamlTemplate('variant', text);
  const candidates: { start: number; chunks: string[]; end: number }[] = [];
  for (const doc of tpl.documents) {
    visit(doc, {
      Map(_key, node: YAMLMap) {
        if (node.flow || node.items.length < 2 || hasAnchor(node)) return;
        const starts = node.items.map((pair) => (pair.key as Scalar | null)?.range?.[0] ?? -1);
        if (starts.some((start) => start < 0 || text.slice(lineStartAt(text, start), start).trim() !== '')) return;
        const lineStarts = starts.map((start) => lineStartAt(text, start));
        const last = node.items.at(-1) as Pair;
        const end = endOfNodeLines(tpl, last);
        if (tpl.jinja.some((span) => span.kind !== 'expression' && span.start < end && span.end > (lineStarts[0] ?? 0))) return;
        const chunks = lineStarts.map((start, index) => text.slice(start, lineStarts[index + 1] ?? end));
        if (!chunks.every((chunk) => chunk.endsWith('\n'))) return;
        candidates.push({ start: lineStarts[0] ?? 0, chunks, end });
      },
    });
  }
  if (candidates.length === 0) return text;
  const pick = candidates[Math.floor(rng() * candidates.length)];
  if (!pick) return text;
  return text.slice(0, pick.start) + shuffled(pick.chunks, rng).join('') + text.slice(pick.end);
}

function restyleTemplate(text: string, recipe: Recipe, rng: Rng): string {
  let out = text;
  const step = indentStepOf(out);
  if (recipe.indent === 4 && step === 2 && chance(rng, 0.8)) out = doubleIndent(out);
  out = requote(out, recipe.quoting, rng);
  out = restyleLists(out, recipe.lists, indentStepOf(out), rng);
  if (recipe.shuffleKeys) for (let round = 0; round < 2; round++) out = shuffleOneMap(out, rng);
  if (recipe.comments) out = insertComments(out, rng);
  return out;
}

// ---- every file: line endings and whitespace --------------------------------------------

function addTrailingSpaces(path: string, text: string, rng: Rng): string {
  return text
    .split('\n')
    .map((line) => {
      // A space after a line-continuation backslash would end the continuation.
      if (line.trim() === '' || line.endsWith('\\') || !chance(rng, 0.25)) return line;
      if (isYamlPath(path) && !/^\s*(- |[A-Za-z0-9_.-]+:|\{%|#)/.test(line)) return line;
      return line + ' '.repeat(1 + Math.floor(rng() * 3));
    })
    .join('\n');
}

/** The fixture rewritten per the recipe. Throws when a variant does not parse (a generator bug). */
export function makeVariant(original: ReadonlyMap<string, string>, recipe: Recipe): Map<string, string> {
  const rng = random(recipe.seed);
  const variant = new Map<string, string>();
  for (const [path, text] of [...original].sort(([a], [b]) => a.localeCompare(b))) {
    let out = text;
    const touch = chance(rng, 0.85);
    if (touch && PURE_YAML.test(path) && !text.startsWith('$ANSIBLE_VAULT')) out = restyleDocument(out, recipe, rng);
    else if (touch && YAML_TEMPLATE.test(path)) out = restyleTemplate(out, recipe, rng);
    if (recipe.trailingSpaces && !text.startsWith('$ANSIBLE_VAULT') && !path.endsWith('.cfg')) out = addTrailingSpaces(path, out, rng);
    if (!recipe.finalNewline && chance(rng, 0.6)) out = out.replace(/\n+$/, '');
    if (recipe.crlf && chance(rng, 0.8)) out = out.replace(/\r?\n/g, '\r\n');
    if (isYamlPath(path)) {
      try {
        parseYamlTemplate(path, out);
      } catch (error) {
        if (error instanceof YamlTemplateError)
          throw new Error(`fuzz generator bug: ${error.message} (recipe ${JSON.stringify(recipe)})\n${out}`);
        throw error;
      }
    }
    variant.set(path, out);
  }
  return variant;
}

/** Full-line comments of a file (`# …`), without the line ending. */
export function commentLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.trimStart().startsWith('#'));
}
