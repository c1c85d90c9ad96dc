/**
 * Beyond the report: once Bug 4 leaves the gateway only the egress proxy, api.telegram.org
 * must be in the proxy's allow-list when Telegram is enabled. Proved on the RENDERED ACL (the
 * repo's variables, as Ansible renders it); each case is planned twice (test/patch-tester.ts).
 * How Bug 4's note points here is in patches/gateway-no-direct-egress/.
 */
import { parse as parseYaml } from 'yaml';
import { expect } from 'vitest';
import { loadVars, renderTemplate } from '../../src/model/render/render.js';
import { edit, fixture, PatchTester, type FileEdit } from '../../test/patch-tester.js';
import { extraTelegramEgress } from './telegram-egress-allowlist.js';

const ACL = 'roles/openclaw-config/templates/smokescreen-acl.yaml.j2';
const GROUP_VARS = 'group_vars/all/vars.yml';
const FIXTURE_DOMAINS = ['api.anthropic.com', '*.anthropic.com', 'api.openai.com', 'registry.npmjs.org'];

function allowedDomains(files: ReadonlyMap<string, string>): string[] {
  const acl = parseYaml(renderTemplate(files.get(ACL) ?? '', loadVars(files))) as { default: { allowed_domains: string[] } };
  return acl.default.allowed_domains;
}

const APPENDED_TO_GROUP_VARS = { [GROUP_VARS]: (text: string) => expect(text).toContain('  - registry.npmjs.org\n  - api.telegram.org\n') };
const ADDED_TO_GROUP_VARS = [`${GROUP_VARS}: added api.telegram.org to egress_allowed_domains`];

/** The ACL with a second loop over per-host extras, rendered only when egress_extra_domains is defined. */
const TWO_LOOPS: FileEdit = edit(
  ACL,
  '{% endfor %}\n',
  '{% endfor %}\n{% if egress_extra_domains is defined %}\n{% for extra in egress_extra_domains %}\n    - "{{ extra }}"\n{% endfor %}\n{% endif %}\n',
);
/** `allowed_domains: {{ egress_allowed_domains | to_json }}`: the list printed whole by one expression. */
const PRINTED: FileEdit = edit(
  ACL,
  /allowed_domains:\n\{% for domain in egress_allowed_domains %\}\n.*\n\{% endfor %\}\n/,
  'allowed_domains: {{ egress_allowed_domains | to_json }}\n',
);

new PatchTester().run(extraTelegramEgress, {
  valid: [
    {
      name: 'a wildcard that covers the host',
      files: () => fixture(edit(GROUP_VARS, '  - registry.npmjs.org\n', '  - registry.npmjs.org\n  - "*.telegram.org"\n')),
    },
    {
      name: 'a list that already holds the host literally, even when another item does not render (an unknown filter)',
      files: () =>
        fixture(
          edit(
            GROUP_VARS,
            '  - registry.npmjs.org\n',
            '  - registry.npmjs.org\n  - api.telegram.org\n  - "{{ egress_extra | frobnicate }}"\n',
          ),
        ),
    },
    {
      name: 'Telegram off',
      state: 'not-applicable',
      files: () => fixture(edit(GROUP_VARS, 'telegram_enabled: true', 'telegram_enabled: false')),
    },
  ],
  invalid: [
    {
      name: 'the fixture: the host joins the allow-list variable in group_vars, and the rendered ACL lets it through',
      files: () => fixture(),
      output: APPENDED_TO_GROUP_VARS,
      prove: (after, before) => {
        expect(allowedDomains(before)).not.toContain('api.telegram.org');
        expect(allowedDomains(after)).toEqual([...FIXTURE_DOMAINS, 'api.telegram.org']);
      },
    },
    {
      name: 'a flow list gets the host in flow style',
      files: () =>
        fixture(
          edit(GROUP_VARS, /egress_allowed_domains:\n(  - .*\n)+/, 'egress_allowed_domains: [api.anthropic.com, "*.anthropic.com"]\n'),
        ),
      output: { [GROUP_VARS]: /egress_allowed_domains: \[api\.anthropic\.com, "\*\.anthropic\.com", api\.telegram\.org\]/ },
      prove: (after) => expect(allowedDomains(after)).toContain('api.telegram.org'),
    },
    {
      name: 'literal domains in the ACL template itself are extended there',
      files: () => fixture(edit(ACL, /\{% for domain in egress_allowed_domains %\}\n.*\n\{% endfor %\}\n/, '    - "api.anthropic.com"\n')),
      output: { [ACL]: (text) => expect(text).toContain('    - "api.anthropic.com"\n    - "api.telegram.org"\n') },
      prove: (after) => expect(allowedDomains(after)).toEqual(['api.anthropic.com', 'api.telegram.org']),
    },
    {
      name: 'an ACL that loops twice, the second loop only when egress_extra_domains is defined: the always-rendered list gets the host',
      files: () => fixture(TWO_LOOPS),
      output: APPENDED_TO_GROUP_VARS,
      changes: ADDED_TO_GROUP_VARS,
      prove: (after) => expect(allowedDomains(after)).toContain('api.telegram.org'),
    },
    {
      name: 'the same with the extras defined too: the host is added once, to the list every host renders',
      files: () =>
        fixture(TWO_LOOPS, (files) =>
          new Map(files).set(GROUP_VARS, `${files.get(GROUP_VARS)}egress_extra_domains:\n  - hooks.slack.com\n`),
        ),
      output: APPENDED_TO_GROUP_VARS,
      prove: (after) => {
        expect(allowedDomains(after).filter((domain) => domain === 'api.telegram.org')).toHaveLength(1);
        expect(allowedDomains(after)).toContain('hooks.slack.com');
      },
    },
    {
      name: 'only conditional loops: no list every host renders, so the fix says so instead of guessing',
      state: 'unrecognised',
      files: () =>
        fixture(TWO_LOOPS, (files) =>
          new Map(files).set(
            ACL,
            files
              .get(ACL)!
              .replace(
                '{% for domain in egress_allowed_domains %}',
                '{% if egress_allowed_domains is defined %}{% for domain in egress_allowed_domains %}',
              )
              .replace('{% endfor %}\n{% if egress_extra', '{% endfor %}{% endif %}\n{% if egress_extra'),
          ),
        ),
      reason: /every allowed_domains loop is under a condition .*smokescreen-acl\.yaml\.j2:\d+/,
    },
    {
      name: 'telegram_enabled from a lookup: only the play knows whether Telegram is on, so the fix says so instead of guessing off',
      state: 'unrecognised',
      files: () => fixture(edit(GROUP_VARS, 'telegram_enabled: true', `telegram_enabled: "{{ lookup('env', 'TELEGRAM_ON') }}"`)),
      reason: /^telegram_enabled at group_vars\/all\/vars\.yml:\d+ is only known when the play runs/,
    },
    {
      name: '`allowed_domains: {{ <var> | to_json }}` is followed to the variable it prints, and the host added there',
      files: () => fixture(PRINTED),
      output: APPENDED_TO_GROUP_VARS,
      changes: ADDED_TO_GROUP_VARS,
      prove: (after, before) => {
        expect(before.get(ACL)).toContain('  allowed_domains: {{ egress_allowed_domains | to_json }}\n');
        expect(allowedDomains(before)).not.toContain('api.telegram.org');
        expect(allowedDomains(after)).toEqual([...FIXTURE_DOMAINS, 'api.telegram.org']);
      },
    },
    {
      name: 'an expression that may drop or add items is refused, naming the line and the filter',
      state: 'unrecognised',
      files: () =>
        fixture(
          PRINTED,
          edit(ACL, '{{ egress_allowed_domains | to_json }}', "{{ egress_allowed_domains | reject('search', 'npm') | list | to_json }}"),
        ),
      reason: `default.allowed_domains at ${ACL}:12 is '{{ egress_allowed_domains | reject('search', 'npm') | list | to_json }}', which does not print one variable as a list (the filter 'reject('search', 'npm')' may change its items)`,
    },
    {
      name: 'a printed variable that is not defined is refused',
      state: 'unrecognised',
      files: () => fixture(PRINTED, edit(ACL, 'egress_allowed_domains | to_json', 'egress_hosts | to_json')),
      reason: new RegExp(`egress_hosts, printed at ${ACL.replace(/\./g, '\\.')}:12, is not defined`),
    },
    {
      name: 'without a telegram_enabled variable, a task configuring channels.telegram enables it',
      files: () => fixture(edit(GROUP_VARS, 'telegram_enabled: true\n', '')),
      reason: /roles\/openclaw-integrate\/tasks\/main\.yml:\d+ configures channels\.telegram/,
      output: APPENDED_TO_GROUP_VARS,
    },
  ],
});
