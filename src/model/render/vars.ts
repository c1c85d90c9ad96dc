/**
 * Where Ansible reads variables, in its precedence order (lowest first), for the host a play
 * deploys to: role defaults; the inventory's group variables, then group_vars/all and
 * group_vars/<group> for every group the host is in (next to the inventory, then next to the
 * playbook); the inventory's host variables and host_vars/<host>; the play's `vars` and
 * `vars_files`; role vars; `include_vars` files named statically in tasks. Variables a task
 * registers or sets with set_fact only exist when the play runs: they are Unknown.
 */
import { posix } from 'node:path';
import { isMap, isScalar, parseDocument } from 'yaml';
import { ParseMemo } from '../../core/parse-cache.js';
import { ANSIBLE_VAR_TAGS, MAX_ALIAS_COUNT } from '../../toolkit/ansible-yaml.js';
import { isDict, type Dict } from './python.js';
import { unquote } from '../../toolkit/text.js';

const ANSIBLE_VAULT_HEADER = '$ANSIBLE_VAULT;';

/** One file (or inventory entry) of variables. */
export interface VarSource {
  readonly path: string;
  readonly kind:
    | 'role defaults'
    | 'inventory group vars'
    | 'group_vars'
    | 'inventory host vars'
    | 'host_vars'
    | 'play vars'
    | 'vars_files'
    | 'role vars'
    | 'include_vars';
  /** The role, for role defaults and role vars. */
  readonly role?: string;
  /** Top-level values as read (UnsafeText and VaultText kept). */
  readonly data: Dict;
  /** 1-based line of each top-level key. */
  readonly lines: ReadonlyMap<string, number>;
}

export interface InventoryHost {
  readonly name: string;
  /** Groups the host is in, in Ansible's precedence order (`all` first, then by depth and name). */
  readonly groups: readonly string[];
  /** Every group and its hosts. */
  readonly groupHosts: Readonly<Record<string, readonly string[]>>;
  /** The inventory file, when one was found. */
  readonly inventory: string | undefined;
}

export interface RuntimeVariable {
  readonly name: string;
  readonly where: string;
  readonly how: 'register' | 'set_fact';
}

export interface VariableSources {
  readonly host: InventoryHost;
  readonly sources: readonly VarSource[];
  readonly runtime: readonly RuntimeVariable[];
}

const YAML_EXTENSION = /\.(ya?ml|json)$/;
const ROLE_PART = /^(.*?(?:^|\/)roles\/([^/]+))\/(defaults|vars|tasks|handlers)\/(.+)$/;

function lineAtOffset(text: string, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset && index < text.length; index++) if (text.charCodeAt(index) === 10) line++;
  return line;
}

/**
 * Parse once (src/core/parse-cache.ts): every fix and verify check reads the variables, each
 * from its own view of the files, so the same variable and task files came to the parser once
 * per fix. The results are shared: callers read them, never change them.
 */
export const parsedVarFiles = new ParseMemo<{ data: Dict; lines: Map<string, number> } | undefined>(8 * 1024 * 1024);
export const parsedAnsibleData = new ParseMemo<unknown>(8 * 1024 * 1024);

/** A playbook's or task file's data as Ansible reads it (YAML 1.1, Ansible's tags, a repeated key wins); throws when it does not parse. */
export function ansibleData(path: string, text: string): unknown {
  return parsedAnsibleData.get(path, text, () =>
    parseDocument(text, { version: '1.1', customTags: ANSIBLE_VAR_TAGS, uniqueKeys: false, prettyErrors: false, logLevel: 'error' }).toJS({
      maxAliasCount: MAX_ALIAS_COUNT,
    }),
  );
}

/** Reads a YAML variable file: its top-level mapping and each key's line; undefined for anything else (a vault file, a list, broken YAML). */
export function readVarFile(path: string, text: string): { data: Dict; lines: Map<string, number> } | undefined {
  return parsedVarFiles.get(path, text, readVarFileUncached);
}

function readVarFileUncached(path: string, text: string): { data: Dict; lines: Map<string, number> } | undefined {
  if (text.startsWith(ANSIBLE_VAULT_HEADER)) return undefined;
  const doc = parseDocument(text, {
    version: '1.1',
    customTags: ANSIBLE_VAR_TAGS,
    uniqueKeys: false,
    prettyErrors: false,
    logLevel: 'error',
  });
  if (doc.errors.length > 0)
    throw new Error(
      `${path}:${lineAtOffset(text, doc.errors[0]?.pos[0] ?? 0)}: not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`,
    );
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // An alias bomb: expanding it would hang the run (issue 13). The file's variables are broken, not the run.
    throw new Error(
      `${path}:1: aliases expand too far (${error instanceof Error ? error.message : String(error)}); openclaw-fix will not read it`,
    );
  }
  if (data === null || data === undefined) return { data: {}, lines: new Map() };
  if (!isDict(data)) return undefined;
  const lines = new Map<string, number>();
  if (isMap(doc.contents)) {
    for (const pair of doc.contents.items)
      if (isScalar(pair.key)) lines.set(String(pair.key.value), lineAtOffset(text, pair.key.range?.[0] ?? 0));
  }
  return { data, lines };
}

// ---------------------------------------------------------------------------------------------
// Inventory

interface Inventory {
  readonly path: string;
  /** group → direct hosts, child groups, vars (insertion order kept). */
  readonly groups: Map<string, { hosts: string[]; children: string[]; vars: Dict; line: number }>;
  readonly hostVars: Map<string, Dict>;
  readonly hostOrder: string[];
}

function emptyGroup(line = 1): { hosts: string[]; children: string[]; vars: Dict; line: number } {
  return { hosts: [], children: [], vars: {}, line };
}

/** `web[01:03].example.org` → web01…web03 (Ansible's host ranges, numeric and alphabetic). */
function expandHostPattern(pattern: string): string[] {
  const range = /\[([0-9a-z]+):([0-9a-z]+)(?::(\d+))?\]/i.exec(pattern);
  if (!range) return [pattern];
  const [whole, from = '', to = '', step = '1'] = range;
  const before = pattern.slice(0, range.index);
  const after = pattern.slice(range.index + whole.length);
  const out: string[] = [];
  if (/^\d+$/.test(from)) {
    for (let n = Number(from); n <= Number(to); n += Number(step))
      out.push(...expandHostPattern(`${before}${String(n).padStart(from.length, '0')}${after}`));
  } else {
    for (let code = from.charCodeAt(0); code <= to.charCodeAt(0); code += Number(step))
      out.push(...expandHostPattern(`${before}${String.fromCharCode(code)}${after}`));
  }
  return out;
}

/**
 * A YAML inventory. One that does not parse throws `file:line: why` (readSources then counts it
 * broken: the host's groups, and so its group_vars, are unknown), unless `lenient` (a file only
 * guessed to be YAML, read as INI instead).
 */
function parseYamlInventory(path: string, text: string, lenient = false): Inventory | undefined {
  let data: unknown;
  const doc = parseDocument(text, { version: '1.1', customTags: ANSIBLE_VAR_TAGS, prettyErrors: false, logLevel: 'error' });
  const error = doc.errors[0];
  if (error) {
    if (lenient) return undefined;
    throw new Error(`${path}:${lineAtOffset(text, error.pos[0])}: not valid YAML: ${error.message.split('\n')[0] ?? ''}`);
  }
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (caught) {
    if (lenient) return undefined;
    throw new Error(
      `${path}:1: aliases expand too far (${caught instanceof Error ? caught.message : String(caught)}); openclaw-fix will not read it`,
    );
  }
  if (!isDict(data)) return undefined;
  const inventory = emptyInventory(path);
  const visitGroup = (name: string, body: unknown): void => {
    const group = inventory.groups.get(name) ?? emptyGroup();
    inventory.groups.set(name, group);
    if (!isDict(body)) return;
    if (isDict(body.vars)) Object.assign(group.vars, body.vars);
    if (isDict(body.hosts)) {
      for (const [pattern, vars] of Object.entries(body.hosts)) {
        for (const host of expandHostPattern(pattern)) {
          if (!group.hosts.includes(host)) group.hosts.push(host);
          if (!inventory.hostOrder.includes(host)) inventory.hostOrder.push(host);
          inventory.hostVars.set(host, { ...(inventory.hostVars.get(host) ?? {}), ...(isDict(vars) ? vars : {}) });
        }
      }
    }
    if (isDict(body.children)) {
      for (const [child, childBody] of Object.entries(body.children)) {
        if (!group.children.includes(child)) group.children.push(child);
        visitGroup(child, childBody);
      }
    }
  };
  // Like Ansible, an entry that is not a group definition is skipped; a file with none is not an inventory.
  const groups = Object.entries(data).filter(([, body]) => isDict(body) || body === null);
  if (groups.length === 0) return undefined;
  for (const [name, body] of groups) visitGroup(name, body);
  return inventory;
}

/** An inventory with only Ansible's implicit groups, before its file is read. */
function emptyInventory(path: string): Inventory {
  return {
    path,
    groups: new Map([
      ['all', emptyGroup()],
      ['ungrouped', emptyGroup()],
    ]),
    hostVars: new Map(),
    hostOrder: [],
  };
}

/** Ansible's INI inventory: `[group]` host lines with key=value, `[group:vars]`, `[group:children]`. */
function parseIniInventory(path: string, text: string): Inventory {
  const inventory = emptyInventory(path);
  let section = 'ungrouped';
  let mode: 'hosts' | 'vars' | 'children' = 'hosts';
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/(^|\s)[#;].*$/, '').trim();
    if (line === '') return;
    const header = /^\[([^\]:]+)(?::(vars|children))?\]$/.exec(line);
    if (header) {
      section = header[1] ?? 'ungrouped';
      mode = (header[2] as 'vars' | 'children' | undefined) ?? 'hosts';
      if (!inventory.groups.has(section)) inventory.groups.set(section, emptyGroup(index + 1));
      return;
    }
    const group = inventory.groups.get(section) ?? emptyGroup();
    inventory.groups.set(section, group);
    if (mode === 'vars') {
      const pair = /^([^=\s]+)\s*=\s*(.*)$/.exec(line);
      if (pair) group.vars[pair[1] ?? ''] = unquote(pair[2] ?? '');
    } else if (mode === 'children') {
      if (!group.children.includes(line)) group.children.push(line);
      if (!inventory.groups.has(line)) inventory.groups.set(line, emptyGroup(index + 1));
    } else {
      const [pattern = '', ...pairs] = line.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
      const vars: Dict = {};
      for (const pair of pairs) {
        const at = pair.indexOf('=');
        if (at > 0) vars[pair.slice(0, at)] = iniLiteral(pair.slice(at + 1));
      }
      for (const host of expandHostPattern(pattern)) {
        if (!group.hosts.includes(host)) group.hosts.push(host);
        if (!inventory.hostOrder.includes(host)) inventory.hostOrder.push(host);
        inventory.hostVars.set(host, { ...(inventory.hostVars.get(host) ?? {}), ...vars });
      }
    }
  });
  return inventory;
}

/** A host line's value, as Ansible reads it (Python literals: numbers, True/False, quoted strings). */
function iniLiteral(text: string): unknown {
  if (/^-?\d+$/.test(text)) return Number(text);
  if (/^-?\d+\.\d+$/.test(text)) return Number(text);
  if (text === 'True') return true;
  if (text === 'False') return false;
  return unquote(text);
}

/**
 * Parse once: every fix and check that reads the variables reads the inventory (six times in a
 * dry run of the fixture). Keyed by path and content, which are all the result depends on;
 * shared and only read (mergeInventories builds its own maps and lists from it).
 */
const parsedInventories = new ParseMemo<Inventory | undefined>(8 * 1024 * 1024);

function parseInventory(path: string, text: string): Inventory | undefined {
  return parsedInventories.get(path, text, parseInventoryUncached);
}

function parseInventoryUncached(path: string, text: string): Inventory | undefined {
  if (text.startsWith(ANSIBLE_VAULT_HEADER)) return undefined;
  if (/\.(ya?ml)$/.test(path)) return parseYamlInventory(path, text);
  if (/\.json$/.test(path)) return undefined;
  const yaml = /^\s*[\w.-]+:\s*$/m.test(text) && !/^\s*\[/m.test(text) ? parseYamlInventory(path, text, true) : undefined;
  return yaml ?? parseIniInventory(path, text);
}

const INVENTORY_NAME = /(^|\/)(hosts|inventory|inventory\.(ya?ml|ini)|hosts\.(ya?ml|ini)|[^/]+\.ini)$/;
const INVENTORY_DIR = /(^|\/)(inventory|inventories)\/(?!.*(?:^|\/)(group_vars|host_vars)\/)/;

/** `[defaults] <key>` from the repo's ansible.cfg nearest the root, with the cfg's directory. */
export function ansibleCfgValue(files: ReadonlyMap<string, string>, key: string): { value: string; dir: string } | undefined {
  const cfg = [...files.keys()]
    .filter((path) => /(^|\/)ansible\.cfg$/.test(path))
    .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))[0];
  if (cfg === undefined) return undefined;
  let section = '';
  for (const line of (files.get(cfg) ?? '').split(/\r?\n/)) {
    const header = /^\s*\[([^\]]+)\]/.exec(line);
    if (header) section = header[1]?.trim() ?? '';
    const entry = new RegExp(`^\\s*${key}\\s*[=:]\\s*(.*?)\\s*$`).exec(line);
    if (section === 'defaults' && entry) return { value: entry[1] ?? '', dir: posix.dirname(cfg) };
  }
  return undefined;
}

function inventoryCandidates(files: ReadonlyMap<string, string>): string[] {
  const configured = ansibleCfgValue(files, 'inventory');
  const paths = [...files.keys()].sort();
  if (configured) {
    const wanted = configured.value
      .split(',')
      .map((entry) => posix.normalize(posix.join(configured.dir === '.' ? '' : configured.dir, entry.trim())).replace(/\/$/, ''));
    const found = paths.filter((path) => wanted.some((want) => path === want || path.startsWith(`${want}/`)));
    if (found.length > 0) return found.filter((path) => !/(^|\/)(group_vars|host_vars)\//.test(path));
  }
  const named = paths.filter(
    (path) =>
      (INVENTORY_NAME.test(path) || INVENTORY_DIR.test(path)) &&
      !/(^|\/)(group_vars|host_vars|roles)\//.test(path) &&
      !/(^|\/)ansible\.cfg$/.test(path),
  );
  // Several environments (inventories/prod, inventories/staging): production's, else the first.
  const prod = named.filter((path) => /(^|\/)prod(uction)?(\/|\.|$)/.test(path));
  const envs = new Set(named.map((path) => posix.dirname(path)));
  if (envs.size > 1 && prod.length > 0) return prod;
  const firstDir = named[0] === undefined ? undefined : posix.dirname(named[0]);
  return named.filter((path) => posix.dirname(path) === firstDir || !/(^|\/)inventories\//.test(path));
}

function mergeInventories(inventories: readonly Inventory[]): Inventory | undefined {
  if (inventories.length === 0) return undefined;
  const merged: Inventory = { path: inventories[0]?.path ?? '', groups: new Map(), hostVars: new Map(), hostOrder: [] };
  for (const inventory of inventories) {
    for (const [name, group] of inventory.groups) {
      const into = merged.groups.get(name) ?? emptyGroup(group.line);
      merged.groups.set(name, into);
      for (const host of group.hosts) if (!into.hosts.includes(host)) into.hosts.push(host);
      for (const child of group.children) if (!into.children.includes(child)) into.children.push(child);
      Object.assign(into.vars, group.vars);
    }
    for (const [host, vars] of inventory.hostVars) merged.hostVars.set(host, { ...(merged.hostVars.get(host) ?? {}), ...vars });
    for (const host of inventory.hostOrder) if (!merged.hostOrder.includes(host)) merged.hostOrder.push(host);
  }
  return merged;
}

// ---------------------------------------------------------------------------------------------
// Plays

interface Play {
  readonly path: string;
  readonly hosts: string;
  readonly vars: Dict;
  readonly varsFiles: readonly string[];
  readonly roles: readonly string[];
  readonly line: number;
}

function playsIn(files: ReadonlyMap<string, string>): Play[] {
  const plays: Play[] = [];
  // Paths first, then sort only the candidates: the same order (a subset of a sorted list), without
  // sorting every loaded file (10,000 on the bench's large repo) for each variable read.
  const candidates = [...files.entries()].filter(
    ([path]) => /\.ya?ml$/.test(path) && !/(^|\/)(roles|group_vars|host_vars|inventory|inventories)\//.test(path),
  );
  for (const [path, text] of candidates.sort(([a], [b]) => a.localeCompare(b))) {
    if (text.startsWith(ANSIBLE_VAULT_HEADER)) continue;
    if (!/^\s*-?\s*hosts\s*:/m.test(text)) continue;
    let data: unknown;
    try {
      data = ansibleData(path, text);
    } catch {
      continue;
    }
    if (!Array.isArray(data)) continue;
    for (const item of data) {
      if (!isDict(item) || item.hosts === undefined) continue;
      const roles = Array.isArray(item.roles)
        ? item.roles.map((role) => (isDict(role) ? String(role.role ?? role.name ?? '') : String(role)))
        : [];
      const varsFiles = Array.isArray(item.vars_files)
        ? item.vars_files.flat().map(String)
        : typeof item.vars_files === 'string'
          ? [item.vars_files]
          : [];
      plays.push({
        path,
        hosts: Array.isArray(item.hosts) ? item.hosts.join(',') : String(item.hosts),
        vars: isDict(item.vars) ? item.vars : {},
        varsFiles,
        roles,
        line: 1,
      });
    }
  }
  return plays;
}

/** Hosts a play's `hosts:` pattern names: groups, hosts, `all`, `a:b`, `a,b`; `!x` and `&x` narrow. */
function hostsMatching(pattern: string, groupHosts: (group: string) => string[], allHosts: readonly string[]): string[] {
  let selected: string[] = [];
  for (const part of pattern
    .split(/[,:]/)
    .map((entry) => entry.trim())
    .filter(Boolean)) {
    const name = part.replace(/^[!&]/, '');
    const hosts = name === 'all' || name === '*' ? [...allHosts] : allHosts.includes(name) ? [name] : groupHosts(name);
    if (part.startsWith('!')) selected = selected.filter((host) => !hosts.includes(host));
    else if (part.startsWith('&')) selected = selected.filter((host) => hosts.includes(host));
    else for (const host of hosts) if (!selected.includes(host)) selected.push(host);
  }
  return selected;
}

// ---------------------------------------------------------------------------------------------

function roleOf(path: string): { root: string; role: string; part: string; rest: string } | undefined {
  const match = ROLE_PART.exec(path);
  return match ? { root: match[1] ?? '', role: match[2] ?? '', part: match[3] ?? '', rest: match[4] ?? '' } : undefined;
}

/** `group_vars/<name>.yml`, `group_vars/<name>` and every file under `group_vars/<name>/`, sorted as Ansible reads them. */
function entityFiles(paths: readonly string[], dir: string, name: string): string[] {
  const prefix = dir === '.' || dir === '' ? '' : `${dir}/`;
  return paths
    .filter((path) => {
      if (!path.startsWith(prefix)) return false;
      const rest = path.slice(prefix.length);
      return (
        rest === name ||
        rest === `${name}.yml` ||
        rest === `${name}.yaml` ||
        rest === `${name}.json` ||
        (rest.startsWith(`${name}/`) && (YAML_EXTENSION.test(rest) || !posix.basename(rest).includes('.')))
      );
    })
    .sort();
}

function taskFilesOf(files: ReadonlyMap<string, string>): string[] {
  return [...files.keys()]
    .filter((path) => /(^|\/)roles\/[^/]+\/(tasks|handlers)\/.+\.ya?ml$/.test(path) || /(^|\/)(tasks|playbooks)\/.+\.ya?ml$/.test(path))
    .sort();
}

/** Values of a task's keys, walking blocks, for include_vars, register and set_fact. */
function* tasksOf(data: unknown): Generator<Dict> {
  if (!Array.isArray(data)) return;
  for (const item of data) {
    if (!isDict(item)) continue;
    yield item;
    for (const key of ['block', 'rescue', 'always', 'tasks', 'pre_tasks', 'post_tasks', 'handlers']) yield* tasksOf(item[key]);
  }
}

const INCLUDE_VARS = new Set(['include_vars', 'ansible.builtin.include_vars', 'ansible.legacy.include_vars']);
const SET_FACT = new Set(['set_fact', 'ansible.builtin.set_fact', 'ansible.legacy.set_fact']);

/** Every source of variables, lowest precedence first, for the host the deployment's play targets; `role` puts that role's defaults and vars above the other roles'. */
export function variableSources(files: ReadonlyMap<string, string>, role?: string): VariableSources {
  const paths = [...files.keys()].sort();
  const inventories = inventoryCandidates(files)
    .map((path) => parseInventory(path, files.get(path) ?? ''))
    .filter((inventory): inventory is Inventory => inventory !== undefined);
  const inventory = mergeInventories(inventories);
  const plays = playsIn(files);

  // The host: the first one, in inventory order, that a play deploying roles targets.
  const groups = inventory?.groups ?? new Map<string, ReturnType<typeof emptyGroup>>();
  const groupHosts = (name: string, seen = new Set<string>()): string[] => {
    const group = groups.get(name);
    if (!group || seen.has(name)) return [];
    seen.add(name);
    return [...new Set([...group.hosts, ...group.children.flatMap((child) => groupHosts(child, seen))])];
  };
  const allHosts = inventory?.hostOrder ?? [];
  const targeted = plays
    .filter((play) => play.roles.length > 0)
    .concat(plays)
    .flatMap((play) => hostsMatching(play.hosts, (name) => groupHosts(name), allHosts));
  const host = targeted[0] ?? allHosts[0] ?? 'localhost';

  // Its groups: every group containing it, with their parents; Ansible orders them by depth, then name.
  const parentsOf = (name: string): string[] =>
    [...groups.entries()].filter(([, group]) => group.children.includes(name)).map(([parent]) => parent);
  const memberOf = new Set<string>(['all']);
  for (const [name, group] of groups) if (group.hosts.includes(host)) memberOf.add(name);
  if (memberOf.size === 1) memberOf.add('ungrouped');
  let grew = true;
  while (grew) {
    grew = false;
    for (const name of [...memberOf])
      for (const parent of parentsOf(name)) if (!memberOf.has(parent)) memberOf.add(parent) && (grew = true);
  }
  const depth = (name: string, seen = new Set<string>()): number => {
    if (name === 'all' || seen.has(name)) return 0;
    seen.add(name);
    const parents = parentsOf(name);
    return 1 + (parents.length === 0 ? 0 : Math.max(...parents.map((parent) => depth(parent, seen))));
  };
  const priority = (name: string): number => Number(groups.get(name)?.vars.ansible_group_priority ?? 1);
  const orderedGroups = [...memberOf].sort((a, b) =>
    a === 'all' ? -1 : b === 'all' ? 1 : depth(a) - depth(b) || priority(a) - priority(b) || a.localeCompare(b),
  );
  const groupHostsRecord: Record<string, string[]> = {};
  for (const name of groups.keys()) groupHostsRecord[name] = groupHosts(name);
  groupHostsRecord.all = [...allHosts];

  // Directories whose group_vars/host_vars apply: the inventory's, then the playbooks'.
  const varDirsOf = (kind: 'group_vars' | 'host_vars'): string[] => {
    const under = new RegExp(`^(.*?)(?:^|/)${kind}/`); // once, not once per loaded path
    const all = [
      ...new Set(
        paths
          .map((path) => under.exec(path))
          .filter((match): match is RegExpExecArray => match !== null)
          .map((match) => (match[1] ?? '').replace(/\/$/, '')),
      ),
    ];
    const inventoryDirs = inventories.map((entry) => posix.dirname(entry.path)).map((dir) => (dir === '.' ? '' : dir));
    const playDirs = plays.map((play) => posix.dirname(play.path)).map((dir) => (dir === '.' ? '' : dir));
    const adjacent = [...new Set([...inventoryDirs, ...playDirs])].filter((dir) => all.includes(dir));
    // Without an inventory or a playbook next to them, every group_vars directory counts, but not one that sits next to an unused inventory.
    const otherInventories = paths
      .filter((path) => INVENTORY_DIR.test(path) || INVENTORY_NAME.test(path))
      .map((path) => posix.dirname(path))
      .map((dir) => (dir === '.' ? '' : dir))
      .filter((dir) => !inventoryDirs.includes(dir));
    const rest = all.filter((dir) => !adjacent.includes(dir) && !otherInventories.includes(dir));
    return [...adjacent.filter((dir) => inventoryDirs.includes(dir)), ...adjacent.filter((dir) => !inventoryDirs.includes(dir)), ...rest];
  };
  const sources: VarSource[] = [];
  const addFile = (path: string, kind: VarSource['kind'], roleName?: string): void => {
    const read = readVarFile(path, files.get(path) ?? '');
    if (read) sources.push({ path, kind, role: roleName, ...read });
  };
  const inline = (path: string, kind: VarSource['kind'], data: Dict): void => {
    sources.push({ path, kind, data, lines: new Map() });
  };

  // 1. role defaults (the rendering role's last)
  const roleFiles = (part: 'defaults' | 'vars'): { path: string; role: string }[] =>
    paths
      .map((path) => ({ path, info: roleOf(path) }))
      .filter(
        ({ info }) => info?.part === part && (/^main(\.ya?ml|\.json)?$/.test(info.rest) || /^main\/.+\.(ya?ml|json)$/.test(info.rest)),
      )
      .map(({ path, info }) => ({ path, role: info?.role ?? '' }));
  const playRoles = plays.flatMap((play) => play.roles);
  const byRole = (entries: { path: string; role: string }[]): { path: string; role: string }[] =>
    [...entries].sort(
      (a, b) => Number(a.role === role) - Number(b.role === role) || rank(a.role) - rank(b.role) || a.path.localeCompare(b.path),
    );
  const rank = (name: string): number => (playRoles.includes(name) ? playRoles.indexOf(name) : playRoles.length);
  for (const { path, role: roleName } of byRole(roleFiles('defaults'))) addFile(path, 'role defaults', roleName);

  // 2. inventory group vars, then group_vars files (all first, then by group order)
  for (const name of orderedGroups) {
    const vars = groups.get(name)?.vars;
    if (vars && Object.keys(vars).length > 0) inline(inventory?.path ?? 'inventory', 'inventory group vars', vars);
  }
  const groupDirs = varDirsOf('group_vars');
  for (const name of orderedGroups)
    for (const dir of groupDirs)
      for (const path of entityFiles(paths, dir === '' ? 'group_vars' : `${dir}/group_vars`, name)) addFile(path, 'group_vars');

  // 3. inventory host vars, host_vars files
  const hostVars = inventory?.hostVars.get(host);
  if (hostVars && Object.keys(hostVars).length > 0) inline(inventory?.path ?? 'inventory', 'inventory host vars', hostVars);
  for (const dir of varDirsOf('host_vars'))
    for (const path of entityFiles(paths, dir === '' ? 'host_vars' : `${dir}/host_vars`, host)) addFile(path, 'host_vars');

  // 4. play vars and vars_files (static names, relative to the playbook)
  for (const play of plays.filter(
    (entry) =>
      hostsMatching(entry.hosts, (name) => groupHosts(name), allHosts.length > 0 ? allHosts : [host]).includes(host) ||
      entry.hosts === 'all',
  )) {
    if (Object.keys(play.vars).length > 0) inline(play.path, 'play vars', play.vars);
    for (const file of play.varsFiles) {
      if (file.includes('{{')) continue;
      const resolved = posix.normalize(posix.join(posix.dirname(play.path), file));
      if (files.has(resolved)) addFile(resolved, 'vars_files');
    }
  }

  // 5. role vars (the rendering role's last)
  for (const { path, role: roleName } of byRole(roleFiles('vars'))) addFile(path, 'role vars', roleName);

  // 6. include_vars with a static file name; register and set_fact are only known at run time.
  const runtime: RuntimeVariable[] = [];
  const includeFiles: string[] = [];
  for (const path of taskFilesOf(files)) {
    let data: unknown;
    try {
      data = ansibleData(path, files.get(path) ?? '');
    } catch {
      continue;
    }
    const info = roleOf(path);
    for (const task of tasksOf(data)) {
      if (typeof task.register === 'string') runtime.push({ name: task.register, where: path, how: 'register' });
      for (const [key, args] of Object.entries(task)) {
        if (SET_FACT.has(key) && isDict(args))
          for (const name of Object.keys(args)) if (name !== 'cacheable') runtime.push({ name, where: path, how: 'set_fact' });
        if (!INCLUDE_VARS.has(key)) continue;
        const file =
          typeof args === 'string' ? args.trim().split(/\s+/)[0] : isDict(args) && typeof args.file === 'string' ? args.file : undefined;
        if (file === undefined || file.includes('{{') || (isDict(args) && args.name !== undefined)) continue;
        const searched = [
          ...(info ? [`${info.root}/vars/${file}`, `${info.root}/${file}`, `${info.root}/tasks/${file}`] : []),
          posix.join(posix.dirname(path), 'vars', file),
          posix.join(posix.dirname(path), file),
          ...plays.map((play) => posix.join(posix.dirname(play.path), file)),
          file,
        ].map((candidate) => posix.normalize(candidate));
        const found = searched.find((candidate) => files.has(candidate));
        if (found && !includeFiles.includes(found)) includeFiles.push(found);
      }
    }
  }
  for (const path of includeFiles) addFile(path, 'include_vars');
  return {
    host: { name: host, groups: orderedGroups, groupHosts: groupHostsRecord, inventory: inventory?.path },
    sources,
    runtime,
  };
}

/** Globs of every file variableSources may read, for loaders that list candidate files. */
export const VARIABLE_GLOBS = [
  '**/group_vars/**',
  '**/host_vars/**',
  '**/roles/*/defaults/**',
  '**/roles/*/vars/**',
  '**/roles/*/tasks/**/*.{yml,yaml}',
  '**/roles/*/handlers/**/*.{yml,yaml}',
  '**/ansible.cfg',
  '**/inventory',
  '**/inventory.{yml,yaml,ini}',
  '**/inventory/**',
  '**/inventories/**',
  '**/hosts',
  '**/hosts.{yml,yaml,ini}',
  '*.{yml,yaml}',
  '*/*.{yml,yaml}',
  '**/playbooks/*.{yml,yaml}',
  '**/vars/**/*.{yml,yaml,json}',
  '**/tasks/**/*.{yml,yaml}',
];
