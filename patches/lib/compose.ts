/**
 * Finding the deployment's Compose templates and their services, shared by the patch modules
 * that edit them. Files are found by what they contain, not by fixed paths or line numbers.
 */
import { isMap, type YAMLMap } from 'yaml';
import { parseYamlTemplate, type ParsedTemplate } from '../../src/template-yaml.js';
import type { RepoView } from '../../src/types.js';
import { mapAt, pairOf, UnrecognisedShape } from '../../src/yaml-edit.js';

/** Every role template that may be a Compose file (base or overlay). */
export const COMPOSE_TEMPLATE_GLOBS = ['**/roles/*/templates/*.{yml,yaml}.j2', '**/roles/*/templates/*.{yml,yaml}', '**/roles/*/files/*.{yml,yaml}'];

export interface ComposeFile {
  readonly tpl: ParsedTemplate;
  readonly root: YAMLMap;
  readonly services: YAMLMap;
}

/** Parses a template as a Compose file; undefined when it is YAML but not Compose (no top-level `services` map). */
export function readCompose(path: string, text: string): ComposeFile | undefined {
  if (!/^services\s*:/m.test(text)) return undefined;
  const tpl = parseYamlTemplate(path, text);
  const root = tpl.documents[0]?.contents;
  if (!isMap(root)) return undefined;
  const services = mapAt(tpl, root, 'services');
  return services ? { tpl, root, services } : undefined;
}

/** Every Compose file among the role templates, in path order. */
export function composeFiles(repo: RepoView): ComposeFile[] {
  const found: ComposeFile[] = [];
  for (const path of repo.glob(...COMPOSE_TEMPLATE_GLOBS)) {
    const compose = readCompose(path, repo.read(path) ?? '');
    if (compose) found.push(compose);
  }
  return found;
}

/** The Compose file that defines `serviceName` (the base file for 'openclaw-egress'), or undefined. */
export function composeDefining(repo: RepoView, serviceName: string): ComposeFile | undefined {
  const matches = composeFiles(repo).filter((compose) => pairOf(compose.services, serviceName));
  if (matches.length > 1) {
    throw new UnrecognisedShape(`service '${serviceName}' is defined in more than one Compose template: ${matches.map((m) => m.tpl.path).join(', ')}`);
  }
  return matches[0];
}

/** The service's mapping; UnrecognisedShape when the entry is not a mapping. */
export function serviceMap(compose: ComposeFile, serviceName: string): YAMLMap | undefined {
  return mapAt(compose.tpl, compose.services, serviceName);
}
