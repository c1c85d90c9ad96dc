/**
 * Bug 5: spending caps and rate limits where LiteLLM reads them. Facts: a deployment's budget
 * is read from `litellm_params.max_budget` together with `litellm_params.budget_duration`
 * (never from `model_info`); `rpm`/`tpm` are read from litellm_params, the entry's top level
 * or model_info. The caps the repo's variables ask for must reach the rendered config.
 */
import { isDict, locateKeys, type Dict, type RenderedYaml, type VerifyContext } from './context.js';
import { failedOr, notApplicable, ok, type Outcome } from './outcome.js';

const DURATION = /^\d+(s|m|h|d|w|mo)$/;

/** A model's entry in the repo's variables (a list item naming the model) with the caps it asks for. */
function declaredModel(vars: Dict, modelName: string): Dict | undefined {
  for (const value of Object.values(vars)) {
    if (!Array.isArray(value)) continue;
    const item = value.find(
      (entry) => isDict(entry) && ('max_budget' in entry || 'rpm' in entry) && (entry.name === modelName || entry.model_name === modelName),
    );
    if (isDict(item)) return item;
  }
  return undefined;
}

const sameNumber = (a: unknown, b: unknown): boolean => a !== undefined && a !== null && Number(a) === Number(b);

export function checkBudgetWhereRead(ctx: VerifyContext): Outcome {
  const configs = ctx
    .yamlAssets((text) => /^model_list\s*:/m.test(text))
    .filter((rendered): rendered is RenderedYaml & { data: Dict } => isDict(rendered.data) && Array.isArray(rendered.data.model_list));
  if (configs.length === 0) return notApplicable('no role template is a LiteLLM config with a model_list');
  // The same defect in a loop body shows in every model it renders: name the models once per defect.
  const problems = new Map<string, string[]>();
  const report = (model: string, problem: string): void => {
    problems.set(problem, [...(problems.get(problem) ?? []), model]);
  };
  let capped = 0;
  for (const config of configs) {
    const entries = config.data.model_list as unknown[];
    entries.forEach((entry, index) => {
      if (!isDict(entry)) return;
      const name = String(entry.model_name ?? `#${index + 1}`);
      const params = isDict(entry.litellm_params) ? entry.litellm_params : {};
      const info = isDict(entry.model_info) ? entry.model_info : {};
      const at = (...keys: string[]): string => locateKeys(config.tpl, ['model_list', index, ...keys]);
      const budget = params.max_budget;
      if (budget !== undefined && budget !== null) {
        capped++;
        const duration = params.budget_duration;
        if (duration === undefined || duration === null || duration === '') {
          report(
            name,
            `max_budget has no budget_duration beside it in litellm_params, so the router never enforces it (${at('litellm_params', 'max_budget')})`,
          );
        } else if (!DURATION.test(String(duration))) {
          report(name, `budget_duration '${String(duration)}' is not a duration such as 30d (${at('litellm_params', 'budget_duration')})`);
        }
      } else if (info.max_budget !== undefined || entry.max_budget !== undefined) {
        const where = info.max_budget !== undefined ? 'model_info' : 'the entry top level';
        report(
          name,
          `max_budget is only in ${where}, where LiteLLM never reads it: the model has no cap (${at(info.max_budget !== undefined ? 'model_info' : 'max_budget')})`,
        );
        return;
      }
      const declared = declaredModel(ctx.vars, name);
      if (!declared) return;
      if (declared.max_budget !== undefined && budget !== undefined && !sameNumber(budget, declared.max_budget)) {
        report(
          name,
          `max_budget renders as ${String(budget)}, the variables ask for ${String(declared.max_budget)} (${at('litellm_params', 'max_budget')})`,
        );
      } else if (declared.max_budget !== undefined && budget === undefined) {
        report(
          name,
          `the variables cap it at ${String(declared.max_budget)}, but the rendered entry has no max_budget (${at('litellm_params')})`,
        );
      }
      if (declared.budget_duration !== undefined && budget !== undefined && params.budget_duration !== declared.budget_duration) {
        report(
          name,
          `budget_duration renders as ${String(params.budget_duration)}, the variables ask for ${String(declared.budget_duration)} (${at('litellm_params')})`,
        );
      }
      const rpm = params.rpm ?? entry.rpm ?? info.rpm;
      if (declared.rpm !== undefined && !sameNumber(rpm, declared.rpm)) {
        report(
          name,
          `the variables limit it to rpm ${String(declared.rpm)}, but LiteLLM reads ${rpm === undefined ? 'no rpm' : `rpm ${String(rpm)}`} (${at('litellm_params')})`,
        );
      }
    });
  }
  const lines = [...problems].map(([problem, models]) => `${models.join(', ')}: ${problem}`);
  return failedOr(
    lines,
    ok(`${capped} capped model(s) have max_budget with budget_duration in litellm_params; rate limits are where LiteLLM reads them`),
  );
}
