/**
 * A maintainer's whole session, through the CLI on real git copies of deployment repos shaped
 * the way real teams shape them: --apply, then on the fix branch `verify` (all ok), `--check`
 * (exit 0), `--apply` again (nothing to do), the commit series, and the fixed playbook still
 * valid Ansible. Shapes a fix cannot edit safely end as 'unrecognised' naming the user's
 * file:line, never as a wrong edit, a refused run or an internal error.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { allPatches } from '../patches/index.js';
import { loadVars, renderTemplate, renderYaml } from '../src/model/render/render.js';
import { DEFAULT_FIX_BRANCH, fixtureFiles, git, gitRepoOf, readTree, runCli, tempDir } from './helpers.js';

type Files = Map<string, string>;

const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
const HANDLERS = 'roles/openclaw-config/handlers/main.yml';
const LITELLM = 'roles/openclaw-config/templates/litellm-config.yaml.j2';
const DOCKERFILE = 'roles/openclaw-config/templates/Dockerfile.smokescreen.j2';
const CONFIG_TASKS = 'roles/openclaw-config/tasks/main.yml';
const BACKUP = 'roles/maintenance/templates/backup.sh.j2';

// ---- variants of the fixture, built in memory ------------------------------------------------

function edit(files: Files, path: string, from: string, to: string): void {
  const text = files.get(path);
  if (text === undefined || !text.includes(from)) throw new Error(`variant: '${from}' not in ${path}`);
  files.set(path, text.replace(from, to));
}

/** Every file under `ansible/`, with the playbook at ansible/playbook.yml: a repo with more than Ansible in it. */
function underAnsibleDir(files: Files): Files {
  const moved: Files = new Map([...files].map(([path, text]) => [`ansible/${path}`, text]));
  moved.set('README.md', '# infrastructure\n');
  return moved;
}

/** `.yaml` for task, handler, default and variable files and for the Compose template (the tasks follow). */
function yamlSpelling(files: Files): Files {
  const renamed: Files = new Map();
  for (const [path, text] of files) {
    const next = /\/(tasks|handlers|defaults)\/main\.yml$|group_vars\/all\/vars\.yml$/.test(path)
      ? path.replace(/\.yml$/, '.yaml')
      : path.replace(/docker-compose\.yml\.j2$/, 'docker-compose.yaml.j2');
    renamed.set(next, /\/tasks\/main\.yml$/.test(path) ? text.replace('src: docker-compose.yml.j2', 'src: docker-compose.yaml.j2') : text);
  }
  return renamed;
}

/** 2-space YAML re-indented with 4-space steps (a list item's content stays 2 after its dash). */
function fourSpaces(text: string): string {
  const stack: [number, number][] = [[0, 0]];
  return text
    .split('\n')
    .map((line) => {
      const content = line.trimStart();
      if (content === '' || content.startsWith('{%')) return line;
      const column = line.length - content.length;
      while (stack.length > 1 && stack.at(-1)![0] > column) stack.pop();
      const [oldColumn, newColumn] = stack.at(-1)!;
      const target = oldColumn === column ? newColumn : newColumn + (column - oldColumn) * 2;
      if (oldColumn !== column) stack.push([column, target]);
      if (content.startsWith('- ')) stack.push([column + 2, target + 2]);
      return ' '.repeat(target) + content;
    })
    .join('\n');
}

function allFourSpaces(files: Files): Files {
  return new Map(
    [...files].map(([path, text]) => [path, /\.ya?ml(\.j2)?$/.test(path) && !path.includes('vault') ? fourSpaces(text) : text]),
  );
}

/** The report's own fixes, applied by hand, some of them half-way. */
function reportFixesByHand(files: Files): void {
  edit(files, COMPOSE, '      - /tmp:size=16M\n    command:', '      - /tmp:size=16M\n      - /run:size=8M\n    command:'); // Bug 2 without the socket dir
  edit(files, COMPOSE, '["CMD", "curl", "-sf", "http://localhost:4750/healthcheck"]', '["CMD-SHELL", "nc -z localhost 4750"]'); // Bug 1, unbounded
  edit(files, DOCKERFILE, 'ca-certificates curl', 'ca-certificates netcat-openbsd');
  edit(
    files,
    HANDLERS,
    'restart openclaw-egress\n  args:\n    chdir: "{{ openclaw_base_dir }}"\n',
    'restart openclaw-egress\n  args:\n    chdir: "{{ openclaw_base_dir }}"\n  failed_when: false\n',
  );
  edit(
    files,
    LITELLM,
    '      max_budget: {{ model.max_budget }}\n      rpm: {{ model.rpm }}\n',
    '{% if model.max_budget is defined %}\n    model_info:\n      max_budget: {{ model.max_budget }}\n{% endif %}\n{% if model.rpm is defined %}\n    rpm: {{ model.rpm }}\n{% endif %}\n',
  );
  // Bug 3 as the report writes it: its main.go (which does not compile on v0.0.4) copied over upstream's.
  files.set(
    'roles/openclaw-config/files/main.go',
    'package main\n\nimport (\n    "net/http"\n    "github.com/stripe/smokescreen/cmd"\n    "github.com/stripe/smokescreen/pkg/smokescreen"\n)\n\nfunc main() {\n    conf, err := cmd.NewConfiguration(nil, nil)\n    if err != nil {\n        panic(err)\n    }\n    conf.RoleFromRequest = func(req *http.Request) (string, error) {\n        return "default", nil\n    }\n    if err := smokescreen.StartWithConfig(conf, nil); err != nil {\n        panic(err)\n    }\n}\n',
  );
  edit(files, DOCKERFILE, '    git checkout {{ smokescreen_commit }}\n', '    git checkout {{ smokescreen_commit }}\nCOPY main.go .\n');
  edit(
    files,
    CONFIG_TASKS,
    '- name: Render Smokescreen ACL',
    '- name: Copy Smokescreen main.go\n  ansible.builtin.copy:\n    src: main.go\n    dest: "{{ openclaw_base_dir }}/build/smokescreen/main.go"\n    mode: "0644"\n  notify: rebuild egress\n\n- name: Render Smokescreen ACL',
  );
}

/** 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((line) => line.includes(needle)) + 1;
}

// ---- the maintainer's session ---------------------------------------------------------------

interface Session {
  repo: string;
  /** The fix branch's commits, oldest first: subject, body, trailer. */
  commits: { subject: string; body: string; trailer: string }[];
  verify: { code: number; stdout: string };
  dryRun: string;
}

/** --apply on `main`, then on the fix branch: verify, --check, --apply again. */
async function maintainerSession(files: Files, { verifyPasses = true } = {}): Promise<Session> {
  const repo = gitRepoOf(files);
  const dryRun = await runCli(repo, []);
  expect(dryRun.stderr).toBe('');
  expect(dryRun.code).toBe(0);

  const apply = await runCli(repo, ['--apply']);
  expect(apply.stderr).toBe('');
  expect(apply.code).toBe(0);
  expect(apply.stdout).toContain(`Created branch ${DEFAULT_FIX_BRANCH}`);

  git(repo, 'checkout', '-q', DEFAULT_FIX_BRANCH);
  const verify = await runCli(repo, ['verify']);
  expect(verify.stderr).toBe('');
  if (verifyPasses) expect(verify.stdout.split('\n').filter((line) => line && !line.endsWith(': ok'))).toEqual([]);
  expect(verify.code).toBe(verifyPasses ? 0 : 1);

  const check = await runCli(repo, ['--check']);
  expect(check.stdout).not.toMatch(/needs fix/);
  expect(check.code).toBe(verifyPasses ? 0 : 1); // an unrecognised fix keeps --check at 1
  const again = await runCli(repo, ['--apply']);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/Nothing to do/);

  const commits = git(
    repo,
    'log',
    '--reverse',
    '--format=%s%x00%b%x00%(trailers:key=Openclaw-Fix,valueonly)%x1e',
    `main..${DEFAULT_FIX_BRANCH}`,
  )
    .split('\x1e')
    .map((record) => record.replace(/^\n/, ''))
    .filter(Boolean)
    .map((record) => {
      const [subject = '', body = '', trailer = ''] = record.split('\0');
      return { subject, body, trailer: trailer.trim() };
    });
  return { repo, commits, verify, dryRun: dryRun.stdout };
}

/** The fix branch's files as Ansible would deploy them: the rendered Compose data of `composePath`. */
function renderedCompose(
  repo: string,
  composePath: string,
): { services: Record<string, Record<string, unknown>>; networks: Record<string, Record<string, unknown> | null> } {
  const files = readTree(repo);
  return renderYaml(composePath, files.get(composePath) ?? '', loadVars(files)) as never;
}

const PRIORITY_ORDER = [...allPatches].sort((a, b) => a.priority - b.priority);

describe("a maintainer's session on the fixture", () => {
  it("eleven commits in the report's priority order, each message complete, and a playbook Ansible still accepts", async () => {
    const session = await maintainerSession(fixtureFiles());
    expect(session.commits.map((commit) => commit.trailer)).toEqual(PRIORITY_ORDER.map((patch) => patch.id));
    expect(session.commits.map((commit) => /\((bug (\d)|beyond the report)\)$/.exec(commit.subject)?.[2] ?? 'extra')).toEqual([
      '2',
      '1',
      '3',
      '5',
      '4',
      '6',
      '7',
      '8',
      '9',
      'extra',
      'extra',
    ]);
    for (const [index, commit] of session.commits.entries()) {
      const patch = PRIORITY_ORDER[index]!;
      expect(commit.subject).toMatch(/^fix\([a-z-]+\): \S.* \((bug [1-9]|beyond the report)\)$/);
      expect(commit.body).toMatch(/^What was wrong: \S/m);
      expect(commit.body).toMatch(/^What changed:\n- \S/m);
      expect(commit.body).toMatch(/^Why: \S/m);
      if (patch.departsFromReport) expect(commit.body).toContain(`Departs from the report: ${patch.departsFromReport.slice(0, 40)}`);
      else expect(commit.body).not.toContain('Departs from the report');
    }

    // The fixed playbook is still valid Ansible: syntax-check with the vault as plain placeholders.
    const work = tempDir('openclaw-fix-ansible-');
    cpSync(session.repo, work, { recursive: true, filter: (path) => !path.includes('/.git') });
    const vaultNames = [
      'litellm_master_key',
      'cloudflared_tunnel_token',
      'telegram_bot_token',
      'gateway_token',
      'anthropic_api_key',
      'openai_api_key',
    ];
    writeFileSync(join(work, 'group_vars/all/vault.yml'), vaultNames.map((name) => `vault_${name}: placeholder-${name}\n`).join(''));
    const syntax = spawnSync('ansible-playbook', ['--syntax-check', '-i', 'inventory/hosts.yml', 'playbook.yml'], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_CONFIG: join(work, 'ansible.cfg') },
    });
    if (syntax.error) throw new Error(`cannot run ansible-playbook (${syntax.error.message})`);
    expect(syntax.stderr + syntax.stdout).not.toMatch(/ERROR/);
    expect(syntax.status).toBe(0);
    // The one file the fixes add that no template renders: the entrypoint, next to its copy task.
    expect(readdirSync(join(work, 'roles/openclaw-config/files'))).toEqual(['smokescreen-main.go']);
  });
});

describe('repos shaped the way real teams shape them: every fix lands and verify agrees', () => {
  it('roles under ansible/, .yaml spellings, 4-space indentation, one CRLF file', async () => {
    const files = underAnsibleDir(allFourSpaces(yamlSpelling(fixtureFiles())));
    const handlers = 'ansible/roles/openclaw-config/handlers/main.yaml';
    files.set(handlers, files.get(handlers)!.replace(/\n/g, '\r\n'));
    const session = await maintainerSession(files);
    expect(session.commits).toHaveLength(allPatches.length);

    const fixed = readTree(session.repo);
    // CRLF stays CRLF, new lines included; the other files keep LF.
    expect(fixed.get(handlers)!.replace(/\r\n/g, '')).not.toContain('\n');
    expect(fixed.get('ansible/roles/openclaw-config/tasks/main.yaml')).not.toContain('\r');
    // New task lines follow the 4-space style: the module's arguments sit 4 deeper than the module.
    expect(fixed.get('ansible/roles/maintenance/tasks/main.yaml')).toMatch(
      /\n {2}community\.docker\.docker_image:\n {6}name: "alpine:3\.21"\n/,
    );
    const compose = renderedCompose(session.repo, 'ansible/roles/openclaw-config/templates/docker-compose.yaml.j2');
    expect(compose.services['openclaw-egress']!.tmpfs).toEqual(['/tmp:size=16M', '/run:size=8M']);
    expect(compose.networks['proxy-net']).toMatchObject({ internal: true });
  });

  it("the report's fixes already applied by hand, half-way, with Telegram off and no reverse proxy", async () => {
    const files = fixtureFiles();
    reportFixesByHand(files);
    edit(files, 'group_vars/all/vars.yml', 'telegram_enabled: true', 'telegram_enabled: false');
    edit(files, 'group_vars/all/vars.yml', 'reverse_proxy_mode: caddy', 'reverse_proxy_mode: none');
    for (const path of [...files.keys()]) if (path.startsWith('roles/reverse-proxy/')) files.delete(path);
    edit(
      files,
      'playbook.yml',
      "    - role: reverse-proxy        # Caddy or Cloudflare Tunnel overlay\n      tags: [proxy]\n      when: reverse_proxy_mode != 'none'\n",
      '',
    );
    const session = await maintainerSession(files);
    // Telegram off: its allow-list entry is not applicable; the other ten land.
    expect(session.commits.map((commit) => commit.trailer)).not.toContain('telegram-egress-allowlist');
    expect(session.commits).toHaveLength(allPatches.length - 1);

    const fixed = readTree(session.repo);
    // Completed, not duplicated: one /run tmpfs, one nc, the failed_when gone, the report's main.go replaced.
    const egress = renderedCompose(session.repo, COMPOSE).services['openclaw-egress']!;
    expect(egress.tmpfs).toEqual(['/tmp:size=16M', '/run:size=8M']);
    expect(egress.command).toContain('--stats-socket-dir=/run');
    expect(parseYaml(fixed.get(HANDLERS)!)).not.toContainEqual(expect.objectContaining({ failed_when: false }));
    expect(fixed.get(DOCKERFILE)!.match(/apk add [^\n]*netcat-openbsd/g)).toHaveLength(1);
    const litellm = renderYaml(LITELLM, fixed.get(LITELLM)!, loadVars(fixed)) as {
      model_list: { model_info?: unknown; litellm_params: Record<string, unknown> }[];
    };
    for (const model of litellm.model_list) {
      expect(model.model_info).toBeUndefined();
      expect(model.litellm_params).toMatchObject({ max_budget: expect.any(Number), budget_duration: '30d' });
    }
  });

  it('an extra service and depends_on as a list, a {% raw %} block, comments beside keys', async () => {
    const files = fixtureFiles();
    edit(
      files,
      COMPOSE,
      '  # ---- openclaw (gateway)',
      '  searxng:   # search for the agent\n    image: searxng/searxng:2025.1.0\n    networks:\n      - openclaw-net\n    depends_on:\n      - redis\n      - openclaw-egress\n\n  # ---- openclaw (gateway)',
    );
    edit(
      files,
      COMPOSE,
      '    depends_on:\n      redis:\n        condition: service_healthy\n      openclaw-egress:\n        condition: service_healthy\n',
      '    depends_on:   # start order\n      - redis\n      - openclaw-egress   # the proxy\n',
    );
    edit(
      files,
      COMPOSE,
      '    healthcheck:\n      test: ["CMD-SHELL", "wget -qO- http://localhost:2375/_ping | grep -q OK"]',
      '    labels:\n{% raw %}\n      com.example.format: "{{.Names}}"\n{% endraw %}\n    healthcheck:\n      test: ["CMD-SHELL", "wget -qO- http://localhost:2375/_ping | grep -q OK"]',
    );
    const session = await maintainerSession(files);
    expect(session.commits).toHaveLength(allPatches.length);
    const compose = renderedCompose(session.repo, COMPOSE);
    expect(compose.services.litellm!.depends_on).toEqual(['redis']);
    expect(compose.services.searxng!.depends_on).toEqual(['redis', 'openclaw-egress']); // not LiteLLM: untouched
    expect(compose.services['docker-proxy']!.labels).toEqual({ 'com.example.format': '{{.Names}}' });
  });
});

describe("shapes a fix cannot edit safely: unrecognised at the user's file:line, the others still land", () => {
  it("a service that gets tmpfs through a '<<' merge key: bug 2 refuses instead of overriding the merged /tmp", async () => {
    const files = fixtureFiles();
    edit(files, COMPOSE, 'services:\n', 'x-hardened: &hardened\n  read_only: true\n  tmpfs:\n    - /tmp:size=16M\n\nservices:\n');
    edit(
      files,
      COMPOSE,
      '    user: smokescreen\n    read_only: true\n    tmpfs:\n      - /tmp:size=16M\n',
      '    <<: *hardened\n    user: smokescreen\n',
    );
    const session = await maintainerSession(files, { verifyPasses: false });
    const text = files.get(COMPOSE)!;
    expect(session.dryRun).toMatch(
      new RegExp(
        `bug 2 .* unrecognised[^\\n]*\\n +'tmpfs' of the mapping at ${COMPOSE}:\\d+ comes from the merge key at ${COMPOSE}:${lineOf(text, '<<: *hardened')} \\(defined at ${COMPOSE}:${lineOf(text, '  tmpfs:')}\\)`,
      ),
    );
    expect(session.commits.map((commit) => commit.trailer)).not.toContain('egress-writable-run');
    expect(session.commits).toHaveLength(allPatches.length - 1);
    // verify names only what is still to do, and reads the merged /tmp the service really has.
    expect(session.verify.stdout.split('\n').filter((line) => line && !line.endsWith(': ok'))).toEqual([
      expect.stringMatching(/^bug 2: \/run is not on a tmpfs in the egress service/),
    ]);
    expect(renderedCompose(session.repo, COMPOSE).services['openclaw-egress']!.tmpfs).toEqual(['/tmp:size=16M']);
  });

  it("litellm's depends_on anchored and merged into the gateway's: bug 7 refuses, the gateway keeps waiting for the proxy", async () => {
    const files = fixtureFiles();
    edit(
      files,
      COMPOSE,
      '    depends_on:\n      redis:\n        condition: service_healthy\n      openclaw-egress:\n',
      '    depends_on: &backends\n      redis:\n        condition: service_healthy\n      openclaw-egress:\n',
    );
    edit(
      files,
      COMPOSE,
      '      litellm:\n        condition: service_healthy\n      openclaw-egress:\n        condition: service_healthy\n',
      '      litellm:\n        condition: service_healthy\n      <<: *backends\n',
    );
    const session = await maintainerSession(files, { verifyPasses: false });
    // Lines are the user's, not those of the text the earlier fixes (bug 2 adds lines above the alias) left.
    const text = files.get(COMPOSE)!;
    const egressEntry =
      text.split('\n').findIndex((line, index) => index > lineOf(text, '&backends') && line === '      openclaw-egress:') + 1;
    expect(session.dryRun).toContain(
      `the edit at ${COMPOSE}:${egressEntry} changes &backends (${COMPOSE}:${lineOf(text, '&backends') + 1}), which *backends at ${COMPOSE}:${lineOf(text, '<<: *backends')} also uses`,
    );
    expect(session.commits.map((commit) => commit.trailer)).not.toContain('litellm-no-egress-dependency');
    expect(renderedCompose(session.repo, COMPOSE).services.openclaw!.depends_on).toHaveProperty('openclaw-egress');
  });

  it('a handlers file with no handler yet (only `---` and a comment) is not a shape to refuse', async () => {
    const files = fixtureFiles();
    files.set(HANDLERS, '---\n# handlers come later\n');
    const result = await runCli(gitRepoOf(files), ['--json', '--only', '8']);
    const [fix] = (JSON.parse(result.stdout) as { fixes: { state: string; reason: string }[] }).fixes;
    expect(fix).toMatchObject({ state: 'fixed', reason: 'no handler acts on an existing container' });
  });

  it("an unrecognised fix names the line in the user's file even when earlier fixes moved it", async () => {
    const files = fixtureFiles();
    edit(files, COMPOSE, '["CMD", "curl", "-sf", "http://localhost:4750/healthcheck"]', '["CMD-SHELL", "{{ egress_probe }}"]');
    const repo = gitRepoOf(files);
    const dryRun = await runCli(repo, []);
    const line =
      files
        .get(COMPOSE)!
        .split('\n')
        .findIndex((text) => text.includes('egress_probe')) + 1;
    expect(dryRun.stdout).toMatch(new RegExp(`bug 1 .* unrecognised[^\\n]*\\n +[^\\n]*docker-compose\\.yml\\.j2:${line}\\b`));
  });
});

describe("{% raw %} renders as Ansible's Jinja renders it", () => {
  // Outputs taken from `ansible localhost -m template` (ansible-core 2.14): trim_blocks eats the
  // newline after {% endraw %}, not the one after {% raw %}.
  it.each([
    ['a: {% raw %}x{% endraw %}\nb: 1\n', 'a: xb: 1\n'],
    ['{% raw %}\na: "{{.Names}}"\n{% endraw %}\nb: 1\n', '\na: "{{.Names}}"\nb: 1\n'],
    ['a: "{% raw %}{{.Names}} \\ "{% endraw %}"\n', 'a: "{{.Names}} \\ ""\n'],
    ['  {% raw -%}\n   c: 1\n  {%- endraw %}\nd: 1\n', '  c: 1d: 1\n'],
  ])('%j', (template, rendered) => {
    expect(renderTemplate(template, {})).toBe(rendered);
  });
});

describe('a backup image named by a shell variable', () => {
  // The bug 9 module resolves IMAGE="…" set by the script itself; verify must agree, or --apply
  // would refuse the whole branch over a correct fix.
  it('a backup script that names its image in a shell variable: --apply lands bug 9 and verify agrees', async () => {
    const files = fixtureFiles();
    edit(files, BACKUP, 'mkdir -p "$BACKUP_DIR"\n', 'mkdir -p "$BACKUP_DIR"\nBACKUP_IMAGE="busybox:1.36"\n');
    files.set(BACKUP, files.get(BACKUP)!.replaceAll('alpine:3.21 tar', '"$BACKUP_IMAGE" tar'));
    const session = await maintainerSession(files);
    expect(readTree(session.repo).get('roles/maintenance/tasks/main.yml')).toContain('name: "busybox:1.36"');
  });
});
