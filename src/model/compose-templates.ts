/**
 * Finding the deployment's Compose templates and their services, shared by the patch modules
 * that edit them. Files are found by what they contain, not by fixed paths or line numbers.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { composeDeployment, DEPLOY_TASK_GLOBS, PLAYBOOK_GLOBS, type Deployment, type StaticRender } from './compose-deploy.js';
import { mayBeComposeFile, mayDefineKey } from '../core/failure.js';
import { repoVars, staticRenderer } from './render/render.js';
import { hasJinja, parseYamlTemplate, sourceOf, type ParsedTemplate } from '../toolkit/template-yaml.js';
import type { RepoView } from '../core/types.js';
import { mapAt, pairOf, where } from '../toolkit/yaml-edit.js';
import { UnrecognisedShape } from '../core/errors.js';

/**
 * Every template or file that may be a Compose file (base or overlay): in any role, at any depth
 * of its `templates/` or `files/` (`templates/compose/docker-compose.yml.j2`), and in a
 * playbook's own `templates/` or `files/`. Which of them are Compose files is decided by content.
 */
export const COMPOSE_TEMPLATE_GLOBS = ['**/templates/**/*.{yml,yaml}.j2', '**/templates/**/*.{yml,yaml}', '**/files/**/*.{yml,yaml}'];

/** The playbooks and role tasks that say which role brings up which Compose files (src/model/compose-deploy.ts). */
export const DEPLOYMENT_GLOBS = [...PLAYBOOK_GLOBS, ...DEPLOY_TASK_GLOBS];

export interface DeploymentView {
  readonly deployment: Deployment;
  /** Renders a string with the repo's variables; undefined when it needs Ansible's runtime. */
  readonly render: StaticRender;
  /** The project directory when no task says (`openclaw_base_dir`, else `openclaw`). */
  readonly defaultDirectory: string;
}

/** The deployment's Compose `up`s as the view's playbooks and tasks run them, with the repo's variables. */
export function composeDeploymentOf(repo: RepoView): DeploymentView {
  const vars = repoVars(repo);
  const render = staticRenderer(repo);
  const deployment = composeDeployment(repo, render, (name) => name in vars);
  return { deployment, render, defaultDirectory: typeof vars.openclaw_base_dir === 'string' ? vars.openclaw_base_dir : 'openclaw' };
}

export interface ComposeFile {
  readonly tpl: ParsedTemplate;
  readonly root: YAMLMap;
  readonly services: YAMLMap;
}

/** Parses a template as a Compose file; undefined when it is YAML but not Compose (no top-level `services` map). */
function readCompose(path: string, text: string): ComposeFile | undefined {
  if (!/^services\s*:/m.test(text)) return undefined;
  let tpl: ParsedTemplate;
  try {
    tpl = parseYamlTemplate(path, text);
  } catch (error) {
    if (!mayBeComposeFile(text)) return undefined; // a broken file that is clearly not Compose (an ACL) is not ours
    throw error;
  }
  const root = tpl.documents[0]?.contents;
  if (!isMap(root)) return undefined;
  // Compose requires `services` to be a mapping: a list there is other YAML (the Smokescreen ACL's `services: []`).
  const services = pairOf(root, 'services')?.value;
  return isMap(services) ? { tpl, root, services } : undefined;
}

/**
 * Every Compose file among the role templates, in path order. A Compose file that does not
 * parse stops the caller, unless `mayHold` says its text cannot hold what the caller looks for.
 */
export function composeFiles(repo: RepoView, mayHold: (text: string) => boolean = () => true): ComposeFile[] {
  const found: ComposeFile[] = [];
  for (const path of repo.glob(...COMPOSE_TEMPLATE_GLOBS)) {
    const text = repo.read(path) ?? '';
    let compose: ComposeFile | undefined;
    try {
      compose = readCompose(path, text);
    } catch (error) {
      if (!mayHold(text)) continue;
      throw error;
    }
    if (compose) found.push(compose);
  }
  return found;
}

/**
 * True when the file defines the service in full (`image`, `build` or `extends`), not only adds
 * keys to a service another file defines (an overlay's `labels:` for monitoring).
 */
function definesInFull(compose: ComposeFile, serviceName: string): boolean {
  const service = pairOf(compose.services, serviceName)?.value;
  return isMap(service) && ['image', 'build', 'extends'].some((key) => pairOf(service, key) !== undefined);
}

/**
 * The Compose file that defines `serviceName` (the base file for 'openclaw-egress'), or
 * undefined. Overlays that only add keys to it (Compose merges them into the base's service)
 * do not count; two files that each define it in full do (UnrecognisedShape).
 */
export function composeDefining(repo: RepoView, serviceName: string): ComposeFile | undefined {
  const matches = composeFiles(repo, (text) => mayDefineKey(text, serviceName)).filter((compose) => pairOf(compose.services, serviceName));
  const full = matches.filter((compose) => definesInFull(compose, serviceName));
  const candidates = full.length > 0 ? full : matches;
  if (candidates.length > 1) {
    throw new UnrecognisedShape(
      `service '${serviceName}' is defined in more than one Compose template: ${candidates.map((m) => m.tpl.path).join(', ')}`,
    );
  }
  return candidates[0];
}

/** The overlays that add keys to a service `defining` defines: Compose merges them over it. */
function composeExtending(repo: RepoView, serviceName: string, defining: ComposeFile): ComposeFile[] {
  return composeFiles(repo).filter((compose) => compose.tpl.path !== defining.tpl.path && pairOf(compose.services, serviceName));
}

/** The services the fixes are about, by the names the report's deployment gives them. */
const STACK_SERVICES = { egress: 'openclaw-egress', litellm: 'litellm', gateway: 'openclaw' } as const;
export type StackService = keyof typeof STACK_SERVICES;

/** The source of a service's `image`, `build` and (for the egress proxy) `command`: what it runs. */
function whatItRuns(tpl: ParsedTemplate, service: YAMLMap, keys: readonly string[]): string {
  return service.items
    .filter((pair) => isScalar(pair.key) && keys.includes(String(pair.key.value)) && pair.value)
    .map((pair) => sourceOf(tpl, pair.value as YamlNode))
    .join('\n');
}

/** Text a file must contain to define such a service. */
const RUNS_TEXT: Record<StackService, RegExp> = { egress: /smokescreen|--egress-acl-file/i, litellm: /litellm/i, gateway: /openclaw/i };

const RUNS: Record<StackService, (tpl: ParsedTemplate, service: YAMLMap) => boolean> = {
  egress: (tpl, service) => /smokescreen|--egress-acl-file/i.test(whatItRuns(tpl, service, ['image', 'build', 'command', 'entrypoint'])),
  litellm: (tpl, service) => /litellm/i.test(whatItRuns(tpl, service, ['image', 'build'])),
  gateway: (tpl, service) =>
    /openclaw/i.test(whatItRuns(tpl, service, ['image'])) && !RUNS.egress(tpl, service) && !RUNS.litellm(tpl, service),
};

/**
 * The name of the stack's egress proxy, LiteLLM or gateway service: the report's name when a
 * Compose template defines it, else the one service whose image, build or command shows what it
 * runs (Smokescreen, LiteLLM, the OpenClaw image), whatever it is called. The report's name when
 * none does (the fix is then not applicable: no Compose template defines it); UnrecognisedShape
 * when several do.
 */
export function stackServiceName(repo: RepoView, role: StackService): string {
  const wanted = STACK_SERVICES[role];
  const named = (pair: Pair): string => (isScalar(pair.key) ? String(pair.key.value) : '');
  // Files that cannot hold what is looked for are skipped when they do not parse (src/core/failure.ts).
  if (
    composeFiles(repo, (text) => mayDefineKey(text, wanted)).some((compose) =>
      compose.services.items.some((pair) => named(pair) === wanted),
    )
  )
    return wanted;
  const matches: string[] = [];
  for (const compose of composeFiles(repo, (text) => RUNS_TEXT[role].test(text))) {
    for (const pair of compose.services.items) {
      if (isMap(pair.value) && RUNS[role](compose.tpl, pair.value) && !matches.includes(named(pair))) matches.push(named(pair));
    }
  }
  if (matches.length > 1)
    throw new UnrecognisedShape(
      `more than one Compose service looks like the ${role === 'egress' ? 'egress proxy (Smokescreen)' : role === 'litellm' ? 'LiteLLM proxy' : 'OpenClaw gateway'}: ${matches.join(', ')}`,
    );
  return matches[0] ?? wanted;
}

/** The service's mapping; UnrecognisedShape when the entry is not a mapping. */
function serviceMap(compose: ComposeFile, serviceName: string): YAMLMap | undefined {
  return mapAt(compose.tpl, compose.services, serviceName);
}

/** A service a check works on: the Compose file that defines it, its entry (for file:line) and its mapping. */
export interface DefinedService {
  readonly compose: ComposeFile;
  readonly tpl: ParsedTemplate;
  readonly pair: Pair<Scalar, YamlNode | null>;
  readonly service: YAMLMap;
}

/**
 * The service `serviceName` for a check; undefined when no Compose template defines it (the fix
 * does not apply). UnrecognisedShape when it is defined twice, is not a mapping, or an overlay
 * sets one of `keysRead` (it would replace the base's value).
 */
export function serviceToCheck(repo: RepoView, serviceName: string, keysRead: readonly string[] = []): DefinedService | undefined {
  const compose = composeDefining(repo, serviceName);
  if (!compose) return undefined;
  const service = serviceMap(compose, serviceName);
  if (!service) throw new UnrecognisedShape(`service ${serviceName} in ${compose.tpl.path} is not a mapping`);
  // An overlay that sets a key the check reads replaces the base's value when both are brought up.
  for (const overlay of composeExtending(repo, serviceName, compose)) {
    const extension = pairOf(overlay.services, serviceName)?.value;
    const overridden = isMap(extension) ? keysRead.map((key) => pairOf(extension, key)).find((pair) => pair !== undefined) : undefined;
    if (overridden) {
      throw new UnrecognisedShape(
        `${String(overridden.key.value)} of ${serviceName} is set both in ${compose.tpl.path} and in the overlay at ${where(overlay.tpl, overridden)}: Compose merges the overlay's over the base's`,
      );
    }
  }
  return { compose, tpl: compose.tpl, pair: pairOf(compose.services, serviceName)!, service };
}

// ---------------------------------------------------------------------------------------------
// A service's `command:` as arguments with offsets (appended for the egress fixes, Bugs 1 and 2)

/** One argument of a service's `command`, with the offsets of its text in the original file. */
export interface CommandArg {
  /** The argument as the container gets it, Jinja left as written (`--listen-port={{ p }}`). */
  readonly value: string;
  /** Offsets of the argument's text (inside the quotes of a quoted item). */
  readonly start: number;
  readonly end: number;
  /** The list item holding it (list form), or the whole string scalar (string form). */
  readonly node: Scalar;
  readonly hasJinja: boolean;
}

export interface ServiceCommand {
  readonly form: 'list' | 'string';
  readonly pair: Pair<Scalar, YamlNode | null>;
  /** The list (list form) or the scalar (string form). */
  readonly node: YAMLSeq | Scalar;
  readonly args: readonly CommandArg[];
}

/** A command flag found in the arguments: `--name=value`, `--name value` (and single-dash spellings). */
export interface CommandFlag {
  readonly flag: CommandArg;
  /** The argument carrying the value: `flag` itself for `--name=value`, the next one otherwise. */
  readonly valueArg: CommandArg | undefined;
  readonly value: string | undefined;
  /** Offsets of the value's text. */
  readonly valueStart: number;
  readonly valueEnd: number;
}

function scalarText(tpl: ParsedTemplate, node: Scalar): { text: string; start: number; end: number } | undefined {
  const [start, end] = node.range ?? [0, 0];
  const source = tpl.text.slice(start, end);
  if (node.type === 'PLAIN') return source.includes('\n') ? undefined : { text: source, start, end };
  if (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') {
    const inner = source.slice(1, -1);
    // Escapes would make source offsets differ from the value's: not ours to guess.
    if (
      inner.includes('\n') ||
      (node.type === 'QUOTE_DOUBLE' && inner.includes('\\')) ||
      (node.type === 'QUOTE_SINGLE' && inner.includes("''"))
    )
      return undefined;
    return { text: inner, start: start + 1, end: end - 1 };
  }
  return undefined;
}

/**
 * The words of a command line without quotes (a string `command`, the probe of a healthcheck
 * `test`), each with its offset in `text`. A Jinja expression counts as part of one word even
 * when it contains blanks.
 */
export function commandLineWords(text: string): { word: string; index: number }[] {
  return [...text.matchAll(/(?:\{\{.*?\}\}|\S)+/g)].map((match) => ({ word: match[0], index: match.index }));
}

/**
 * The service's `command` as arguments with offsets; undefined when it has none. A list with
 * items that are not single-line scalars, a block scalar, or a string with quotes or escapes
 * inside is UnrecognisedShape (Compose would split such a string shell-style).
 */
export function serviceCommand(tpl: ParsedTemplate, service: YAMLMap): ServiceCommand | undefined {
  const pair = pairOf(service, 'command');
  if (!pair || pair.value === null) return undefined;
  const node = pair.value;
  if (isSeq(node)) {
    const args = node.items.map((item) => {
      if (!isScalar(item)) throw new UnrecognisedShape(`command item at ${where(tpl, item as YamlNode)} is not a plain string`);
      const text = scalarText(tpl, item);
      if (!text) throw new UnrecognisedShape(`command item at ${where(tpl, item)} is a multi-line or escaped string`);
      return { value: text.text, start: text.start, end: text.end, node: item, hasJinja: hasJinja(tpl, item) };
    });
    return { form: 'list', pair, node, args };
  }
  if (isScalar(node)) {
    const text = scalarText(tpl, node);
    if (!text || /["'\\]/.test(text.text))
      throw new UnrecognisedShape(
        `command at ${where(tpl, node)} is a string Compose would split shell-style (quotes, escapes or several lines)`,
      );
    const args = commandLineWords(text.text).map(({ word, index }): CommandArg => {
      const start = text.start + index;
      const end = start + word.length;
      return { value: word, start, end, node, hasJinja: tpl.jinja.some((span) => span.start < end && span.end > start) };
    });
    return { form: 'string', pair, node, args };
  }
  throw new UnrecognisedShape(`command at ${where(tpl, node)} is neither a list nor a string`);
}

/** Finds `--name` (any of the spellings Go's flag parsers accept) among the command's arguments. */
export function commandFlag(command: ServiceCommand, name: string): CommandFlag | undefined {
  const spellings = [`--${name}`, `-${name}`];
  for (const [index, arg] of command.args.entries()) {
    const inline = spellings.find((spelling) => arg.value.startsWith(`${spelling}=`));
    if (inline) {
      const valueStart = arg.start + inline.length + 1;
      return { flag: arg, valueArg: arg, value: arg.value.slice(inline.length + 1), valueStart, valueEnd: arg.end };
    }
    if (spellings.includes(arg.value)) {
      const next = command.args[index + 1];
      return { flag: arg, valueArg: next, value: next?.value, valueStart: next?.start ?? arg.end, valueEnd: next?.end ?? arg.end };
    }
  }
  return undefined;
}
