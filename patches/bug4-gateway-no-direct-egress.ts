/**
 * Bug 4: the gateway sits on `proxy-net`, a network with a route out, so anything running in
 * it can reach the internet without going through the egress proxy. Make the gateway's
 * networks internal; every other service that loses its only route out with that (the reverse
 * proxies of the overlays) gets a non-internal network declared in its own file, so Compose
 * creates it on a first `up`.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { ComposeModelError, mergeCompose, networksOf, routesOut, sharedNetworks, type ComposeProject, type ProjectNetwork } from '../src/compose-model.js';
import { hasJinja, type ParsedTemplate } from '../src/template-yaml.js';
import { columnAt, nextLineStart } from '../src/text.js';
import type { CheckResult, Patch, RepoView, TextEdit } from '../src/types.js';
import { appendToSeq, indentUnit, insertIntoMap, insertLines, pairOf, quoteLike, replaceNode, UnrecognisedShape, where } from '../src/yaml-edit.js';
import { COMPOSE_TEMPLATE_GLOBS, composeFiles, type ComposeFile } from './lib/compose.js';
import { domainsCover, egressAllowList, TASK_GLOBS, TELEGRAM_API_HOST, telegramUse, VARS_GLOBS } from './lib/telegram.js';

const GATEWAY = 'openclaw';
const EGRESS = 'openclaw-egress';
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

/** The project the templates make, read structurally (Jinja masked): names and flags are literal in practice, and checked to be. */
function templateProject(base: ComposeFile, overlays: readonly ComposeFile[]): ComposeProject {
  const data = (compose: ComposeFile): unknown => compose.tpl.documents[0]?.toJS();
  return mergeCompose(data(base), overlays.map(data), { projectName: 'template' });
}

function withInternal(project: ComposeProject, keys: readonly string[]): ComposeProject {
  const networks = new Map<string, ProjectNetwork>();
  for (const [key, network] of project.networks) networks.set(key, keys.includes(key) ? { ...network, internal: true } : network);
  return { ...project, networks };
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
  return insertLines(tpl, nextLineStart(tpl.text, pair.key.range?.[1] ?? keyStart), lines.map((line) => indent + line));
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
  if (internal) throw new UnrecognisedShape(`'internal' of network ${String(pair.key.value)} at ${where(tpl, internal)} is not a plain boolean`);
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
  const telegram = telegramUse(repo);
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
    `Telegram is enabled (${telegram.evidence}): the gateway now reaches the internet only through the egress proxy, so ${TELEGRAM_API_HOST} must be in ${listName}${present ? ' (it is)' : '; the fix telegram-egress-allowlist adds it'}.`,
  ];
}

export const bug4: Patch = {
  id: 'gateway-no-direct-egress',
  bug: 4,
  priority: 5,
  scope: 'network',
  title: 'cut the gateway off from the internet except through the egress proxy',
  problem:
    'The gateway (openclaw) is on proxy-net, which is not internal: a process in the gateway that ignores HTTP(S)_PROXY reaches the internet directly, bypassing the Smokescreen allow-list.',
  why: 'Every network the gateway is on becomes internal: its only way out is then openclaw-egress, which shares openclaw-net with it. The reverse proxies that reached the internet through proxy-net (Caddy publishing 80/443, cloudflared dialling out) keep a route out through a bridge network declared in their own overlay, which Compose creates on the first up because a service of the project uses it.',
  departsFromReport:
    "The report declares ingress-net in the base file and updates only the Caddy overlay. Here each overlay whose service needs a route out declares ingress-net itself and attaches it to that service. Compose creates only the networks a service of the merged project uses (upstream-facts.md): a base-file declaration is created only if an overlay's service also lists the network, and on its own, as in the report's snippet, it is never created while Caddy, left on the now-internal proxy-net, cannot publish 80/443. Declaring the network beside the service that uses it keeps each overlay self-contained. The Cloudflare Tunnel overlay, which the report does not mention, gets it too: cloudflared reached Cloudflare only through proxy-net. The network is not `external: true`, which Compose never creates: a first `up` would fail with 'declared as external, but could not be found'.",
  details: [
    'Compose rules relied on (upstream-facts.md, "Docker Compose (v2)"): the base file and its overlays form one project;',
    '`up` creates only networks a service uses, named `<project>_<key>`; an `external: true` network is never created;',
    'a container on internal networks only has no route out and cannot publish ports.',
    '',
    '- Every network the gateway is on that is not internal becomes `internal: true` (inserted after `driver:`, or',
    '  `internal: false` flipped; a bare `proxy-net:` gets a nested block). A network the gateway shares with the',
    '  egress proxy\'s route out, an external network or the implicit `default` network is refused, not guessed.',
    '- Every other service on the gateway\'s side of those networks (not shared with openclaw-egress) that would be',
    '  left without a route out gets `ingress-net` (bridge) added to its `networks` (list or long form, block or flow)',
    '  and declared in the same file (also when another file declares it: Compose merges the two). In the bundled repo these are `caddy` (publishes 80/443) and `cloudflared`',
    '  (dials out to Cloudflare). The rule is "keep the route out that a service had", so a service that only ever',
    '  talked to the gateway is not the concern of this fix. Overlays that do not touch proxy-net (monitoring) are',
    '  left byte for byte.',
    '- Caddy and cloudflared stay on proxy-net with the gateway (to forward requests to it). They are reverse',
    '  proxies: only openclaw-egress forwards the gateway\'s outbound traffic, through the allow-list.',
    '',
    '**Telegram.** After this fix the gateway reaches the internet only through the egress proxy. When the repo',
    'enables Telegram (`telegram_enabled`, or tasks that configure `channels.telegram`), `api.telegram.org` must be',
    'in the egress allow-list; the fix prints a note, and the `telegram-egress-allowlist` fix adds the host.',
    '',
    '**Existing hosts.** Docker cannot change an existing network\'s `internal` flag in place. On a host where the',
    'stack already ran, bring it down with the same `-f` files (`docker compose -f docker-compose.yml -f',
    'compose.caddy.yml down`) before the next `up`, then check `docker network inspect openclaw_proxy-net',
    "--format '{{.Internal}}'` prints `true`.",
  ].join('\n'),
  files: [...COMPOSE_TEMPLATE_GLOBS, ...VARS_GLOBS, ...TASK_GLOBS],

  check(repo) {
    try {
      return checkNetworks(repo);
    } catch (error) {
      // The model refuses shapes outside Compose's rules it knows (a network_mode on a container id, …).
      if (error instanceof ComposeModelError) return { state: 'unrecognised', reason: `Compose templates: ${error.message}` };
      throw error;
    }
  },
};

function checkNetworks(repo: RepoView): CheckResult {
  const files = composeFiles(repo);
  const bases = files.filter((compose) => pairOf(compose.services, GATEWAY));
  if (bases.length === 0) return { state: 'not-applicable', reason: `no Compose template defines the gateway service ${GATEWAY}` };
  if (bases.length > 1) return { state: 'unrecognised', reason: `service ${GATEWAY} is defined in more than one Compose template: ${bases.map((b) => b.tpl.path).join(', ')}` };
  const base = bases[0]!;
  const baseServices = new Set(keysOf(base.services));
  // Overlays add services of their own; a file that redefines base services is an override, not ours to read.
  const overlays = files.filter((compose) => compose !== base && !keysOf(compose.services).some((name) => baseServices.has(name)));
  const all = [base, ...overlays];
  const project = templateProject(base, overlays);
  const gatewayPair = pairOf(base.services, GATEWAY)!;
  const gatewayAt = where(base.tpl, gatewayPair);

  const gateway = project.services.get(GATEWAY)!;
  if (gateway.networkMode !== undefined) return { state: 'unrecognised', reason: `${GATEWAY} at ${gatewayAt} uses network_mode ${gateway.networkMode}` };
  if (!project.services.has(EGRESS)) return { state: 'unrecognised', reason: `no ${EGRESS} service in ${base.tpl.path}: making the gateway's networks internal would cut it off entirely` };
  const gatewayNetworks = networksOf(project, GATEWAY);
  const egressNetworks = networksOf(project, EGRESS);
  if (sharedNetworks(project, GATEWAY, EGRESS).length === 0) {
    return { state: 'unrecognised', reason: `${GATEWAY} (${gatewayAt}) shares no network with ${EGRESS}: it could not reach the proxy` };
  }

  for (const key of new Set(all.flatMap((compose) => keysOf(pairOf(compose.root, 'networks')?.value)))) {
    for (const declaration of declarationsOf(all, key)) {
      const value = declaration.pair.value;
      if (!isMap(value)) continue;
      for (const flag of ['internal', 'external']) {
        const flagPair = pairOf(value, flag);
        if (flagPair?.value && hasJinja(declaration.compose.tpl, flagPair.value)) {
          return { state: 'unrecognised', reason: `'${flag}' of network ${key} at ${where(declaration.compose.tpl, flagPair)} is computed by Jinja` };
        }
      }
    }
  }

  // 1. The gateway's networks with a route out.
  const toMakeInternal: Declaration[] = [];
  for (const key of gatewayNetworks) {
    const network = project.networks.get(key);
    if (!network || network.implicit) {
      return { state: 'unrecognised', reason: `${GATEWAY} (${gatewayAt}) is on network ${key}, which no Compose template declares` };
    }
    if (network.internal) continue;
    if (network.external) return { state: 'unrecognised', reason: `${GATEWAY} (${gatewayAt}) is on the external network ${key}: Compose cannot make it internal` };
    if (egressNetworks.includes(key)) {
      return { state: 'unrecognised', reason: `${GATEWAY} (${gatewayAt}) is on ${key}, the egress proxy's route out: remove it from the gateway's networks` };
    }
    const declarations = declarationsOf(all, key);
    if (declarations.length !== 1) {
      return { state: 'unrecognised', reason: `network ${key} is declared in ${declarations.length} Compose templates (${declarations.map((d) => where(d.compose.tpl, d.pair)).join(', ')})` };
    }
    toMakeInternal.push(declarations[0]!);
  }

  // 2. Services on the gateway's side of those networks that would be left without a route out.
  const after = withInternal(project, toMakeInternal.map((d) => String(d.pair.key.value)));
  const gatewaySide = gatewayNetworks.filter((key) => !egressNetworks.includes(key));
  const stranded = [...project.services.values()]
    .filter((service) => service.name !== GATEWAY && service.name !== EGRESS && service.networkMode === undefined)
    .filter((service) => service.networks.some((key) => gatewaySide.includes(key)) && !routesOut(after, service.name))
    .map((service) => service.name);

  if (toMakeInternal.length === 0 && stranded.length === 0) {
    return {
      state: 'fixed',
      reason: `${GATEWAY} is on internal networks only (${gatewayNetworks.join(', ')}) and leaves through ${EGRESS}; the services beside it keep their route out`,
      notes: telegramNotes(repo, 'fixed'),
    };
  }

  const ingress = project.networks.get(INGRESS);
  if (stranded.length > 0 && ingress && (ingress.internal || ingress.external)) {
    const declared = declarationsOf(all, INGRESS)[0];
    return { state: 'unrecognised', reason: `network ${INGRESS} already exists as ${ingress.internal ? 'internal' : 'external'}${declared ? ` at ${where(declared.compose.tpl, declared.pair)}` : ''}; cannot give ${stranded.join(', ')} a route out through it` };
  }

  const edits: TextEdit[] = [];
  const changes: string[] = [];
  for (const declaration of toMakeInternal) {
    edits.push(makeInternal(declaration));
    changes.push(`${declaration.compose.tpl.path}: network ${String(declaration.pair.key.value)} is internal (no route out)`);
  }
  const byFile = new Map<ComposeFile, string[]>();
  for (const name of stranded) {
    const defining = all.filter((compose) => pairOf(compose.services, name));
    if (defining.length !== 1) return { state: 'unrecognised', reason: `service ${name} is defined in ${defining.length} Compose templates` };
    const compose = defining[0]!;
    const service = pairOf(compose.services, name)?.value;
    if (!isMap(service)) return { state: 'unrecognised', reason: `service ${name} in ${compose.tpl.path} is not a mapping` };
    edits.push(attachIngress(compose, service, name));
    byFile.set(compose, [...(byFile.get(compose) ?? []), name]);
  }
  for (const [compose, names] of byFile) {
    const declaredHere = declarationsOf([compose], INGRESS).length > 0;
    const theirInternal = gatewaySide.filter((key) => names.some((name) => networksOf(project, name).includes(key)));
    // Declared in the file of the service that uses it, even when another file declares it too
    // (Compose merges the two key by key): each overlay stays complete on its own.
    if (!declaredHere) edits.push(declareIngress(compose, names, theirInternal));
    changes.push(`${compose.tpl.path}: ${names.join(', ')} ${names.length > 1 ? 'reach' : 'reaches'} the internet through ${INGRESS}${declaredHere ? '' : ', declared there'}`);
  }

  const reasons = [
    ...toMakeInternal.map((d) => `${GATEWAY} can reach the internet directly through ${String(d.pair.key.value)} (not internal) at ${where(d.compose.tpl, d.pair)}`),
    ...(toMakeInternal.length === 0 ? stranded.map((name) => `${name} has no route out (its networks are internal)`) : []),
  ];
  const notes = [...telegramNotes(repo, 'needs-fix')];
  if (toMakeInternal.length > 0) {
    notes.push(
      `Existing hosts: Docker cannot make an existing network internal in place; run \`docker compose -f … down\` with the deployment's files before the next \`up\` so ${toMakeInternal.map((d) => String(d.pair.key.value)).join(', ')} ${toMakeInternal.length > 1 ? 'are' : 'is'} recreated internal.`,
    );
  }
  return { state: 'needs-fix', reason: reasons.join('; '), edits, changes, notes };
}
