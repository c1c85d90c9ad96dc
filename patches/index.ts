/**
 * Every patch module, in apply order. Adding a patch: write its module beside this file, add
 * it to the list; the engine sorts by `priority` and checks the numbers are unique.
 */
import type { Patch } from '../src/types.js';
import { bug7 } from './bug7-litellm-egress-dependency.js';

export const allPatches: readonly Patch[] = [bug7].sort((a, b) => a.priority - b.priority);
