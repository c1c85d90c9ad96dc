/**
 * Bug 6: after the fix, the Telegram bot token is on no command line (host or container), every
 * task that handles it has no_log, the host temp file goes in `always:` and the in-container copy
 * in `rescue:`. Proved on the parsed and rendered task list, by ansible-playbook --syntax-check,
 * and by running the fixed tasks against localhost with a fake `docker` that records its argv.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { bug6 as bug6Module } from './telegram-token-no-argv.js';
import { planFixes, runCheck } from '../../src/core/engine.js';
import { loadVars, renderTemplate, type Vars } from '../../src/model/render/render.js';
import { VerifyContext } from '../../src/verify/context.js';
import { checkTelegramToken } from '../../src/verify/tasks.js';
import { ansiblePlaybook, fixtureFiles, tempDir } from '../../test/helpers.js';
import { SLOW_TEST } from '../../test/budgets.js';
import { loadPatch } from '../../src/core/patch-home.js';
import { verifyRepo } from '../../src/verify/index.js';
import { allPatches } from '../index.js';

const bug6 = loadPatch(bug6Module);

const INTEGRATE = 'roles/openclaw-integrate/tasks/main.yml';
const TOKEN_VARIABLE = 'telegram_bot_token';
const TOKEN_PATH = '/home/node/.openclaw/telegram-bot-token';
const LEAKY_TASK = `    - name: Set Telegram bot token
      ansible.builtin.command: >
        docker exec openclaw openclaw config set channels.telegram.token
        "{{ telegram_bot_token }}"
      changed_when: true
`;

type TaskData = Record<string, unknown>;
interface Located {
  readonly task: TaskData;
  readonly section: 'tasks' | 'block' | 'rescue' | 'always';
  readonly ancestors: readonly TaskData[];
}

/** Every task of a parsed task list, depth first, with the blocks around it. */
function walk(list: unknown, section: Located['section'] = 'tasks', ancestors: TaskData[] = []): Located[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((task: TaskData) => [
    { task, section, ancestors },
    ...(['block', 'rescue', 'always'] as const).flatMap((key) => walk(task[key], key, [...ancestors, task])),
  ]);
}

const moduleValue = (task: TaskData, short: string): unknown => task[`ansible.builtin.${short}`] ?? task[short];

/** Everything that becomes a process's command line: command/shell/raw free form, `cmd:`, `argv:`, under `args:` too. */
function commandLines(task: TaskData): string[] {
  const lines: string[] = [];
  for (const short of ['command', 'shell', 'raw']) {
    const value = moduleValue(task, short);
    if (value === undefined) continue;
    for (const source of [value, task.args]) {
      if (typeof source === 'string') lines.push(source);
      else if (source && typeof source === 'object') {
        const { cmd, argv } = source as { cmd?: unknown; argv?: unknown };
        if (typeof cmd === 'string') lines.push(cmd);
        if (Array.isArray(argv)) lines.push(argv.map(String).join(' '));
      }
    }
  }
  return lines;
}

const noLog = (located: Located): boolean => [located.task, ...located.ancestors].some((task) => task.no_log === true);
/** A task's own keys (a block's children are judged on their own). */
const ownText = (task: TaskData): string =>
  JSON.stringify(Object.fromEntries(Object.entries(task).filter(([key]) => !['block', 'rescue', 'always'].includes(key))));

/** Fixes `files` with bug 6 alone; returns the fixed integrate task file. */
function fix(files: Map<string, string>, path = INTEGRATE): { text: string; notes: readonly string[] } {
  const plan = planFixes(files, [bug6]); // the engine re-runs the check on its own output: it must say 'fixed'
  const outcome = plan.outcomes[0];
  expect(outcome?.state, outcome?.reason).toBe('needs-fix');
  expect(runCheck(bug6, plan.result).state).toBe('fixed');
  return { text: plan.result.get(path) ?? '', notes: outcome?.notes ?? [] };
}

/**
 * The properties of Bug 6 on a fixed task file: raw (Jinja unrendered) for who references the
 * token variable, rendered with the repo's vars for what really lands on command lines.
 */
function assertTokenNeverOnACommandLine(text: string, vars: Vars): Located[] {
  const raw = walk(parseYaml(text));
  for (const located of raw) {
    if (ownText(located.task).includes(TOKEN_VARIABLE))
      expect(noLog(located), `task "${String(located.task.name)}" handles the token without no_log`).toBe(true);
    for (const line of commandLines(located.task)) expect(line).not.toContain(TOKEN_VARIABLE);
  }

  const token = String(vars[TOKEN_VARIABLE]);
  const rendered = walk(parseYaml(renderTemplate(text, { ...vars, telegram_secret_tmp: { path: '/tmp/ansible.abc.telegram-token' } })));
  for (const { task } of rendered) for (const line of commandLines(task)) expect(line).not.toContain(token);
  // The token does reach the gateway: written to the host temp file, which is streamed in and named in tokenFile.
  expect(rendered.some(({ task }) => (moduleValue(task, 'copy') as { content?: string } | undefined)?.content === token)).toBe(true);
  const configLines = rendered.flatMap(({ task }) => commandLines(task)).filter((line) => line.includes('config set channels.telegram'));
  expect(configLines.some((line) => line.includes(`channels.telegram.tokenFile ${TOKEN_PATH}`))).toBe(true);
  expect(configLines.some((line) => /channels\.telegram\.(token|botToken)\b/.test(line))).toBe(false);

  // Structure: the temp file is removed in always:, the in-container copy in rescue: of the same block.
  const tempfile = raw.find(({ task }) => moduleValue(task, 'tempfile') !== undefined);
  expect(tempfile).toBeDefined();
  const block = tempfile?.ancestors.at(-1) as TaskData;
  const register = String(tempfile?.task.register);
  const always = walk(block.always, 'always');
  expect(
    always.some(({ task }) => {
      const file = moduleValue(task, 'file') as { path?: string; state?: string } | undefined;
      return file?.state === 'absent' && file.path === `{{ ${register}.path }}`;
    }),
  ).toBe(true);
  const rescue = walk(block.rescue, 'rescue');
  expect(rescue.some(({ task }) => commandLines(task).some((line) => line.endsWith(`rm -f ${TOKEN_PATH}`)))).toBe(true);
  expect(
    rescue.some(({ task }) => moduleValue(task, 'fail') !== undefined),
    'the rescue must still fail the play',
  ).toBe(true);
  return raw;
}

function withIntegrate(text: string, files = fixtureFiles(), path = INTEGRATE): Map<string, string> {
  const copy = new Map(files);
  copy.set(path, text);
  return copy;
}

function fixtureIntegrate(): string {
  return fixtureFiles().get(INTEGRATE) ?? '';
}

/** The fixture's integrate file re-indented with a 4-space step (`-   name:` under a 4-space list). */
function fourSpace(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const indent = line.length - line.trimStart().length;
      return ' '.repeat(indent * 2) + line.trimStart().replace(/^- /, '-   ');
    })
    .join('\n');
}

const OUTSIDE_BLOCK = `---
- name: Enable Telegram channel
  ansible.builtin.command: docker exec openclaw openclaw config set channels.telegram.enabled true
  when: telegram_enabled | bool
  changed_when: true

# The token, set straight on the command line.
- name: Set Telegram bot token
  ansible.builtin.command: >
    docker exec openclaw openclaw config set channels.telegram.token
    "{{ telegram_bot_token }}"
  when: telegram_enabled | bool
  tags:
    - telegram
  changed_when: true

- name: Restart the gateway
  ansible.builtin.command: docker compose restart openclaw
  args:
    chdir: "{{ openclaw_base_dir }}"
  when: telegram_enabled | bool
  changed_when: true
`;

/** The report's own fix, applied by hand: still leaks through the inner process's argv. */
const REPORT_PATTERN = `    - name: Write Telegram bot token to host tempfile
      ansible.builtin.copy:
        content: "{{ telegram_bot_token }}"
        dest: "{{ openclaw_base_dir }}/monitoring/.telegram-token"
        mode: "0600"
      no_log: true

    - name: Copy Telegram token into container
      ansible.builtin.command: docker cp {{ openclaw_base_dir }}/monitoring/.telegram-token openclaw:/tmp/.tg-token
      no_log: true

    - name: Install Telegram token via file
      ansible.builtin.command: >
        docker exec openclaw sh -c
        'openclaw config set channels.telegram.token "$(cat /tmp/.tg-token)" && rm -f /tmp/.tg-token'
      no_log: true

    - name: Remove Telegram token tempfile from host
      ansible.builtin.file:
        path: "{{ openclaw_base_dir }}/monitoring/.telegram-token"
        state: absent
`;

describe('bug 6 on the fixture', () => {
  it('replaces the argv token task inside its block and keeps the block around it', () => {
    const files = fixtureFiles();
    const { text, notes } = fix(files);
    const tasks = assertTokenNeverOnACommandLine(text, loadVars(files));
    // Restructured inside the enclosing block: its when and tags still cover the new tasks.
    const enclosing = tasks.find(({ task }) => task.name === 'Configure the Telegram channel')?.task as TaskData;
    expect(enclosing.when).toBe('telegram_enabled | bool');
    const tempfile = tasks.find(({ task }) => task.register === 'telegram_secret_tmp');
    expect(tempfile?.ancestors[0]).toBe(enclosing);
    expect((enclosing.block as TaskData[]).map((task) => task.name)).toEqual([
      'Enable Telegram channel',
      'Install the Telegram bot token as a file the gateway reads',
      'Restrict Telegram to direct messages',
    ]);
    // Every byte outside the replaced task is as it was.
    const [before, after] = fixtureIntegrate().split(LEAKY_TASK);
    expect(text.startsWith(before ?? '!')).toBe(true);
    expect(text.endsWith(after ?? '!')).toBe(true);
    // The harden role's gateway token is pointed out, not changed.
    expect(notes.some((note) => note.startsWith('roles/openclaw-harden/tasks/main.yml:16'))).toBe(true);
  });

  it('treats the report\'s sh -c "$(cat file)" pattern as still leaking and replaces the whole run', () => {
    const files = withIntegrate(fixtureIntegrate().replace(LEAKY_TASK, REPORT_PATTERN));
    const outcome = runCheck(bug6, files);
    expect(outcome.state).toBe('needs-fix');
    expect(outcome.reason).toMatch(/inner openclaw process .*roles\/openclaw-integrate\/tasks\/main\.yml:32$/);
    const { text } = fix(files);
    const tasks = assertTokenNeverOnACommandLine(text, loadVars(files));
    expect(tasks.some(({ task }) => commandLines(task).some((line) => line.includes('$(cat') || line.includes('docker cp')))).toBe(false);
    expect(text).not.toContain('/monitoring/.telegram-token');
  });
});

describe('bug 6 on other shapes of the role', () => {
  it('wraps a token task outside any block in a block of its own, carrying its when and tags', () => {
    const files = withIntegrate(OUTSIDE_BLOCK);
    const { text } = fix(files);
    const tasks = assertTokenNeverOnACommandLine(text, loadVars(files));
    const wrapper = tasks.find(({ task }) => task.name === 'Install the Telegram bot token as a file the gateway reads');
    expect(wrapper?.ancestors).toEqual([]);
    expect(wrapper?.task.when).toBe('telegram_enabled | bool');
    expect(wrapper?.task.tags).toEqual(['telegram']);
    expect(text).toContain('# The token, set straight on the command line.\n- name: Install the Telegram bot token');
  });

  it('follows a 4-space file', () => {
    const files = withIntegrate(fourSpace(fixtureIntegrate()));
    const { text } = fix(files);
    assertTokenNeverOnACommandLine(text, loadVars(files));
    expect(text).toMatch(
      /\n {8}-   name: Install the Telegram bot token as a file the gateway reads\n {12}block:\n {16}-   name: Create a private temp file/,
    );
  });

  it('finds the role and the gateway volume under ansible/, in a .yaml task file with short module names', () => {
    const files = new Map([...fixtureFiles()].map(([path, text]) => [`ansible/${path}`, text]));
    const path = 'ansible/roles/openclaw-integrate/tasks/telegram.yaml';
    files.delete(`ansible/${INTEGRATE}`);
    files.set(path, fixtureIntegrate().replace(/ansible\.builtin\./g, ''));
    const { text } = fix(files, path);
    assertTokenNeverOnACommandLine(text, loadVars(files));
    expect(text).toMatch(/^ {10}tempfile:$/m);
    expect(text).not.toContain('ansible.builtin.');
  });

  it.each([
    [
      'cmd:',
      '      ansible.builtin.command:\n        cmd: docker exec openclaw openclaw config set channels.telegram.token "{{ telegram_bot_token }}"\n',
    ],
    [
      'argv:',
      '      ansible.builtin.command:\n        argv:\n          - docker\n          - exec\n          - openclaw\n          - openclaw\n          - config\n          - set\n          - channels.telegram.token\n          - "{{ telegram_bot_token }}"\n',
    ],
    [
      'shell free form',
      '      ansible.builtin.shell: docker exec openclaw openclaw config set channels.telegram.botToken {{ telegram_bot_token }}\n',
    ],
  ])('replaces the %s form', (_form, moduleLines) => {
    const leaky = LEAKY_TASK.replace(/      ansible\.builtin\.command: >\n.*\n.*\n/, moduleLines);
    expect(leaky).not.toBe(LEAKY_TASK);
    const files = withIntegrate(fixtureIntegrate().replace(LEAKY_TASK, leaky));
    assertTokenNeverOnACommandLine(fix(files).text, loadVars(files));
  });

  it('keeps CRLF line endings', () => {
    const files = withIntegrate(fixtureIntegrate().replace(/\n/g, '\r\n'));
    const { text } = fix(files);
    expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    assertTokenNeverOnACommandLine(text.replace(/\r\n/g, '\n'), loadVars(files));
  });

  it('says fixed when the role already hands OpenClaw a token file, and not-applicable without Telegram', () => {
    const files = withIntegrate(fix(fixtureFiles()).text);
    expect(runCheck(bug6, files)).toMatchObject({
      state: 'fixed',
      reason: expect.stringMatching(/tokenFile \(roles\/openclaw-integrate\/tasks\/main\.yml:\d+\)/),
    });
    const withoutTelegram = fixtureIntegrate().replace(/# ---- telegram[\s\S]*/, '');
    expect(runCheck(bug6, withIntegrate(withoutTelegram)).state).toBe('not-applicable');
  });

  it('adds no_log to a task that handles the token outside a command line', () => {
    const debug = `${LEAKY_TASK}\n    - name: Check the token is set\n      ansible.builtin.assert:\n        that: telegram_bot_token | length > 0\n`;
    const files = withIntegrate(fixtureIntegrate().replace(LEAKY_TASK, debug));
    const text = fix(files).text;
    const check = walk(parseYaml(text)).find(({ task }) => task.name === 'Check the token is set');
    expect(check?.task.no_log).toBe(true);
  });

  it.each([
    [
      'a pipeline through echo',
      LEAKY_TASK.replace(
        /ansible\.builtin\.command: >\n.*\n.*\n/,
        'ansible.builtin.shell: echo "{{ telegram_bot_token }}" | docker exec -i openclaw tee /tmp/t\n',
      ),
      /not a 'docker exec' at roles\/openclaw-integrate\/tasks\/main\.yml:21$/,
    ],
    [
      'a registered result',
      LEAKY_TASK.replace('      changed_when: true\n', '      register: token_result\n'),
      /roles\/openclaw-integrate\/tasks\/main\.yml:21 uses 'register'/,
    ],
    // The replacement stands for the whole task: a command beside the docker exec would be lost.
    [
      'a second command beside the docker exec',
      LEAKY_TASK.replace('"{{ telegram_bot_token }}"\n', '"{{ telegram_bot_token }}" && touch /tmp/telegram-configured\n'),
      /main\.yml:21 runs more than the docker exec/,
    ],
  ])('refuses %s with file:line', (_shape, leaky, reason) => {
    const outcome = runCheck(bug6, withIntegrate(fixtureIntegrate().replace(LEAKY_TASK, leaky)));
    expect(outcome.state).toBe('unrecognised');
    expect(outcome.reason).toMatch(reason);
  });

  it('refuses when no Compose template says where the gateway keeps its data', () => {
    const files = new Map([...fixtureFiles()].filter(([path]) => !path.endsWith('docker-compose.yml.j2')));
    expect(runCheck(bug6, files)).toMatchObject({ state: 'unrecognised', reason: expect.stringMatching(/gateway container 'openclaw'/) });
  });
});

describe('bug 6 when the gateway container is named by a variable', () => {
  const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
  const GATEWAY_VARS = 'roles/openclaw-integrate/vars/main.yml';

  /**
   * The fixture as a repo that names the gateway by variables: `docker exec {{ gateway_container }}`
   * in the integrate role, whose vars/ defines it; the Compose service is `gateway` (not `openclaw`,
   * so no fallback can find it by name), its container_name and data volume written as Jinja.
   */
  function namedByVariables(containerName: string, vars: string | undefined): Map<string, string> {
    const files = withIntegrate(fixtureIntegrate().replace(/docker exec openclaw /g, 'docker exec {{ gateway_container }} '));
    const compose = files.get(COMPOSE)!;
    const renamed = compose
      .replace(
        '  openclaw:\n    image: "{{ openclaw_image }}"\n    container_name: openclaw\n',
        `  gateway:\n    image: "{{ openclaw_image }}"\n    container_name: ${containerName}\n`,
      )
      .replace('      - openclaw-data:/home/node/.openclaw\n', '      - "{{ gateway_data_volume }}:/home/node/.openclaw"\n');
    expect(renamed).not.toContain('container_name: openclaw\n');
    expect(renamed).toContain('"{{ gateway_data_volume }}:/home/node/.openclaw"');
    files.set(COMPOSE, renamed);
    if (vars !== undefined) files.set(GATEWAY_VARS, vars);
    return files;
  }

  it.each([
    ['written as the same variable', '"{{ gateway_container }}"'],
    ['written as the name the variable holds', 'openclaw-gw'],
  ])(
    'resolves {{ gateway_container }} to the Compose service whose container_name is %s, and puts the token file on its volume',
    (_how, containerName) => {
      const files = namedByVariables(containerName, 'gateway_container: openclaw-gw\ngateway_data_volume: openclaw-data\n');
      const { text } = fix(files);
      assertTokenNeverOnACommandLine(text, loadVars(files));
      // The new tasks keep the container as the repo names it.
      expect(text).toContain(`docker exec {{ gateway_container }} openclaw config set channels.telegram.tokenFile ${TOKEN_PATH}`);
      expect(text).not.toMatch(/docker exec (-i )?openclaw(-gw)? /);
    },
  );

  it('refuses, naming the task and why, when the variable resolves to no Compose service', () => {
    // The same Jinja in container_name is the same container, defined or not; a volume nothing defines is no place for the file.
    const undefinedVariables = runCheck(bug6, namedByVariables('"{{ gateway_container }}"', undefined));
    expect(undefinedVariables).toMatchObject({
      state: 'unrecognised',
      reason: expect.stringMatching(
        /^the gateway service at roles\/openclaw-config\/templates\/docker-compose\.yml\.j2:\d+ has no writable named volume/,
      ),
    });
    const elsewhere = runCheck(
      bug6,
      namedByVariables('openclaw-gateway', 'gateway_container: openclaw-gw\ngateway_data_volume: openclaw-data\n'),
    );
    expect(elsewhere).toEqual({
      state: 'unrecognised',
      reason:
        "no Compose template defines the gateway container '{{ gateway_container }}' ('openclaw-gw' with the repo's variables) that roles/openclaw-integrate/tasks/main.yml:21 runs docker exec in, so its data volume (where the token file goes) is unknown",
    });
    const unresolved = runCheck(bug6, namedByVariables('openclaw-gateway', undefined));
    expect(unresolved).toMatchObject({
      state: 'unrecognised',
      reason: expect.stringContaining("'{{ gateway_container }}' (which the repo's variables do not resolve) that"),
    });
  });
});

describe('bug 6 against the independent verify check', () => {
  it.each([
    ['the fixture', fixtureFiles()],
    ["the report's pattern", withIntegrate(fixtureIntegrate().replace(LEAKY_TASK, REPORT_PATTERN))],
    ['a token task outside a block', withIntegrate(OUTSIDE_BLOCK)],
  ])('verify fails on %s before the fix and passes after it', (_name, files) => {
    expect(checkTelegramToken(new VerifyContext(files)).status).toBe('failed');
    const fixed = planFixes(files, [bug6]).result;
    expect(checkTelegramToken(new VerifyContext(fixed))).toMatchObject({ status: 'ok' });
  });
});

// ---- the real ansible-playbook -----------------------------------------------------------------

const PLACEHOLDER_TOKEN = '123456789:PLACEHOLDER-telegram-token-must-not-leak';

/** A fake `docker` that records every argv and, for `exec -i`, the stdin it was given. */
function fakeDocker(dir: string): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const script = join(bin, 'docker');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      'printf "%s\\n" "$*" >> "$FAKE_DOCKER_ARGV"',
      'case " $* " in *" exec -i "*) cat > "$FAKE_DOCKER_STDIN" ;; esac',
      'case "$*" in *"config set channels.telegram.tokenFile"*) [ -n "$FAKE_DOCKER_FAIL_CONFIG" ] && exit 1 ;; esac',
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  return bin;
}

function playbookFor(dir: string, taskFiles: readonly string[]): string {
  const playbook = join(dir, 'play.yml');
  const vars = { telegram_enabled: true, telegram_bot_token: PLACEHOLDER_TOKEN, openclaw_gateway_port: 18789, openclaw_base_dir: dir };
  const plays = taskFiles.map((file) => ({
    name: `fixed tasks ${file}`,
    hosts: 'localhost',
    connection: 'local',
    gather_facts: false,
    vars,
    tasks: [{ 'ansible.builtin.import_tasks': file }],
  }));
  writeFileSync(playbook, JSON.stringify(plays, null, 2)); // JSON is YAML
  return playbook;
}

/** The shared runner, with every temporary file inside `dir`, where the test looks for the token. */
function runPlaybook(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  // No skip when Ansible is missing: the proof needs the real ansible-playbook.
  const result = ansiblePlaybook(dir, args, {
    env: {
      ANSIBLE_LOCAL_TEMP: join(dir, 'tmp', 'local'),
      ANSIBLE_REMOTE_TEMP: join(dir, 'tmp', 'remote'),
      TMPDIR: join(dir, 'tmp'),
      ...env,
    },
  });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

/** Files under `dir` whose content includes the token. */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  const visit = (current: string): void => {
    for (const entry of readdirSync(current)) {
      const full = join(current, entry);
      if (statSync(full).isDirectory()) visit(full);
      else if (readFileSync(full, 'utf8').includes(needle)) found.push(full);
    }
  };
  visit(dir);
  return found;
}

describe('the fixed tasks under ansible-playbook', () => {
  it(
    'pass --syntax-check for every variant',
    () => {
      const dir = tempDir();
      const variants: Record<string, Map<string, string>> = {
        fixture: fixtureFiles(),
        outside: withIntegrate(OUTSIDE_BLOCK),
        fourSpace: withIntegrate(fourSpace(fixtureIntegrate())),
        crlf: withIntegrate(fixtureIntegrate().replace(/\n/g, '\r\n')),
        report: withIntegrate(fixtureIntegrate().replace(LEAKY_TASK, REPORT_PATTERN)),
      };
      const names = Object.entries(variants).map(([name, files]) => {
        writeFileSync(join(dir, `${name}.yml`), fix(files).text);
        return `${name}.yml`;
      });
      mkdirSync(join(dir, 'tmp'));
      const result = runPlaybook(dir, ['-i', 'localhost,', '--syntax-check', playbookFor(dir, names)]);
      expect(result.status, result.output).toBe(0);
    },
    SLOW_TEST,
  );

  it(
    'run against localhost: docker never sees the token in argv, only the tokenFile path; nothing is left behind',
    () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'tmp'));
      const bin = fakeDocker(dir);
      writeFileSync(join(dir, 'main.yml'), fix(fixtureFiles()).text);
      const playbook = playbookFor(dir, ['main.yml']);
      const env = {
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        FAKE_DOCKER_ARGV: join(dir, 'argv.log'),
        FAKE_DOCKER_STDIN: join(dir, 'stdin.log'),
      };

      const ok = runPlaybook(dir, ['-v', '-i', 'localhost,', playbook], env);
      expect(ok.status, ok.output).toBe(0);
      const argv = readFileSync(env.FAKE_DOCKER_ARGV, 'utf8');
      expect(argv).not.toContain(PLACEHOLDER_TOKEN);
      expect(argv).toContain(`exec openclaw openclaw config set channels.telegram.tokenFile ${TOKEN_PATH}`);
      expect(argv).toContain(`exec -i openclaw sh -c umask 077 && cat > ${TOKEN_PATH}`);
      expect(readFileSync(env.FAKE_DOCKER_STDIN, 'utf8')).toBe(PLACEHOLDER_TOKEN); // what the gateway's file receives
      expect(ok.output).not.toContain(PLACEHOLDER_TOKEN); // no_log, even at -v
      // The host temp file and Ansible's own module files are gone: only the play's vars hold the token.
      expect(filesHolding(dir, PLACEHOLDER_TOKEN).sort()).toEqual([join(dir, 'play.yml'), env.FAKE_DOCKER_STDIN]);

      // When configuring fails, the in-container copy is removed and the play still fails.
      writeFileSync(env.FAKE_DOCKER_ARGV, '');
      const failed = runPlaybook(dir, ['-v', '-i', 'localhost,', playbook], { ...env, FAKE_DOCKER_FAIL_CONFIG: '1' });
      expect(failed.status, failed.output).not.toBe(0);
      const calls = readFileSync(env.FAKE_DOCKER_ARGV, 'utf8').trim().split('\n');
      const configAt = calls.findIndex((call) => call.includes('channels.telegram.tokenFile'));
      expect(configAt).toBeGreaterThan(-1);
      expect(calls.slice(configAt + 1)).toContain(`exec openclaw rm -f ${TOKEN_PATH}`);
      expect(failed.output).toContain('Stop after removing the Telegram bot token');
      expect(failed.output).not.toContain(PLACEHOLDER_TOKEN);
      expect(filesHolding(dir, PLACEHOLDER_TOKEN).sort()).toEqual([join(dir, 'play.yml'), env.FAKE_DOCKER_STDIN]);
    },
    SLOW_TEST,
  );
});

// ---- every route to a command line ----------------------------------------------------------

/*
 * Bug 6 is "fixed" only when the Telegram token reaches no command line by any route the repo
 * has — not only when the one task the module rewrites is gone. Each route below is one a
 * maintainer writes: a helper script template, a task in another role using an alias of the
 * token variable, a Compose command carrying it. The fix and verify must both see it.
 */

type Files = Map<string, string>;

const BASE = 'roles/openclaw-config/templates/docker-compose.yml.j2';

/** The fixture with every fix applied: the integrate role hands OpenClaw a token file. */
function fixedFixture(): Files {
  const files = fixtureFiles();
  return new Map([...files, ...planFixes(files, allPatches).result]);
}

async function verifyBug6(files: Files): Promise<{ status: string; message: string }> {
  const report = await verifyRepo(files, { goCheck: false });
  const check = report.checks.find((c) => c.id === bug6.id);
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
        files.set(
          BASE,
          (files.get(BASE) ?? '').replace(
            '    container_name: openclaw\n',
            '    container_name: openclaw\n    command: ["node", "dist/index.js", "gateway", "--telegram-token", "{{ telegram_bot_token }}"]\n',
          ),
        );
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

  it("a script in a role's files/ known only by its shebang that sets the token on a command line is a route, and verify fails there", async () => {
    const files = fixedFixture();
    files.set(
      'roles/openclaw-integrate/files/rotate-telegram-token',
      [
        '#!/usr/bin/env bash',
        '# Installed as /usr/local/bin/rotate-telegram-token; the operator drops the new token first.',
        'set -euo pipefail',
        'docker exec openclaw openclaw config set channels.telegram.botToken "$(cat /etc/openclaw/new-telegram-token)"',
        '',
      ].join('\n'),
    );
    // The same line in a file that is no script is not run by anything: no route.
    files.set('roles/openclaw-integrate/files/README.txt', 'docker exec openclaw openclaw config set channels.telegram.botToken "$T"\n');
    const check = runCheck(bug6, files);
    expect(check.state).toBe('unrecognised');
    expect(check.reason).toMatch(
      /roles\/openclaw-integrate\/files\/rotate-telegram-token:4 \(the script passes it to docker as an argument\)/,
    );
    expect(check.reason).not.toMatch(/README/);
    // No variable names the token there, and its value is not in the file: verify must see the key.
    const verified = await verifyBug6(files);
    expect(verified.status).toBe('failed');
    expect(verified.message).toMatch(
      /the script roles\/openclaw-integrate\/files\/rotate-telegram-token passes the Telegram token to docker/,
    );
    expect(verified.message).not.toMatch(/README/);
  });

  it('a task in another role that sets the token key from a file is a route for the fix and for verify', async () => {
    const files = fixedFixture();
    files.set(
      'roles/openclaw-harden/tasks/main.yml',
      `${files.get('roles/openclaw-harden/tasks/main.yml') ?? ''}\n- name: Rotate the Telegram token\n  ansible.builtin.shell: docker exec openclaw openclaw config set channels.telegram.botToken "$(cat /etc/openclaw/new-telegram-token)"\n`,
    );
    const check = runCheck(bug6, files);
    expect(check.state).toBe('unrecognised');
    expect(check.reason).toMatch(/roles\/openclaw-harden\/tasks\/main\.yml:\d+/);
    const verified = await verifyBug6(files);
    expect(verified.status).toBe('failed');
    expect(verified.message).toMatch(
      /'Rotate the Telegram token' sets channels\.telegram\.botToken on a command line.*roles\/openclaw-harden\/tasks\/main\.yml:\d+/,
    );
  });

  it('a script that only writes the token to a file with printf (a builtin) is no route', async () => {
    const files = fixedFixture();
    files.set(
      'roles/openclaw-integrate/templates/write-token.sh.j2',
      "#!/bin/sh\nset -eu\numask 077\nprintf '%s' '{{ telegram_bot_token }}' > /run/openclaw/telegram-token\n",
    );
    expect(runCheck(bug6, files).state).toBe('fixed');
    expect((await verifyBug6(files)).status).toBe('ok');
  });
});
