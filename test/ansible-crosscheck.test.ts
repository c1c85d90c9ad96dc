/**
 * The renderer is only worth trusting if it prints what Ansible prints. Every Jinja template
 * of every role — before the fixes and as the fixes leave them — goes through src/model/render/render.ts
 * and through real Ansible (`ansible.builtin.template`, one ansible-playbook run for all of
 * them) with the same variables, and the texts must be identical. No ansible: the test fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { planFixes } from '../src/core/engine.js';
import { KNOWN_DIFFERENCES, loadVars, renderTemplate, vaultPlaceholder, type Vars } from '../src/model/render/render.js';
import { ansiblePlaybook, fixtureFiles, PROJECT_ROOT, tempDir } from './helpers.js';
import { CHILD_PROCESS_TIMEOUT, SLOW_TEST } from './budgets.js';

const ROLE_TEMPLATE = /(^|\/)roles\/[^/]+\/templates\/.+\.j2$/;

interface TemplateSet {
  readonly name: string;
  readonly files: ReadonlyMap<string, string>;
  readonly vars: Vars;
  /** vars_files of the play, in order (later wins). */
  readonly varsFiles: readonly string[];
  readonly templates: readonly string[];
}

function roleTemplates(files: ReadonlyMap<string, string>): string[] {
  return [...files.keys()].filter((path) => ROLE_TEMPLATE.test(path)).sort();
}

/**
 * A directory of action plugins for ANSIBLE_ACTION_PLUGINS holding one, `copy`: what
 * ansible.builtin.template calls (as ansible.legacy.copy, which a configured plugin path may
 * override) to deliver the text it has rendered. The rendering is Ansible's own and untouched:
 * the template action reads the source, builds the template variables (ansible_managed, the
 * search path for includes) and renders with its Templar on the controller, then writes the
 * result to a local temp file and hands that file to copy. The real copy then runs the stat and
 * copy modules on the target — two Python processes per template (~0.75 CPU-s; 34 templates
 * cost ~26 CPU-s, with this ~6) to move the same bytes. This one copies the file locally.
 * Proved the same: every output of both plays, rendered with the real copy and with this one,
 * compared byte for byte (identical).
 */
function renderedFilesWrittenLocally(work: string): string {
  const dir = join(work, 'action_plugins');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'copy.py'),
    [
      'import shutil',
      'from ansible.plugins.action import ActionBase',
      '',
      '',
      'class ActionModule(ActionBase):',
      '    TRANSFERS_FILES = False',
      '',
      '    def run(self, tmp=None, task_vars=None):',
      '        result = super().run(tmp, task_vars)',
      "        shutil.copyfile(self._task.args['src'], self._task.args['dest'])",
      "        result['changed'] = True",
      '        return result',
      '',
    ].join('\n'),
  );
  return dir;
}

/** Writes the templates and a play rendering each; returns the play's YAML. */
function playFor(set: TemplateSet, work: string): string {
  const dir = join(work, set.name);
  mkdirSync(join(dir, 'out'), { recursive: true });
  const items = set.templates.map((path, index) => {
    const src = join(dir, 'src', path);
    mkdirSync(join(src, '..'), { recursive: true });
    writeFileSync(src, set.files.get(path) ?? '');
    return { src, dest: join(dir, 'out', String(index)) };
  });
  return [
    `- name: render ${set.name}`,
    '  hosts: localhost',
    '  connection: local',
    '  gather_facts: false',
    `  vars_files: ${JSON.stringify(set.varsFiles)}`,
    '  tasks:',
    '    - ansible.builtin.template:',
    '        src: "{{ openclaw_xcheck.src }}"',
    '        dest: "{{ openclaw_xcheck.dest }}"',
    `      loop: ${JSON.stringify(items)}`,
    '      loop_control: { loop_var: openclaw_xcheck, label: "{{ openclaw_xcheck.src | basename }}" }',
    '',
  ].join('\n');
}

/** Runs one ansible-playbook for all sets; returns per set the rendered text of each template. */
function renderWithAnsible(sets: readonly TemplateSet[], ansibleManaged: string, work: string): Map<string, Map<string, string>> {
  const playbook = sets.map((set) => playFor(set, work)).join('\n');
  writeFileSync(join(work, 'playbook.yml'), playbook);
  // ansible_managed comes from ansible.cfg (the template action overrides any -e value).
  const run = ansiblePlaybook(work, ['-i', 'localhost,', join(work, 'playbook.yml')], {
    defaults: [`ansible_managed = ${ansibleManaged}`],
    env: { ANSIBLE_ACTION_PLUGINS: renderedFilesWrittenLocally(work) },
  });
  if (run.error)
    throw new Error(`cannot run ansible-playbook (${run.error.message}); install Debian's ansible package — this check needs real Ansible`);
  if (run.status !== 0) throw new Error(`ansible-playbook failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
  return new Map(
    sets.map((set) => [
      set.name,
      new Map(set.templates.map((path, index) => [path, readFileSync(join(work, set.name, 'out', String(index)), 'utf8')])),
    ]),
  );
}

function writeJson(work: string, name: string, value: unknown): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

/** Each template whose two renderings differ, as a unified diff (empty when all agree). */
function mismatches(set: TemplateSet, ansible: ReadonlyMap<string, string>, nunjucks: (path: string) => string): string[] {
  return set.templates.flatMap((path) => {
    const expected = ansible.get(path) ?? '';
    const actual = nunjucks(path);
    return actual === expected ? [] : [createTwoFilesPatch(`ansible/${path}`, `nunjucks/${path}`, expected, actual)];
  });
}

describe('src/model/render/render.ts renders every role template exactly as Ansible does', () => {
  const work = tempDir('openclaw-fix-xcheck-');
  const before = fixtureFiles();
  const after = planFixes(before, allPatches).result;
  const beforeVars = loadVars(before);
  const afterVars = loadVars(after);
  const sets: TemplateSet[] = [
    {
      name: 'before',
      files: before,
      vars: beforeVars,
      varsFiles: [writeJson(work, 'before-vars.json', beforeVars)],
      templates: roleTemplates(before),
    },
    {
      name: 'after',
      files: after,
      vars: afterVars,
      varsFiles: [writeJson(work, 'after-vars.json', afterVars)],
      templates: roleTemplates(after),
    },
  ];
  // The same templates with the repo's own variable files, read by Ansible's YAML loader
  // instead of the engine's: shows the one known difference and that it stays that narrow.
  const vaultNames = Object.keys(beforeVars).filter((name) => name.startsWith('vault_'));
  const rawVarFiles = [...before.keys()]
    .filter((path) => /roles\/[^/]+\/defaults\/main\.ya?ml$/.test(path) || /group_vars\/all\/vars\.ya?ml$/.test(path))
    .sort((a, b) => Number(a.includes('group_vars')) - Number(b.includes('group_vars')));
  const raw: TemplateSet = {
    name: 'raw-vars',
    files: before,
    vars: beforeVars,
    varsFiles: [
      writeJson(work, 'vault-placeholders.json', Object.fromEntries(vaultNames.map((name) => [name, vaultPlaceholder(name)]))),
      ...rawVarFiles.map((path) => {
        const copy = join(work, 'repo-vars', path);
        mkdirSync(join(copy, '..'), { recursive: true });
        writeFileSync(copy, before.get(path) ?? '');
        return copy;
      }),
    ],
    templates: roleTemplates(before),
  };
  // What the fixture's templates do not exercise: the filters the renderer defines, on values
  // where Python and JavaScript disagree (truthiness of 'false' and [], JSON separators,
  // non-ASCII); None, which Ansible prints as nothing unless it sits inside a value; and
  // lstrip_blocks around comments, raw blocks and `{%+`, which the renderer applies itself.
  const filtersTemplate = 'roles/xcheck/templates/filters.j2';
  const whitespaceTemplate = 'roles/xcheck/templates/lstrip.j2';
  const cornerVars: Vars = {
    flags: [
      'yes',
      'Yes',
      ' yes',
      'y',
      'on',
      '1',
      'true',
      'TRUE',
      't',
      'no',
      'false',
      '',
      1,
      0,
      2,
      1.5,
      true,
      false,
      null,
      [],
      [0],
      {},
      { k: 1 },
    ],
    sample: { name: 'é café', list: [1, 'two', null, true, 2.5], nested: { z: 'quote " and \\ backslash', a: [] }, empty: {}, b: false },
  };
  // The Ansible and Jinja2 filters and tests real repos use (test/data/ansible-filters), an
  // {% include %} of another template of the role, macros, Python's list and dict semantics.
  const ansibleFilters = 'roles/xcheck/templates/ansible-filters.j2';
  const includedPartial = 'roles/xcheck/templates/partial.j2';
  const filterData = (name: string): string => readFileSync(join(PROJECT_ROOT, 'test', 'data', 'ansible-filters', name), 'utf8');
  const filterVars = JSON.parse(filterData('vars.json')) as Vars;
  const corners: TemplateSet = {
    name: 'corners',
    files: new Map([
      [ansibleFilters, filterData('filters.j2')],
      [includedPartial, filterData('partial.j2')],
      [
        whitespaceTemplate,
        [
          '#jinja2: lstrip_blocks: True',
          'a:',
          '    {# comment #}',
          'b:',
          '  {% raw %}{{ x }}{% endraw %}',
          '  {% if true %}',
          'c: 1',
          '  {% endif %}',
          '  {#- trimmed #}',
          'd',
          'e {{ 1 }}  {% if true %}f{% endif %}',
          '  {%+ if true %}g{% endif %}',
          '    {# indented #}  h',
          '',
        ].join('\n'),
      ],
      [
        filtersTemplate,
        [
          '{% for flag in flags %}',
          "{{ flag | to_json }}: {{ flag }} {{ flag | string }} {{ flag | bool }} {{ flag | ternary('T', 'F') }}",
          '{% endfor %}',
          '{{ sample | to_json }}',
          '{{ sample | to_nice_json }}',
          '',
        ].join('\n'),
      ],
    ]),
    vars: { ...cornerVars, ...filterVars },
    varsFiles: [writeJson(work, 'corner-vars.json', { ...cornerVars, ...filterVars })],
    templates: [filtersTemplate, whitespaceTemplate, ansibleFilters, includedPartial],
  };
  let ansible: Map<string, Map<string, string>>;

  beforeAll(() => {
    expect(beforeVars.ansible_managed).toBe(afterVars.ansible_managed);
    ansible = renderWithAnsible([...sets, raw, corners], String(beforeVars.ansible_managed), work);
  }, SLOW_TEST);

  it('covers the compose base and overlays, Dockerfile, ACL, LiteLLM config, env, Caddyfile and backup script', () => {
    const names = sets[0]?.templates.map((path) => path.split('/').pop()) ?? [];
    for (const name of [
      'docker-compose.yml.j2',
      'compose.caddy.yml.j2',
      'compose.cloudflared.yml.j2',
      'compose.monitoring.yml.j2',
      'Dockerfile.smokescreen.j2',
      'smokescreen-acl.yaml.j2',
      'litellm-config.yaml.j2',
      'env.j2',
      'Caddyfile.j2',
      'backup.sh.j2',
    ]) {
      expect(names).toContain(name);
    }
    // ansible_managed really reached both renderers, from the fixture's ansible.cfg.
    expect(ansible.get('before')?.get('roles/openclaw-config/templates/env.j2')).toMatch(
      /^# Managed by Ansible \(openclaw-deploy\); local edits are overwritten\.\n/,
    );
  });

  for (const index of [0, 1]) {
    it(`identical text ${index === 0 ? 'before the fixes' : 'after all registered fixes'}`, () => {
      const set = sets[index] as TemplateSet;
      const diffs = mismatches(set, ansible.get(set.name) ?? new Map(), (path) => renderTemplate(set.files.get(path) ?? '', set.vars));
      expect(diffs.join('\n'), `${diffs.length} of ${set.templates.length} templates differ`).toBe('');
    });
  }

  it('None, bool, ternary, to_json, to_nice_json and lstrip_blocks around comments and raw print what Ansible prints', () => {
    const diffs = mismatches(corners, ansible.get(corners.name) ?? new Map(), (path) =>
      renderTemplate(corners.files.get(path) ?? '', corners.vars, { path, files: corners.files }),
    );
    expect(diffs.join('\n')).toBe('');
  });

  it('regex_replace with named groups, combine, map(attribute=), selectattr, dict2items, to_nice_yaml, indent, version, include, macros… print what Ansible prints', () => {
    const expected = ansible.get(corners.name)?.get(ansibleFilters) ?? '';
    // The template really exercises them: Ansible's own output shows each filter at work.
    expect(expected).toContain('regex_replace: gateway.openclaw#1 a/b/c Jello');
    expect(expected).toContain('combine recursive: {"a": {"x": 1, "y": [3], "z": true}, "b": "keep", "c": "new"}');
    expect(expected).toContain('include: partial of redis');
    const actual = renderTemplate(corners.files.get(ansibleFilters) ?? '', corners.vars, { path: ansibleFilters, files: corners.files });
    expect(actual === expected ? '' : createTwoFilesPatch('ansible', 'nunjucks', expected, actual)).toBe('');
  });

  it(`with the repo's own YAML variable files the only difference is the known one (${KNOWN_DIFFERENCES.join('; ')})`, () => {
    const rendered = ansible.get(raw.name) ?? new Map<string, string>();
    let floatLines = 0;
    for (const path of raw.templates) {
      const expected = (rendered.get(path) ?? '').split('\n');
      const actual = renderTemplate(raw.files.get(path) ?? '', raw.vars).split('\n');
      expect(actual.length, path).toBe(expected.length);
      expected.forEach((line, at) => {
        if (line === actual[at]) return;
        floatLines++;
        // Python prints 100.0 where JavaScript prints 100: nothing else may differ.
        expect(line.replace(/\b(\d+)\.0\b/g, '$1'), `${path}:${at + 1}`).toBe(actual[at]);
      });
      if (/\.ya?ml\.j2$/.test(path)) expect(parseYaml(actual.join('\n')), path).toEqual(parseYaml(expected.join('\n')));
    }
    console.log(`cross-check: ${floatLines} line(s) differ only by an integral float's ".0"`);
  });
});

/**
 * Variables where Ansible reads them, with its precedence: a deployment repo whose variables
 * come from every place a real one uses (inventory groups and hosts, group_vars as file and
 * directory for a nested group, host_vars, play vars and vars_files, role defaults and vars of
 * two roles defining the same name, include_vars, values naming other variables, `!unsafe`,
 * `!vault`), deployed by real ansible-playbook with its inventory; loadVars + renderTemplate
 * must write the same files.
 */
describe('loadVars reads variables where Ansible does, in its precedence order', () => {
  const files = new Map<string, string>([
    ['ansible.cfg', '[defaults]\ninventory = inventory/hosts.yml\nansible_managed = managed here\n'],
    [
      'inventory/hosts.yml',
      [
        'all:',
        '  vars:',
        '    probe_defaults_vs_inventory: inventory-all',
        '    probe_inventory_vs_group_vars: inventory-all',
        '  children:',
        '    edge:',
        '      vars:',
        '        edge_only: from-edge-inventory',
        '      children:',
        '        openclaw:',
        '          vars:',
        '            probe_group_vs_host: inventory-group',
        '          hosts:',
        '            claw-01:',
        '              ansible_connection: local',
        '              probe_host_inventory_vs_file: inventory-host',
        '    monitoring:',
        '      hosts:',
        '        mon-01:',
        '          probe_never: not-our-host',
        '',
      ].join('\n'),
    ],
    [
      'inventory/group_vars/all/10-base.yml',
      [
        'openclaw_base_dir: /opt/openclaw',
        'probe_inventory_vs_group_vars: group_vars-all',
        'probe_all_vs_group: group_vars-all',
        'probe_nested_groups: group_vars-all',
        'chain_c: "{{ chain_b }}-c"',
        'raw_jinja: !unsafe "{{ not_templated }} {% raw %}"',
        'api_secret: !vault |',
        '  $ANSIBLE_VAULT;1.1;AES256',
        '  62313365396662343061393464336163383764373764613633653634306231386433626436623361',
        'settings: { a: 1, b: 2 }',
        '',
      ].join('\n'),
    ],
    ['inventory/group_vars/all/20-more.yml', 'chain_a: a\nchain_b: "{{ chain_a }}-b"\nsettings: { c: 3 }\n'],
    ['inventory/group_vars/edge.yml', 'probe_nested_groups: group_vars-edge\nprobe_all_vs_group: group_vars-edge\n'],
    ['inventory/group_vars/openclaw/main.yml', 'probe_nested_groups: group_vars-openclaw\nprobe_group_vs_host: group_vars-openclaw\n'],
    ['inventory/group_vars/monitoring.yml', 'probe_all_vs_group: not-our-group\n'],
    ['inventory/host_vars/claw-01.yml', 'probe_host_inventory_vs_file: host_vars-file\nprobe_host_vs_play: host_vars-file\n'],
    [
      'site.yml',
      [
        '- name: Deploy',
        '  hosts: openclaw',
        '  gather_facts: false',
        '  vars:',
        '    probe_host_vs_play: play-vars',
        '    probe_play_vs_vars_files: play-vars',
        '  vars_files:',
        '    - vars/extra.yml',
        '  roles:',
        '    - app',
        '    - role: other',
        '',
      ].join('\n'),
    ],
    ['vars/extra.yml', 'probe_play_vs_vars_files: vars_files\nprobe_vars_files_vs_role_vars: vars_files\n'],
    [
      'roles/app/defaults/main.yml',
      'app_port: 8080\nshared_default: app\nprobe_defaults_vs_inventory: role-defaults\nuploads_dir: "{{ openclaw_base_dir }}/uploads"\n',
    ],
    ['roles/app/vars/main.yml', 'probe_vars_files_vs_role_vars: role-vars\nprobe_role_vars_vs_include_vars: role-vars\n'],
    ['roles/app/vars/extra_app.yml', 'probe_role_vars_vs_include_vars: include_vars\nincluded_only: "{{ app_port + 1 }}"\n'],
    [
      'roles/app/tasks/main.yml',
      [
        '- name: Load the extra variables',
        '  ansible.builtin.include_vars: extra_app.yml',
        '- name: Render',
        '  ansible.builtin.template:',
        '    src: app.conf.j2',
        '    dest: "{{ xcheck_out }}/app.conf"',
        '',
      ].join('\n'),
    ],
    [
      'roles/app/templates/app.conf.j2',
      [
        '# {{ ansible_managed }}',
        '{% for name in probes | sort %}',
        '{{ name }}={{ lookup("vars", name) }}',
        '{% endfor %}',
        'uploads={{ uploads_dir }} chain={{ chain_c }} raw={{ raw_jinja }} settings={{ settings }}',
        'host={{ inventory_hostname }} groups={{ group_names }} all={{ groups["all"] | sort }} edge={{ edge_only }}',
        'shared_default={{ shared_default }} included_only={{ included_only }} port={{ app_port }}',
        '',
      ].join('\n'),
    ],
    ['roles/other/defaults/main.yml', 'shared_default: other\n'],
    ['roles/other/tasks/main.yml', '- ansible.builtin.template:\n    src: other.conf.j2\n    dest: "{{ xcheck_out }}/other.conf"\n'],
    ['roles/other/templates/other.conf.j2', 'shared_default={{ shared_default }} uploads={{ uploads_dir }}\n'],
  ]);
  const probes = [
    'probe_defaults_vs_inventory',
    'probe_inventory_vs_group_vars',
    'probe_all_vs_group',
    'probe_nested_groups',
    'probe_group_vs_host',
    'probe_host_inventory_vs_file',
    'probe_host_vs_play',
    'probe_play_vs_vars_files',
    'probe_vars_files_vs_role_vars',
    'probe_role_vars_vs_include_vars',
  ];
  const templates = ['roles/app/templates/app.conf.j2', 'roles/other/templates/other.conf.j2'];
  let ansibleOutput: Map<string, string>;

  beforeAll(() => {
    const work = tempDir('openclaw-fix-xcheck-vars-');
    for (const [path, text] of files) {
      mkdirSync(join(work, 'repo', path, '..'), { recursive: true });
      writeFileSync(join(work, 'repo', path), text);
    }
    mkdirSync(join(work, 'out'));
    const run = spawnSync('ansible-playbook', ['site.yml', '-e', JSON.stringify({ xcheck_out: join(work, 'out'), probes })], {
      cwd: join(work, 'repo'),
      encoding: 'utf8',
      env: {
        ...process.env,
        ANSIBLE_CONFIG: join(work, 'repo', 'ansible.cfg'),
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_HOME: join(work, 'home'),
        ANSIBLE_LOCAL_TEMP: join(work, 'tmp'),
        ANSIBLE_RETRY_FILES_ENABLED: 'False',
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
        ANSIBLE_ACTION_PLUGINS: renderedFilesWrittenLocally(work),
      },
      timeout: CHILD_PROCESS_TIMEOUT,
    });
    if (run.error) throw new Error(`cannot run ansible-playbook (${run.error.message}); this check needs real Ansible`);
    if (run.status !== 0) throw new Error(`ansible-playbook failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
    ansibleOutput = new Map([
      [templates[0] as string, readFileSync(join(work, 'out', 'app.conf'), 'utf8')],
      [templates[1] as string, readFileSync(join(work, 'out', 'other.conf'), 'utf8')],
    ]);
  }, SLOW_TEST);

  it('every probe resolves to the source Ansible picks, and each role sees its own defaults', () => {
    const app = ansibleOutput.get(templates[0] as string) ?? '';
    // What Ansible wrote shows each precedence rule at work (so the comparison below compares something).
    for (const line of [
      'probe_defaults_vs_inventory=inventory-all',
      'probe_nested_groups=group_vars-openclaw',
      'probe_host_inventory_vs_file=host_vars-file',
      'probe_play_vs_vars_files=vars_files',
      'probe_role_vars_vs_include_vars=include_vars',
    ])
      expect(app).toContain(line);
    expect(app).toContain('raw={{ not_templated }} {% raw %}');
    expect(ansibleOutput.get(templates[1] as string)).toContain('shared_default=other');
    for (const path of templates) {
      const vars = { ...loadVars(files, {}, { forTemplate: path }), probes };
      const actual = renderTemplate(files.get(path) ?? '', vars, { path, files });
      const expected = ansibleOutput.get(path) ?? '';
      expect(actual === expected ? '' : createTwoFilesPatch(`ansible/${path}`, `nunjucks/${path}`, expected, actual), path).toBe('');
    }
  });
});
