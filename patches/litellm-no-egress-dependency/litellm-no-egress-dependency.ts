/**
 * Bug 7: LiteLLM waits for the egress proxy to be healthy before it starts, though it needs the
 * proxy only when it forwards a model request. Remove that one dependency; the gateway keeps it.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import type { PatchModule } from '../../src/core/types.js';
import { pairOf, removeFromMap, removeFromSeq, where } from '../../src/toolkit/yaml-edit.js';
import { UnrecognisedShape } from '../../src/core/errors.js';
import { COMPOSE_TEMPLATE_GLOBS, serviceToCheck, stackServiceName } from '../../src/model/compose-templates.js';

export const bug7: PatchModule = {
  id: 'litellm-no-egress-dependency',
  bug: 7,
  priority: 7,
  scope: 'compose',
  files: COMPOSE_TEMPLATE_GLOBS,
  home: import.meta.url,

  check(repo) {
    const LITELLM = stackServiceName(repo, 'litellm');
    const EGRESS = stackServiceName(repo, 'egress');
    const found = serviceToCheck(repo, LITELLM, ['depends_on']);
    if (!found) return { state: 'not-applicable', reason: `no Compose template defines ${LITELLM}` };
    const { tpl, service: litellm } = found;
    const dependsPair = pairOf(litellm, 'depends_on');
    const depends = dependsPair?.value;
    if (!dependsPair || !depends) return { state: 'fixed', reason: `${LITELLM} has no depends_on in ${tpl.path}` };

    if (isMap(depends)) {
      // Long form: `depends_on: { redis: { condition: service_healthy }, openclaw-egress: … }`.
      const egress = pairOf(depends, EGRESS);
      if (!egress) return { state: 'fixed', reason: `${LITELLM} does not depend on ${EGRESS} (${where(tpl, dependsPair)})` };
      const onlyEntry = depends.items.length === 1;
      return {
        state: 'needs-fix',
        reason: `${LITELLM} waits for ${EGRESS} at ${where(tpl, egress)}`,
        edits: [onlyEntry ? removeFromMap(tpl, litellm, 'depends_on') : removeFromMap(tpl, depends, EGRESS)],
        changes: [
          `${tpl.path}: removed ${EGRESS} from ${LITELLM}'s depends_on${onlyEntry ? ' (it was the only entry, so depends_on goes)' : ''}`,
        ],
      };
    }
    if (isSeq(depends)) {
      // Short form: `depends_on: [redis, openclaw-egress]`.
      const index = depends.items.findIndex((item) => isScalar(item) && item.value === EGRESS);
      if (index === -1) return { state: 'fixed', reason: `${LITELLM} does not depend on ${EGRESS} (${where(tpl, dependsPair)})` };
      const onlyEntry = depends.items.length === 1;
      return {
        state: 'needs-fix',
        reason: `${LITELLM} waits for ${EGRESS} at ${where(tpl, depends.items[index] as YamlNode)}`,
        edits: [onlyEntry ? removeFromMap(tpl, litellm, 'depends_on') : removeFromSeq(tpl, depends, index)],
        changes: [
          `${tpl.path}: removed ${EGRESS} from ${LITELLM}'s depends_on${onlyEntry ? ' (it was the only entry, so depends_on goes)' : ''}`,
        ],
      };
    }
    throw new UnrecognisedShape(`litellm's depends_on at ${where(tpl, dependsPair)} is neither a list nor a mapping`);
  },
};
