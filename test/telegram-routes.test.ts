/**
 * Bug 6 is "fixed" only when the Telegram token reaches no command line by any route the repo
 * has — not only when the one task the module rewrites is gone. Each route below is one a
 * maintainer writes: a helper script template, a task in another role using an alias of the
 * token variable, a Compose command carrying it. The fix and verify must both see it.
 */
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { bug6 as bug6Module } from '../patches/telegram-token-no-argv/telegram-token-no-argv.js';
import { planFixes, runCheck } from '../src/core/engine.js';
import { verifyRepo } from '../src/verify/index.js';
import { fixtureFiles } from './helpers.js';
import { loadPatch } from '../src/core/patch-home.js';

const bug6 = loadPatch(bug6Module);

type Files = Map<string, string>;

const BASE = 'roles/openclaw-config/templates/docker-compose.yml.j2';

/** The fixture with every fix applied: the integrate role hands OpenClaw a token file. */
function fixedFixture(): Files {
  const files = fixtureFiles();
  return new Map([...files, ...planFixes(files, allPatches).result]);
}

async function verifyBug6(files: Files): Promise<{ status: string; message: string }> {
  const report = await verifyRepo(files, { goCheck: false });
  const check = report.checks.find((c) => c.id === 'telegram-token-no-argv');
  return { status: check?.status ?? '?', message: check?.message ?? '' };
}

describe('bug 6: every route to a command line', () => {
  it('the fixed fixture has none: fixed, and verify agrees', async () => {
    const files = fixedFixture();
    expect(runCheck(bug6, files).state).toBe('fixed');
    expect((await verifyBug6(files)).status).toBe('ok');
  });

  const routes: [string, (files: Files) => void, RegExp, RegExp][] = [
    [
      'a helper script template that sets the token with docker exec',
      (files) => {
        files.set(
          'roles/openclaw-integrate/templates/telegram-webhook.sh.j2',
          [
            '#!/bin/sh',
            '# {{ ansible_managed }}',
            '# Re-registers the Telegram webhook after a token rotation.',
            'set -eu',
            "TOKEN='{{ telegram_bot_token }}'",
            'docker exec openclaw openclaw channels telegram set-webhook --token "$TOKEN" --url "https://{{ openclaw_domain | default(\'example.org\') }}/telegram"',
            '',
          ].join('\n'),
        );
      },
      /roles\/openclaw-integrate\/templates\/telegram-webhook\.sh\.j2:6 \(the script passes it to docker as an argument\)/,
      /the script roles\/openclaw-integrate\/templates\/telegram-webhook\.sh\.j2 passes the Telegram token to docker as an argument.*telegram-webhook\.sh\.j2:6/,
    ],
    [
      'a task in another role using an alias of the token variable',
      (files) => {
        files.set('group_vars/all/vars.yml', `${files.get('group_vars/all/vars.yml') ?? ''}tg_api_key: "{{ vault_telegram_bot_token }}"\n`);
        files.set(
          'roles/openclaw-harden/tasks/main.yml',
          `${files.get('roles/openclaw-harden/tasks/main.yml') ?? ''}\n- name: Check the Telegram bot answers\n  ansible.builtin.command: curl -sf https://api.telegram.org/bot{{ tg_api_key }}/getMe\n  changed_when: false\n`,
        );
      },
      /roles\/openclaw-harden\/tasks\/main\.yml:\d+ \(command task 'Check the Telegram bot answers' puts it on a command line\)/,
      /'Check the Telegram bot answers' puts the Telegram token on a command line.*roles\/openclaw-harden\/tasks\/main\.yml:\d+/,
    ],
    [
      'a Compose command carrying it',
      (files) => {
        files.set(BASE, (files.get(BASE) ?? '').replace('    container_name: openclaw\n', '    container_name: openclaw\n    command: ["node", "dist/index.js", "gateway", "--telegram-token", "{{ telegram_bot_token }}"]\n'));
      },
      /docker-compose\.yml\.j2:\d+ \(the command of Compose service openclaw carries it/,
      /the command of Compose service openclaw carries the Telegram token.*docker-compose\.yml\.j2:\d+/,
    ],
  ];

  it.each(routes)('%s: the fix says it cannot make the token safe, and verify fails there', async (_, inject, fixReason, verifyMessage) => {
    const files = fixedFixture();
    inject(files);
    const check = runCheck(bug6, files);
    expect(check.state).toBe('unrecognised');
    expect(check.reason).toMatch(fixReason);
    const verified = await verifyBug6(files);
    expect(verified.status).toBe('failed');
    expect(verified.message).toMatch(verifyMessage);
  });

  it('a script that only writes the token to a file with printf (a builtin) is no route', async () => {
    const files = fixedFixture();
    files.set('roles/openclaw-integrate/templates/write-token.sh.j2', "#!/bin/sh\nset -eu\numask 077\nprintf '%s' '{{ telegram_bot_token }}' > /run/openclaw/telegram-token\n");
    expect(runCheck(bug6, files).state).toBe('fixed');
    expect((await verifyBug6(files)).status).toBe('ok');
  });
});
