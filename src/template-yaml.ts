/**
 * Parse a YAML file that may contain Jinja (an Ansible template or a task file) into `yaml`
 * Documents whose node ranges are offsets into the ORIGINAL text.
 */
import { parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { maskJinja, scanJinja, TemplateSyntaxError, type JinjaSpan } from './jinja-mask.js';
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

export function parseYamlTemplate(path: string, text: string): ParsedTemplate {
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
  const list: Document.Parsed[] = [...parseAllDocuments(masked, { uniqueKeys: false, prettyErrors: false })];
  for (const doc of list) {
    const error = doc.errors[0];
    if (error) {
      throw new YamlTemplateError(path, lineNumberAt(text, error.pos[0]), `not valid YAML: ${error.message.split('\n')[0]}`);
    }
  }
  return { path, text, masked, jinja, documents: list };
}

/** The original source of a node (Jinja included), without trailing comments. */
export function sourceOf(template: ParsedTemplate, node: YamlNode): string {
  const [start, valueEnd] = node.range ?? [0, 0];
  return template.text.slice(start, valueEnd);
}

/** True when the node's source contains Jinja (its parsed value is filler, not the real value). */
export function hasJinja(template: ParsedTemplate, node: YamlNode): boolean {
  const [start, valueEnd] = node.range ?? [0, 0];
  return template.jinja.some((span) => span.start < valueEnd && span.end > start);
}
