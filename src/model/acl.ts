/**
 * Finding the Smokescreen egress ACL templates, shared by the fix that repairs their `services`
 * and the one that extends their allow-list, so both always mean the same files.
 */
import { isMap, type YAMLMap } from 'yaml';
import { parseYamlTemplate, type ParsedTemplate } from '../toolkit/template-yaml.js';
import type { RepoView } from '../core/types.js';
import { pairOf } from '../toolkit/yaml-edit.js';
import { UnrecognisedShape } from '../core/errors.js';
import { COMPOSE_TEMPLATE_GLOBS } from './compose-templates.js';

/** The ACL is one of the role's YAML templates or files, found by content (as the Compose files are). */
export const ACL_GLOBS = COMPOSE_TEMPLATE_GLOBS;

export interface AclFile {
  readonly tpl: ParsedTemplate;
  readonly root: YAMLMap;
}

/** Smokescreen ACL files: `version` plus a `default` rule or `services`, named like an ACL. */
export function aclFiles(repo: RepoView): AclFile[] {
  const found: AclFile[] = [];
  for (const path of repo.glob(...ACL_GLOBS)) {
    const text = repo.read(path) ?? '';
    if (!/acl/i.test(path.slice(path.lastIndexOf('/') + 1)) || !/^(services|default)\s*:/m.test(text)) continue;
    const tpl = parseYamlTemplate(path, text);
    const root = tpl.documents[0]?.contents;
    if (isMap(root) && pairOf(root, 'version') && (pairOf(root, 'services') || pairOf(root, 'default'))) found.push({ tpl, root });
    // Written as an ACL at column 0, yet not the first document's mapping (a stray document or item before it): Smokescreen reads only that one.
    else if (/^version\s*:/m.test(text))
      throw new UnrecognisedShape(
        `${path}:1 is written as a Smokescreen ACL (version, services/default), but its first YAML document is not a mapping with them`,
      );
  }
  return found;
}
