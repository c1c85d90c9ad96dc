/**
 * Jinja where real templates put it (issue 10): tag lines inside block scalars, if/else around
 * whole entries, expressions alone where entries stand, tags in flow lists and at the end of
 * `key:` lines, every block tag. Templates parse, the Compose fixes still apply to a file that
 * holds them, and edits next to them stay surgical and land where Jinja outputs them with the
 * mapping they belong to.
 */
import { isMap, type YAMLMap } from 'yaml';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { applyEditsToText } from '../src/core/edits.js';
import { planFixes } from '../src/core/engine.js';
import { parseYamlTemplate, type ParsedTemplate } from '../src/toolkit/template-yaml.js';
import { loadVars, renderYaml } from '../src/model/render/render.js';
import { insertIntoMap, mapAt, pairOf } from '../src/toolkit/yaml-edit.js';
import { fixtureFiles } from './helpers.js';
import { UnrecognisedShape } from '../src/core/errors.js';

const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';

/** The redis service of issue 10, item 2, verbatim (Jinja at column 0 inside `command: >`, if/else around `healthcheck:`). */
const REDIS_FROM_THE_ISSUE = `    command: >
      redis-server
      --appendonly no
{% if redis_password | default('') | length > 0 %}
      --requirepass \${REDIS_PASSWORD}
{% else %}
      --protected-mode no
{% endif %}
      --loadmodule /opt/redis-stack/lib/redisearch.so
{% if redis_password | default('') | length > 0 %}
    healthcheck:
      test: ["CMD", "redis-cli", "-a", "\${REDIS_PASSWORD}", "--no-auth-warning", "ping"]
{% else %}
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
{% endif %}
`;

/** The fixture with its redis service written the way the issue's real repo writes it. */
function fixtureWithIssueRedis(): Map<string, string> {
  const files = fixtureFiles();
  const text = files.get(COMPOSE) ?? '';
  const command =
    '    command: ["redis-server", "--appendonly", "yes", "--maxmemory", "{{ redis_maxmemory }}", "--maxmemory-policy", "allkeys-lru"]\n';
  const healthcheck =
    '    healthcheck:\n      test: ["CMD", "redis-cli", "ping"]\n      interval: 10s\n      timeout: 3s\n      retries: 5\n';
  expect(text).toContain(command);
  expect(text).toContain(healthcheck);
  files.set(COMPOSE, text.replace(command, REDIS_FROM_THE_ISSUE).replace(healthcheck, ''));
  return files;
}

function root(text: string, path = 'docker-compose.yml.j2'): { tpl: ParsedTemplate; map: YAMLMap } {
  const tpl = parseYamlTemplate(path, text);
  const map = tpl.documents[0]?.contents;
  if (!isMap(map)) throw new Error('not a mapping');
  return { tpl, map };
}

const at = (map: YAMLMap, tpl: ParsedTemplate, ...keys: string[]): YAMLMap => keys.reduce((current, key) => mapAt(tpl, current, key)!, map);

describe('the Compose fixes on a template with the issue’s redis service', () => {
  it('bugs 1, 2, 4 and 7 apply, every redis byte is kept, and the result renders fixed in both branches', () => {
    const files = fixtureWithIssueRedis();
    const plan = planFixes(files, allPatches);
    const state = (id: string) => plan.outcomes.find((outcome) => outcome.patch.id === id)?.state;
    for (const id of ['egress-writable-run', 'egress-tcp-healthcheck', 'gateway-no-direct-egress', 'litellm-no-egress-dependency'])
      expect(state(id), id).toBe('needs-fix');
    expect(plan.outcomes.filter((outcome) => outcome.state === 'unrecognised')).toEqual([]);

    const after = plan.result.get(COMPOSE) ?? '';
    expect(after).toContain(REDIS_FROM_THE_ISSUE);
    // A second run has nothing left to do.
    expect(planFixes(plan.result, allPatches).pending).toEqual([]);

    for (const redisPassword of ['', 's3cret']) {
      const compose = renderYaml(COMPOSE, after, loadVars(plan.result, { redis_password: redisPassword })) as {
        services: Record<
          string,
          {
            tmpfs?: string[];
            command?: unknown;
            healthcheck?: { test: string[] };
            depends_on?: Record<string, unknown>;
            networks?: string[];
          }
        >;
        networks: Record<string, { internal?: boolean }>;
      };
      const { redis, litellm } = compose.services;
      const egress = compose.services['openclaw-egress'];
      expect(redis?.command).toBe(
        redisPassword
          ? 'redis-server --appendonly no --requirepass ${REDIS_PASSWORD} --loadmodule /opt/redis-stack/lib/redisearch.so\n'
          : 'redis-server --appendonly no --protected-mode no --loadmodule /opt/redis-stack/lib/redisearch.so\n',
      );
      expect(redis?.healthcheck?.test.includes('--no-auth-warning')).toBe(redisPassword !== '');
      expect(egress?.tmpfs).toContain('/run:size=8M'); // bug 2
      expect(JSON.stringify(egress?.healthcheck?.test)).not.toContain('/healthcheck'); // bug 1
      expect(Object.keys(litellm?.depends_on ?? {})).toEqual(['redis']); // bug 7
      expect(compose.networks['proxy-net']?.internal).toBe(true); // bug 4
    }
  });
});

describe('Jinja inside block scalars', () => {
  const scalar = (header: string, body: string) => `svc:\n  command: ${header}\n${body}  image: x\n`;
  const tagged = '    redis-server\n{% if pw %}\n    --requirepass x\n{%- else %}\n    --protected-mode no\n{% endif %}\n    --port 6379\n';

  it.each(['>', '|', '>-', '|-', '>+', '|+', '>2', '|2-'])('a %s scalar reads on across tags at column 0', (header) => {
    const { tpl, map } = root(scalar(header, header.includes('2') ? tagged.replace(/^ {4}/gm, '    ') : tagged));
    const svc = at(map, tpl, 'svc');
    expect(svc.items.map((pair) => String((pair.key as { value: unknown }).value))).toEqual(['command', 'image']);
  });

  it('a tag as the first line of the scalar, longer than its indentation', () => {
    const { tpl, map } = root(
      'svc:\n  command: >\n{% if redis_password | default("") | length > 0 %}\n    --requirepass x\n{% endif %}\n    --port 1\n  image: x\n',
    );
    expect(Object.keys(at(map, tpl, 'svc').toJSON() as object)).toEqual(['command', 'image']);
  });

  it('a key inserted after the scalar goes after its last line, before an {% if %} that follows', () => {
    const text = fixtureWithIssueRedis().get(COMPOSE) ?? '';
    const { tpl, map } = root(text, COMPOSE);
    const redis = at(map, tpl, 'services', 'redis');
    const edit = insertIntoMap(tpl, redis, ['stop_grace_period: 30s'], 'command');
    const result = applyEditsToText(COMPOSE, text, [edit]);
    expect(result).toContain('      --loadmodule /opt/redis-stack/lib/redisearch.so\n    stop_grace_period: 30s\n{% if redis_password');
  });
});

describe('if/else around whole entries', () => {
  const text = fixtureWithIssueRedis().get(COMPOSE) ?? '';

  it('a key written in both branches is unrecognised with both lines, never the first branch alone', () => {
    const { tpl, map } = root(text, COMPOSE);
    const redis = at(map, tpl, 'services', 'redis');
    expect(() => pairOf(redis, 'healthcheck')).toThrow(
      /'healthcheck' of the mapping at .*docker-compose\.yml\.j2:\d+ is written in alternative Jinja branches \(lines \d+, \d+\)/,
    );
  });

  it('an entry inserted after a branch goes past its {% endif %}, so it is output in both', () => {
    const small = root('svc:\n  image: x\n{% if hc %}\n  healthcheck:\n    test: [CMD, true]\n{% endif %}\nnext: 1\n');
    const inserted = applyEditsToText('f', small.tpl.text, [
      insertIntoMap(small.tpl, at(small.map, small.tpl, 'svc'), ['read_only: true']),
    ]);
    expect(inserted).toBe(
      'svc:\n  image: x\n{% if hc %}\n  healthcheck:\n    test: [CMD, true]\n{% endif %}\n  read_only: true\nnext: 1\n',
    );
  });

  it('entries of a mapping built by a loop get the new entry after the loop, once', () => {
    const { tpl, map } = root('env:\n  A: 1\n{% for k, v in extra.items() %}\n  {{ k }}: "{{ v }}"\n{% endfor %}\nnext: 1\n');
    expect(applyEditsToText('f', tpl.text, [insertIntoMap(tpl, at(map, tpl, 'env'), ['B: 2'])])).toBe(
      'env:\n  A: 1\n{% for k, v in extra.items() %}\n  {{ k }}: "{{ v }}"\n{% endfor %}\n  B: 2\nnext: 1\n',
    );
  });

  it('a mapping whose own key sits in a branch still takes entries inside that branch', () => {
    const { tpl, map } = root('services:\n{% if egress %}\n  egress:\n    image: x\n{% endif %}\n  app:\n    image: y\n');
    expect(applyEditsToText('f', tpl.text, [insertIntoMap(tpl, at(map, tpl, 'services', 'egress'), ['read_only: true'])])).toBe(
      'services:\n{% if egress %}\n  egress:\n    image: x\n    read_only: true\n{% endif %}\n  app:\n    image: y\n',
    );
  });
});

describe('expressions alone where entries stand', () => {
  const text =
    'svc:\n  environment:\n    FOO: bar\n    {{ extra_env | to_nice_yaml | indent(4) }}\n  {{ healthcheck(4750) }}\n  image: x\n';

  it('parse, and a key they may render is neither read as absent nor added', () => {
    const { tpl, map } = root(text);
    const svc = at(map, tpl, 'svc');
    expect(Object.keys(svc.toJSON() as object)).toEqual(['environment', 'image']);
    expect(pairOf(svc, 'image')).toBeDefined();
    expect(() => pairOf(svc, 'healthcheck')).toThrow(
      /has no 'healthcheck' written, but the Jinja at docker-compose\.yml\.j2:5 \(\{\{ healthcheck\(4750\) \}\}\) renders entries into it/,
    );
    expect(() => pairOf(at(svc, tpl, 'environment'), 'HTTP_PROXY')).toThrow(UnrecognisedShape);
    expect(pairOf(at(svc, tpl, 'environment'), 'FOO')).toBeDefined();
  });

  it('an expression that is a value or a scalar continuation stays part of it', () => {
    const { tpl, map } = root('svc:\n  command:\n    {{ redis_command }}\n  entrypoint: run\n    {{ extra_args }}\n  image: x\n');
    const svc = at(map, tpl, 'svc');
    expect(Object.keys(svc.toJSON() as object)).toEqual(['command', 'entrypoint', 'image']);
    expect(() => pairOf(svc, 'healthcheck')).not.toThrow();
  });

  it('a macro call at column 0 whose last rendered key the template goes on nesting under', () => {
    const text =
      '{% macro tcp_healthcheck(port, interval=\'30s\') %}\n    healthcheck:\n      test: ["CMD-SHELL", "nc -z localhost {{ port }}"]\n{% endmacro %}\nservices:\n  openclaw:\n    cpus: 2.0\n{{ tcp_healthcheck(openclaw_gateway_port) }}\n      start_period: 60s\n    depends_on: [redis]\n';
    const { tpl, map } = root(text);
    const gateway = at(map, tpl, 'services', 'openclaw');
    expect(pairOf(gateway, 'depends_on')).toBeDefined();
    expect(() => pairOf(gateway, 'healthcheck')).toThrow(/renders entries into it/);
  });

  it('a macro defined in the template and called where entries stand', () => {
    const macro =
      '{% macro limits(mem) -%}\n    mem_limit: {{ mem }}\n    cpus: 0.5\n{%- endmacro %}\nservices:\n  redis:\n    image: redis\n    {{ limits("256m") }}\n  app:\n    image: y\n';
    const { tpl, map } = root(macro);
    expect(Object.keys(at(map, tpl, 'services').toJSON() as object)).toEqual(['redis', 'app']);
    expect(() => pairOf(at(map, tpl, 'services', 'redis'), 'cpus')).toThrow(/renders entries into it/);
  });
});

describe('tags in flow lists, at the end of key lines, and every block tag', () => {
  it('inline {% if %} inside a flow list, also right after a quoted item', () => {
    const { tpl, map } = root(
      'svc:\n  networks: [openclaw-net{% if expose %}, proxy-net{% endif %}]\n  test: ["CMD", "redis-cli"{% if pw %}, "-a", "${PW}"{% endif %}, "ping"]\n  image: x\n',
    );
    expect(Object.keys(at(map, tpl, 'svc').toJSON() as object)).toEqual(['networks', 'test', 'image']);
  });

  it('#jinja2: trim_blocks: False with the tags on the content lines', () => {
    const text =
      '#jinja2: trim_blocks: False\nsvc:\n  environment:{% for k, v in env.items() %}\n    {{ k }}: "{{ v }}"{% endfor %}\n  networks: {% if expose %}\n    - proxy-net{% endif %}\n    - openclaw-net\n  image: x\n';
    const { tpl, map } = root(text);
    const svc = at(map, tpl, 'svc');
    expect(Object.keys(svc.toJSON() as object)).toEqual(['environment', 'networks', 'image']);
    expect((svc.toJSON() as { networks: string[] }).networks).toHaveLength(2);
  });

  it('with, filter, block, set blocks, call, autoescape, raw, comments and whitespace control balance and parse', () => {
    const text = [
      '{# a comment {% if %} that is not a tag #}',
      '{%- set greeting -%}hello{%- endset %}',
      'svc:',
      '{% with port = 4750 %}',
      '  port: {{ port }}',
      '{% endwith %}',
      '{% filter trim %}',
      '  image: x',
      '{% endfilter %}',
      '{% block extra %}',
      '  restart: always',
      '{% endblock extra %}',
      '{% autoescape false %}',
      '  label: "{{ label }}"',
      '{% endautoescape %}',
      '  format: "{% raw %}{{ .Names }}{% endraw %}"',
      '{%+ if a -%}',
      '  a: 1',
      '{%- elif b +%}',
      '  b: 1',
      '{% else %}',
      '  c: 1',
      '{% endif %}',
      "  quoted: \"{{ 'it\\'s %} not the end' }}\"",
      '',
    ].join('\n');
    const { tpl, map } = root(text);
    expect(Object.keys(at(map, tpl, 'svc').toJSON() as object)).toEqual([
      'port',
      'image',
      'restart',
      'label',
      'format',
      'a',
      'b',
      'c',
      'quoted',
    ]);
  });
});

describe('includes and generated list items', () => {
  it('an {% include %} where entries stand renders entries nobody can read; a list with a generated item takes no appended item', async () => {
    const { appendToSeq, seqAt } = await import('../src/toolkit/yaml-edit.js');
    const { tpl, map } = root(
      'svc:\n  image: x\n  {% include "extra-service-keys.yml.j2" %}\n  tmpfs:\n    - /tmp\n    {{ extra_tmpfs | to_nice_yaml | indent(4) }}\n',
    );
    const svc = at(map, tpl, 'svc');
    expect(() => pairOf(svc, 'read_only')).toThrow(/\{% include "extra-service-keys\.yml\.j2" %\}\) renders entries into it/);
    expect(() => appendToSeq(tpl, seqAt(tpl, svc, 'tmpfs')!, ['/run'])).toThrow(
      /also gets items from the Jinja at docker-compose\.yml\.j2:6/,
    );
  });
});

describe('a multi-line flow list whose last items a loop writes', () => {
  it('takes a new item after the loop, before the closing bracket, with its comma', async () => {
    const { appendToSeq, seqAt } = await import('../src/toolkit/yaml-edit.js');
    const text =
      'svc:\n    command: [\n        "--listen-ip=0.0.0.0",\n{% for range in egress_deny_ranges %}\n        "--deny-range={{ range }}",\n{% endfor %}\n    ]\n    image: x\n';
    const { tpl, map } = root(text);
    const edit = appendToSeq(tpl, seqAt(tpl, at(map, tpl, 'svc'), 'command')!, ['"--stats-socket-dir=/run"']);
    const after = applyEditsToText('f', text, [edit]);
    expect(after).toBe(text.replace('{% endfor %}\n', '{% endfor %}\n        "--stats-socket-dir=/run",\n'));
    const rendered = renderYaml('f.yml.j2', after, { egress_deny_ranges: ['10.0.0.0/8', '172.16.0.0/12'] }) as {
      svc: { command: string[] };
    };
    expect(rendered.svc.command).toEqual([
      '--listen-ip=0.0.0.0',
      '--deny-range=10.0.0.0/8',
      '--deny-range=172.16.0.0/12',
      '--stats-socket-dir=/run',
    ]);
    expect((renderYaml('f.yml.j2', after, { egress_deny_ranges: [] }) as { svc: { command: string[] } }).svc.command).toEqual([
      '--listen-ip=0.0.0.0',
      '--stats-socket-dir=/run',
    ]);
  });
});
