/**
 * Beyond the report: Smokescreen v0.0.4 exits 1 when the ACL's `services` is a mapping. The fix
 * is proved on the RENDERED ACL (the repo's variables, as Ansible renders it): `services` is a
 * list, the rules are the same, and the default rule is untouched.
 */
import { describe, expect, it } from 'vitest';
import { extraAclServicesList as extraAclServicesListModule } from './acl-services-list.js';
import { planFixes, runCheck } from '../../src/core/engine.js';
import { loadVars, renderYaml } from '../../src/model/render/render.js';
import { fixtureFiles } from '../../test/helpers.js';
import { loadPatch } from '../../src/core/patch-home.js';

const extraAclServicesList = loadPatch(extraAclServicesListModule);

const ACL = 'roles/openclaw-config/templates/smokescreen-acl.yaml.j2';

interface RenderedAcl {
  version: string;
  services: unknown;
  default: { name: string; project: string; action: string; allowed_domains: string[] };
}

function renderedAcl(files: ReadonlyMap<string, string>): RenderedAcl {
  return renderYaml(ACL, files.get(ACL)!, loadVars(files)) as RenderedAcl;
}

function withAcl(transform: (text: string) => string): Map<string, string> {
  const files = fixtureFiles();
  files.set(ACL, transform(files.get(ACL)!));
  return files;
}

const TWO_RULES = (indent: string): string =>
  [
    'services:',
    `${indent}# the worker gets its own rule`,
    `${indent}worker:`,
    `${indent}${indent}project: openclaw`,
    `${indent}${indent}action: enforce`,
    `${indent}${indent}allowed_domains:`,
    `${indent}${indent}${indent}- api.github.com`,
    '',
    `${indent}scanner:`,
    `${indent}${indent}project: openclaw`,
    `${indent}${indent}action: report`,
    `${indent}${indent}allowed_domains: ["*.example.org"]`,
  ].join('\n');

describe('ACL services as a list (beyond the report)', () => {
  it('renders services: [] instead of a mapping, the default rule intact, the comment kept', () => {
    const files = fixtureFiles();
    const before = renderedAcl(files);
    expect(before.services).toEqual({});
    expect(runCheck(extraAclServicesList, files)).toMatchObject({
      state: 'needs-fix',
      reason: `services at ${ACL}:6 is a mapping; Smokescreen v0.0.4 exits 1 on it`,
    });

    const plan = planFixes(files, [extraAclServicesList]);
    const after = renderedAcl(plan.result);
    expect(after.services).toEqual([]);
    expect(after.default).toEqual(before.default);
    expect(after.default.allowed_domains).toEqual(loadVars(files).egress_allowed_domains);
    expect(plan.result.get(ACL)).toContain('services: []   # no per-service roles: every client uses the default rule\n');
    expect(runCheck(extraAclServicesList, plan.result).state).toBe('fixed');
  });

  it.each([
    ['2-space', '  '],
    ['4-space', '    '],
  ])('turns a %s mapping of rules into list items named by their keys', (_, indent) => {
    const files = withAcl((text) => text.replace(/^services: \{\}.*$/m, TWO_RULES(indent)));
    const before = renderedAcl(files);
    expect(Object.keys(before.services as object)).toEqual(['worker', 'scanner']);

    const result = planFixes(files, [extraAclServicesList]).result;
    const after = renderedAcl(result);
    const rules = before.services as Record<string, object>;
    expect(after.services).toEqual(Object.entries(rules).map(([name, rule]) => ({ name, ...rule })));
    expect(after.default).toEqual(before.default);
    expect(result.get(ACL)).toContain(`${indent}# the worker gets its own rule\n${indent}-${' '.repeat(indent.length - 1)}name: worker\n`);
  });

  it.each([
    ['an empty list', (text: string) => text.replace('services: {}', 'services: []')],
    [
      'a block list of rules',
      (text: string) => text.replace(/^services: \{\}.*$/m, 'services:\n  - name: worker\n    project: openclaw\n    action: enforce'),
    ],
    ['no services key', (text: string) => text.replace(/^services: \{\}.*\n/m, '')],
  ])('is fixed with %s', (_, transform) => {
    expect(runCheck(extraAclServicesList, withAcl(transform)).state).toBe('fixed');
  });

  it('refuses services produced by Jinja or a non-empty flow mapping, naming file:line', () => {
    const expression = withAcl((text) => text.replace('services: {}', 'services: {{ acl_services | to_json }}'));
    expect(runCheck(extraAclServicesList, expression)).toEqual({
      state: 'unrecognised',
      reason: `services at ${ACL}:6 is produced by Jinja; cannot tell whether it renders a list`,
    });

    const loop = withAcl((text) =>
      text.replace(/^services: \{\}.*$/m, 'services:\n{% for role in acl_roles %}\n  {{ role }}:\n    action: enforce\n{% endfor %}'),
    );
    expect(runCheck(extraAclServicesList, loop)).toMatchObject({
      state: 'unrecognised',
      reason: expect.stringContaining(`${ACL}:6 is produced by Jinja`),
    });

    const flow = withAcl((text) => text.replace('services: {}', 'services: {worker: {action: enforce}}'));
    expect(runCheck(extraAclServicesList, flow)).toMatchObject({
      state: 'unrecognised',
      reason: expect.stringContaining(`${ACL}:6 is a non-empty flow mapping`),
    });
  });

  it('is not applicable without an ACL template', () => {
    const files = fixtureFiles();
    files.delete(ACL);
    expect(runCheck(extraAclServicesList, files).state).toBe('not-applicable');
  });
});
