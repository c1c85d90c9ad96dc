/**
 * The stack's wiring: the gateway reaches the internet only through the proxy, and a first
 * `docker compose up` with the base file and any overlay creates every network it needs
 * (bug 4, on src/compose-model.ts); LiteLLM does not wait for the proxy, the gateway does (bug 7).
 */
import { ComposeModelError, firstRunProblems, mergeCompose, networksOf, routesOut, sharedNetworks, type ComposeProject } from '../compose-model.js';
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

export function checkGatewayIsolation(ctx: VerifyContext, stack: Stack | undefined): Outcome {
  if (!stack?.gateway) return notApplicable('no Compose template defines the gateway');
  const { base, gateway, egress } = stack;
  const projectDirectory = typeof ctx.vars.openclaw_base_dir === 'string' ? ctx.vars.openclaw_base_dir : 'openclaw';
  // One problem may hold for several combinations: say it once, with every combination it holds for.
  const problems = new Map<string, string[]>();
  const report = (problem: string, combination: string): void => {
    problems.set(problem, [...(problems.get(problem) ?? []), combination]);
  };
  const combinations: ComposeFile[][] = [[base], ...stack.overlays.map((overlay) => [base, overlay])];
  for (const files of combinations) {
    const combination = files.length === 1 ? 'the base file alone' : `+ ${files[1]?.rendered.path ?? ''}`;
    let project: ComposeProject;
    try {
      project = mergeCompose(base.data, files.slice(1).map((file) => file.data), { projectDirectory });
    } catch (error) {
      if (!(error instanceof ComposeModelError)) throw error;
      report(`Compose cannot read the files: ${error.message}`, combination);
      continue;
    }
    if (routesOut(project, gateway)) {
      const open = networksOf(project, gateway).filter((key) => project.networks.get(key)?.internal === false);
      report(`the gateway has a route out that bypasses the proxy, through ${open.join(', ') || 'its network mode'} (${open[0] ? whereNetwork(files, open[0], gateway) : whereInService(base, gateway)})`, combination);
    }
    if (egress && !routesOut(project, egress)) report(`the egress proxy itself has no route out (${whereInService(base, egress, 'networks')})`, combination);
    if (egress && sharedNetworks(project, gateway, egress).length === 0) report(`the gateway shares no network with the egress proxy (${whereInService(base, gateway, 'networks')})`, combination);
    for (const problem of firstRunProblems(project, [])) {
      const at = problem.network ? whereNetwork(files, problem.network, problem.service) : whereInService(files.find((file) => isDict(file.services[problem.service])) ?? base, problem.service);
      report(`a first run fails: ${problem.message} (${at})`, combination);
    }
    // A service an overlay starts after the gateway (a reverse proxy) must still reach it.
    for (const overlay of files.slice(1)) {
      for (const name of Object.keys(overlay.services)) {
        if (name === gateway || !dependencies(serviceOf(overlay, name)).includes(gateway)) continue;
        if (sharedNetworks(project, name, gateway).length === 0) report(`${name} shares no network with the gateway it forwards to (${whereInService(overlay, name, 'networks')})`, combination);
      }
    }
  }
  const lines = [...problems].map(([problem, where]) => `${problem}, with ${where.length === combinations.length ? 'the base file alone and with every overlay' : where.join(' and ')}`);
  return failedOr(lines, ok(`the gateway has no route out and a first run creates every network, with the base file alone and with each of ${stack.overlays.length} overlay(s)`));
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
    problems.push(`the gateway no longer waits for ${egress}, so it may start before its only way out (${whereInService(base, gateway, 'depends_on')})`);
  }
  return failedOr(problems, ok(`litellm does not depend on ${egress}; ${gateway ?? 'the gateway'} does`));
}
