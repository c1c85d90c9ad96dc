/**
 * `openclaw-fix verify`: every property is checked on the rendered output, independently of
 * the patch modules. The unfixed fixture fails each bug with file:line; a repo fixed by hand
 * (below, not by the modules) passes; breaking that repo in each listed way fails exactly the
 * check it should, with a message saying what and where. Then the CLI's exit codes on real
 * git repos, and --apply refusing to write a branch that does not verify.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { applyFixes } from '../src/git/apply.js';
import { planFixes } from '../src/core/engine.js';
import { Git } from '../src/git/git.js';
import type { Patch } from '../src/core/types.js';
import { applyProblems, applyVerifier, verifyRepo, type VerifyCheck, type VerifyReport } from '../src/verify/index.js';
import {
  DEFAULT_FIX_BRANCH,
  fixtureFiles,
  fixtureGitRepo,
  git,
  gitRepoOf,
  REPORT_BUG3_ENTRYPOINT,
  runCli,
  snapshot,
  tempDir,
  UPSTREAM_SMOKESCREEN_MAIN,
} from './helpers.js';
import { UserError } from '../src/core/errors.js';

const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
const DOCKERFILE = 'roles/openclaw-config/templates/Dockerfile.smokescreen.j2';
const CONFIG_TASKS = 'roles/openclaw-config/tasks/main.yml';
const HANDLERS = 'roles/openclaw-config/handlers/main.yml';
const LITELLM = 'roles/openclaw-config/templates/litellm-config.yaml.j2';
const ACL = 'roles/openclaw-config/templates/smokescreen-acl.yaml.j2';
const INTEGRATE = 'roles/openclaw-integrate/tasks/main.yml';
const MAINTENANCE = 'roles/maintenance/tasks/main.yml';
const BACKUP = 'roles/maintenance/templates/backup.sh.j2';
const CADDY = 'roles/reverse-proxy/templates/compose.caddy.yml.j2';
const TUNNEL = 'roles/reverse-proxy/templates/compose.cloudflared.yml.j2';
const ENTRYPOINT = 'roles/openclaw-config/files/smokescreen-main.go';

type Files = Map<string, string>;

/** Replaces text that must be there: a variant that silently stayed the same could not fail a test. */
function edit(files: Files, path: string, from: string | RegExp, to: string): Files {
  const text = files.get(path);
  if (text === undefined) throw new Error(`${path} is not in the repo`);
  const next = text.replace(from, to);
  if (next === text) throw new Error(`${path} does not contain ${String(from)}`);
  return new Map(files).set(path, next);
}

/** Upstream's v0.0.4 entrypoint (the stand-in replica) with missing roles allowed: plain HTTP gets the default rule. */
const GOOD_ENTRYPOINT = UPSTREAM_SMOKESCREEN_MAIN.replace(
  'conf.RoleFromRequest = defaultRoleFromRequest',
  'conf.RoleFromRequest = defaultRoleFromRequest\n\t\tconf.AllowMissingRole = true',
);

/** The fixture with every property made true by hand, independently of the patch modules. */
function fixedByHand(): Files {
  let files = fixtureFiles();
  // bug 2
  files = edit(
    files,
    COMPOSE,
    '      - /tmp:size=16M\n    command:\n      - "--egress-acl-file',
    '      - /tmp:size=16M\n      - /run:size=8M\n    command:\n      - "--stats-socket-dir=/tmp"\n      - "--egress-acl-file',
  );
  // bug 1
  files = edit(
    files,
    COMPOSE,
    'test: ["CMD", "curl", "-sf", "http://localhost:4750/healthcheck"]',
    'test: ["CMD", "nc", "-z", "-w", "3", "127.0.0.1", "4750"]',
  );
  files = edit(files, DOCKERFILE, 'ca-certificates curl', 'ca-certificates netcat-openbsd');
  // bug 3
  files = edit(files, DOCKERFILE, /\nRUN CGO_ENABLED=0 go build/, '\nCOPY main.go ./main.go\nRUN CGO_ENABLED=0 go build');
  files = edit(
    files,
    CONFIG_TASKS,
    '  notify: rebuild egress\n  tags: [config, egress]\n',
    '  notify: rebuild egress\n  tags: [config, egress]\n\n- name: Install the Smokescreen entrypoint\n  ansible.builtin.copy:\n    src: smokescreen-main.go\n    dest: "{{ openclaw_base_dir }}/build/smokescreen/main.go"\n    mode: "0644"\n  notify: rebuild egress\n  tags: [config, egress]\n',
  );
  files.set(ENTRYPOINT, GOOD_ENTRYPOINT);
  // bug 5
  files = edit(
    files,
    LITELLM,
    '      max_budget: {{ model.max_budget }}\n',
    '      max_budget: {{ model.max_budget }}\n      budget_duration: 30d\n',
  );
  // bug 4
  files = edit(files, COMPOSE, '  proxy-net:\n    driver: bridge', '  proxy-net:\n    driver: bridge\n    internal: true');
  files = edit(files, CADDY, '    networks:\n      - proxy-net\n', '    networks:\n      - ingress-net\n      - proxy-net\n');
  files = edit(files, CADDY, /volumes:\n  caddy-data:/, 'networks:\n  ingress-net:\n    driver: bridge\n\nvolumes:\n  caddy-data:');
  files = edit(files, TUNNEL, 'networks: [proxy-net]', 'networks: [ingress-net, proxy-net]');
  files.set(TUNNEL, `${files.get(TUNNEL)?.replace(/\n?$/, '\n')}\nnetworks:\n  ingress-net:\n    driver: bridge\n`);
  // bug 6
  files = edit(
    files,
    INTEGRATE,
    /    - name: Set Telegram bot token\n[\s\S]*?changed_when: true\n/,
    [
      '    - name: Install the Telegram token file',
      '      no_log: true',
      '      block:',
      '        - name: Write the token to a private host file',
      '          ansible.builtin.copy:',
      '            content: "{{ telegram_bot_token }}"',
      '            dest: "{{ openclaw_base_dir }}/.telegram-token"',
      '            mode: "0600"',
      '        - name: Copy the token file into the gateway',
      '          ansible.builtin.command: docker cp {{ openclaw_base_dir }}/.telegram-token openclaw:/home/node/.openclaw/telegram-token',
      '          changed_when: true',
      '        - name: Point the Telegram channel at the token file',
      '          ansible.builtin.command: docker exec openclaw openclaw config set channels.telegram.tokenFile /home/node/.openclaw/telegram-token',
      '          changed_when: true',
      '      always:',
      '        - name: Remove the host copy of the token',
      '          ansible.builtin.file:',
      '            path: "{{ openclaw_base_dir }}/.telegram-token"',
      '            state: absent',
      '',
    ].join('\n'),
  );
  // bug 7
  files = edit(
    files,
    COMPOSE,
    '      redis:\n        condition: service_healthy\n      openclaw-egress:\n        condition: service_healthy\n',
    '      redis:\n        condition: service_healthy\n',
  );
  // bug 8
  files = edit(
    files,
    HANDLERS,
    '  ansible.builtin.command: docker compose restart openclaw-egress\n',
    `  ansible.builtin.shell: |\n    if docker ps -a --format '{{ "{{" }}.Names{{ "}}" }}' | grep -qx openclaw-egress; then\n      docker compose restart openclaw-egress\n    fi\n`,
  );
  files = edit(
    files,
    HANDLERS,
    '  ansible.builtin.command: docker compose restart litellm\n',
    '  ansible.builtin.shell: docker compose ps -q litellm | grep -q . && docker compose restart litellm\n',
  );
  // bug 9
  files = edit(
    files,
    MAINTENANCE,
    '- name: Install backup script\n',
    '- name: Pull the image the backup script runs\n  community.docker.docker_image:\n    name: alpine\n    tag: "3.21"\n    source: pull\n\n- name: Install backup script\n',
  );
  // extra: ACL services as a list
  files = edit(files, ACL, 'services: {}', 'services: []');
  return files;
}

const check = (report: VerifyReport, id: string): VerifyCheck => {
  const found = report.checks.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no check ${id}`);
  return found;
};

const REPORT_IDS = [
  'egress-writable-run',
  'egress-tcp-healthcheck',
  'egress-plain-http-role',
  'litellm-budget-where-read',
  'gateway-no-direct-egress',
  'telegram-token-no-argv',
  'litellm-no-egress-dependency',
  'handlers-first-run-safe',
  'backup-images-prepulled',
];

describe('verifyRepo on the rendered templates', () => {
  it('fails every bug on the unfixed fixture, naming file:line', async () => {
    const report = await verifyRepo(fixtureFiles());
    for (const id of [...REPORT_IDS, 'acl-services-list']) {
      const result = check(report, id);
      expect(result.status, `${id}: ${result.message}`).toBe('failed');
      expect(result.message, id).toMatch(/roles\/[\w./-]+:\d+/);
    }
    expect(check(report, 'egress-writable-run').message).toContain(`/run is not on a tmpfs in the egress service (${COMPOSE}:117)`);
    expect(check(report, 'egress-tcp-healthcheck').message).toContain(`/healthcheck`);
    expect(check(report, 'egress-tcp-healthcheck').message).toContain(`netcat-openbsd, which the nc probe needs (${DOCKERFILE}:13)`);
    expect(check(report, 'litellm-no-egress-dependency').message).toContain(
      `litellm still waits for openclaw-egress to be healthy (${COMPOSE}:102)`,
    );
    expect(check(report, 'gateway-no-direct-egress').message).toContain(`through proxy-net (${COMPOSE}:192)`);
    expect(check(report, 'telegram-token-no-argv').message).toContain(
      `puts the Telegram token on a command line, visible in the host's process table (${INTEGRATE}:21)`,
    );
    expect(check(report, 'handlers-first-run-safe').message).toMatch(
      /'restart egress' .*handlers\/main\.yml:6.*'restart litellm' .*handlers\/main\.yml:18/,
    );
    expect(check(report, 'backup-images-prepulled').message).toContain(`alpine:3.21 (docker run at ${BACKUP}:9, ${BACKUP}:14)`);
  });

  it('passes every check on the repo fixed by hand, the entrypoint compiled and run against the stand-in', async () => {
    const report = await verifyRepo(fixedByHand());
    for (const result of report.checks) expect(result.status, `${result.id}: ${result.message}`).toBe('ok');
    expect(check(report, 'egress-plain-http-role').message).toContain('the empty role (ACL default rule)');
  });

  it('finds roles under ansible/ and .yaml task files the same way', async () => {
    const moved = new Map(
      [...fixedByHand()].map(([path, text]) => [`ansible/${path.replace(/tasks\/main\.yml$/, 'tasks/main.yaml')}`, text]),
    );
    const report = await verifyRepo(moved, { goCheck: false });
    for (const result of report.checks)
      expect(result.status, `${result.id}: ${result.message}`).toBe(result.id === 'egress-plain-http-role' ? 'not-checked' : 'ok');
  });

  it('reads CRLF files and files without a final newline the same way', async () => {
    const crlf = new Map([...fixedByHand()].map(([path, text]) => [path, text.replace(/\n/g, '\r\n').replace(/\r\n$/, '')]));
    const report = await verifyRepo(crlf, { goCheck: false });
    for (const result of report.checks)
      expect(result.status, `${result.id}: ${result.message}`).toBe(result.id === 'egress-plain-http-role' ? 'not-checked' : 'ok');
    const broken = await verifyRepo(new Map([...crlf].map(([path, text]) => [path, text.replace('services: []', 'services: {}')])), {
      goCheck: false,
    });
    expect(check(broken, 'acl-services-list').message).toContain(`${ACL}:6`);
  });

  it('says not applicable when the thing is absent, and not checked without Go', async () => {
    const without = new Map([...fixedByHand()].filter(([path]) => !/roles\/(maintenance|openclaw-integrate)\//.test(path)));
    const report = await verifyRepo(without, { goCheck: false });
    expect(check(report, 'backup-images-prepulled').status).toBe('not-applicable');
    expect(check(report, 'telegram-token-no-argv').status).toBe('not-applicable');
    expect(check(report, 'egress-plain-http-role')).toMatchObject({
      status: 'not-checked',
      message: expect.stringContaining('not compiled'),
    });

    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const noGo = await verifyRepo(fixedByHand());
      expect(check(noGo, 'egress-plain-http-role')).toMatchObject({
        status: 'not-checked',
        message: expect.stringContaining('Go toolchain'),
      });
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('the Telegram token file written to a temp path registered at run time', () => {
  // The shape of a fix that uses ansible.builtin.tempfile: the path exists only at run time.
  const withTempfile = (removed: string): Files =>
    edit(
      edit(fixedByHand(), INTEGRATE, 'dest: "{{ openclaw_base_dir }}/.telegram-token"', 'dest: "{{ token_tmp.path }}"'),
      INTEGRATE,
      'path: "{{ openclaw_base_dir }}/.telegram-token"',
      `path: "${removed}"`,
    );

  it('is removed when always: removes the same registered path', async () => {
    expect(check(await verifyRepo(withTempfile('{{token_tmp.path}}'), { goCheck: false }), 'telegram-token-no-argv').status).toBe('ok');
  });

  it('is not removed when always: removes another path that also renders empty here', async () => {
    const result = check(await verifyRepo(withTempfile('{{ other_tmp.path }}'), { goCheck: false }), 'telegram-token-no-argv');
    expect(result.status).toBe('failed');
    expect(result.message).toContain('the host file {{ token_tmp.path }} that');
  });
});

/** [check id, how it is broken, the change, what the message must say]. */
type Breakage = [string, string, (files: Files) => Files, RegExp];

const BREAKAGES: Breakage[] = [
  [
    'egress-writable-run',
    'read_only dropped',
    (f) => edit(f, COMPOSE, /(openclaw-egress\n[\s\S]*?)read_only: true/, '$1read_only: false'),
    /not read_only \(.*docker-compose\.yml\.j2:114\)/,
  ],
  [
    'egress-writable-run',
    '/run tmpfs missing',
    (f) => edit(f, COMPOSE, '      - /tmp:size=16M\n      - /run:size=8M\n    command:', '      - /tmp:size=16M\n    command:'),
    /\/run is not on a tmpfs .*docker-compose\.yml\.j2:115\)/,
  ],
  [
    'egress-writable-run',
    'stats socket off the tmpfs',
    (f) => edit(f, COMPOSE, '--stats-socket-dir=/tmp', '--stats-socket-dir=/var/run/smokescreen'),
    /--stats-socket-dir=\/var\/run\/smokescreen is not under a tmpfs mount \(\/tmp, \/run\) .*docker-compose\.yml\.j2:119\)/,
  ],
  [
    'egress-tcp-healthcheck',
    "the report's curl probe",
    (f) =>
      edit(
        f,
        COMPOSE,
        '["CMD", "nc", "-z", "-w", "3", "127.0.0.1", "4750"]',
        '["CMD", "curl", "-sf", "http://localhost:4750/healthcheck"]',
      ),
    /\/healthcheck, which Smokescreen v0\.0\.4 answers with HTTP 500 .*docker-compose\.yml\.j2:137\)/,
  ],
  ['egress-tcp-healthcheck', 'nc without a timeout', (f) => edit(f, COMPOSE, '"-z", "-w", "3", ', '"-z", '), /no timeout \(-w N\)/],
  [
    'egress-tcp-healthcheck',
    'nc on another port',
    (f) => edit(f, COMPOSE, '"127.0.0.1", "4750"]', '"127.0.0.1", "4751"]'),
    /tests port 4751, not the listen port 4750/,
  ],
  [
    'egress-tcp-healthcheck',
    'a probe whose failure is ignored',
    (f) => edit(f, COMPOSE, '["CMD", "nc", "-z", "-w", "3", "127.0.0.1", "4750"]', '["CMD-SHELL", "nc -z -w 3 127.0.0.1 4750 || exit 0"]'),
    /turns a failed probe into success/,
  ],
  [
    'egress-tcp-healthcheck',
    'netcat not installed',
    (f) => edit(f, DOCKERFILE, 'ca-certificates netcat-openbsd', 'ca-certificates curl'),
    /runtime stage \(FROM alpine:3\.21\) does not install netcat-openbsd.*Dockerfile\.smokescreen\.j2:14\)/,
  ],
  [
    'egress-plain-http-role',
    'COPY before git checkout',
    (f) =>
      edit(edit(f, DOCKERFILE, 'COPY main.go ./main.go\n', ''), DOCKERFILE, 'WORKDIR /src\n', 'WORKDIR /src\nCOPY main.go ./main.go\n'),
    /copied \(.*Dockerfile\.smokescreen\.j2:8\) before git checkout \(.*:9\)/,
  ],
  [
    'egress-plain-http-role',
    'COPY after go build',
    (f) =>
      edit(
        edit(f, DOCKERFILE, 'COPY main.go ./main.go\n', ''),
        DOCKERFILE,
        '# ---- runtime stage',
        'COPY main.go ./main.go\n\n# ---- runtime stage',
      ),
    /nothing is copied over main\.go before go build|after go build/,
  ],
  [
    'egress-plain-http-role',
    'checkout and build chained in one RUN',
    (f) =>
      edit(
        edit(f, DOCKERFILE, 'COPY main.go ./main.go\nRUN CGO', '    && CGO'),
        DOCKERFILE,
        'git checkout {{ smokescreen_commit }}\n',
        'git checkout {{ smokescreen_commit }} \\\n',
      ),
    /nothing is copied over main\.go before go build/,
  ],
  [
    'egress-plain-http-role',
    'no task deploys the entrypoint',
    (f) => edit(f, CONFIG_TASKS, /\n- name: Install the Smokescreen entrypoint[\s\S]*?tags: \[config, egress\]\n/, ''),
    /no task deploys main\.go into the build context \(\/opt\/openclaw\/build\/smokescreen\/\)/,
  ],
  [
    'egress-plain-http-role',
    'the deployed file is not in the repo',
    (f) => new Map([...f].filter(([path]) => path !== ENTRYPOINT)),
    /deploys smokescreen-main\.go, which is not in the repo/,
  ],
  [
    'egress-plain-http-role',
    "the report's entrypoint (does not compile)",
    (f) => new Map(f).set(ENTRYPOINT, REPORT_BUG3_ENTRYPOINT),
    /compile-error: .*used as value/,
  ],
  [
    'egress-plain-http-role',
    "upstream's entrypoint (requires TLS)",
    (f) => new Map(f).set(ENTRYPOINT, UPSTREAM_SMOKESCREEN_MAIN),
    /refuses-plain-http/,
  ],
  [
    'litellm-budget-where-read',
    "the report's move into model_info",
    (f) =>
      edit(
        f,
        LITELLM,
        '      max_budget: {{ model.max_budget }}\n      budget_duration: 30d\n      rpm: {{ model.rpm }}\n',
        '      rpm: {{ model.rpm }}\n    model_info:\n      max_budget: {{ model.max_budget }}\n',
      ),
    /max_budget is only in model_info, where LiteLLM never reads it: the model has no cap \(.*litellm-config\.yaml\.j2:11\)/,
  ],
  [
    'litellm-budget-where-read',
    'no budget_duration',
    (f) => edit(f, LITELLM, '      budget_duration: 30d\n', ''),
    /anthropic\/claude-opus-4-6, .*: max_budget has no budget_duration beside it .*:10/,
  ],
  [
    'litellm-budget-where-read',
    'rpm dropped',
    (f) => edit(f, LITELLM, '      rpm: {{ model.rpm }}\n', ''),
    /limit it to rpm 60, but LiteLLM reads no rpm/,
  ],
  [
    'gateway-no-direct-egress',
    'proxy-net not internal',
    (f) => edit(f, COMPOSE, /(proxy-net:\n    driver: bridge)\n    internal: true/, '$1'),
    /gateway has a route out that bypasses the proxy, through proxy-net \(.*docker-compose\.yml\.j2:19\d\), with the base file alone and with every overlay/,
  ],
  [
    'gateway-no-direct-egress',
    'the ingress network external (never created)',
    (f) => edit(f, CADDY, 'ingress-net:\n    driver: bridge', 'ingress-net:\n    external: true'),
    /a first run fails: network ingress-net declared as external, but could not be found \(.*compose\.caddy\.yml\.j2:\d+\), with \+ .*compose\.caddy\.yml\.j2/,
  ],
  [
    'gateway-no-direct-egress',
    'caddy cut off from the gateway',
    (f) => edit(f, CADDY, '      - ingress-net\n      - proxy-net\n', '      - ingress-net\n'),
    /caddy shares no network with the gateway it forwards to/,
  ],
  [
    'telegram-token-no-argv',
    'the token on a command line',
    (f) => edit(f, INTEGRATE, 'channels.telegram.enabled true', 'channels.telegram.enabled true --token "{{ telegram_bot_token }}"'),
    /'Enable Telegram channel' puts the Telegram token on a command line.*openclaw-integrate\/tasks\/main\.yml:17/,
  ],
  [
    'telegram-token-no-argv',
    'the report\'s sh -c "$(cat file)"',
    (f) =>
      edit(
        f,
        INTEGRATE,
        'config set channels.telegram.tokenFile /home/node/.openclaw/telegram-token',
        `sh -c 'openclaw config set channels.telegram.token "$(cat /home/node/.openclaw/telegram-token)"'`,
      ),
    /substitutes the token file \/home\/node\/\.openclaw\/telegram-token into a command's arguments/,
  ],
  [
    'telegram-token-no-argv',
    'no no_log',
    (f) => edit(f, INTEGRATE, '      no_log: true\n', ''),
    /'Write the token to a private host file' uses the Telegram token without no_log: true \(.*openclaw-integrate\/tasks\/main\.yml:23\)/,
  ],
  [
    'telegram-token-no-argv',
    'the host file removed only on success',
    (f) => edit(f, INTEGRATE, '      always:\n', ''),
    /host file \{\{ openclaw_base_dir \}\}\/\.telegram-token .* is not removed in an always: section/,
  ],
  [
    'litellm-no-egress-dependency',
    'litellm waits for egress',
    (f) =>
      edit(
        f,
        COMPOSE,
        '      redis:\n        condition: service_healthy\n    logging',
        '      redis:\n        condition: service_healthy\n      openclaw-egress:\n        condition: service_healthy\n    logging',
      ),
    /litellm still waits for openclaw-egress/,
  ],
  [
    'litellm-no-egress-dependency',
    'the gateway lost its egress dependency',
    (f) =>
      edit(
        f,
        COMPOSE,
        /(litellm:\n        condition: service_healthy\n)      openclaw-egress:\n        condition: service_healthy\n/,
        '$1',
      ),
    /the gateway no longer waits for openclaw-egress/,
  ],
  [
    'handlers-first-run-safe',
    "the report's failed_when: false",
    (f) =>
      edit(
        f,
        HANDLERS,
        '  ansible.builtin.shell: docker compose ps -q litellm | grep -q . && docker compose restart litellm\n',
        '  ansible.builtin.command: docker compose restart litellm\n  failed_when: false\n',
      ),
    /'restart litellm' .*uses failed_when: false, which also hides a real restart failure/,
  ],
  [
    'handlers-first-run-safe',
    'a shell guard under the command module',
    (f) => edit(f, HANDLERS, 'ansible.builtin.shell: docker compose ps', 'ansible.builtin.command: docker compose ps'),
    /shell syntax with the command module/,
  ],
  [
    'handlers-first-run-safe',
    'a restart failure turned into success',
    (f) => edit(f, HANDLERS, 'docker compose restart litellm\n', 'docker compose restart litellm || true\n'),
    /turns a failed restart into success/,
  ],
  [
    'handlers-first-run-safe',
    'a check that names another container',
    (f) => edit(f, HANDLERS, 'docker compose ps -q litellm', 'docker compose ps -q redis'),
    /'restart litellm' .*without checking that the container exists/,
  ],
  [
    'backup-images-prepulled',
    'another image pulled',
    (f) => edit(f, MAINTENANCE, 'tag: "3.21"', 'tag: "3.20"'),
    /alpine:3\.21 \(docker run at .*backup\.sh\.j2:9/,
  ],
  [
    'backup-images-prepulled',
    'a pull task that does not pull',
    (f) => edit(f, MAINTENANCE, 'source: pull', 'source: local'),
    /is not pre-pulled/,
  ],
  [
    'backup-images-prepulled',
    'a second image in the script',
    (f) => edit(f, BACKUP, '# Keep', 'docker run --rm -v /x:/x busybox:1.36 true\n\n# Keep'),
    /busybox:1\.36 \(docker run at .*backup\.sh\.j2:19\)/,
  ],
  [
    'acl-services-list',
    'services as a map',
    (f) => edit(f, ACL, 'services: []', 'services: {}'),
    /services renders as a mapping.*smokescreen-acl\.yaml\.j2:6/,
  ],
];

describe('each property, broken in each way, fails its check with a clear message', () => {
  const fixed = fixedByHand();
  it.each(BREAKAGES)('%s: %s', async (id, _how, breakIt, message) => {
    const broken = breakIt(fixed);
    const report = await verifyRepo(broken, { goCheck: id === 'egress-plain-http-role' });
    const result = check(report, id);
    expect(result.status, result.message).toBe('failed');
    expect(result.message).toMatch(message);
    // Only the broken property fails: the checks do not blur into each other.
    const others = report.checks.filter((other) => other.id !== id && other.status === 'failed');
    expect(others.map((other) => `${other.id}: ${other.message}`)).toEqual([]);
  });
});

// ---- the CLI ------------------------------------------------------------------------------

describe('openclaw-fix verify', () => {
  it('exits 1 on the unfixed fixture with one line per check, and changes nothing', async () => {
    const repo = fixtureGitRepo();
    const before = snapshot(repo);
    const result = await runCli(repo, ['verify']);
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.map((line) => line.split(':')[0])).toEqual([
      'bug 2',
      'bug 1',
      'bug 3',
      'bug 5',
      'bug 4',
      'bug 6',
      'bug 7',
      'bug 8',
      'bug 9',
      'extra acl-services-list',
    ]);
    expect(lines[0]).toBe(`bug 2: /run is not on a tmpfs in the egress service (${COMPOSE}:117)`);
    expect(result.stderr).toBe('');
    expect(snapshot(repo)).toBe(before);
  });

  it('exits 0 on a repo where every property holds; --json says the same', async () => {
    const repo = gitRepoOf(fixedByHand());
    const result = await runCli(repo, ['verify', '--repo', repo]);
    expect(result.stdout).toBe(
      ['bug 2', 'bug 1', 'bug 3', 'bug 5', 'bug 4', 'bug 6', 'bug 7', 'bug 8', 'bug 9', 'extra acl-services-list']
        .map((label) => `${label}: ok\n`)
        .join(''),
    );
    expect(result.code).toBe(0);
    const json = await runCli(repo, ['verify', '--json']);
    const doc = JSON.parse(json.stdout) as { mode: string; passed: boolean; checks: VerifyCheck[] };
    expect(json.code).toBe(0);
    expect(doc).toMatchObject({ mode: 'verify', passed: true });
    expect(doc.checks).toHaveLength(10);
  });

  it('verifies the work tree, uncommitted edits included', async () => {
    const repo = gitRepoOf(fixedByHand());
    writeFileSync(join(repo, ACL), (fixedByHand().get(ACL) ?? '').replace('services: []', 'services: {}'));
    const result = await runCli(repo, ['verify']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('extra acl-services-list: services renders as a mapping');
    expect(result.stdout).toContain('bug 2: ok');
  });

  it('exits 2 with one line on an error (not a git repo, a flag verify does not take); a malformed file is not checked, not an error', async () => {
    const notRepo = tempDir();
    const outside = await runCli(notRepo, ['verify']);
    expect(outside).toMatchObject({ code: 2, stdout: '' });
    expect(outside.stderr).toMatch(/^openclaw-fix: .* is not a git repository .*\n$/);

    const repo = gitRepoOf(
      edit(
        fixedByHand(),
        COMPOSE,
        '    read_only: true\n    tmpfs:\n      - /tmp:size=16M\n      - /run',
        '    read_only: true\n    tmpfs:\n      - /tmp:size=16M\n     - /run',
      ),
    );
    // A malformed file is not an error of the repository: the checks that read it are not checked, naming it.
    const malformed = await runCli(repo, ['verify']);
    expect(malformed.code, malformed.stderr).toBe(0);
    expect(malformed.stdout).toMatch(
      new RegExp(`^bug 2: not checked: cannot parse ${COMPOSE.replace(/\./g, '\\.')}:\\d+: not valid YAML`, 'm'),
    );
    expect(malformed.stdout).toMatch(/^bug 9: ok$/m);

    expect((await runCli(repo, ['verify', '--apply'])).code).toBe(2);
  });
});

// ---- --apply refuses a branch that does not verify ----------------------------------------

/** A deliberately bad fix for tests: drops the gateway's dependency on the egress proxy. */
const dropsGatewayDependency: Patch = {
  id: 'test-drops-gateway-dependency',
  bug: null,
  priority: 99,
  scope: 'test',
  title: 'a bad fix',
  problem: 'none',
  why: 'to prove verify catches a regression',
  departsFromReport: null,
  files: ['**/roles/*/templates/*.yml.j2'],
  check(repo) {
    const text = repo.read(COMPOSE) ?? '';
    const egress = '      openclaw-egress:\n        condition: service_healthy\n    logging: *default-logging\n\nvolumes:';
    const at = text.indexOf(egress);
    if (at === -1) return { state: 'fixed', reason: 'done' };
    return { state: 'needs-fix', reason: 'test', edits: [{ path: COMPOSE, start: at, end: at + egress.indexOf('    logging'), text: '' }] };
  },
};

/** A "bug 7 fix" that also removes the gateway's dependency: its own property does not hold after it. */
const badBug7: Patch = {
  ...dropsGatewayDependency,
  id: 'litellm-no-egress-dependency',
  bug: 7,
  priority: 7,
  check(repo) {
    const text = repo.read(COMPOSE) ?? '';
    const edits = [...text.matchAll(/      openclaw-egress:\n        condition: service_healthy\n/g)].map((match) => ({
      path: COMPOSE,
      start: match.index,
      end: match.index + match[0].length,
      text: '',
    }));
    return edits.length === 0 ? { state: 'fixed', reason: 'done' } : { state: 'needs-fix', reason: 'test', edits };
  },
};

describe('--apply runs verify on the planned result', () => {
  it('refuses to write the branch when a property that held before fails after', async () => {
    const files = edit(
      fixtureFiles(),
      COMPOSE,
      '      redis:\n        condition: service_healthy\n      openclaw-egress:\n        condition: service_healthy\n',
      '      redis:\n        condition: service_healthy\n',
    );
    const repo = gitRepoOf(files);
    const before = snapshot(repo);
    const gitRepo = await Git.open(repo);
    const attempt = applyFixes({
      git: gitRepo,
      patches: [dropsGatewayDependency],
      branch: 'fixes',
      verify: applyVerifier(gitRepo, { goCheck: false }),
    });
    await expect(attempt).rejects.toThrow(UserError);
    await expect(attempt).rejects.toThrow(
      /no branch was written: bug 7 held before the fixes and fails after them: the gateway no longer waits for openclaw-egress/,
    );
    expect(snapshot(repo)).toBe(before);
  });

  it('leaves out a fix whose own property does not hold afterwards, and commits the others', async () => {
    const repo = fixtureGitRepo();
    const gitRepo = await Git.open(repo);
    const alone = await applyFixes({
      git: gitRepo,
      patches: [badBug7],
      branch: 'fixes',
      verify: applyVerifier(gitRepo, { goCheck: false }),
    });
    expect(alone.status).toBe('nothing-to-do');
    expect(alone.plan.outcomes.map((outcome) => [outcome.patch.id, outcome.state])).toEqual([
      ['litellm-no-egress-dependency', 'unrecognised'],
    ]);
    expect(alone.plan.outcomes[0]?.reason).toMatch(/^not committed: bug 7 is committed but does not verify: the gateway no longer waits/);
    expect(git(repo, 'branch', '--list', 'fixes')).toBe('');

    const withOthers = await applyFixes({
      git: gitRepo,
      patches: allPatches.map((patch) => (patch.bug === 7 ? badBug7 : patch)),
      branch: 'fixes',
      verify: applyVerifier(gitRepo, { goCheck: false }),
    });
    expect(withOthers.status).toBe('created');
    expect(withOthers.commits.map((commit) => commit.patchId)).not.toContain('litellm-no-egress-dependency');
    expect(withOthers.commits.length).toBe(allPatches.length - 1);
    expect(withOthers.plan.outcomes.find((outcome) => outcome.patch.bug === 7)?.state).toBe('unrecognised');
  });

  it('--only 7 on the fixture still applies: the bugs it leaves alone failed before too', async () => {
    const repo = fixtureGitRepo();
    const result = await runCli(repo, ['--apply', '--only', '7']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(git(repo, 'log', '--format=%s', `main..${DEFAULT_FIX_BRANCH}`).trim()).toBe(
      'fix(compose): let LiteLLM start without waiting for the egress proxy (bug 7)',
    );
  });

  it('applyProblems: committed fixes must be ok (or not checked), held properties must keep holding', () => {
    const report = (statuses: Record<string, VerifyCheck['status']>): VerifyReport => ({
      checks: Object.entries(statuses).map(([id, status]) => ({ bug: 1, id, status, message: `${id} ${status}` })),
    });
    const before = report({ a: 'failed', b: 'ok', c: 'failed', d: 'ok' });
    expect(applyProblems(before, report({ a: 'ok', b: 'ok', c: 'failed', d: 'ok' }), ['a'])).toEqual([]);
    expect(applyProblems(before, report({ a: 'not-checked', b: 'ok', c: 'failed', d: 'ok' }), ['a'])).toEqual([]);
    expect(applyProblems(before, report({ a: 'failed', b: 'ok', c: 'failed', d: 'ok' }), ['a'])).toEqual([
      'bug 1 is committed but does not verify: a failed',
    ]);
    expect(applyProblems(before, report({ a: 'ok', b: 'failed', c: 'failed', d: 'not-applicable' }), ['a'])).toEqual([
      'bug 1 held before the fixes and fails after them: b failed',
      'bug 1 held before the fixes and fails after them: d not-applicable',
    ]);
  });
});

describe('the fixture after every patch module', () => {
  // Needs all eleven modules (bugs 1–9 and the two extras); fails while any is missing.
  it('verifies ok', async () => {
    const files = fixtureFiles();
    const plan = planFixes(files, allPatches);
    const report = await verifyRepo(new Map([...files, ...plan.result]));
    for (const result of report.checks) expect(result.status, `${result.id}: ${result.message}`).toBe('ok');
  });
});
