/**
 * Every fix, in apply order: the report's priority list (bugs 2, 1, 3, 5, 4, 6, 7, 8, 9), then
 * the fixes beyond the report. This list is the one place the order is written; loadPatches
 * checks each module's `priority` agrees with it. Adding a fix: a folder patches/<id>/ holding
 * <id>.ts, <id>.md and <id>.test.ts, and one line here (docs/extending.md walks through it).
 */
import { loadPatches } from '../src/core/patch-home.js';
import type { Patch } from '../src/core/types.js';
import { bug2 } from './egress-writable-run/egress-writable-run.js';
import { bug1 } from './egress-tcp-healthcheck/egress-tcp-healthcheck.js';
import { bug3 } from './egress-plain-http-role/egress-plain-http-role.js';
import { bug5 } from './litellm-budget-where-read/litellm-budget-where-read.js';
import { bug4 } from './gateway-no-direct-egress/gateway-no-direct-egress.js';
import { bug6 } from './telegram-token-no-argv/telegram-token-no-argv.js';
import { bug7 } from './litellm-no-egress-dependency/litellm-no-egress-dependency.js';
import { bug8 } from './handlers-first-run-safe/handlers-first-run-safe.js';
import { bug9 } from './backup-images-prepulled/backup-images-prepulled.js';
import { extraAclServicesList } from './acl-services-list/acl-services-list.js';
import { extraTelegramEgress } from './telegram-egress-allowlist/telegram-egress-allowlist.js';

export const allPatches: readonly Patch[] = loadPatches([
  bug2,
  bug1,
  bug3,
  bug5,
  bug4,
  bug6,
  bug7,
  bug8,
  bug9,
  extraAclServicesList,
  extraTelegramEgress,
]);
