/**
 * Beyond the report: Smokescreen v0.0.4 reads the ACL's `services` into a list of rules and
 * exits 1 at start when the template renders a mapping there (`services: {}`): a crash loop of
 * its own, hidden behind Bugs 1 and 2. Rewrite the mapping as a list, rule by rule.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { hasJinja, jinjaStatementIn, type ParsedTemplate } from '../../src/toolkit/template-yaml.js';
import { columnAt, lineStartAt } from '../../src/toolkit/text.js';
import type { CheckResult, PatchModule, TextEdit } from '../../src/core/types.js';
import { ACL_GLOBS, aclFiles } from '../../src/model/acl.js';
import { pairOf, replaceNode, startsOwnLine, where } from '../../src/toolkit/yaml-edit.js';
import { UnrecognisedShape } from '../../src/core/errors.js';

/**
 * The edits that turn a block mapping of rules into a list: each `role:` key line becomes a
 * `- name: role` item line whose content column is the rule body's, so the body lines stay.
 */
function mapEntriesToItems(tpl: ParsedTemplate, services: YAMLMap): TextEdit[] {
  return services.items.map((pair: Pair) => {
    const key = pair.key as YamlNode;
    const rule = pair.value as YamlNode | null;
    const at = where(tpl, key);
    if (!isScalar(key) || hasJinja(tpl, key)) throw new UnrecognisedShape(`the service key at ${at} is not a plain name`);
    if (!isMap(rule) || rule.flow || rule.items.length === 0)
      throw new UnrecognisedShape(`the rule of service '${String(key.value)}' at ${at} is not a block mapping`);
    if (pairOf(rule, 'name'))
      throw new UnrecognisedShape(
        `the rule of service '${String(key.value)}' at ${at} has its own name: cannot tell which name it should keep`,
      );
    if (!startsOwnLine(tpl, key)) throw new UnrecognisedShape(`the service key at ${at} does not start its line`);
    const keyStart = key.range![0];
    const keyColumn = columnAt(tpl.text, keyStart);
    const bodyColumn = columnAt(tpl.text, (rule.items[0]!.key as YamlNode).range![0]);
    if (bodyColumn < keyColumn + 2)
      throw new UnrecognisedShape(`the rule of service '${String(key.value)}' at ${at} is indented less than two columns`);
    // From the key to the colon after it: `openclaw:` → `- name: openclaw`, item content at bodyColumn.
    const colon = tpl.text.indexOf(':', key.range![1]);
    const keySource = tpl.text.slice(keyStart, key.range![1]);
    return { path: tpl.path, start: keyStart, end: colon + 1, text: `-${' '.repeat(bodyColumn - keyColumn - 1)}name: ${keySource}` };
  });
}

export const extraAclServicesList: PatchModule = {
  id: 'acl-services-list',
  bug: null,
  priority: 10,
  scope: 'egress',
  files: ACL_GLOBS,
  home: import.meta.url,

  check(repo): CheckResult {
    const files = aclFiles(repo);
    if (files.length === 0)
      return { state: 'not-applicable', reason: 'no Smokescreen ACL template (version + default/services) among the role templates' };
    const edits: TextEdit[] = [];
    const changes: string[] = [];
    const problems: string[] = [];
    const fine: string[] = [];
    for (const { tpl, root } of files) {
      const pair = pairOf(root, 'services');
      const services = pair?.value as YamlNode | null | undefined;
      if (!pair || services === null || services === undefined) {
        fine.push(`${tpl.path} has no services (every client gets the default rule)`);
        continue;
      }
      if (isSeq(services)) {
        fine.push(`services at ${where(tpl, pair)} is a list`);
        continue;
      }
      if (hasJinja(tpl, services) || jinjaStatementIn(tpl, (pair.key as YamlNode).range![0], services.range![1]) !== undefined) {
        throw new UnrecognisedShape(`services at ${where(tpl, pair)} is produced by Jinja; cannot tell whether it renders a list`);
      }
      if (!isMap(services)) throw new UnrecognisedShape(`services at ${where(tpl, pair)} is neither a list nor a mapping`);
      problems.push(`services at ${where(tpl, pair)} is a mapping; Smokescreen v0.0.4 exits 1 on it`);
      if (services.items.length === 0) {
        edits.push(replaceNode(tpl, services, '[]'));
        changes.push(`${tpl.path}: services: {} is now services: [] (v0.0.4 reads a list of rules)`);
        continue;
      }
      if (services.flow)
        throw new UnrecognisedShape(`services at ${where(tpl, pair)} is a non-empty flow mapping; rewrite it as a list of rules by hand`);
      if (lineStartAt(tpl.text, services.range![0]) === lineStartAt(tpl.text, (pair.key as YamlNode).range![0])) {
        throw new UnrecognisedShape(`services at ${where(tpl, pair)} starts on its key's line`);
      }
      edits.push(...mapEntriesToItems(tpl, services));
      changes.push(
        `${tpl.path}: the ${services.items.length} service rule${services.items.length > 1 ? 's' : ''} under services are now list items named by their former keys`,
      );
    }
    if (edits.length === 0) return { state: 'fixed', reason: fine.join('; ') };
    return { state: 'needs-fix', reason: problems.join('; '), edits, changes };
  },
};
