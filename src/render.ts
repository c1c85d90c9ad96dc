/**
 * Rendering the repo's Jinja templates the way Ansible would, with nunjucks: used to prove a
 * fix in effect (tests, `verify`) on the rendered output rather than on template text.
 */
import nunjucks from 'nunjucks';
import { parse as parseYaml } from 'yaml';
import { parseYamlTemplate } from './template-yaml.js';

export type Vars = Record<string, unknown>;

const ANSIBLE_VAULT_HEADER = '$ANSIBLE_VAULT;';

function truthy(value: unknown): boolean {
  if (typeof value === 'string') return ['yes', 'on', '1', 'true', 'y'].includes(value.trim().toLowerCase());
  return Boolean(value);
}

/** A nunjucks environment with the Ansible filters the deployment's templates use. */
export function ansibleEnvironment(): nunjucks.Environment {
  const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false, trimBlocks: true, lstripBlocks: false });
  env.addFilter('bool', truthy);
  env.addFilter('to_json', (value: unknown) => JSON.stringify(value));
  env.addFilter('to_nice_json', (value: unknown) => JSON.stringify(value, null, 4));
  env.addFilter('mandatory', (value: unknown) => {
    if (value === undefined) throw new Error('mandatory variable is undefined');
    return value;
  });
  env.addFilter('quote', (value: unknown) => `'${String(value).replace(/'/g, `'"'"'`)}'`);
  env.addFilter('int', (value: unknown) => Number.parseInt(String(value), 10) || 0);
  env.addFilter('float', (value: unknown) => Number.parseFloat(String(value)) || 0);
  env.addFilter('string', (value: unknown) => String(value));
  env.addFilter('ternary', (value: unknown, yes: unknown, no: unknown) => (truthy(value) ? yes : no));
  env.addFilter('regex_replace', (value: unknown, pattern: string, replacement = '') => String(value).replace(new RegExp(pattern, 'g'), replacement.replace(/\\(\d)/g, '$$$1')));
  env.addFilter('b64encode', (value: unknown) => Buffer.from(String(value)).toString('base64'));
  return env;
}

/**
 * Ansible renders templates with trim_blocks on: the newline after a block tag is removed.
 * nunjucks' trimBlocks does the same, so the output matches `ansible -m template` byte for byte.
 */
export function renderTemplate(text: string, vars: Vars, env = ansibleEnvironment()): string {
  return env.renderString(text, vars);
}

/** Placeholder for a variable that lives in an encrypted vault: tests and verify never see secrets. */
export function vaultPlaceholder(name: string): string {
  return `VAULT-PLACEHOLDER-${name}`;
}

/**
 * The variables a play would see for the templates: role defaults, then group_vars/all (later
 * wins, as in Ansible's precedence). Vault-encrypted files are skipped; every `vault_*` name the
 * repo references gets a placeholder. String values that are themselves Jinja (`"{{ vault_x }}"`)
 * are resolved, a few passes deep, like Ansible's lazy templating.
 */
export function loadVars(files: ReadonlyMap<string, string>, overrides: Vars = {}): Vars {
  const vars: Vars = {};
  for (const name of referencedVaultNames(files)) vars[name] = vaultPlaceholder(name);
  const sources = [...files.keys()].sort();
  const defaults = sources.filter((path) => /(^|\/)roles\/[^/]+\/defaults\/main\.ya?ml$/.test(path));
  const groupAll = sources.filter((path) => /(^|\/)group_vars\/all(\.ya?ml|\/[^/]+\.ya?ml)$/.test(path));
  for (const path of [...defaults, ...groupAll]) {
    const text = files.get(path) ?? '';
    if (text.startsWith(ANSIBLE_VAULT_HEADER)) continue;
    const data: unknown = parseYaml(text);
    if (data && typeof data === 'object' && !Array.isArray(data)) Object.assign(vars, data);
  }
  Object.assign(vars, overrides);
  return resolveLazyVars(vars);
}

function referencedVaultNames(files: ReadonlyMap<string, string>): Set<string> {
  const names = new Set<string>();
  for (const text of files.values()) for (const match of text.matchAll(/\bvault_[A-Za-z0-9_]+/g)) names.add(match[0]);
  return names;
}

function resolveLazyVars(vars: Vars): Vars {
  const env = ansibleEnvironment();
  const resolve = (value: unknown, context: Vars): unknown => {
    if (typeof value === 'string' && (value.includes('{{') || value.includes('{%'))) return env.renderString(value, context);
    if (Array.isArray(value)) return value.map((item) => resolve(item, context));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, context)]));
    return value;
  };
  let current = vars;
  for (let pass = 0; pass < 5; pass++) {
    const next = Object.fromEntries(Object.entries(current).map(([key, value]) => [key, resolve(value, current)]));
    if (JSON.stringify(next) === JSON.stringify(current)) return next;
    current = next;
  }
  return current;
}

/** Renders a YAML template and parses the result into plain data. */
export function renderYaml(path: string, text: string, vars: Vars): unknown {
  parseYamlTemplate(path, text); // refuses malformed input with file:line before rendering
  return parseYaml(renderTemplate(text, vars));
}
