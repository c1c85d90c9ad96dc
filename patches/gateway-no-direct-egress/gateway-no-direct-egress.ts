/**
 * Bug 4: the gateway sits on `proxy-net`, a network with a route out, so anything running in
 * it can reach the internet without going through the egress proxy. Make the gateway's
 * networks internal; every other service that loses its only route out with that (the reverse
 * proxies of the overlays) gets a non-internal network declared in its own file, so Compose
 * creates it on a first `up`.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { deploymentBlocker, deployScenarios, type DeployStep, type StaticRender } from '../../src/model/compose-deploy.js';
import {
  ComposeModelError,
  hostAfterUp,
  isInternal,
  mergeCompose,
  networksCreatedByUp,
  networksOf,
  routesOut,
  sharedNetworks,
  type ComposeProject,
  type HostNetwork,
} from '../../src/model/compose-model.js';
import { hasJinja, scalarSource, type ParsedTemplate } from '../../src/toolkit/template-yaml.js';
import { columnAt, nextLineStart } from '../../src/toolkit/text.js';
import type { CheckResult, PatchModule, RepoView, TextEdit } from '../../src/core/types.js';
import { appendToSeq, indentUnit, insertIntoMap, insertLines, pairOf, quoteLike, replaceNode, where } from '../../src/toolkit/yaml-edit.js';
import {
  COMPOSE_TEMPLATE_GLOBS,
  composeDefining,
  composeDeploymentOf,
  composeFiles,
  DEPLOYMENT_GLOBS,
  stackServiceName,
  type ComposeFile,
} from '../../src/model/compose-templates.js';
import { domainsCover, egressAllowList, TASK_GLOBS, TELEGRAM_API_HOST, telegramUse, VARS_GLOBS } from '../../src/model/telegram.js';
import { UnrecognisedShape } from '../../src/core/errors.js';
import { extraTelegramEgress } from '../telegram-egress-allowlist/telegram-egress-allowlist.js';

/** The network an internet-facing service gets when the network it reached the internet through becomes internal. */
const INGRESS = 'ingress-net';

/** The keys of a mapping (none for anything else): service names, network keys. */
function keysOf(node: unknown): string[] {
  return isMap(node) ? node.items.filter((pair) => isScalar(pair.key)).map((pair) => String((pair.key as Scalar).value)) : [];
}

/** Where a top-level network is declared. */
interface Declaration {
  readonly compose: ComposeFile;
  readonly networks: YAMLMap;
  readonly pair: Pair<Scalar, YamlNode | null>;
}

function declarationsOf(files: readonly ComposeFile[], key: string): Declaration[] {
  const found: Declaration[] = [];
  for (const compose of files) {
    const networks = pairOf(compose.root, 'networks')?.value;
    if (!isMap(networks)) continue;
    const pair = pairOf(networks, key);
    if (pair) found.push({ compose, networks, pair });
  }
  return found;
}

function isEmptyValue(node: YamlNode | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/**
 * Gives a `key:` entry whose value is empty (or `~`/`null`) a nested block: lines indented one
 * step deeper than the key, after the key's line (its comment stays where it is).
 */
function fillEmptyEntry(tpl: ParsedTemplate, pair: Pair<Scalar, YamlNode | null>, lines: readonly string[], flow: string): TextEdit {
  const value = pair.value;
  if (isScalar(value) && (value.range?.[1] ?? 0) > (value.range?.[0] ?? 0)) return replaceNode(tpl, value, flow);
  const keyStart = pair.key.range?.[0] ?? 0;
  const indent = ' '.repeat(columnAt(tpl.text, keyStart)) + indentUnit(tpl);
  return insertLines(
    tpl,
    nextLineStart(tpl.text, pair.key.range?.[1] ?? keyStart),
    lines.map((line) => indent + line),
  );
}

/** The edit that makes a declared network `internal: true`. */
function makeInternal(declaration: Declaration): TextEdit {
  const { compose, pair } = declaration;
  const { tpl } = compose;
  const value = pair.value;
  if (isEmptyValue(value)) return fillEmptyEntry(tpl, pair, ['internal: true'], '{internal: true}');
  if (!isMap(value)) throw new UnrecognisedShape(`network ${String(pair.key.value)} at ${where(tpl, pair)} is not a mapping`);
  const internal = pairOf(value, 'internal');
  if (internal && isScalar(internal.value) && internal.value.value === false) return replaceNode(tpl, internal.value, 'true');
  if (internal)
    throw new UnrecognisedShape(`'internal' of network ${String(pair.key.value)} at ${where(tpl, internal)} is not a plain boolean`);
  return insertIntoMap(tpl, value, ['internal: true'], 'driver');
}

/** The edit that adds INGRESS to a service's `networks` (list or long form, block or flow). */
function attachIngress(compose: ComposeFile, service: YAMLMap, serviceName: string): TextEdit {
  const { tpl } = compose;
  const networks = pairOf(service, 'networks')?.value ?? null;
  if (isSeq(networks)) return appendToSeq(tpl, networks, [quoteLike(networks.items[0] as YamlNode | undefined, INGRESS)]);
  if (isMap(networks)) {
    const bare = networks.items.some((item) => isEmptyValue(item.value as YamlNode | null));
    return insertIntoMap(tpl, networks, [networks.flow || !bare ? `${INGRESS}: {}` : `${INGRESS}:`]);
  }
  throw new UnrecognisedShape(`networks of ${serviceName} in ${tpl.path} are neither a list nor a mapping`);
}

/** The edit that declares INGRESS (bridge, not internal) in a file's top-level `networks`. */
function declareIngress(compose: ComposeFile, forServices: readonly string[], internalNetworks: readonly string[]): TextEdit {
  const { tpl, root } = compose;
  const unit = indentUnit(tpl);
  const comment = `# internet side of ${forServices.join(', ')}: ${internalNetworks.join(', ')} ${internalNetworks.length > 1 ? 'have' : 'has'} no route out`;
  const block = [`${INGRESS}:`, `${unit}driver: bridge    ${comment}`];
  const pair = pairOf(root, 'networks');
  if (!pair) return insertIntoMap(tpl, root, ['', 'networks:', ...block.map((line) => unit + line)]);
  if (isEmptyValue(pair.value)) return fillEmptyEntry(tpl, pair, block, `{${INGRESS}: {driver: bridge}}`);
  if (!isMap(pair.value)) throw new UnrecognisedShape(`top-level networks at ${where(tpl, pair)} is not a mapping`);
  if (pair.value.flow) return insertIntoMap(tpl, pair.value, [`${INGRESS}: {driver: bridge}`]);
  return insertIntoMap(tpl, pair.value, block);
}

function telegramNotes(repo: RepoView, state: 'needs-fix' | 'fixed'): string[] {
  let telegram: ReturnType<typeof telegramUse>;
  try {
    telegram = telegramUse(repo);
  } catch (error) {
    // Only a note hangs on it: the network fix itself does not depend on Telegram.
    if (!(error instanceof UnrecognisedShape)) throw error;
    return [`${error.message}; if it is on, the gateway reaches api.telegram.org only through the egress proxy`];
  }
  if (!telegram.enabled) return [];
  let listName = 'the egress allow-list';
  let present = false;
  try {
    const allowList = egressAllowList(repo);
    if (allowList?.source.kind === 'variable') listName = `the egress allow-list (${allowList.source.variable})`;
    present = allowList ? domainsCover(allowList.rendered, TELEGRAM_API_HOST) : false;
  } catch (error) {
    if (!(error instanceof UnrecognisedShape)) throw error;
  }
  if (state === 'fixed' && present) return [];
  return [
    `Telegram is enabled (${telegram.evidence}): the gateway now reaches the internet only through the egress proxy, so ${TELEGRAM_API_HOST} must be in ${listName}${present ? ' (it is)' : `; the fix ${extraTelegramEgress.id} adds it`}.`,
  ];
}

export const bug4: PatchModule = {
  id: 'gateway-no-direct-egress',
  bug: 4,
  priority: 5,
  scope: 'network',
  files: [...COMPOSE_TEMPLATE_GLOBS, ...VARS_GLOBS, ...TASK_GLOBS, ...DEPLOYMENT_GLOBS],
  home: import.meta.url,

  check(repo) {
    try {
      return checkNetworks(repo);
    } catch (error) {
      // The model refuses shapes outside Compose's rules it knows (a network_mode on a container id, …).
      if (error instanceof ComposeModelError) throw new UnrecognisedShape(`Compose templates: ${error.message}`);
      throw error;
    }
  },
};

/** A Compose template's data as the structure checks read it: Jinja masked, except in network and project names (rendered). */
function templateData(compose: ComposeFile, render: StaticRender): Record<string, unknown> {
  const data = (compose.tpl.documents[0]?.toJS() ?? {}) as Record<string, unknown>;
  const rendered = (node: YamlNode | null | undefined): string | undefined => {
    if (!isScalar(node) || !hasJinja(compose.tpl, node)) return undefined;
    return render(scalarSource(compose.tpl, node));
  };
  const name = rendered(pairOf(compose.root, 'name')?.value as YamlNode | null | undefined);
  if (name !== undefined) data.name = name;
  const networks = pairOf(compose.root, 'networks')?.value;
  if (isMap(networks) && typeof data.networks === 'object' && data.networks !== null) {
    for (const pair of networks.items) {
      const value = pair.value;
      if (!isScalar(pair.key) || !isMap(value)) continue;
      const own = rendered(pairOf(value, 'name')?.value as YamlNode | null | undefined);
      const target = (data.networks as Record<string, Record<string, unknown> | null>)[String(pair.key.value)];
      if (own !== undefined && target) target.name = own;
    }
  }
  return data;
}

/** The declaration of network `key` among the files of one `up` that makes Compose create it (not an `external` reference). */
function creatingDeclaration(files: readonly ComposeFile[], key: string): Declaration[] {
  return declarationsOf(files, key).filter((declaration) => {
    const value = declaration.pair.value;
    const external = isMap(value) ? pairOf(value, 'external')?.value : undefined;
    return !(isScalar(external) && (external.value === true || external.value === 'true')) && !isMap(external);
  });
}

interface Simulated {
  /** Per `up`: the files, the merged project and the host's networks before it. */
  readonly ups: {
    readonly files: readonly ComposeFile[];
    readonly project: ComposeProject;
    readonly host: ReadonlyMap<string, HostNetwork>;
    readonly label: string;
  }[];
  /** Docker network name → the declaration whose `up` created it. */
  readonly origins: ReadonlyMap<string, Declaration>;
}

/** Runs each scenario's `up`s on a fresh host, as Compose would, on the templates' data. */
function simulate(
  scenarios: readonly DeployStep[][],
  byPath: ReadonlyMap<string, ComposeFile>,
  dataOf: (compose: ComposeFile) => unknown,
): Simulated {
  const ups: Simulated['ups'][number][] = [];
  const origins = new Map<string, Declaration>();
  for (const steps of scenarios) {
    let host: ReadonlyMap<string, HostNetwork> = new Map();
    for (const step of steps) {
      const files = step.templates.map((path) => byPath.get(path)).filter((file): file is ComposeFile => file !== undefined);
      if (files.length === 0) continue;
      const project = mergeCompose(dataOf(files[0]!), files.slice(1).map(dataOf), {
        projectDirectory: step.projectDirectory,
        projectName: step.projectName,
      });
      for (const network of networksCreatedByUp(project, host)) {
        const declaration = creatingDeclaration(files, network.key).at(-1);
        if (declaration && !origins.has(network.name)) origins.set(network.name, declaration);
      }
      ups.push({ files, project, host, label: step.label });
      host = hostAfterUp(project, host);
    }
  }
  return { ups, origins };
}

function checkNetworks(repo: RepoView): CheckResult {
  // The services by what they run, whatever the repo calls them (the report's names when it uses them).
  const GATEWAY = stackServiceName(repo, 'gateway');
  const EGRESS = stackServiceName(repo, 'egress');
  const files = composeFiles(repo);
  const base = composeDefining(repo, GATEWAY);
  if (!base) return { state: 'not-applicable', reason: `no Compose template defines the gateway service ${GATEWAY}` };
  // Every other Compose file is an overlay, also one that adds keys to the base's services (labels).
  const overlays = files.filter((compose) => compose.tpl.path !== base.tpl.path);
  const all = [base, ...overlays];
  const gatewayPair = pairOf(base.services, GATEWAY)!;
  const gatewayAt = where(base.tpl, gatewayPair);
  if (!pairOf(base.services, EGRESS))
    throw new UnrecognisedShape(
      `no ${EGRESS} service in ${base.tpl.path}: making the gateway's networks internal would cut it off entirely`,
    );

  for (const key of new Set(all.flatMap((compose) => keysOf(pairOf(compose.root, 'networks')?.value)))) {
    for (const declaration of declarationsOf(all, key)) {
      const value = declaration.pair.value;
      if (!isMap(value)) continue;
      for (const flag of ['internal', 'external']) {
        const flagPair = pairOf(value, flag);
        if (flagPair?.value && hasJinja(declaration.compose.tpl, flagPair.value)) {
          throw new UnrecognisedShape(`'${flag}' of network ${key} at ${where(declaration.compose.tpl, flagPair)} is computed by Jinja`);
        }
      }
    }
  }

  // Which role brings up which files, in which order (src/model/compose-deploy.ts).
  const deploy = composeDeploymentOf(repo);
  // A playbook or task file the model needs that does not parse: this fix stops, naming it.
  const blocker = deploymentBlocker(
    deploy.deployment,
    all.map((compose) => compose.tpl.path),
  );
  if (blocker) throw blocker;
  const byPath = new Map(all.map((compose) => [compose.tpl.path, compose]));
  const scenarios = deployScenarios(
    deploy.deployment,
    base.tpl.path,
    overlays.map((compose) => compose.tpl.path),
    deploy.defaultDirectory,
  );
  const data = new Map(all.map((compose) => [compose, templateData(compose, deploy.render)]));
  const before = simulate(scenarios, byPath, (compose) => data.get(compose));

  // 1. The gateway's networks with a route out, and the declarations that create them.
  const toMakeInternal = new Map<string, Declaration>();
  const gatewaySide = new Set<string>();
  for (const { project, host, files: upFiles } of before.ups) {
    if (!project.services.has(GATEWAY)) continue;
    const gateway = project.services.get(GATEWAY)!;
    if (gateway.networkMode !== undefined)
      throw new UnrecognisedShape(`${GATEWAY} at ${gatewayAt} uses network_mode ${gateway.networkMode}`);
    if (!project.services.has(EGRESS)) continue;
    if (sharedNetworks(project, GATEWAY, EGRESS).length === 0) {
      throw new UnrecognisedShape(`${GATEWAY} (${gatewayAt}) shares no network with ${EGRESS}: it could not reach the proxy`);
    }
    const egressNames = new Set(networksOf(project, EGRESS).map((key) => project.networks.get(key)?.name ?? key));
    for (const key of networksOf(project, GATEWAY)) {
      const network = project.networks.get(key);
      if (!network || network.implicit) {
        throw new UnrecognisedShape(`${GATEWAY} (${gatewayAt}) is on network ${key}, which no Compose template declares`);
      }
      if (!egressNames.has(network.name)) gatewaySide.add(network.name);
      if (isInternal(network, host)) continue;
      if (egressNames.has(network.name)) {
        throw new UnrecognisedShape(
          `${GATEWAY} (${gatewayAt}) is on ${key}, the egress proxy's route out: remove it from the gateway's networks`,
        );
      }
      let declaration: Declaration | undefined;
      if (network.external) {
        // Joined by its full name: the network an earlier `up` of the deployment created (the base project's proxy-net).
        declaration = before.origins.get(network.name);
        if (!declaration) {
          throw new UnrecognisedShape(
            `${GATEWAY} (${gatewayAt}) is on the external network ${key} (${network.name}), which no \`up\` of the deployment creates before: Compose cannot make it internal`,
          );
        }
      } else {
        const declarations = creatingDeclaration(upFiles, key);
        if (declarations.length !== 1) {
          throw new UnrecognisedShape(
            `network ${key} is declared in ${declarations.length} Compose templates (${declarationsOf(upFiles, key)
              .map((d) => where(d.compose.tpl, d.pair))
              .join(', ')})`,
          );
        }
        declaration = declarations[0]!;
      }
      toMakeInternal.set(`${declaration.compose.tpl.path}#${String(declaration.pair.key.value)}`, declaration);
    }
  }

  // 2. Services beside the gateway on those networks that would be left without a route out.
  const internalData = new Map([...data].map(([compose, value]) => [compose, structuredClone(value)]));
  for (const declaration of toMakeInternal.values()) {
    const networks = (internalData.get(declaration.compose) as { networks?: Record<string, Record<string, unknown> | null> }).networks;
    const key = String(declaration.pair.key.value);
    if (networks) networks[key] = { ...(networks[key] ?? {}), internal: true };
  }
  const after = simulate(scenarios, byPath, (compose) => internalData.get(compose));
  const strandedIn = new Map<string, { compose: ComposeFile; networks: Set<string> }>();
  for (const { project, host, files: upFiles } of after.ups) {
    for (const service of project.services.values()) {
      if (service.name === GATEWAY || service.name === EGRESS || service.networkMode !== undefined) continue;
      const names = service.networks.map((key) => project.networks.get(key)?.name ?? key);
      if (!names.some((name) => gatewaySide.has(name)) || routesOut(project, service.name, host)) continue;
      const defining = upFiles.filter((compose) => pairOf(compose.services, service.name));
      const withNetworks = defining.filter((compose) => {
        const value = pairOf(compose.services, service.name)?.value;
        return isMap(value) && pairOf(value, 'networks');
      });
      if (withNetworks.length !== 1)
        throw new UnrecognisedShape(
          `the networks of ${service.name} are set in ${withNetworks.length} Compose templates (${defining.map((c) => c.tpl.path).join(', ')})`,
        );
      const entry = strandedIn.get(service.name) ?? { compose: withNetworks[0]!, networks: new Set<string>() };
      service.networks.filter((key) => gatewaySide.has(project.networks.get(key)?.name ?? key)).forEach((key) => entry.networks.add(key));
      strandedIn.set(service.name, entry);
    }
  }
  const stranded = [...strandedIn.keys()];

  const gatewayNetworks = [...gatewaySide];
  if (toMakeInternal.size === 0 && stranded.length === 0) {
    return {
      state: 'fixed',
      reason: `${GATEWAY} is on internal networks only (${gatewayNetworks.join(', ') || "none beside the proxy's"}) and leaves through ${EGRESS}; the services beside it keep their route out`,
      notes: telegramNotes(repo, 'fixed'),
    };
  }

  for (const { project } of before.ups) {
    const ingress = project.networks.get(INGRESS);
    if (stranded.length > 0 && ingress && (ingress.internal || ingress.external)) {
      const declared = declarationsOf(all, INGRESS)[0];
      throw new UnrecognisedShape(
        `network ${INGRESS} already exists as ${ingress.internal ? 'internal' : 'external'}${declared ? ` at ${where(declared.compose.tpl, declared.pair)}` : ''}; cannot give ${stranded.join(', ')} a route out through it`,
      );
    }
  }

  const sameDeclaration = (a: Declaration, b: Declaration): boolean => a.compose === b.compose && a.pair === b.pair;
  const dockerName = (declaration: Declaration): string =>
    [...before.origins].find(([, origin]) => sameDeclaration(origin, declaration))?.[0] ?? String(declaration.pair.key.value);
  const edits: TextEdit[] = [];
  const changes: string[] = [];
  for (const declaration of toMakeInternal.values()) {
    edits.push(makeInternal(declaration));
    const name = dockerName(declaration);
    const joiners = all
      .flatMap((compose) => keysOf(pairOf(compose.root, 'networks')?.value).map((key) => ({ compose, key })))
      .filter(({ compose, key }) => creatingDeclaration([compose], key).length === 0)
      .filter(
        ({ compose, key }) =>
          (data.get(compose) as { networks?: Record<string, { name?: unknown } | null> }).networks?.[key]?.name === name,
      )
      .map(({ compose, key }) => `${compose.tpl.path} joins it as external ${key}`);
    changes.push(
      `${declaration.compose.tpl.path}: network ${String(declaration.pair.key.value)} (Docker network ${name}) is internal (no route out)${joiners.length > 0 ? `; ${joiners.join('; ')}` : ''}`,
    );
  }
  const byFile = new Map<ComposeFile, string[]>();
  const internalKeys = new Map<ComposeFile, Set<string>>();
  for (const [name, { compose, networks }] of strandedIn) {
    const service = pairOf(compose.services, name)?.value;
    if (!isMap(service)) throw new UnrecognisedShape(`service ${name} in ${compose.tpl.path} is not a mapping`);
    edits.push(attachIngress(compose, service, name));
    byFile.set(compose, [...(byFile.get(compose) ?? []), name]);
    internalKeys.set(compose, new Set([...(internalKeys.get(compose) ?? []), ...networks]));
  }
  for (const [compose, names] of byFile) {
    const declaredHere = declarationsOf([compose], INGRESS).length > 0;
    const theirInternal = [...(internalKeys.get(compose) ?? [])];
    // Declared in the file of the service that uses it, even when another file declares it too
    // (Compose merges the two key by key): each overlay stays complete on its own.
    if (!declaredHere) edits.push(declareIngress(compose, names, theirInternal));
    changes.push(
      `${compose.tpl.path}: ${names.join(', ')} ${names.length > 1 ? 'reach' : 'reaches'} the internet through ${INGRESS} (a bridge network Compose creates with the overlay)${declaredHere ? '' : ', declared there'}; ${theirInternal.join(', ')} no longer routes out`,
    );
  }

  const reasons = [
    ...[...toMakeInternal.values()].map(
      (d) =>
        `${GATEWAY} can reach the internet directly through ${String(d.pair.key.value)} (${dockerName(d)}, not internal) at ${where(d.compose.tpl, d.pair)}`,
    ),
    ...(toMakeInternal.size === 0 ? stranded.map((name) => `${name} has no route out (its networks are internal)`) : []),
  ];
  const notes = [...telegramNotes(repo, 'needs-fix')];
  if (deploy.deployment.unreadable.length > 0)
    notes.push(`Not read when modelling which role brings up which Compose files: ${deploy.deployment.unreadable.join('; ')}.`);
  if (toMakeInternal.size > 0) {
    const names = [...toMakeInternal.values()].map(dockerName);
    notes.push(
      `Existing hosts: Docker cannot make an existing network internal in place; run \`docker compose -f … down\` with the deployment's files before the next \`up\` so ${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} recreated internal.`,
    );
  }
  return { state: 'needs-fix', reason: reasons.join('; '), edits, changes, notes };
}
