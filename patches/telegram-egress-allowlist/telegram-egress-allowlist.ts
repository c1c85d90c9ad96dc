/**
 * Beyond the report: once the gateway's only way out is the egress proxy (Bug 4), the Telegram
 * channel works only if the proxy lets api.telegram.org through. Add it to the allow-list the
 * ACL template renders, in that list's own file and style.
 */
import { isScalar, type Scalar } from 'yaml';
import type { Patch } from '../../src/core/types.js';
import { appendToSeq, quoteLike, where } from '../../src/toolkit/yaml-edit.js';
import { ACL_GLOBS } from '../../src/model/acl.js';
import { UnrecognisedShape } from '../../src/core/errors.js';
import { domainsCover, egressAllowList, TASK_GLOBS, TELEGRAM_API_HOST, telegramUse, VARS_GLOBS } from '../../src/model/telegram.js';

/** A sibling to copy quoting from: one whose value needs no quotes of its own (not `"*.x"`), else the last. */
function quotingSample(items: readonly unknown[]): Scalar | undefined {
  const scalars = items.filter((item) => isScalar(item));
  return scalars.find((item) => typeof item.value === 'string' && /^[\w.-]+$/.test(item.value)) ?? scalars.at(-1);
}

export const extraTelegramEgress: Patch = {
  id: 'telegram-egress-allowlist',
  bug: null,
  priority: 11,
  scope: 'egress',
  title: 'let the Telegram API through the egress proxy',
  problem:
    "Telegram is enabled, but api.telegram.org is not in the egress proxy's allow-list: once the gateway can reach the internet only through the proxy (Bug 4), every Telegram call is refused with HTTP 407.",
  why: 'The gateway talks to Telegram over HTTPS through HTTP(S)_PROXY; Smokescreen lets through only the hosts in the ACL\'s default rule, which the template renders from the allow-list variable.',
  departsFromReport: null,
  details: [
    'The report makes `proxy-net` internal (Bug 4) but does not follow the consequence: the gateway then has no route',
    'out except Smokescreen, whose ACL allows only the model providers and npm. The Telegram channel',
    '(`channels.telegram`, configured by the integrate role) polls `api.telegram.org`, so it must be allowed.',
    '',
    'The list is found through the ACL template: its `default.allowed_domains` loop (`{% for domain in <var> %}`)',
    'names the variable, and the host is appended in the file that gives the variable its value (group_vars/all',
    'wins over role defaults), in that list\'s style; literal domains in the template are extended in place.',
    'A list printed whole by one expression (`allowed_domains: {{ egress_allowlist | to_json }}`, also `to_yaml`,',
    '`to_nice_json`, `list`, `unique`, `sort`) is followed to the variable it prints the same way; a filter that may',
    'drop or add items (`reject`, `select`, `+`) makes the fix unrecognised, naming it.',
    'A template that loops twice — over the allow-list and, under `{% if egress_extra_domains is defined %}`, over',
    'per-host extras — gets the host in the variable of the loop outside every condition, the one every host renders.',
    'A wildcard that covers the host (`*.telegram.org`) counts as present. Nothing changes when Telegram is not',
    'enabled (`telegram_enabled` false, or no such variable and no task configuring `channels.telegram`).',
  ].join('\n'),
  files: [...ACL_GLOBS, ...VARS_GLOBS, ...TASK_GLOBS],

  check(repo) {
    const telegram = telegramUse(repo);
    if (!telegram.enabled) return { state: 'not-applicable', reason: `Telegram is not enabled: ${telegram.evidence}` };
    const allowList = egressAllowList(repo);
    if (!allowList) return { state: 'not-applicable', reason: 'no Smokescreen ACL template with a default allowed_domains list' };
    const { source } = allowList;
    const named = source.kind === 'variable' ? `${source.variable} (${where(source.tpl, source.list)})` : `the allowed_domains list at ${where(source.tpl, source.list)}`;
    // A literal item of the variable the template prints is in the rendered list, even when another item does not render (an unknown filter).
    const literalItems = source.kind === 'variable' ? source.list.items.filter((item): item is Scalar => isScalar(item) && typeof item.value === 'string' && !item.value.includes('{{')).map((item) => String(item.value)) : [];
    if (domainsCover(allowList.rendered, TELEGRAM_API_HOST) || domainsCover(literalItems, TELEGRAM_API_HOST)) {
      return { state: 'fixed', reason: `the egress allow-list lets ${TELEGRAM_API_HOST} through (${named})` };
    }
    if (allowList.unknown.length > 0) {
      throw new UnrecognisedShape(`Telegram is enabled (${telegram.evidence}), but ${named} cannot be known without running the play: ${allowList.unknown.join('; ')}`);
    }
    const item = quoteLike(quotingSample(source.list.items), TELEGRAM_API_HOST);
    return {
      state: 'needs-fix',
      reason: `Telegram is enabled (${telegram.evidence}) but ${named} lacks ${TELEGRAM_API_HOST}`,
      edits: [appendToSeq(source.tpl, source.list, [item])],
      changes: [`${source.tpl.path}: added ${TELEGRAM_API_HOST} to ${source.kind === 'variable' ? source.variable : 'the ACL default rule\'s allowed_domains'}`],
    };
  },
};
