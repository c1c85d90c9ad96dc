/**
 * Parse a YAML file that may contain Jinja (an Ansible template or a task file) into `yaml`
 * Documents whose node ranges are offsets into the ORIGINAL text.
 */
import { ANSIBLE_YAML_TAGS } from './render/ansible-yaml.js';
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments, visit, type Document, type Node as YamlNode, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { maskJinja, scanJinja, TemplateSyntaxError, type JinjaSpan } from './jinja-mask.js';
import { ParseMemo } from './parse-cache.js';
import { lineNumberAt } from './text.js';

export class YamlTemplateError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${path}:${line}: ${detail}`);
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
  readonly documents: readonly Document.Parsed[];
}

/**
 * Each (path, content) is parsed once per process (src/parse-cache.ts): the result is shared
 * by every caller, so it is read-only (`documents` is frozen; never change a node).
 */
export function parseYamlTemplate(path: string, text: string): ParsedTemplate {
  return parsedTemplates.get(path, text, parseYamlTemplateUncached);
}

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
  const masked = maskJinja(text, jinja);
  // uniqueKeys off: `{% if %}a: 1{% else %}a: 2{% endif %}` legitimately repeats a key.
  // An empty file parses to an EmptyStream: an empty array of documents.
  const list: Document.Parsed[] = [...parseAllDocuments(masked, { uniqueKeys: false, prettyErrors: false, customTags: ANSIBLE_YAML_TAGS })];
  for (const doc of list) {
    const error = doc.errors[0];
    if (error) {
      throw new YamlTemplateError(path, lineNumberAt(text, error.pos[0]), `not valid YAML: ${error.message.split('\n')[0]}`);
    }
  }
  const template: ParsedTemplate = Object.freeze({ path, text, masked, jinja: Object.freeze(jinja), documents: Object.freeze(list) });
  for (const doc of list) recordMergeKeys(template, doc);
  return template;
}

/** A key a mapping gets through a `<<` merge key rather than writing it itself. */
export interface InheritedKey {
  readonly template: ParsedTemplate;
  /** The `<<: *anchor` entry it comes through. */
  readonly merge: Pair;
  /** The entry that defines it, in the merged mapping. */
  readonly source: Pair;
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
    (isSeq(merge.value) ? merge.value.items : [merge.value]).map((source) => (isAlias(source) ? source.resolve(doc) : source)).filter((target): target is YAMLMap => isMap(target));
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

/** The first Jinja statement (`{% if %}`, `{% for %}` …) within [start, end) of the template, if any. */
export function jinjaStatementIn(template: ParsedTemplate, start: number, end: number): JinjaSpan | undefined {
  return template.jinja.find((span) => span.kind === 'statement' && span.start < end && span.end > start);
}

/** True when the node's source contains Jinja (its parsed value is filler, not the real value). */
export function hasJinja(template: ParsedTemplate, node: YamlNode): boolean {
  const [start, valueEnd] = node.range ?? [0, 0];
  return template.jinja.some((span) => span.start < valueEnd && span.end > start);
}
