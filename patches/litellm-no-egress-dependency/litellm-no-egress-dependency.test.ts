/**
 * Bug 7: LiteLLM stops waiting for the egress proxy; the gateway keeps waiting. Every shape of
 * `depends_on` the fix reads, as a table (test/patch-tester.ts plans each case twice: the
 * second plan must find nothing to do). The end-to-end tests (test/end-to-end.test.ts) run it
 * with the other fixes through git and Ansible.
 */
import { describe, expect, it } from 'vitest';
import { planFixes, unifiedDiff } from '../../src/core/engine.js';
import { loadPatch } from '../../src/core/patch-home.js';
import { COMMENTED_COMPOSE_TEMPLATE } from '../../test/compose-template.js';
import { edit, fixture, PatchTester } from '../../test/patch-tester.js';
import { bug7 } from './litellm-no-egress-dependency.js';

const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
const LITELLM_DEPENDS =
  '    depends_on:\n      redis:\n        condition: service_healthy\n      openclaw-egress:\n        condition: service_healthy\n    logging: *default-logging\n';

/** A Compose template written with comments, CRLF-sensitive spacing and Jinja escapes: every byte outside the removed lines must stay. */
const TEMPLATE = COMMENTED_COMPOSE_TEMPLATE;
const FIXED = TEMPLATE.replace('      openclaw-egress:\n        condition: service_healthy    # ← unnecessary for startup\n', '');
const only = (text: string) => new Map([[COMPOSE, text]]);

new PatchTester().run(bug7, {
  valid: [
    { name: 'the fixed template (a second run changes nothing)', files: only(FIXED), reason: /does not depend on openclaw-egress/ },
    {
      name: 'LiteLLM without depends_on',
      files: () => fixture(edit(COMPOSE, LITELLM_DEPENDS, '    logging: *default-logging\n')),
      reason: /litellm has no depends_on in roles\/openclaw-config\/templates\/docker-compose\.yml\.j2/,
    },
    {
      name: 'a short-form list without the proxy',
      files: () => fixture(edit(COMPOSE, LITELLM_DEPENDS, '    depends_on: [redis]\n    logging: *default-logging\n')),
    },
  ],
  invalid: [
    {
      name: 'the bundled repo: the long form loses only its openclaw-egress entry',
      files: () => fixture(),
      reason: /^litellm waits for openclaw-egress at roles\/openclaw-config\/templates\/docker-compose\.yml\.j2:\d+$/,
      output: {
        [COMPOSE]: (text) =>
          expect(text).toBe(
            fixture()
              .get(COMPOSE)!
              .replace(
                LITELLM_DEPENDS,
                '    depends_on:\n      redis:\n        condition: service_healthy\n    logging: *default-logging\n',
              ),
          ),
      },
      changes: [`${COMPOSE}: removed openclaw-egress from litellm's depends_on`],
    },
    { name: 'comments, Jinja escapes and an {% if %} block stay byte for byte', files: only(TEMPLATE), output: { [COMPOSE]: FIXED } },
    {
      name: 'CRLF line endings stay CRLF',
      files: only(TEMPLATE.replace(/\n/g, '\r\n')),
      output: { [COMPOSE]: FIXED.replace(/\n/g, '\r\n') },
    },
    { name: 'a missing final newline stays missing', files: only(TEMPLATE.trimEnd()), output: { [COMPOSE]: FIXED.trimEnd() } },
    {
      name: 'a block list with comments loses only the proxy item',
      files: () =>
        fixture(
          edit(
            COMPOSE,
            LITELLM_DEPENDS,
            '    depends_on:   # start order\n      - redis\n      - openclaw-egress   # the proxy\n    logging: *default-logging\n',
          ),
        ),
      output: { [COMPOSE]: /    depends_on: {3}# start order\n {6}- redis\n {4}logging: \*default-logging\n/ },
    },
    {
      name: 'a flow list loses only the proxy item',
      files: () => fixture(edit(COMPOSE, LITELLM_DEPENDS, '    depends_on: [redis, openclaw-egress]\n    logging: *default-logging\n')),
      output: { [COMPOSE]: /    depends_on: \[redis\]\n    logging/ },
    },
    {
      name: 'the proxy as the only entry: depends_on goes',
      files: () =>
        fixture(
          edit(
            COMPOSE,
            LITELLM_DEPENDS,
            '    depends_on:\n      openclaw-egress:\n        condition: service_healthy\n    logging: *default-logging\n',
          ),
        ),
      output: { [COMPOSE]: (text) => expect(text).toContain('      retries: 5\n      start_period: 40s\n    logging: *default-logging\n') },
      changes: [`${COMPOSE}: removed openclaw-egress from litellm's depends_on (it was the only entry, so depends_on goes)`],
    },
    {
      name: 'depends_on that is neither a list nor a mapping',
      state: 'unrecognised',
      files: () => fixture(edit(COMPOSE, LITELLM_DEPENDS, '    depends_on: openclaw-egress\n    logging: *default-logging\n')),
      reason: /^litellm's depends_on at roles\/openclaw-config\/templates\/docker-compose\.yml\.j2:\d+ is neither a list nor a mapping$/,
    },
  ],
});

describe('litellm-no-egress-dependency: the diff a reviewer reads', () => {
  it('is a git-style unified diff that only removes lines', () => {
    const plan = planFixes(only(TEMPLATE), [loadPatch(bug7)]);
    const diff = unifiedDiff(plan.pending[0]!);
    expect(diff).toContain(`--- a/${COMPOSE}`);
    expect(diff).toContain(`+++ b/${COMPOSE}`);
    expect(diff).toContain('-      openclaw-egress:');
    expect(diff.split('\n').filter((line) => line.startsWith('+') && !line.startsWith('+++'))).toEqual([]);
  });
});
