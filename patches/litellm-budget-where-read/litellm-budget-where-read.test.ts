/**
 * Bug 5 in effect: the LiteLLM config the role renders carries each model's spending cap where
 * LiteLLM reads it (litellm_params.max_budget with litellm_params.budget_duration) and a readable
 * rpm, on the fixture and on repos shaped differently.
 */
import { describe, expect, it } from 'vitest';
import { bug5 as bug5Module, DEFAULT_BUDGET_DURATION } from './litellm-budget-where-read.js';
import { planFixes } from '../../src/core/engine.js';
import { loadVars, renderYaml, type Vars } from '../../src/model/render/render.js';
import { fixtureFiles } from '../../test/helpers.js';
import { loadPatch } from '../../src/core/patch-home.js';
import { verifyRepo } from '../../src/verify/index.js';

const bug5 = loadPatch(bug5Module);

const GROUP_VARS = 'group_vars/all/vars.yml';

const TEMPLATE = 'roles/openclaw-config/templates/litellm-config.yaml.j2';
const DEFAULTS = 'roles/openclaw-config/defaults/main.yml';

interface RenderedModel {
  model_name: string;
  litellm_params: Record<string, unknown>;
  model_info?: Record<string, unknown>;
  rpm?: unknown;
}

function renderedModels(files: ReadonlyMap<string, string>, path = TEMPLATE, overrides: Vars = {}): RenderedModel[] {
  const config = renderYaml(path, files.get(path) ?? '', loadVars(files, overrides)) as { model_list: RenderedModel[] };
  return config.model_list;
}

function fix(files: Map<string, string>): Map<string, string> {
  const plan = planFixes(files, [bug5]);
  expect(plan.outcomes[0]?.state).toBe('needs-fix');
  // The engine re-ran the module on its output and got 'fixed'; a second run changes nothing.
  const again = planFixes(plan.result, [bug5]);
  expect(again.outcomes[0]?.state).toBe('fixed');
  return new Map(plan.result);
}

/** What LiteLLM's budget limiter and router need from every capped model. */
function expectCapsEnforced(
  models: RenderedModel[],
  expected: { name: string; max_budget: number; budget_duration: string; rpm: number }[],
): void {
  expect(models.map((model) => model.model_name)).toEqual(expected.map((model) => model.name));
  for (const [index, model] of models.entries()) {
    const want = expected[index];
    expect(model.litellm_params.max_budget).toBe(want?.max_budget);
    expect(model.litellm_params.budget_duration).toBe(want?.budget_duration);
    expect(model.litellm_params.rpm).toBe(want?.rpm);
    expect(model.model_info?.max_budget).toBeUndefined();
  }
}

const FIXTURE_MODELS = [
  { name: 'anthropic/claude-opus-4-6', max_budget: 100, budget_duration: DEFAULT_BUDGET_DURATION, rpm: 60 },
  { name: 'anthropic/claude-sonnet-4-6', max_budget: 50, budget_duration: DEFAULT_BUDGET_DURATION, rpm: 120 },
  { name: 'openai/gpt-5-mini', max_budget: 20, budget_duration: DEFAULT_BUDGET_DURATION, rpm: 120 },
];

/** The template as a repo that applied the report's Bug 5 snippet has it. */
const REPORT_FOLLOWED = `{% for model in litellm_models %}
  - model_name: "{{ model.name }}"
    litellm_params:
      model: "{{ model.model }}"
      api_key: "os.environ/{{ model.key_env }}"
{% if model.max_budget is defined %}
    model_info:
      max_budget: {{ model.max_budget }}
{% endif %}
{% if model.rpm is defined %}
    rpm: {{ model.rpm }}
{% endif %}
{% endfor %}
`;

function withReportSnippet(files: Map<string, string>): Map<string, string> {
  const text = files.get(TEMPLATE) ?? '';
  const loop = /\{% for model in litellm_models %\}[\s\S]*?\{% endfor %\}\n/.exec(text);
  expect(loop).not.toBeNull();
  files.set(TEMPLATE, text.replace(loop?.[0] ?? '', REPORT_FOLLOWED));
  return files;
}

describe('bug 5: LiteLLM budgets where LiteLLM reads them', () => {
  it('the fixture renders caps LiteLLM ignores; after the fix every model has max_budget with budget_duration and rpm in litellm_params', () => {
    const files = fixtureFiles();
    const before = renderedModels(files);
    expect(before.every((model) => model.litellm_params.budget_duration === undefined)).toBe(true);

    const fixed = fix(files);
    expectCapsEnforced(renderedModels(fixed), FIXTURE_MODELS);
    // The new group var is a documented role default, in the defaults file's plain style.
    expect(fixed.get(DEFAULTS)).toMatch(/\n# [^\n]*max_budget[^\n]*\n#[^\n]*\nlitellm_budget_duration: 30d\n$/);
    expect(loadVars(fixed).litellm_budget_duration).toBe('30d');
  });

  it("a model's own budget_duration wins, and a model without max_budget renders no budget keys (not an empty max_budget)", () => {
    const fixed = fix(fixtureFiles());
    const models = [
      { name: 'capped-daily', model: 'claude-opus-4-6', key_env: 'ANTHROPIC_API_KEY', max_budget: 5, budget_duration: '1d', rpm: 10 },
      { name: 'uncapped', model: 'gpt-5-mini', key_env: 'OPENAI_API_KEY', rpm: 30 },
      { name: 'capped-default', model: 'claude-sonnet-4-6', key_env: 'ANTHROPIC_API_KEY', max_budget: 7.5, rpm: 20 },
    ];
    const rendered = renderedModels(fixed, TEMPLATE, { litellm_models: models });
    expect(rendered.map((model) => model.litellm_params)).toEqual([
      { model: 'claude-opus-4-6', api_key: 'os.environ/ANTHROPIC_API_KEY', max_budget: 5, budget_duration: '1d', rpm: 10 },
      { model: 'gpt-5-mini', api_key: 'os.environ/OPENAI_API_KEY', rpm: 30 },
      { model: 'claude-sonnet-4-6', api_key: 'os.environ/ANTHROPIC_API_KEY', max_budget: 7.5, budget_duration: '30d', rpm: 20 },
    ]);
  });

  it('a repo that followed the report (cap in model_info, rpm at model level) needs the fix and gets both back into litellm_params', () => {
    const files = withReportSnippet(fixtureFiles());
    const before = renderedModels(files);
    expect(before[0]?.model_info?.max_budget).toBe(100);
    expect(before[0]?.litellm_params.max_budget).toBeUndefined();

    const fixed = fix(files);
    expectCapsEnforced(renderedModels(fixed), FIXTURE_MODELS);
    const rendered = renderedModels(fixed, TEMPLATE, { litellm_models: [{ name: 'free', model: 'm', key_env: 'K' }] });
    expect(rendered).toEqual([{ model_name: 'free', litellm_params: { model: 'm', api_key: 'os.environ/K' } }]);
  });

  it('literal model entries beside the loop, with 4-space indentation, CRLF and roles under ansible/', () => {
    const files = new Map<string, string>();
    for (const [path, text] of fixtureFiles()) files.set(path.startsWith('roles/') ? `ansible/${path}` : path, text);
    const path = `ansible/${TEMPLATE}`;
    // 4-space steps: the list item's keys sit at column 6, their values at column 10.
    const fourSpaces = [
      '{% for model in litellm_models %}',
      '    - model_name: "{{ model.name }}"',
      '      litellm_params:',
      '          model: "{{ model.model }}"',
      '          api_key: "os.environ/{{ model.key_env }}"',
      '          max_budget: {{ model.max_budget }}',
      '          rpm: {{ model.rpm }}',
      '{% endfor %}',
      '    - model_name: local/llama   # self-hosted, still capped',
      '      litellm_params:',
      '          model: ollama/llama3',
      '          max_budget: 3.0',
      '      rpm: 15',
      '',
    ].join('\n');
    const loop = /\{% for model in litellm_models %\}[\s\S]*?\{% endfor %\}\n/;
    const template = (files.get(path) ?? '').replace(/^( +)(\w)/gm, '$1$1$2').replace(loop, fourSpaces);
    files.set(path, template.replace(/\n/g, '\r\n'));

    const fixed = fix(files);
    const after = fixed.get(path) ?? '';
    expect(after.replace(/\r\n/g, '')).not.toContain('\n');
    expect(after).toContain('\r\n          budget_duration: "{{ model.budget_duration | default(litellm_budget_duration) }}"\r\n');
    expect(after).toContain(
      '          max_budget: 3.0\r\n          budget_duration: {{ litellm_budget_duration }}\r\n          rpm: 15\r\n',
    );
    expect(fixed.has(`ansible/${DEFAULTS}`)).toBe(true);
    expectCapsEnforced(renderedModels(fixed, path), [
      ...FIXTURE_MODELS,
      { name: 'local/llama', max_budget: 3, budget_duration: DEFAULT_BUDGET_DURATION, rpm: 15 },
    ]);
  });

  it('uses a litellm_budget_duration already set in group_vars and creates the role defaults only when missing', () => {
    const files = fixtureFiles();
    const vars = 'group_vars/all/vars.yml';
    files.set(vars, `${files.get(vars) ?? ''}litellm_budget_duration: 7d\n`);
    const fixed = fix(files);
    expect(fixed.get(DEFAULTS)).toBe(files.get(DEFAULTS));
    expect(renderedModels(fixed).map((model) => model.litellm_params.budget_duration)).toEqual(['7d', '7d', '7d']);

    const noDefaults = fixtureFiles();
    noDefaults.delete(DEFAULTS);
    const created = fix(noDefaults);
    expect(created.get(DEFAULTS)).toMatch(/^---\n#[^\n]*\n#[^\n]*\nlitellm_budget_duration: 30d\n$/);
  });

  it('a budget_duration only under {% if model.budget_duration is defined %} (hand-fixed for one model) is not fixed: every capped model gets one, and verify agrees', async () => {
    // As a maintainer fixes it by hand for the one model they added a duration to.
    const files = fixtureFiles();
    files.set(
      TEMPLATE,
      files
        .get(TEMPLATE)!
        .replace(
          '      max_budget: {{ model.max_budget }}\n',
          '      max_budget: {{ model.max_budget }}\n{% if model.budget_duration is defined %}\n      budget_duration: {{ model.budget_duration }}\n{% endif %}\n',
        ),
    );
    files.set(GROUP_VARS, files.get(GROUP_VARS)!.replace('    max_budget: 100.0\n', '    max_budget: 100.0\n    budget_duration: 1d\n'));
    const before = renderedModels(files);
    expect(before.map((model) => model.litellm_params.budget_duration)).toEqual(['1d', undefined, undefined]);
    const [outcome] = planFixes(files, [bug5]).outcomes;
    expect(outcome?.state).toBe('needs-fix');
    expect(outcome?.reason).toBe(
      `budget_duration at ${TEMPLATE}:12 renders only when model.budget_duration is defined (${TEMPLATE}:11), so the cap of a model without one is skipped (LiteLLM needs both)`,
    );
    const fixed = fix(files);
    expect(fixed.get(TEMPLATE)).toContain(
      '      max_budget: {{ model.max_budget }}\n      budget_duration: "{{ model.budget_duration | default(litellm_budget_duration) }}"\n      rpm:',
    );
    expectCapsEnforced(renderedModels(fixed), [{ ...FIXTURE_MODELS[0]!, budget_duration: '1d' }, FIXTURE_MODELS[1]!, FIXTURE_MODELS[2]!]);
    const report = await verifyRepo(fixed, { goCheck: false });
    expect(report.checks.find((check) => check.id === bug5.id)).toMatchObject({ status: 'ok' });
  });

  it('never says fixed while the rendered config still has a cap without a duration: a shape it does not recognise is unrecognised, naming the models', () => {
    const files = fixtureFiles();
    files.set(
      TEMPLATE,
      files
        .get(TEMPLATE)!
        .replace(
          '      max_budget: {{ model.max_budget }}\n',
          `      max_budget: {{ model.max_budget }}\n      budget_duration: "{{ model.budget_duration | default('') }}"\n`,
        ),
    );
    expect(planFixes(files, [bug5]).outcomes[0]).toMatchObject({
      state: 'unrecognised',
      reason: `${TEMPLATE} renders max_budget without budget_duration for anthropic/claude-opus-4-6, anthropic/claude-sonnet-4-6, openai/gpt-5-mini (LiteLLM skips those caps), in a shape this fix does not recognise`,
    });
  });

  it('reports a model entry it cannot read as unrecognised, naming file:line', () => {
    const files = fixtureFiles();
    files.set(TEMPLATE, 'model_list:\n  - model_name: x\n    model: y\n');
    const plan = planFixes(files, [bug5]);
    expect(plan.outcomes[0]?.state).toBe('unrecognised');
    expect(plan.outcomes[0]?.reason).toContain(`${TEMPLATE}:2`);
  });
});
