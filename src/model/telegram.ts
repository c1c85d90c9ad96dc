/**
 * Whether the deployment uses Telegram, and the Smokescreen egress allow-list: the list of
 * hosts the ACL template renders into `default.allowed_domains`, where it comes from (a group
 * var looped over by `{% for domain in <var> %}`, or literal items) and what it renders to.
 * Shared by the network fix (which warns) and the allow-list fix (which adds the host).
 */
import { isMap, isScalar, isSeq, type Node as YamlNode, type YAMLMap, type YAMLSeq } from 'yaml';
import { renderTemplate, renderYaml, repoVars, unknownReasons, VARIABLE_GLOBS, varFiles } from './render/render.js';
import { filesOfView } from '../core/repo-view.js';
import type { JinjaSpan } from '../toolkit/jinja-mask.js';
import { hasJinja, parseYamlTemplate, sourceOf, type ParsedTemplate } from '../toolkit/template-yaml.js';
import { locate } from '../toolkit/text.js';
import type { RepoView } from '../core/types.js';
import { mapAt, pairOf, where } from '../toolkit/yaml-edit.js';
import { aclFiles } from './acl.js';
import { UnrecognisedShape } from '../core/errors.js';

export const TELEGRAM_API_HOST = 'api.telegram.org';

/** Every file loadVars reads (inventory, group_vars, host_vars, role defaults and vars, include_vars, playbooks), plus the task files that configure channels. */
export const VARS_GLOBS = VARIABLE_GLOBS;
export const TASK_GLOBS = ['**/tasks/**/*.{yml,yaml}'];

export interface TelegramUse {
  readonly enabled: boolean;
  /** Why we think so, `file:line` where there is one. */
  readonly evidence: string;
}

/**
 * Telegram is enabled when `telegram_enabled` is true in the repo's vars; when no such variable
 * exists, when a role's tasks configure `channels.telegram` (they then run unconditionally).
 */
export function telegramUse(repo: RepoView): TelegramUse {
  const vars = repoVars(repo);
  if ('telegram_enabled' in vars) {
    const definedAt = varDefinitions(repo, 'telegram_enabled').at(-1);
    const at = definedAt ? ` at ${locate(definedAt.tpl.path, definedAt.tpl.text, definedAt.offset)}` : '';
    // What the integrate role's `when: telegram_enabled | bool` computes, with Ansible's bool filter.
    const rendered = renderTemplate('{{ telegram_enabled | bool }}', vars);
    const unknown = unknownReasons(rendered);
    // A value only the play knows (a lookup, a fact) is neither on nor off: say so, never guess "off".
    if (unknown.length > 0 || (rendered !== 'True' && rendered !== 'False'))
      throw new UnrecognisedShape(
        `telegram_enabled${at} is only known when the play runs (${unknown.join('; ') || `it renders as '${rendered}'`}), so whether Telegram is on cannot be told`,
      );
    const enabled = rendered === 'True';
    return { enabled, evidence: `telegram_enabled: ${String(vars.telegram_enabled)}${at}` };
  }
  for (const path of repo.glob(...TASK_GLOBS)) {
    const text = repo.read(path) ?? '';
    const offset = text.search(/\bchannels\.telegram\b/);
    if (offset !== -1) return { enabled: true, evidence: `${locate(path, text, offset)} configures channels.telegram` };
  }
  return { enabled: false, evidence: 'no telegram_enabled variable and no task configures channels.telegram' };
}

interface VarDefinition {
  readonly tpl: ParsedTemplate;
  readonly root: YAMLMap;
  readonly offset: number;
}

/** Where each variable file the repo has sets `name`, in the order Ansible reads them (the last one wins). */
export function varDefinitions(repo: RepoView, name: string): VarDefinition[] {
  const found: VarDefinition[] = [];
  for (const path of varFiles(filesOfView(repo))) {
    const text = repo.read(path) ?? '';
    const tpl = parseYamlTemplate(path, text);
    const root = tpl.documents[0]?.contents;
    if (!isMap(root)) continue;
    const pair = pairOf(root, name);
    if (pair) found.push({ tpl, root, offset: (pair.key.range ?? [0])[0] });
  }
  return found;
}

/** True when the Smokescreen domain list lets `host` through: the host itself or a `*.suffix` wildcard above it. */
export function domainsCover(domains: readonly string[], host: string): boolean {
  return domains.some((domain) => domain === host || (domain.startsWith('*.') && host.endsWith(domain.slice(1))));
}

export type AllowListSource =
  /** `{% for domain in <var> %}` in the template; the list is the variable's value in `tpl`. */
  | { readonly kind: 'variable'; readonly variable: string; readonly tpl: ParsedTemplate; readonly list: YAMLSeq }
  /** Literal items in the template itself. */
  | { readonly kind: 'literal'; readonly tpl: ParsedTemplate; readonly list: YAMLSeq };

export interface EgressAllowList {
  readonly acl: ParsedTemplate;
  /** `default.allowed_domains` of the ACL rendered with the repo's vars. */
  readonly rendered: readonly string[];
  readonly source: AllowListSource;
  /** Why `rendered` may not be what Ansible renders: the list, or a value in it, is only known when the play runs (empty when it is known). */
  readonly unknown: readonly string[];
}

const FOR_LOOP = /^for\s+\w+\s+in\s+(.+?)\s*$/;

type AclList =
  | {
      readonly tpl: ParsedTemplate;
      readonly allowed: YAMLSeq;
      /** Offset just after the `allowed_domains` key: a `{% for %}` line before the first item belongs to the list. */
      readonly from: number;
    }
  | {
      readonly tpl: ParsedTemplate;
      /** `allowed_domains: {{ egress_allowlist | to_json }}`: the whole list is one expression printing a variable. */
      readonly printed: { readonly variable: string; readonly at: string };
    };

/**
 * Filters that print a list as a list Smokescreen reads (JSON and YAML flow sequences are YAML) and
 * keep every item of it: adding a host to the variable adds it to the rendered list.
 */
const LIST_PRINTING_FILTERS = new Set(['to_json', 'to_yaml', 'to_nice_json', 'list', 'unique', 'sort']);

/**
 * The variable a scalar's one Jinja expression prints as the whole list (`{{ egress_allowlist }}`,
 * `{{ egress_allowlist | to_json }}`); UnrecognisedShape for any other expression.
 */
function printedVariable(tpl: ParsedTemplate, pair: { key: unknown; value: unknown }, value: YamlNode): string {
  const at = where(tpl, pair as Parameters<typeof where>[1]);
  const text = sourceOf(tpl, value)
    .trim()
    .replace(/^(["'])([\s\S]*)\1$/, '$2');
  const expression = /^\{\{-?\s*([\s\S]*?)\s*-?\}\}$/.exec(text)?.[1];
  if (expression === undefined || expression.includes('{{')) throw new UnrecognisedShape(`default.allowed_domains at ${at} is not a list`);
  const [variable, ...filters] = expression.split('|').map((part) => part.trim());
  const unknown = filters.find((filter) => !LIST_PRINTING_FILTERS.has(filter));
  if (variable === undefined || !/^[A-Za-z_]\w*$/.test(variable) || unknown !== undefined) {
    throw new UnrecognisedShape(
      `default.allowed_domains at ${at} is '{{ ${expression} }}', which does not print one variable as a list${unknown !== undefined ? ` (the filter '${unknown}' may change its items)` : ''}`,
    );
  }
  return variable;
}

/** The Smokescreen ACL template (lib/acl.ts finds it) whose `default` rule holds `allowed_domains`. */
function findAclTemplate(repo: RepoView): AclList | undefined {
  const matches: AclList[] = [];
  for (const { tpl, root } of aclFiles(repo)) {
    const rule = mapAt(tpl, root, 'default');
    const allowedPair = rule ? pairOf(rule, 'allowed_domains') : undefined;
    if (!rule || !allowedPair) continue;
    if (isScalar(allowedPair.value) && hasJinja(tpl, allowedPair.value as YamlNode)) {
      matches.push({
        tpl,
        printed: { variable: printedVariable(tpl, allowedPair, allowedPair.value as YamlNode), at: where(tpl, allowedPair) },
      });
      continue;
    }
    if (!isSeq(allowedPair.value)) throw new UnrecognisedShape(`default.allowed_domains at ${where(tpl, allowedPair)} is not a list`);
    matches.push({ tpl, allowed: allowedPair.value, from: allowedPair.key.range?.[1] ?? 0 });
  }
  if (matches.length > 1) throw new UnrecognisedShape(`more than one egress ACL template: ${matches.map((m) => m.tpl.path).join(', ')}`);
  return matches[0];
}

/**
 * The egress allow-list, or undefined when the repo has no Smokescreen ACL template.
 * UnrecognisedShape when the list's source cannot be edited safely (a loop over an expression,
 * a variable defined only in the vault or as Jinja).
 */
export function egressAllowList(repo: RepoView): EgressAllowList | undefined {
  const found = findAclTemplate(repo);
  if (!found) return undefined;
  if ('printed' in found) {
    const { tpl, printed } = found;
    const rendered = renderedAllowList(repo, tpl);
    return {
      acl: tpl,
      rendered,
      source: { kind: 'variable', variable: printed.variable, ...variableList(repo, printed.variable, `printed at ${printed.at}`) },
      unknown: unknownOf(repo, rendered, printed.variable),
    };
  }
  const { tpl, allowed, from } = found;
  const rendered = renderedAllowList(repo, tpl);
  const end = allowed.range?.[2] ?? from;
  const loops = loopsIn(tpl, from, end);
  if (loops.length === 0)
    return { acl: tpl, rendered, source: { kind: 'literal', tpl, list: allowed }, unknown: unknownOf(repo, rendered) };
  // The list the template always renders: a loop under an `{% if %}` (`egress_extra_domains is
  // defined`) renders only on some hosts, so the host goes to the loop outside every condition.
  const always = loops.filter((loop) => !loop.conditional);
  const loop = always[0];
  const at = (span: { start: number }): string => locate(tpl.path, tpl.text, span.start);
  if (!loop) {
    throw new UnrecognisedShape(
      `every allowed_domains loop is under a condition (${loops.map((l) => `'{% ${l.span.body} %}' at ${at(l.span)}`).join(', ')}): none is rendered on every host`,
    );
  }
  const variable = FOR_LOOP.exec(loop.span.body)?.[1];
  if (always.length > 1 || !variable || !/^[A-Za-z_]\w*$/.test(variable)) {
    throw new UnrecognisedShape(
      `the allowed_domains loop at ${at(loop.span)} does not loop over one variable ('{% ${loop.span.body} %}'${always.length > 1 ? `, and ${always.length - 1} more unconditional loop(s)` : ''})`,
    );
  }
  return {
    acl: tpl,
    rendered,
    source: { kind: 'variable', variable, ...variableList(repo, variable, `looped over at ${at(loop.span)}`) },
    unknown: unknownOf(repo, rendered, variable),
  };
}

/** Why a rendered allow-list may not be Ansible's: a value only the play knows in it, or in the variable it comes from (a loop over a value that does not render renders nothing). */
function unknownOf(repo: RepoView, rendered: readonly string[], variable?: string): string[] {
  return [...new Set([...unknownReasons(rendered), ...(variable === undefined ? [] : unknownReasons(repoVars(repo)[variable]))])];
}

/** The literal list that gives `variable` its value (the definition that wins); UnrecognisedShape when there is none. */
function variableList(repo: RepoView, variable: string, use: string): { tpl: ParsedTemplate; list: YAMLSeq } {
  const definition = varDefinitions(repo, variable).at(-1);
  if (!definition)
    throw new UnrecognisedShape(
      `${variable}, ${use}, is not defined in the variable files Ansible reads (group_vars, host_vars, role defaults or vars)`,
    );
  const pair = pairOf(definition.root, variable)!;
  if (!isSeq(pair.value)) {
    throw new UnrecognisedShape(`${variable} at ${where(definition.tpl, pair)} is not a literal list`);
  }
  return { tpl: definition.tpl, list: pair.value };
}

interface ListLoop {
  readonly span: JinjaSpan;
  /** Inside an `{% if %}` (or another loop) opened within the list: not rendered on every host. */
  readonly conditional: boolean;
}

/** The `{% for %}` tags between two offsets of the ACL template, with whether a condition opened there encloses them. */
function loopsIn(tpl: ParsedTemplate, from: number, end: number): ListLoop[] {
  const loops: ListLoop[] = [];
  const open: string[] = [];
  for (const span of tpl.jinja) {
    if (span.kind !== 'statement' || span.start < from || span.start >= end) continue;
    const word = /^(\w+)/.exec(span.body)?.[1] ?? '';
    if (word === 'for') {
      loops.push({ span, conditional: open.length > 0 });
      open.push('for');
    } else if (word === 'if') open.push('if');
    else if (word === 'endfor' || word === 'endif') open.pop();
  }
  return loops;
}

function renderedAllowList(repo: RepoView, acl: ParsedTemplate): string[] {
  const rendered = renderYaml(acl.path, acl.text, repoVars(repo)) as { default?: { allowed_domains?: unknown } } | null;
  const domains = rendered?.default?.allowed_domains;
  return Array.isArray(domains) ? domains.map((domain) => String(domain)) : [];
}
