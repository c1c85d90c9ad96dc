/**
 * The rendered Compose files of the repo: the base file (the one that defines the egress
 * proxy, or else the gateway) and every overlay, with the services verify is about found by
 * name or, failing that, by what they run.
 */
import { mayBeComposeFile, mayDefineKey } from '../core/failure.js';
import { isDict, type Dict, type RenderedYaml, type VerifyContext, locateKeys } from './context.js';

export interface ComposeFile {
  readonly rendered: RenderedYaml;
  readonly data: Dict;
  readonly services: Dict;
}

export interface Stack {
  readonly base: ComposeFile;
  readonly overlays: readonly ComposeFile[];
  /** Service keys in the base file; undefined when the base file has no such service. */
  readonly egress: string | undefined;
  readonly gateway: string | undefined;
  readonly litellm: string | undefined;
}

export const EGRESS_PORT_DEFAULT = 4750;

/** A Compose file: `services` maps names to service mappings (a Smokescreen ACL's `services: {}` is not one). */
function asCompose(rendered: RenderedYaml): ComposeFile | undefined {
  if (!isDict(rendered.data) || !isDict(rendered.data.services)) return undefined;
  const services = rendered.data.services;
  const entries = Object.values(services);
  if (entries.length === 0 || !entries.every((service) => service === null || isDict(service))) return undefined;
  return { rendered, data: rendered.data, services };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? '');
}

function findService(services: Dict, name: string, looksLike: (service: Dict) => boolean): string | undefined {
  if (isDict(services[name]) || services[name] === null) return name;
  return Object.keys(services).find((key) => isDict(services[key]) && looksLike(services[key] as Dict));
}

/** A service the file defines in full (an image, a build or `extends`), not one an overlay only adds keys to (labels). */
function definesInFull(services: Dict, name: string | undefined): boolean {
  const service = name === undefined ? undefined : services[name];
  return isDict(service) && ['image', 'build', 'extends'].some((key) => key in service);
}

const isEgress = (service: Dict): boolean =>
  /--egress-acl-file/.test(text(service.command)) || /smokescreen/i.test(text(service.build) + text(service.image));
const isGateway = (service: Dict): boolean => /(^|\/)openclaw\/openclaw[:@]/.test(text(service.image));
const isLitellm = (service: Dict): boolean => /litellm/i.test(text(service.image));

/**
 * The repo's Compose stack, or undefined when no role template is a Compose file. A template
 * that does not parse or render stops only the checks that need it: one that may hold the base
 * services throws here; another Compose file (an overlay) throws when a check reads
 * `overlays`; one that is clearly not Compose (an ACL's `services: {}`) is passed over.
 */
export function findStack(ctx: VerifyContext): Stack | undefined {
  const files: ComposeFile[] = [];
  const broken: { path: string; error: unknown }[] = [];
  for (const path of ctx.roleAssets().filter((asset) => /\.ya?ml(\.j2)?$/.test(asset) && /^services\s*:/m.test(ctx.read(asset)))) {
    try {
      const file = asCompose(ctx.renderYaml(path));
      if (file) files.push(file);
    } catch (error) {
      const text = ctx.read(path);
      if (!mayBeComposeFile(text)) continue;
      if (
        mayDefineKey(text, 'openclaw-egress') ||
        mayDefineKey(text, 'openclaw') ||
        /--egress-acl-file|smokescreen|openclaw\/openclaw[:@]/i.test(text)
      )
        throw error;
      broken.push({ path, error });
    }
  }
  const defines = (file: ComposeFile, looksLike: (service: Dict) => boolean, name: string): boolean =>
    definesInFull(file.services, findService(file.services, name, looksLike));
  const base =
    files.find((file) => defines(file, isEgress, 'openclaw-egress')) ?? files.find((file) => defines(file, isGateway, 'openclaw'));
  if (!base) {
    if (broken[0]) throw broken[0].error;
    return undefined;
  }
  const overlays = files.filter((file) => file !== base);
  return {
    base,
    get overlays(): readonly ComposeFile[] {
      if (broken[0]) throw broken[0].error;
      return overlays;
    },
    egress: findService(base.services, 'openclaw-egress', isEgress),
    gateway: findService(base.services, 'openclaw', isGateway),
    litellm: findService(base.services, 'litellm', isLitellm),
  };
}

export function serviceOf(file: ComposeFile, name: string): Dict {
  const service = file.services[name];
  return isDict(service) ? service : {};
}

/** `file:line` of a key path under a service in a Compose file's template. */
export function whereInService(file: ComposeFile, service: string, ...keys: (string | number)[]): string {
  return locateKeys(file.rendered.tpl, ['services', service, ...keys]);
}

/** A Compose `command:` (list or string) as words. */
export function commandWords(command: unknown): string[] {
  if (Array.isArray(command)) return command.map(String);
  if (typeof command === 'string') return command.split(/\s+/).filter(Boolean);
  return [];
}

/** The value of a `--flag=value` or `--flag value` option in a word list. */
export function flagValue(words: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    if (word.startsWith(`${flag}=`)) return word.slice(flag.length + 1);
    if (word === flag) return words[i + 1];
  }
  return undefined;
}

/** Names in a `depends_on:` (short list or long mapping). */
export function dependencies(service: Dict): string[] {
  const depends = service.depends_on;
  if (Array.isArray(depends)) return depends.map(String);
  if (isDict(depends)) return Object.keys(depends);
  return [];
}
