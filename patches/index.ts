/**
 * Every patch module, in apply order. Adding a patch: write its module beside this file, add
 * it to the list; the engine sorts by `priority` and checks the numbers are unique.
 */
import type { Patch } from '../src/core/types.js';
import { bug1 } from './egress-tcp-healthcheck/egress-tcp-healthcheck.js';
import { bug2 } from './egress-writable-run/egress-writable-run.js';
import { bug3 } from './egress-plain-http-role/egress-plain-http-role.js';
import { bug4 } from './gateway-no-direct-egress/gateway-no-direct-egress.js';
import { bug5 } from './litellm-budget-where-read/litellm-budget-where-read.js';
import { bug6 } from './telegram-token-no-argv/telegram-token-no-argv.js';
import { bug7 } from './litellm-no-egress-dependency/litellm-no-egress-dependency.js';
import { bug8 } from './handlers-first-run-safe/handlers-first-run-safe.js';
import { bug9 } from './backup-images-prepulled/backup-images-prepulled.js';
import { extraAclServicesList } from './acl-services-list/acl-services-list.js';
import { extraTelegramEgress } from './telegram-egress-allowlist/telegram-egress-allowlist.js';

export const allPatches: readonly Patch[] = [bug2, bug1, bug3, bug4, bug7, extraAclServicesList, extraTelegramEgress, bug6, bug5, bug8, bug9].sort((a, b) => a.priority - b.priority);
