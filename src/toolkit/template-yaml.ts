/**
 * Parse a YAML file that may contain Jinja (an Ansible template or a task file) into `yaml`
 * Documents whose node ranges are offsets into the ORIGINAL text.
 */
import { ANSIBLE_YAML_TAGS } from './ansible-yaml.js';
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  parse as parseYaml,
  parseAllDocuments,
  visit,
  type Document,
  type Node as YamlNode,
  type Pair,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import {
  jinjaBlocks,
  jinjaContextAt,
  maskJinjaLayout,
  scanJinja,
  TemplateSyntaxError,
  type JinjaBlock,
  type JinjaSpan,
} from './jinja-mask.js';
import { columnAt, lineNumberAt, lineStartAt, nextLineStart } from './text.js';
import { ParseMemo } from '../core/parse-cache.js';
import { FileShapeError } from '../core/errors.js';

/** A YAML file or template that does not parse (its YAML, or the Jinja around it). */
export class YamlTemplateError extends FileShapeError {
  constructor(
    override readonly path: string,
    override readonly line: number,
    detail: string,
  ) {
    super(path, line, detail, 'parse');
    this.name = 'YamlTemplateError';
  }
}

export interface ParsedTemplate {
  readonly path: string;
  /** The file as it is. Slice it with node ranges to get the source of a node, Jinja included. */
  readonly text: string;
  /** The text the parser saw: Jinja replaced by same-length filler. */
  readonly masked: string;
  readonly jinja: readonly JinjaSpan[];
  /** The Jinja blocks (`{% if %}…{% endif %}` …), for jinjaContextAt. */
  readonly blocks: readonly JinjaBlock[];
  /** Expressions and includes alone on a line where entries stand (see maskJinjaLayout); generatorsOf maps them to their collection. */
  readonly generators: readonly JinjaSpan[];
  readonly documents: readonly Document.Parsed[];
}

/**
 * Each (path, content) is parsed once per process (src/core/parse-cache.ts): the result is shared
 * by every caller, so it is read-only (`documents` is frozen; never change a node).
 */
export function parseYamlTemplate(path: string, text: string): ParsedTemplate {
  return parsedTemplates.get(path, text, parseYamlTemplateUncached);
}

/**
 * `parse(text, { logLevel: 'error' })` of a short piece of YAML (an entry's own lines, a value
 * written plain), once per text: the task readers ask for the same entries in every fix and
 * check that reads a task (on the fixture, 86 such parses of 41 distinct texts per dry run), and
 * each parse pays the parser's set-up. Keyed by the text alone (the result depends on nothing
 * else); a parse error is thrown again. A mapping or list is copied for each caller, so no
 * caller can change what another reads.
 */
export function parseYamlSnippet(text: string): unknown {
  const value = parsedSnippets.get('', text, (_path, source) => parseYaml(source, { logLevel: 'error' }) as unknown);
  return value !== null && typeof value === 'object' ? structuredClone(value) : value;
}

const parsedSnippets = new ParseMemo<unknown>(1024 * 1024);

/** 8 Mi characters of YAML kept parsed: far more than a deployment repo's candidate files. */
export const parsedTemplates = new ParseMemo<ParsedTemplate>(8 * 1024 * 1024);

function parseYamlTemplateUncached(path: string, text: string): ParsedTemplate {
  let jinja: JinjaSpan[];
  try {
    jinja = scanJinja(text);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new YamlTemplateError(path, error.line, error.detail);
    throw error;
  }
  let masked: string;
  let generators: readonly JinjaSpan[];
  let generatorColumns: readonly number[];
  let blocks: JinjaBlock[];
  try {
    ({ masked, generators, generatorColumns } = maskJinjaLayout(text, jinja));
    blocks = jinjaBlocks(text, jinja);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new YamlTemplateError(path, error.line, error.detail);
    throw error;
  }
  // uniqueKeys off: `{% if %}a: 1{% else %}a: 2{% endif %}` legitimately repeats a key.
  // An empty file parses to an EmptyStream: an empty array of documents.
  const list: Document.Parsed[] = [
    ...parseAllDocuments(masked, { uniqueKeys: false, prettyErrors: false, customTags: ANSIBLE_YAML_TAGS, logLevel: 'error' }),
  ];
  for (const doc of list) {
    const error = doc.errors[0];
    if (error) {
      throw new YamlTemplateError(path, lineNumberAt(text, error.pos[0]), `not valid YAML: ${error.message.split('\n')[0]}`);
    }
  }
  const template: ParsedTemplate = { path, text, masked, jinja: Object.freeze(jinja), blocks, generators, documents: Object.freeze(list) };
  for (const doc of list) {
    recordMergeKeys(template, doc);
    if (jinja.length > 0) recordOwners(doc);
  }
  if (generators.length > 0) recordGenerators(template, generatorColumns);
  // Shared by every caller through the parse memo: read-only from here on.
  return Object.freeze(template);
}

/** Where each collection or scalar is attached: its key, or its own start as a list item (see jinjaContextOf). */
const ownerOffsets = new WeakMap<YamlNode, number>();

function recordOwners(doc: Document.Parsed): void {
  if (isNode(doc.contents)) ownerOffsets.set(doc.contents, 0);
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key as YamlNode | null;
      if (isNode(pair.value) && key?.range) ownerOffsets.set(pair.value, key.range[0]);
    },
    Seq(_, seq) {
      for (const item of seq.items) if (isNode(item) && item.range) ownerOffsets.set(item, item.range[0]);
    },
  });
}

/**
 * The Jinja context (jinjaContextAt) in which `node` is output: that of the key holding it, or of
 * the list item itself. Text inserted where the context is the same is output exactly when, and
 * as many times as, the node is: not inside a branch or loop that only some of its entries are in.
 */
export function jinjaContextOf(template: ParsedTemplate, node: YamlNode): string {
  const owner = ownerOffsets.get(node) ?? node.range?.[0] ?? 0;
  return jinjaContextAt(template.blocks, owner);
}

/** The generators (see ParsedTemplate.generators) that render entries of each block mapping or list. */
const generatorsByCollection = new WeakMap<YAMLMap | YAMLSeq, JinjaSpan[]>();

/** Expressions or includes that render entries of this block mapping or list, which nobody can read from the template. */
export function generatorsOf(collection: YAMLMap | YAMLSeq): readonly JinjaSpan[] {
  return generatorsByCollection.get(collection) ?? [];
}

/**
 * A generator belongs to the innermost block collection whose entries stand at its column and
 * which is still open on its line: no line between them is indented less than that column.
 */
function recordGenerators(template: ParsedTemplate, columns: readonly number[]): void {
  const collections: { node: YAMLMap | YAMLSeq; start: number; column: number }[] = [];
  for (const doc of template.documents) {
    visit(doc, {
      Map(_, map) {
        const first = map.items[0]?.key as YamlNode | null | undefined;
        if (!map.flow && first?.range)
          collections.push({ node: map, start: first.range[0], column: columnAt(template.text, first.range[0]) });
      },
      Seq(_, seq) {
        if (!seq.flow && seq.range) collections.push({ node: seq, start: seq.range[0], column: columnAt(template.text, seq.range[0]) });
      },
    });
  }
  for (const [index, generator] of template.generators.entries()) {
    const column = columns[index] ?? columnAt(template.text, generator.start);
    let owner: (typeof collections)[number] | undefined;
    for (const candidate of collections) {
      if (candidate.column !== column || candidate.start >= generator.start || (owner && owner.start > candidate.start)) continue;
      if (!lessIndentedLineBetween(template.masked, candidate.start, lineStartAt(template.text, generator.start), column))
        owner = candidate;
    }
    if (owner) generatorsByCollection.set(owner.node, [...(generatorsByCollection.get(owner.node) ?? []), generator]);
  }
}

/** True when a non-blank line starting in [from, to) is indented less than `column`. */
function lessIndentedLineBetween(masked: string, from: number, to: number, column: number): boolean {
  for (let at = nextLineStart(masked, from); at < to; at = nextLineStart(masked, at)) {
    const indent = /^[ \t]*/.exec(masked.slice(at, at + column + 1))?.[0].length ?? 0;
    const rest = masked.slice(at + indent, nextLineStart(masked, at)).trim();
    if (rest !== '' && !rest.startsWith('#') && indent < column) return true;
  }
  return false;
}

/** A key a mapping gets through a `<<` merge key rather than writing it itself. */
export interface InheritedKey {
  readonly template: ParsedTemplate;
  /** The `<<: *anchor` entry it comes through. */
  readonly merge: Pair;
  /** The entry that defines it, in the merged mapping. */
  readonly source: Pair;
}

/** The template each parsed mapping comes from, for messages naming `file:line`. */
const mapTemplates = new WeakMap<YAMLMap, ParsedTemplate>();

/** The template a mapping was parsed from (undefined for one built in memory). */
export function templateOfMap(map: YAMLMap): ParsedTemplate | undefined {
  return mapTemplates.get(map);
}

/** For each mapping with a `<<` entry, the keys it inherits (own keys excluded): filled at parse. */
const inheritedKeys = new WeakMap<YAMLMap, ReadonlyMap<string, InheritedKey>>();

/**
 * The entry `key` that `map` inherits through a `<<` merge key (as Compose, Ansible and LiteLLM
 * read them), or undefined. A key the mapping writes itself is not inherited: it wins.
 */
export function inheritedKey(map: YAMLMap, key: string): InheritedKey | undefined {
  return inheritedKeys.get(map)?.get(key);
}

function keyName(pair: Pair): string | undefined {
  return isScalar(pair.key) ? String(pair.key.value) : undefined;
}

function recordMergeKeys(template: ParsedTemplate, doc: Document.Parsed): void {
  /** The mappings a `<<` entry merges: `<<: *a` or `<<: [*a, *b]`. */
  const mergedMaps = (merge: Pair): YAMLMap[] =>
    (isSeq(merge.value) ? merge.value.items : [merge.value])
      .map((source) => (isAlias(source) ? source.resolve(doc) : source))
      .filter((target): target is YAMLMap => isMap(target));
  const collect = (map: YAMLMap, into: Map<string, Pair>, seen: Set<YAMLMap>): void => {
    if (seen.has(map)) return;
    seen.add(map);
    // Own keys first; then merged mappings in order, the first one to define a key winning.
    for (const pair of map.items) {
      const name = keyName(pair);
      if (name !== undefined && name !== '<<' && !into.has(name)) into.set(name, pair);
    }
    for (const pair of map.items) {
      if (keyName(pair) === '<<') for (const target of mergedMaps(pair)) collect(target, into, seen);
    }
  };
  visit(doc, {
    Map(_, map) {
      mapTemplates.set(map, template);
      const merges = map.items.filter((pair) => keyName(pair) === '<<');
      if (merges.length === 0) return;
      const own = new Set(map.items.map(keyName));
      const inherited = new Map<string, InheritedKey>();
      for (const merge of merges) {
        const all = new Map<string, Pair>();
        for (const target of mergedMaps(merge)) collect(target, all, new Set([map]));
        for (const [name, source] of all) if (!own.has(name) && !inherited.has(name)) inherited.set(name, { template, merge, source });
      }
      inheritedKeys.set(map, inherited);
    },
  });
}

/** The original source of a node (Jinja included), without trailing comments. */
export function sourceOf(template: ParsedTemplate, node: YamlNode): string {
  const [start, valueEnd] = node.range ?? [0, 0];
  return template.text.slice(start, valueEnd);
}

/** A scalar's text as written (Jinja unrendered, so not the masked parsed value), without its quotes. */
export function scalarSource(tpl: ParsedTemplate, node: Scalar): string {
  const source = sourceOf(tpl, node);
  return node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? source.slice(1, -1) : source;
}

/** The variable of the innermost `{% for %}` around `offset` (`model` in `for model in litellm_models`), if any. */
export function loopVariableAt(template: ParsedTemplate, offset: number): string | undefined {
  const loops: string[] = [];
  for (const span of template.jinja) {
    if (span.start >= offset) break;
    if (span.kind !== 'statement') continue;
    const target = /^for\s+(.+?)\s+in\s/.exec(span.body)?.[1];
    if (target !== undefined) loops.push(target.split(',').at(-1)?.trim() ?? target);
    else if (/^endfor\b/.test(span.body)) loops.pop();
  }
  return loops.at(-1);
}

/** The first Jinja statement (`{% if %}`, `{% for %}` …) within [start, end) of the template, if any. */
export function jinjaStatementIn(template: ParsedTemplate, start: number, end: number): JinjaSpan | undefined {
  return template.jinja.find((span) => span.kind === 'statement' && span.start < end && span.end > start);
}

/** True when the node's source contains Jinja (its parsed value is filler, not the real value). */
export function hasJinja(template: ParsedTemplate, node: YamlNode): boolean {
  const [start, valueEnd] = node.range ?? [0, 0];
  return template.jinja.some((span) => span.start < valueEnd && span.end > start);
}
