/**
 * A small model of Docker Compose v2's rules for networks, over Compose documents that are
 * already rendered and parsed (plain data, as `yaml.parse` returns it). It answers what a
 * `docker compose -f base -f overlay… up` would do on a host: which networks it creates,
 * which must already exist, which service is on which network, who has a route out and who
 * can publish ports. The rules are the ones in upstream-facts.md ("Docker Compose (v2)"):
 *
 * - all `-f` files form ONE project; top-level networks are merged key by key;
 * - the project name is `-p`, else the last file's `name:`, else the directory's name;
 * - `up` creates only networks that at least one service uses, as `<project>_<key>` unless
 *   the network sets `name:`; an `external: true` network is never created and must exist;
 * - a service on an `internal: true` network only has no route out; ports can be published
 *   only through a non-internal network.
 *
 * A deployment often runs several `up`s one after the other (the base project, then an overlay
 * a later role brings up, joining the base's networks by their full name as `external`): the
 * Docker networks already on the host (`HostNetworks`, what earlier `up`s created, with their
 * `internal` flag) decide whether an external network exists and whether it routes out.
 */
import { UnrecognisedShape } from '../core/errors.js';

/** Compose files the model cannot merge or whose networks break Compose's rules: a shape, as any reader's. */
export class ComposeModelError extends UnrecognisedShape {
  constructor(message: string) {
    super(message);
    this.name = 'ComposeModelError';
  }
}

export interface ProjectNetwork {
  /** The key under top-level `networks:` (what services refer to). */
  readonly key: string;
  /** The Docker network's name on the host. */
  readonly name: string;
  readonly external: boolean;
  readonly internal: boolean;
  readonly driver: string | undefined;
  /** Not declared in any file: Compose's implicit `default` network. */
  readonly implicit: boolean;
}

export interface ProjectService {
  readonly name: string;
  /** Network keys the service is attached to (empty under a `network_mode`). */
  readonly networks: readonly string[];
  /** `network_mode` when set (`host`, `none`, `service:<name>`, `container:<id>`). */
  readonly networkMode: string | undefined;
  /** The `ports:` entries, as written. */
  readonly ports: readonly unknown[];
}

export interface ComposeProject {
  readonly name: string;
  readonly services: ReadonlyMap<string, ProjectService>;
  /** Every network the files declare (merged), plus the implicit `default` when a service needs it. */
  readonly networks: ReadonlyMap<string, ProjectNetwork>;
}

export interface MergeOptions {
  /** The directory the files are in (`chdir` of the `docker compose` command): its base name is the default project name. */
  readonly projectDirectory?: string;
  /** `-p` / COMPOSE_PROJECT_NAME: wins over everything. */
  readonly projectName?: string;
}

export type ProblemKind = 'undefined-network' | 'missing-external-network' | 'unpublishable-ports' | 'unknown-service';

export interface ComposeProblem {
  readonly kind: ProblemKind;
  readonly service: string;
  readonly network?: string;
  /** Worded like Compose's own error where Compose has one. */
  readonly message: string;
}

/** A Docker network that exists on the host (made by an earlier `up`), by its Docker name. */
export interface HostNetwork {
  readonly name: string;
  readonly internal: boolean;
}

/** The Docker networks on a host: a list of names (flags unknown) or what earlier `up`s created. */
export type HostNetworks = readonly string[] | ReadonlyMap<string, HostNetwork>;

function hostHas(host: HostNetworks, name: string): boolean {
  return Array.isArray(host) ? host.includes(name) : (host as ReadonlyMap<string, HostNetwork>).has(name);
}

function hostNetwork(host: HostNetworks, name: string): HostNetwork | undefined {
  return Array.isArray(host) ? undefined : (host as ReadonlyMap<string, HostNetwork>).get(name);
}

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function dictAt(doc: Dict, key: string, where: string): Dict {
  const value = doc[key];
  if (value === undefined || value === null) return {};
  if (!isDict(value)) throw new ComposeModelError(`${where}: '${key}' is not a mapping`);
  return value;
}

/** Compose's normalisation of a project name: lower case, only [a-z0-9_-], starting with a letter or digit. */
function normaliseProjectName(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '')
    .replace(/^[^a-z0-9]+/, '');
}

function truthy(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

/** A service's `networks:` in either form, as a map key → attributes (aliases, …). */
function serviceNetworkEntries(service: Dict, where: string): Dict {
  const networks = service.networks;
  if (networks === undefined || networks === null) return {};
  if (Array.isArray(networks)) {
    const entries: Dict = {};
    for (const item of networks) {
      if (typeof item !== 'string') throw new ComposeModelError(`${where}: a networks list item is not a name`);
      entries[item] = null;
    }
    return entries;
  }
  if (isDict(networks)) return networks;
  throw new ComposeModelError(`${where}: 'networks' is neither a list nor a mapping`);
}

/** Compose's merge of one service defined in several files: networks by key, ports appended, other keys overridden. */
function mergeService(earlier: Dict | undefined, later: Dict, where: string): Dict {
  if (!earlier) return { ...later, networks: later.networks === undefined ? undefined : serviceNetworkEntries(later, where) };
  const merged: Dict = { ...earlier, ...later };
  if (earlier.networks !== undefined || later.networks !== undefined) {
    merged.networks = { ...serviceNetworkEntries(earlier, where), ...serviceNetworkEntries(later, where) };
  }
  const ports = [...(Array.isArray(earlier.ports) ? earlier.ports : []), ...(Array.isArray(later.ports) ? later.ports : [])];
  if (ports.length > 0)
    merged.ports = ports.filter((port, index) => ports.findIndex((other) => JSON.stringify(other) === JSON.stringify(port)) === index);
  return merged;
}

/** Merges a base Compose document with overlays (`-f base -f overlay…`) into one project. */
export function mergeCompose(base: unknown, overlays: readonly unknown[] = [], options: MergeOptions = {}): ComposeProject {
  const documents = [base, ...overlays];
  let declaredName: string | undefined;
  const services = new Map<string, Dict>();
  const networks = new Map<string, Dict>();
  documents.forEach((doc, index) => {
    const where = index === 0 ? 'base file' : `overlay ${index}`;
    if (!isDict(doc)) throw new ComposeModelError(`${where}: not a Compose mapping`);
    if (typeof doc.name === 'string' && doc.name !== '') declaredName = doc.name;
    for (const [name, value] of Object.entries(dictAt(doc, 'services', where))) {
      if (value !== null && !isDict(value)) throw new ComposeModelError(`${where}: service '${name}' is not a mapping`);
      services.set(name, mergeService(services.get(name), value ?? {}, `${where}, service '${name}'`));
    }
    for (const [key, value] of Object.entries(dictAt(doc, 'networks', where))) {
      if (value !== null && !isDict(value)) throw new ComposeModelError(`${where}: network '${key}' is not a mapping`);
      networks.set(key, { ...(networks.get(key) ?? {}), ...(value ?? {}) });
    }
  });

  const rawName =
    options.projectName ??
    declaredName ??
    (options.projectDirectory ? options.projectDirectory.replace(/\/+$/, '').split('/').pop() : undefined);
  if (!rawName) throw new ComposeModelError('no project name: no -p, no `name:` in the files and no project directory');
  const projectName = normaliseProjectName(rawName);

  const projectServices = new Map<string, ProjectService>();
  let usesDefault = false;
  for (const [name, service] of services) {
    const networkMode = typeof service.network_mode === 'string' ? service.network_mode : undefined;
    let keys = Object.keys(serviceNetworkEntries(service, `service '${name}'`));
    if (networkMode !== undefined) keys = [];
    else if (keys.length === 0) {
      // No `networks:` at all: Compose puts the service on the project's `default` network.
      keys = ['default'];
      usesDefault = true;
    }
    projectServices.set(name, { name, networks: keys, networkMode, ports: Array.isArray(service.ports) ? service.ports : [] });
  }

  const projectNetworks = new Map<string, ProjectNetwork>();
  for (const [key, definition] of networks) {
    const external = truthy(definition.external) || isDict(definition.external);
    const legacyExternalName =
      isDict(definition.external) && typeof definition.external.name === 'string' ? definition.external.name : undefined;
    const explicitName = typeof definition.name === 'string' ? definition.name : legacyExternalName;
    projectNetworks.set(key, {
      key,
      name: explicitName ?? (external ? key : `${projectName}_${key}`),
      external,
      internal: truthy(definition.internal),
      driver: typeof definition.driver === 'string' ? definition.driver : undefined,
      implicit: false,
    });
  }
  if (usesDefault && !projectNetworks.has('default')) {
    projectNetworks.set('default', {
      key: 'default',
      name: `${projectName}_default`,
      external: false,
      internal: false,
      driver: undefined,
      implicit: true,
    });
  }
  return { name: projectName, services: projectServices, networks: projectNetworks };
}

function serviceOf(project: ComposeProject, serviceName: string): ProjectService {
  const service = project.services.get(serviceName);
  if (!service) throw new ComposeModelError(`no service '${serviceName}' in project ${project.name}`);
  return service;
}

/** The service whose network stack `service` shares (`network_mode: service:x`), followed to the end. */
function networkOwner(project: ComposeProject, serviceName: string, seen = new Set<string>()): ProjectService {
  const service = serviceOf(project, serviceName);
  const mode = service.networkMode;
  if (mode?.startsWith('service:')) {
    if (seen.has(serviceName)) throw new ComposeModelError(`network_mode cycle at service '${serviceName}'`);
    seen.add(serviceName);
    return networkOwner(project, mode.slice('service:'.length), seen);
  }
  if (mode !== undefined && mode !== 'host' && mode !== 'none' && mode !== 'bridge') {
    throw new ComposeModelError(`service '${serviceName}': network_mode '${mode}' is outside this model`);
  }
  return service;
}

/** The network keys the service is on (those of the service whose network it shares, under `network_mode: service:x`). */
export function networksOf(project: ComposeProject, serviceName: string): readonly string[] {
  return networkOwner(project, serviceName).networks;
}

/** The declared networks the service is on (undefined keys left out: firstRunProblems reports them). */
function declaredNetworksOf(project: ComposeProject, serviceName: string): ProjectNetwork[] {
  return networksOf(project, serviceName)
    .map((key) => project.networks.get(key))
    .filter((network): network is ProjectNetwork => network !== undefined);
}

/**
 * True when the service has a route out of the host: host networking, Docker's own bridge, or
 * at least one network that is not `internal: true`. An external network routes out unless the
 * host's network of that name (made by an earlier `up`) is internal: its flags are not in these files.
 */
export function routesOut(project: ComposeProject, serviceName: string, host: HostNetworks = []): boolean {
  const owner = networkOwner(project, serviceName);
  if (owner.networkMode === 'host' || owner.networkMode === 'bridge') return true;
  if (owner.networkMode === 'none') return false;
  return declaredNetworksOf(project, serviceName).some((network) => !isInternal(network, host));
}

/** The network's `internal` flag as the host has it: from the files, or for an external one from the host's network. */
export function isInternal(network: ProjectNetwork, host: HostNetworks = []): boolean {
  if (!network.external) return network.internal;
  return hostNetwork(host, network.name)?.internal ?? false;
}

/** True when the service's published ports can be bound: it is on a non-internal network (or on the host's). */
export function canPublishPorts(project: ComposeProject, serviceName: string, host: HostNetworks = []): boolean {
  return routesOut(project, serviceName, host);
}

/** Network keys of `a` that are also networks of `b`: the same Docker network, whichever key each file calls it by. */
export function sharedNetworks(project: ComposeProject, a: string, b: string): string[] {
  const nameOf = (key: string): string => project.networks.get(key)?.name ?? key;
  const other = new Set(networksOf(project, b).map(nameOf));
  return networksOf(project, a).filter((key) => other.has(nameOf(key)));
}

/** The networks `up` would create on a host that has `existingNetworks` (Docker names): used, not external, not there yet. */
export function networksCreatedByUp(project: ComposeProject, existingNetworks: HostNetworks = []): ProjectNetwork[] {
  const used = new Set([...project.services.keys()].flatMap((name) => networkOwner(project, name).networks));
  return [...project.networks.values()].filter(
    (network) => used.has(network.key) && !network.external && !hostHas(existingNetworks, network.name),
  );
}

/** The host's networks after `up` of the project: those it had, and those `up` created, with their flags. */
export function hostAfterUp(project: ComposeProject, host: HostNetworks = []): ReadonlyMap<string, HostNetwork> {
  const after = new Map<string, HostNetwork>(
    Array.isArray(host) ? host.map((name: string) => [name, { name, internal: false }]) : [...(host as ReadonlyMap<string, HostNetwork>)],
  );
  for (const network of networksCreatedByUp(project, host)) after.set(network.name, { name: network.name, internal: network.internal });
  return after;
}

/**
 * What makes `docker compose up` fail (or silently not do what the file says) on a host that has
 * the Docker networks `existingNetworks`; empty when a deploy there works. A first deploy is
 * `existingNetworks = []`.
 */
export function firstRunProblems(project: ComposeProject, existingNetworks: HostNetworks = []): ComposeProblem[] {
  const problems: ComposeProblem[] = [];
  const reportedExternal = new Set<string>();
  for (const service of project.services.values()) {
    const target = service.networkMode?.startsWith('service:') ? service.networkMode.slice('service:'.length) : undefined;
    if (target !== undefined && !project.services.has(target)) {
      problems.push({
        kind: 'unknown-service',
        service: service.name,
        message: `service "${service.name}" depends on undefined service "${target}": invalid compose project`,
      });
      continue;
    }
    for (const key of service.networks) {
      const network = project.networks.get(key);
      if (!network) {
        problems.push({
          kind: 'undefined-network',
          service: service.name,
          network: key,
          message: `service "${service.name}" refers to undefined network ${key}: invalid compose project`,
        });
      } else if (network.external && !hostHas(existingNetworks, network.name) && !reportedExternal.has(key)) {
        reportedExternal.add(key);
        problems.push({
          kind: 'missing-external-network',
          service: service.name,
          network: key,
          message: `network ${network.name} declared as external, but could not be found`,
        });
      }
    }
    if (service.ports.length > 0 && !canPublishPorts(project, service.name, existingNetworks)) {
      problems.push({
        kind: 'unpublishable-ports',
        service: service.name,
        message: `service "${service.name}" publishes ports but is only on internal networks (${service.networks.join(', ')}): nothing can reach them`,
      });
    }
  }
  return problems;
}
