/**
 * Beyond the report: once the gateway's only way out is the egress proxy (Bug 4), the Telegram
 * channel works only if the proxy lets api.telegram.org through. Add it to the allow-list the
 * ACL template renders, in that list's own file and style.
 */
import { isScalar, type Scalar } from 'yaml';
import type { PatchModule } from '../../src/core/types.js';
import { appendToSeq, quoteLike, where } from '../../src/toolkit/yaml-edit.js';
import { ACL_GLOBS } from '../../src/model/acl.js';
import { UnrecognisedShape } from '../../src/core/errors.js';
import { domainsCover, egressAllowList, TASK_GLOBS, TELEGRAM_API_HOST, telegramUse, VARS_GLOBS } from '../../src/model/telegram.js';

/** A sibling to copy quoting from: one whose value needs no quotes of its own (not `"*.x"`), else the last. */
function quotingSample(items: readonly unknown[]): Scalar | undefined {
  const scalars = items.filter((item) => isScalar(item));
  return scalars.find((item) => typeof item.value === 'string' && /^[\w.-]+$/.test(item.value)) ?? scalars.at(-1);
}

export const extraTelegramEgress: PatchModule = {
  id: 'telegram-egress-allowlist',
  bug: null,
  priority: 11,
  scope: 'egress',
  files: [...ACL_GLOBS, ...VARS_GLOBS, ...TASK_GLOBS],
  home: import.meta.url,

  check(repo) {
    const telegram = telegramUse(repo);
    if (!telegram.enabled) return { state: 'not-applicable', reason: `Telegram is not enabled: ${telegram.evidence}` };
    const allowList = egressAllowList(repo);
    if (!allowList) return { state: 'not-applicable', reason: 'no Smokescreen ACL template with a default allowed_domains list' };
    const { source } = allowList;
    const named =
      source.kind === 'variable'
        ? `${source.variable} (${where(source.tpl, source.list)})`
        : `the allowed_domains list at ${where(source.tpl, source.list)}`;
    // A literal item of the variable the template prints is in the rendered list, even when another item does not render (an unknown filter).
    const literalItems =
      source.kind === 'variable'
        ? source.list.items
            .filter((item): item is Scalar => isScalar(item) && typeof item.value === 'string' && !item.value.includes('{{'))
            .map((item) => String(item.value))
        : [];
    if (domainsCover(allowList.rendered, TELEGRAM_API_HOST) || domainsCover(literalItems, TELEGRAM_API_HOST)) {
      return { state: 'fixed', reason: `the egress allow-list lets ${TELEGRAM_API_HOST} through (${named})` };
    }
    if (allowList.unknown.length > 0) {
      throw new UnrecognisedShape(
        `Telegram is enabled (${telegram.evidence}), but ${named} cannot be known without running the play: ${allowList.unknown.join('; ')}`,
      );
    }
    const item = quoteLike(quotingSample(source.list.items), TELEGRAM_API_HOST);
    return {
      state: 'needs-fix',
      reason: `Telegram is enabled (${telegram.evidence}) but ${named} lacks ${TELEGRAM_API_HOST}`,
      edits: [appendToSeq(source.tpl, source.list, [item])],
      changes: [
        `${source.tpl.path}: added ${TELEGRAM_API_HOST} to ${source.kind === 'variable' ? source.variable : "the ACL default rule's allowed_domains"}`,
      ],
    };
  },
};
