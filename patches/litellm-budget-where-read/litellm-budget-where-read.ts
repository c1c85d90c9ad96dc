/**
 * Bug 5: LiteLLM's per-model spending caps are not enforced. The report blames the place of
 * `max_budget` and `rpm`, but LiteLLM reads both from `litellm_params`; what is missing is
 * `budget_duration`, without which the router's budget limiter skips the deployment. Keep the
 * cap in `litellm_params`, add the duration beside it, and move back a cap (and an `rpm`) that a
 * repo following the report has already moved out.
 */
import { isMap, isScalar, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { loopVariableAt, parseYamlTemplate, sourceOf, type ParsedTemplate } from '../../src/toolkit/template-yaml.js';
import { eolOf, locate } from '../../src/toolkit/text.js';
import type { CheckResult, PatchModule, RepoView, TextEdit } from '../../src/core/types.js';
import {
  endOfMappingLines,
  entryIndent,
  entryLines,
  entryLineSpan,
  guardedByIf,
  ifWrapperOf,
  mapAt,
  pairOf,
  quoteLike,
  removeFromMap,
  replaceLines,
  seqAt,
  where,
} from '../../src/toolkit/yaml-edit.js';
import { roleDirOf } from '../../src/model/roles.js';
import { containsUnknown, renderParsedYaml, repoVars, unknownReasons, VARIABLE_GLOBS } from '../../src/model/render/render.js';
import { UnrecognisedShape } from '../../src/core/errors.js';

/** The group var that supplies the budget window for models that do not set their own. */
const BUDGET_DURATION_VAR = 'litellm_budget_duration';
/** LiteLLM accepts durations such as "30s", "1h", "1d", "30d"; a month matches how API spend is billed. */
export const DEFAULT_BUDGET_DURATION = '30d';

const TEMPLATE_GLOBS = ['**/templates/**/*.{yml,yaml}.j2', '**/templates/**/*.{yml,yaml}', '**/files/**/*.{yml,yaml}'];
const VAR_FILE_GLOBS = [
  '**/roles/*/defaults/**/*.{yml,yaml}',
  '**/roles/*/vars/**/*.{yml,yaml}',
  '**/group_vars/**',
  '**/host_vars/**',
  '**/vars/**/*.{yml,yaml}',
];

/**
 * The `{% if %}` condition that keeps an entry out of the output when its value comes straight
 * from an attribute of the loop item that a model may lack (`{{ model.max_budget }}`); without
 * it the entry renders as `max_budget:` with no value. Filtered or literal values need none.
 */
function guardFor(tpl: ParsedTemplate, value: YamlNode | null, loopVariable: string | undefined): string | undefined {
  if (!value || loopVariable === undefined) return undefined;
  const expression = /^\{\{[-+]?\s*([A-Za-z_]\w*(?:\.\w+|\[\s*['"]\w+['"]\s*\])+)\s*[-+]?\}\}$/.exec(sourceOf(tpl, value).trim())?.[1];
  if (expression === undefined || /^([A-Za-z_]\w*)/.exec(expression)?.[1] !== loopVariable) return undefined;
  return `${expression} is defined`;
}

/**
 * Why a budget_duration beside max_budget does not render for every model that has the cap, or
 * undefined when it does: alone in its own `{% if %}` (`{% if model.budget_duration is defined %}`)
 * that does not also hold max_budget, or printing the loop item's attribute bare
 * (`{{ model.budget_duration }}`), which renders null for a model that lacks it.
 */
function partialDuration(
  tpl: ParsedTemplate,
  budget: Pair,
  duration: Pair,
  loopVariable: string | undefined,
): { why: string; start: number; next: number } | undefined {
  const wrapper = ifWrapperOf(tpl, duration);
  if (wrapper) {
    // The same condition as the cap's own (`model.max_budget is defined`) renders it with every cap.
    if (guardFor(tpl, budget.value as YamlNode | null, loopVariable) === wrapper.condition.trim()) return undefined;
    movedLine(tpl, duration, ''); // a duration over several lines is not ours to rewrite: UnrecognisedShape
    return {
      why: `renders only when ${wrapper.condition.trim()} (${locate(tpl.path, tpl.text, wrapper.start)})`,
      start: wrapper.start,
      next: wrapper.next,
    };
  }
  if (
    loopVariable !== undefined &&
    guardFor(tpl, duration.value as YamlNode | null, loopVariable) === `${loopVariable}.budget_duration is defined`
  ) {
    movedLine(tpl, duration, '');
    return { why: `renders ${loopVariable}.budget_duration with no default`, ...entryLineSpan(tpl, duration) };
  }
  return undefined;
}

/** Quoted like the first quoted string among the mapping's values, plain when none is quoted. */
function quotedLikeSiblings(map: YAMLMap, value: string): string {
  const sample = map.items.map((pair) => pair.value).find((node) => isScalar(node) && node.type !== 'PLAIN');
  return quoteLike(sample as YamlNode | undefined, value);
}

/** A one-line entry's text with its comment, re-indented to `indent`, for moving it into another mapping. */
function movedLine(tpl: ParsedTemplate, pair: Pair, indent: string): string {
  entryLineSpan(tpl, pair); // refuses an entry that shares its line
  const lines = entryLines(tpl, pair, indent.length, true);
  if (lines.length > 1)
    throw new UnrecognisedShape(
      `'${String((pair.key as YamlNode & { value?: unknown }).value)}' at ${where(tpl, pair)} spans several lines`,
    );
  return lines[0]!;
}

interface ModelPlan {
  readonly edits: TextEdit[];
  readonly changes: string[];
  readonly problems: string[];
}

function durationExpression(loopVariable: string | undefined): string {
  return loopVariable === undefined
    ? `{{ ${BUDGET_DURATION_VAR} }}`
    : `{{ ${loopVariable}.budget_duration | default(${BUDGET_DURATION_VAR}) }}`;
}

/** What one `model_list` entry needs: budget_duration beside max_budget, and cap/rpm moved back into litellm_params. */
function planModel(tpl: ParsedTemplate, model: YAMLMap): ModelPlan {
  const plan: ModelPlan = { edits: [], changes: [], problems: [] };
  const params = mapAt(tpl, model, 'litellm_params');
  if (!params) throw new UnrecognisedShape(`model entry at ${where(tpl, model)} has no litellm_params mapping`);
  const name = sourceOf(tpl, (pairOf(model, 'model_name')?.value ?? model) as YamlNode).split('\n')[0];
  const loopVariable = loopVariableAt(tpl, model.range?.[0] ?? 0);
  const budget = pairOf(params, 'max_budget');
  const duration = pairOf(params, 'budget_duration');
  const hasDuration = duration !== undefined;
  const partial = budget && duration ? partialDuration(tpl, budget, duration, loopVariable) : undefined;

  if (budget && duration && partial) {
    // budget_duration renders for some models only (`{% if model.budget_duration is defined %}`, or a
    // bare `{{ model.budget_duration }}`): every other capped model's cap is skipped. Render it for
    // every model that has a cap, its own duration else the default, beside max_budget.
    if (params.flow) throw new UnrecognisedShape(`litellm_params at ${where(tpl, params)} is a flow mapping`);
    const indent = entryIndent(tpl, params);
    const durationLine = `${indent}budget_duration: ${quotedLikeSiblings(params, durationExpression(loopVariable))}`;
    plan.problems.push(
      `budget_duration at ${where(tpl, duration)} ${partial.why}, so the cap of a model without one is skipped (LiteLLM needs both)`,
    );
    plan.edits.push(replaceLines(tpl, partial.start, partial.next, [durationLine]));
    plan.changes.push(`${tpl.path}: ${name}: budget_duration renders for every capped model (its own, else ${BUDGET_DURATION_VAR})`);
  } else if (budget && hasDuration) {
    // The cap is read: nothing to do for the budget.
  } else if (budget) {
    if (params.flow) throw new UnrecognisedShape(`litellm_params at ${where(tpl, params)} is a flow mapping`);
    const indent = entryIndent(tpl, params);
    const durationLine = `${indent}budget_duration: ${quotedLikeSiblings(params, durationExpression(loopVariable))}`;
    const guard = guardedByIf(tpl, budget) ? undefined : guardFor(tpl, budget.value, loopVariable);
    const { start, next } = entryLineSpan(tpl, budget);
    const budgetLines = tpl.text
      .slice(start, next)
      .replace(/\r?\n$/, '')
      .split(/\r?\n/);
    plan.problems.push(`max_budget without budget_duration at ${where(tpl, budget)} (LiteLLM skips the cap)`);
    plan.edits.push(
      guard
        ? replaceLines(tpl, start, next, [`{% if ${guard} %}`, ...budgetLines, durationLine, '{% endif %}'])
        : replaceLines(tpl, next, next, [durationLine]),
    );
    plan.changes.push(
      `${tpl.path}: ${name}: added budget_duration beside max_budget in litellm_params${guard ? `, both only when ${guard}` : ''}`,
    );
  }

  const moved: string[] = [];
  if (!budget) {
    // A repo that followed the report: the cap sits in model_info (or at the model's top level), where LiteLLM never reads it.
    const info = mapAt(tpl, model, 'model_info');
    const source =
      info && pairOf(info, 'max_budget')
        ? { map: info, pair: pairOf(info, 'max_budget') as Pair }
        : pairOf(model, 'max_budget')
          ? { map: model, pair: pairOf(model, 'max_budget') as Pair }
          : undefined;
    if (source) {
      if (params.flow) throw new UnrecognisedShape(`litellm_params at ${where(tpl, params)} is a flow mapping`);
      const indent = entryIndent(tpl, params);
      const wholeInfo = source.map === info && info.items.length === 1;
      const removed = wholeInfo ? (pairOf(model, 'model_info') as Pair) : source.pair;
      const wrapper = ifWrapperOf(tpl, removed);
      const guard = wrapper?.condition ?? guardFor(tpl, source.pair.value as YamlNode | null, loopVariable);
      const lines = [
        movedLine(tpl, source.pair, indent),
        `${indent}budget_duration: ${quotedLikeSiblings(params, durationExpression(loopVariable))}`,
      ];
      moved.push(...(guard ? [`{% if ${guard} %}`, ...lines, '{% endif %}'] : lines));
      plan.problems.push(`max_budget at ${where(tpl, source.pair)} is outside litellm_params (LiteLLM never reads it there)`);
      if (wrapper) plan.edits.push({ path: tpl.path, start: wrapper.start, end: wrapper.next, text: '' });
      else plan.edits.push(wholeInfo ? removeFromMap(tpl, model, 'model_info') : removeFromMap(tpl, source.map, 'max_budget'));
      plan.changes.push(
        `${tpl.path}: ${name}: moved max_budget back into litellm_params${wholeInfo ? ' (model_info held nothing else, so it goes)' : ''} and added budget_duration`,
      );
    }
  }

  const topRpm = pairOf(model, 'rpm');
  if (topRpm && !pairOf(params, 'rpm')) {
    // Only the usage-based router reads a model-level rpm; litellm_params is where every strategy reads it.
    if (params.flow) throw new UnrecognisedShape(`litellm_params at ${where(tpl, params)} is a flow mapping`);
    const indent = entryIndent(tpl, params);
    const wrapper = ifWrapperOf(tpl, topRpm);
    const line = movedLine(tpl, topRpm, indent);
    moved.push(...(wrapper ? [`{% if ${wrapper.condition} %}`, line, '{% endif %}'] : [line]));
    if (wrapper) plan.edits.push({ path: tpl.path, start: wrapper.start, end: wrapper.next, text: '' });
    else plan.edits.push(removeFromMap(tpl, model, 'rpm'));
    plan.problems.push(`rpm at ${where(tpl, topRpm)} is at the model's top level (read only by the usage-based router)`);
    plan.changes.push(`${tpl.path}: ${name}: moved rpm back into litellm_params`);
  }

  if (moved.length > 0) {
    const at = endOfMappingLines(tpl, params);
    plan.edits.push(replaceLines(tpl, at, at, moved));
  }
  return plan;
}

interface VarPlan {
  readonly edits: TextEdit[];
  readonly changes: string[];
  readonly problem?: string;
}

function definesVar(repo: RepoView, name: string): boolean {
  const definition = new RegExp(`^${name}\\s*:`, 'm');
  return repo.glob(...VAR_FILE_GLOBS).some((path) => definition.test(repo.read(path) ?? ''));
}

/** Appends the documented default to the owning role's defaults, in that file's style. */
function addDefault(repo: RepoView, templatePath: string): VarPlan {
  const roleDir = roleDirOf(templatePath);
  const existing = repo.glob(`${roleDir}/defaults/main.{yml,yaml}`)[0];
  const path = existing ?? `${roleDir}/defaults/main.yml`;
  const text = existing ? (repo.read(existing) ?? '') : '';
  const eol = text ? eolOf(text) : '\n';
  let value = DEFAULT_BUDGET_DURATION;
  if (text) {
    const root = parseYamlTemplate(path, text).documents[0]?.contents;
    if (root && !isMap(root)) throw new UnrecognisedShape(`${path} is not a mapping of variables`);
    const sample = isMap(root)
      ? root.items.map((pair) => pair.value).find((node) => isScalar(node) && typeof node.value === 'string')
      : undefined;
    value = quoteLike(sample as YamlNode | undefined, value);
  }
  const banner = /^# -{2,} .*-$/m.exec(text)?.[0];
  const lines = [
    ...(banner ? [`# ---- litellm budgets ${'-'.repeat(Math.max(3, banner.length - '# ---- litellm budgets '.length))}`] : []),
    "# How often each model's max_budget (USD) resets; LiteLLM ignores a max_budget that has no",
    "# budget_duration. A model's own budget_duration in litellm_models takes precedence.",
    `${BUDGET_DURATION_VAR}: ${value}`,
  ];
  const separator = text === '' ? `---${eol}` : text.endsWith(`${eol}${eol}`) ? '' : text.endsWith('\n') ? eol : `${eol}${eol}`;
  return {
    edits: [{ path, start: text.length, end: text.length, text: separator + lines.join(eol) + eol }],
    changes: [`${path}: new default ${BUDGET_DURATION_VAR}: ${DEFAULT_BUDGET_DURATION} for models without their own budget_duration`],
    problem: `${BUDGET_DURATION_VAR} is used but defined nowhere`,
  };
}

function modelListTemplates(repo: RepoView): { tpl: ParsedTemplate; models: YAMLMap[] }[] {
  const found: { tpl: ParsedTemplate; models: YAMLMap[] }[] = [];
  for (const path of repo.glob(...TEMPLATE_GLOBS)) {
    const text = repo.read(path) ?? '';
    if (!/^model_list\s*:/m.test(text)) continue;
    const tpl = parseYamlTemplate(path, text);
    const root = tpl.documents[0]?.contents;
    if (!isMap(root)) continue;
    const list = seqAt(tpl, root, 'model_list'); // UnrecognisedShape when it is not a list
    if (!list) continue;
    const models = list.items.map((item) => {
      if (!isMap(item)) throw new UnrecognisedShape(`model_list entry at ${where(tpl, item as YamlNode)} is not a mapping`);
      return item;
    });
    found.push({ tpl, models });
  }
  return found;
}

/**
 * The models whose rendered entry has a max_budget but no budget_duration in litellm_params, with
 * the repo's variables; or why the template could not be rendered (a lookup, a filter the
 * renderer lacks), in which case the template's shape is all there is to go on.
 */
function uncappedWhenRendered(repo: RepoView, tpl: ParsedTemplate): { uncapped: string[] } | { notRendered: string } {
  let data: unknown;
  try {
    data = renderParsedYaml(tpl, repoVars(repo, { forTemplate: tpl.path }));
  } catch (error) {
    return { notRendered: `${tpl.path}: ${error instanceof Error ? error.message : String(error)}` };
  }
  const list = (data as { model_list?: unknown } | null)?.model_list;
  if (!Array.isArray(list))
    return {
      notRendered: `${tpl.path}: model_list does not render as a list${containsUnknown(list) ? ` (${unknownReasons(list).slice(0, 1).join('')})` : ''}`,
    };
  const uncapped: string[] = [];
  for (const [index, entry] of list.entries()) {
    const params = (entry as { litellm_params?: Record<string, unknown> } | null)?.litellm_params;
    if (!params || params.max_budget === undefined || params.max_budget === null) continue;
    if (params.budget_duration === undefined || params.budget_duration === null || params.budget_duration === '')
      uncapped.push(String((entry as { model_name?: unknown }).model_name ?? `#${index + 1}`));
  }
  return { uncapped };
}

export const bug5: PatchModule = {
  id: 'litellm-budget-where-read',
  bug: 5,
  priority: 4,
  scope: 'litellm',
  files: [...TEMPLATE_GLOBS, ...VAR_FILE_GLOBS, ...VARIABLE_GLOBS],
  home: import.meta.url,

  check(repo): CheckResult {
    const templates = modelListTemplates(repo);
    if (templates.length === 0) return { state: 'not-applicable', reason: 'no role template defines a LiteLLM model_list' };
    const edits: TextEdit[] = [];
    const changes: string[] = [];
    const problems: string[] = [];
    let varOwner: string | undefined;
    for (const { tpl, models } of templates) {
      for (const model of models) {
        const plan = planModel(tpl, model);
        edits.push(...plan.edits);
        changes.push(...plan.changes);
        problems.push(...plan.problems);
      }
      const usesVar =
        new RegExp(`\\b${BUDGET_DURATION_VAR}\\b`).test(tpl.text) ||
        edits.some((edit) => edit.path === tpl.path && edit.text.includes(BUDGET_DURATION_VAR));
      if (usesVar && varOwner === undefined) varOwner = tpl.path;
    }
    if (varOwner !== undefined && !definesVar(repo, BUDGET_DURATION_VAR)) {
      const plan = addDefault(repo, varOwner);
      edits.push(...plan.edits);
      changes.push(...plan.changes);
      if (plan.problem) problems.push(plan.problem);
    }
    const paths = templates.map(({ tpl }) => tpl.path).join(', ');
    if (edits.length === 0) {
      // "Fixed" is what the config renders to with the repo's models, not only the template's shape.
      const rendered = templates.map(({ tpl }) => ({ tpl, ...uncappedWhenRendered(repo, tpl) }));
      const uncapped = rendered.flatMap((result) =>
        'uncapped' in result && result.uncapped.length > 0 ? [{ tpl: result.tpl, uncapped: result.uncapped }] : [],
      );
      if (uncapped.length > 0) {
        throw new UnrecognisedShape(
          uncapped
            .map(
              ({ tpl, uncapped: models }) =>
                `${tpl.path} renders max_budget without budget_duration for ${models.join(', ')} (LiteLLM skips those caps), in a shape this fix does not recognise`,
            )
            .join('; '),
        );
      }
      const unchecked = rendered.flatMap((result) => ('notRendered' in result ? [result.notRendered] : []));
      return {
        state: 'fixed',
        reason: `every capped model in ${paths} has max_budget and budget_duration in litellm_params`,
        ...(unchecked.length > 0 ? { notes: unchecked.map((why) => `not confirmed by rendering: ${why}`) } : {}),
      };
    }
    return { state: 'needs-fix', reason: problems[0] ?? `budgets in ${paths} are not enforced`, edits, changes };
  },
};
