/**
 * The stack's wiring: the gateway reaches the internet only through the proxy, and a first
 * `docker compose up` with the base file and any overlay creates every network it needs
 * (bug 4, on src/model/compose-model.ts); LiteLLM does not wait for the proxy, the gateway does (bug 7).
 */
import { composeDeployment, deploymentBlocker, deployScenarios, type Deployment } from '../model/compose-deploy.js';
import {
  ComposeModelError,
  firstRunProblems,
  hostAfterUp,
  isInternal,
  mergeCompose,
  networksOf,
  routesOut,
  sharedNetworks,
  type ComposeProject,
  type HostNetwork,
} from '../model/compose-model.js';
import { containsUnknown, renderTemplateDetailed } from '../model/render/render.js';
import { isDict, locateKeys, type VerifyContext } from './context.js';
import { failedOr, notApplicable, ok, type Outcome } from './outcome.js';
import { dependencies, serviceOf, whereInService, type ComposeFile, type Stack } from './stack.js';

/** `file:line` of a network's declaration, in the last file that declares it (later files win), else of the service's networks. */
function whereNetwork(files: readonly ComposeFile[], key: string, service: string): string {
  const declaring = [...files].reverse().find((file) => isDict(file.data.networks) && key in file.data.networks);
  if (declaring) return locateKeys(declaring.rendered.tpl, ['networks', key]);
  const using = [...files].reverse().find((file) => isDict(file.services[service])) ?? files[0];
  return using ? whereInService(using, service, 'networks') : '?';
}

/** The deployment's `up`s, read from the playbook and the roles' tasks (src/model/compose-deploy.ts). */
export function deploymentOf(ctx: VerifyContext): Deployment {
  const render = (text: string): string | undefined => {
    try {
      // A value only the run knows (a set_fact, a lookup) or one that decided a loop is not static.
      const result = renderTemplateDetailed(text, ctx.vars);
      return result.uses.length > 0 || containsUnknown(result.text) ? undefined : result.text;
    } catch {
      return undefined;
    }
  };
  return composeDeployment(ctx.view, render, (name) => name in ctx.vars);
}

export function checkGatewayIsolation(ctx: VerifyContext, stack: Stack | undefined): Outcome {
  if (!stack?.gateway) return notApplicable('no Compose template defines the gateway');
  const { base, gateway, egress } = stack;
  const defaultDirectory = typeof ctx.vars.openclaw_base_dir === 'string' ? ctx.vars.openclaw_base_dir : 'openclaw';
  const byPath = new Map([base, ...stack.overlays].map((file) => [file.rendered.path, file]));
  const deployment = deploymentOf(ctx);
  const blocker = deploymentBlocker(
    deployment,
    [base, ...stack.overlays].map((file) => file.rendered.path),
  );
  if (blocker) throw blocker; // a playbook or task file the model needs does not parse: not checked, naming it
  const scenarios = deployScenarios(
    deployment,
    base.rendered.path,
    stack.overlays.map((file) => file.rendered.path),
    defaultDirectory,
  );
  // One problem may hold at several `up`s: say it once, with every `up` it holds at.
  const problems = new Map<string, string[]>();
  const labels = new Set<string>();
  const report = (problem: string, label: string): void => {
    const at = problems.get(problem) ?? [];
    if (!at.includes(label)) at.push(label);
    problems.set(problem, at);
  };
  for (const steps of scenarios) {
    // The host of one deployment: each `up` finds the networks the earlier ones created.
    let host: ReadonlyMap<string, HostNetwork> = new Map();
    for (const step of steps) {
      const files = step.templates.map((path) => byPath.get(path)).filter((file): file is ComposeFile => file !== undefined);
      const label = step.label;
      labels.add(label);
      let project: ComposeProject;
      try {
        project = mergeCompose(
          files[0]?.data,
          files.slice(1).map((file) => file.data),
          { projectDirectory: step.projectDirectory ?? defaultDirectory, projectName: step.projectName },
        );
      } catch (error) {
        if (!(error instanceof ComposeModelError)) throw error;
        report(`Compose cannot read the files: ${error.message}`, label);
        continue;
      }
      if (project.services.has(gateway)) {
        if (routesOut(project, gateway, host)) {
          const open = networksOf(project, gateway).filter((key) => {
            const network = project.networks.get(key);
            return network !== undefined && !isInternal(network, host);
          });
          report(
            `the gateway has a route out that bypasses the proxy, through ${open.join(', ') || 'its network mode'} (${open[0] ? whereNetwork(files, open[0], gateway) : whereInService(base, gateway)})`,
            label,
          );
        }
        if (egress && project.services.has(egress) && sharedNetworks(project, gateway, egress).length === 0)
          report(`the gateway shares no network with the egress proxy (${whereInService(base, gateway, 'networks')})`, label);
      }
      if (egress && project.services.has(egress) && !routesOut(project, egress, host))
        report(`the egress proxy itself has no route out (${whereInService(base, egress, 'networks')})`, label);
      for (const problem of firstRunProblems(project, host)) {
        const at = problem.network
          ? whereNetwork(files, problem.network, problem.service)
          : whereInService(files.find((file) => isDict(file.services[problem.service])) ?? base, problem.service);
        report(`a first run fails: ${problem.message} (${at})`, label);
      }
      // A service an overlay starts after the gateway (a reverse proxy) must still reach it.
      for (const overlay of files.filter((file) => file !== base)) {
        for (const name of Object.keys(overlay.services)) {
          if (name === gateway || !project.services.has(gateway) || !dependencies(serviceOf(overlay, name)).includes(gateway)) continue;
          if (sharedNetworks(project, name, gateway).length === 0)
            report(`${name} shares no network with the gateway it forwards to (${whereInService(overlay, name, 'networks')})`, label);
        }
      }
      host = hostAfterUp(project, host);
    }
  }
  const combinations = scenarios.flat().every((step) => step.combination);
  const every = combinations ? 'the base file alone and with every overlay' : 'every `up` of the deployment';
  const lines = [...problems].map(
    ([problem, where]) => `${problem}, with ${where.length === labels.size && labels.size > 1 ? every : where.join(' and ')}`,
  );
  const checked = combinations
    ? `with the base file alone and with each of ${labels.size - 1} overlay(s)`
    : `at each \`up\` of the deployment: ${[...labels].join('; ')}`;
  return failedOr(lines, ok(`the gateway has no route out and every network exists when an \`up\` needs it, ${checked}`));
}

export function checkLitellmDependency(stack: Stack | undefined): Outcome {
  if (!stack?.litellm) return notApplicable('no Compose template defines LiteLLM');
  const { base, litellm, egress, gateway } = stack;
  if (!egress) return notApplicable('no Compose template defines the egress proxy');
  const problems: string[] = [];
  if (dependencies(serviceOf(base, litellm)).includes(egress)) {
    problems.push(`litellm still waits for ${egress} to be healthy (${whereInService(base, litellm, 'depends_on', egress)})`);
  }
  if (gateway && !dependencies(serviceOf(base, gateway)).includes(egress)) {
    problems.push(
      `the gateway no longer waits for ${egress}, so it may start before its only way out (${whereInService(base, gateway, 'depends_on')})`,
    );
  }
  return failedOr(problems, ok(`litellm does not depend on ${egress}; ${gateway ?? 'the gateway'} does`));
}
