/**
 * Every patch module, in apply order. Adding a patch: write its module beside this file, add
 * it to the list; the engine sorts by `priority` and checks the numbers are unique.
 */
import type { Patch } from '../src/types.js';
import { bug1 } from './bug1-egress-tcp-healthcheck.js';
import { bug2 } from './bug2-egress-writable-run.js';
import { bug3 } from './bug3-egress-plain-http-role.js';
import { bug4 } from './bug4-gateway-no-direct-egress.js';
import { bug5 } from './bug5-litellm-budget-where-read.js';
import { bug6 } from './bug6-telegram-token-no-argv.js';
import { bug7 } from './bug7-litellm-egress-dependency.js';
import { bug8 } from './bug8-handlers-first-run-safe.js';
import { bug9 } from './bug9-backup-images-prepulled.js';
import { extraAclServicesList } from './extra-acl-services-list.js';
import { extraTelegramEgress } from './extra-telegram-egress-allowlist.js';

export const allPatches: readonly Patch[] = [bug2, bug1, bug3, bug4, bug7, extraAclServicesList, extraTelegramEgress, bug6, bug5, bug8, bug9].sort((a, b) => a.priority - b.priority);
