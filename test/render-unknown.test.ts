/**
 * What the renderer does with Ansible that only the controller or the host can evaluate, and
 * with Jinja it does not know: an Unknown that callers can detect, or an error naming the
 * template's file:line and the filter — confined to that value or that template, never the run.
 * (What it renders, it renders as Ansible does: test/ansible-crosscheck.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  brokenVarFiles,
  containsUnknown,
  loadVars,
  RenderError,
  renderTemplate,
  renderTemplateDetailed,
  unknownReasons,
  vaultPlaceholder,
  varFiles,
} from '../src/model/render/render.js';
import { parseYamlTemplate } from '../src/toolkit/template-yaml.js';
import { VerifyContext } from '../src/verify/context.js';

const GROUP_VARS = 'group_vars/all.yml';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('values only Ansible knows at run time are Unknown, not errors', () => {
  const files = new Map([
    [
      GROUP_VARS,
      [
        'openclaw_base_dir: /opt/openclaw',
        'uploads_dir: "{{ openclaw_base_dir }}/uploads"',
        "local_ssh_key_path: \"{{ lookup('env', 'HOME') }}/.ssh/id_ed25519\"",
        "admin_hash: \"{{ 'secret' | password_hash('sha512') }}\"",
        'custom: "{{ openclaw_base_dir | my_custom_filter }}"',
        '',
      ].join('\n'),
    ],
    ['roles/app/tasks/main.yml', '- name: Probe\n  ansible.builtin.command: docker ps\n  register: running_containers\n'],
  ]);

  it('a lookup, a password_hash, an unknown filter in group_vars: only those variables are unknown, named with file:line', () => {
    const vars = loadVars(files);
    expect(vars.uploads_dir).toBe('/opt/openclaw/uploads');
    expect(containsUnknown(vars.local_ssh_key_path)).toBe(true);
    expect(unknownReasons(vars.local_ssh_key_path)).toEqual(["lookup('env', 'HOME') is read on the Ansible controller when the play runs"]);
    expect(String(vars.local_ssh_key_path)).toMatch(/^__UNKNOWN_\d+__\/\.ssh\/id_ed25519$/);
    expect(containsUnknown(vars.admin_hash)).toBe(true);
    expect(unknownReasons(vars.custom)).toEqual([
      `custom at ${GROUP_VARS}:5 cannot be rendered: the filter 'my_custom_filter' is not supported by the renderer`,
    ]);
    expect(unknownReasons(vars.running_containers)[0]).toMatch(
      /running_containers is registered by a task in roles\/app\/tasks\/main\.yml/,
    );
  });

  it('an unknown value renders as a sentinel that survives YAML parsing; a check finds it where it lands', () => {
    const vars = loadVars(files);
    const rendered = renderTemplate('key_path: {{ local_ssh_key_path }}\nuploads: {{ uploads_dir }}\nhost: {{ ansible_hostname }}\n', vars);
    const data = parseYaml(rendered) as Record<string, string>;
    expect(containsUnknown(data.key_path)).toBe(true);
    expect(containsUnknown(data.uploads)).toBe(false);
    expect(unknownReasons(data.host)).toEqual(['the fact ansible_hostname is gathered from the host when the play runs']);
  });

  it('hostvars, omit, a query and a registered result are unknown; an if or for on one is reported with its line', () => {
    const vars = loadVars(files);
    const template = [
      'a: {{ hostvars[inventory_hostname].x }}',
      'b: {{ x | default(omit) }}',
      "{% if query('file', 'x') | length > 0 %}",
      'c: 1',
      '{% endif %}',
      '{% for c in running_containers.stdout_lines %}',
      '- {{ c }}',
      '{% endfor %}',
      '',
    ].join('\n');
    const result = renderTemplateDetailed(template, vars, { path: 'roles/app/templates/x.j2' });
    expect(
      result.text
        .split('\n')
        .slice(0, 2)
        .every((line) => containsUnknown(line)),
    ).toBe(true);
    expect(result.uses.map((use) => [use.kind, use.line])).toEqual([
      ['condition', 3],
      ['loop', 6],
    ]);
  });

  it('an unknown filter or test throws RenderError naming file:line and the filter; another template still renders', () => {
    const text = '# header\n{# a comment #}\nname: {{ openclaw_base_dir }}\nother: {{ openclaw_base_dir | frobnicate }}\n';
    let error: unknown;
    try {
      renderTemplate(text, loadVars(files), { path: 'roles/app/templates/app.yml.j2' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RenderError);
    expect((error as RenderError).message).toBe(
      "roles/app/templates/app.yml.j2:4: the filter 'frobnicate' is not supported by the renderer",
    );
    expect((error as RenderError).unsupported).toEqual({ kind: 'filter', name: 'frobnicate' });
    expect(() => renderTemplate('{% if x is frobnicated %}{% endif %}', {}, { path: 't.j2' })).toThrow(
      "t.j2:1: the test 'frobnicated' is not supported by the renderer",
    );
    expect(renderTemplate('dir: {{ openclaw_base_dir }}\n', loadVars(files))).toBe('dir: /opt/openclaw\n');
  });

  it("verify's context names the template's file:line, never '(unknown path)'", () => {
    const ctx = new VerifyContext(
      new Map([...files, ['roles/app/templates/app.yml.j2', 'a: 1\nb: {{ openclaw_base_dir | frobnicate }}\n']]),
    );
    expect(() => ctx.render('roles/app/templates/app.yml.j2')).toThrow(
      /^roles\/app\/templates\/app\.yml\.j2:2: .*the filter 'frobnicate' is not supported by the renderer$/,
    );
    expect(() => ctx.renderYaml('roles/app/templates/app.yml.j2')).toThrow(/^roles\/app\/templates\/app\.yml\.j2:2: .*'frobnicate'/);
  });
});

describe('the YAML tags Ansible defines', () => {
  const vault = [
    'api_key: !vault |',
    '  $ANSIBLE_VAULT;1.1;AES256',
    '  62313365396662343061393464336163383764373764613633653634306231386433626436623361',
    '',
  ].join('\n');
  const files = new Map([
    ['group_vars/all/vars.yml', 'base: /opt\nraw: !unsafe "{{ base }} {% not jinja"\nuses_raw: "{{ raw }}"\n'],
    ['group_vars/all/secrets.yml', vault],
  ]);

  it('!unsafe is never templated, !vault is a placeholder, and neither prints a warning', () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const vars = loadVars(files);
    parseYamlTemplate('group_vars/all/secrets.yml', vault);
    expect(vars.raw).toBe('{{ base }} {% not jinja');
    expect(vars.uses_raw).toBe('{{ base }} {% not jinja');
    expect(vars.api_key).toBe(vaultPlaceholder('api_key'));
    expect(warnings).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('a broken task file read for include_vars', () => {
  it("prints no YAML warning on stderr (hand-fixed's broken fail2ban tasks printed one per fix that loads variables)", () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const files = new Map([
      ['group_vars/all.yml', 'fail2ban_enabled: true\n'],
      [
        'roles/fail2ban/tasks/main.yml',
        readFileSync(new URL('../fixtures/hand-fixed/roles/fail2ban/tasks/main.yml', import.meta.url), 'utf8'),
      ],
    ]);
    expect(loadVars(files).fail2ban_enabled).toBe(true);
    expect(warnings).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('variables from an INI inventory', () => {
  it("reads group_vars of the host's groups, host vars on the host line and [group:vars], in Ansible's order", () => {
    const files = new Map([
      [
        'hosts.ini',
        '[gateways]\nclaw-01 ansible_host=203.0.113.10 http_port=8080\n\n[prod:children]\ngateways\n\n[prod:vars]\nenvironment_name=production\n',
      ],
      ['group_vars/all.yml', 'level: all\n'],
      ['group_vars/prod.yml', 'level: prod\n'],
      ['group_vars/gateways/main.yml', 'level: gateways\n'],
      ['playbook.yml', '- hosts: gateways\n  roles: [app]\n'],
    ]);
    const vars = loadVars(files);
    expect(vars.level).toBe('gateways');
    expect(vars.http_port).toBe(8080);
    expect(vars.environment_name).toBe('production');
    expect(vars.group_names).toEqual(['gateways', 'prod']);
    expect(vars.inventory_hostname).toBe('claw-01');
    expect(varFiles(files)).toEqual(['group_vars/all.yml', 'group_vars/prod.yml', 'group_vars/gateways/main.yml']);
  });

  it('a broken variable file makes only its own variables unknown', () => {
    const files = new Map([
      ['group_vars/all/good.yml', 'base: /opt/openclaw\n'],
      ['group_vars/all/broken.yml', 'a: [1, 2\nb: 3\n'],
    ]);
    const vars = loadVars(files);
    expect(vars.base).toBe('/opt/openclaw');
    expect(renderTemplate('{{ base }}/x', vars)).toBe('/opt/openclaw/x');
    expect(brokenVarFiles(files).map((broken) => broken.path)).toEqual(['group_vars/all/broken.yml']);
    expect(brokenVarFiles(files)[0]?.message).toMatch(/^group_vars\/all\/broken\.yml:\d+: not valid YAML: /);
  });
});

describe('variables and templates wherever the repo keeps them', () => {
  it("ansible/ with its own ansible.cfg, an inventory directory, host_vars, role vars and include_vars; an include of another role's template", () => {
    const files = new Map([
      ['ansible/ansible.cfg', '[defaults]\ninventory = inventory/production\n'],
      ['ansible/inventory/production/hosts.yml', 'all:\n  children:\n    claw:\n      hosts:\n        claw-01:\n'],
      ['ansible/inventory/production/group_vars/claw.yml', 'stage: production\n'],
      ['ansible/inventory/staging/hosts.yml', 'all:\n  children:\n    claw:\n      hosts:\n        claw-staging:\n'],
      ['ansible/inventory/staging/group_vars/claw.yml', 'stage: staging\n'],
      ['ansible/inventory/production/host_vars/claw-01/main.yml', 'host_only: from-host-vars\n'],
      ['ansible/playbooks/site.yml', '- hosts: claw\n  roles: [web]\n'],
      ['ansible/roles/web/defaults/main.yml', 'web_port: 80\nbase_dir: /srv\n'],
      ['ansible/roles/web/vars/main.yml', 'web_port: 8080\n'],
      ['ansible/roles/web/tasks/main.yml', '- ansible.builtin.include_vars: tuning.yml\n'],
      ['ansible/roles/web/vars/tuning.yml', 'workers: "{{ web_port // 1000 }}"\n'],
      ['ansible/roles/common/templates/header.j2', '# {{ stage }} on {{ inventory_hostname }}\n'],
      [
        'ansible/roles/web/templates/site.conf.j2',
        "{% include '../../common/templates/header.j2' %}\nport={{ web_port }} workers={{ workers }} host={{ host_only }} dir={{ base_dir }}\n",
      ],
    ]);
    const path = 'ansible/roles/web/templates/site.conf.j2';
    // Jinja drops the included template's final newline and trim_blocks the one after `%}` (as Ansible prints it).
    expect(renderTemplate(files.get(path) ?? '', loadVars(files, {}, { forTemplate: path }), { path, files })).toBe(
      '# production on claw-01port=8080 workers=8 host=from-host-vars dir=/srv\n',
    );
  });
});
