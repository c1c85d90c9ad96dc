/**
 * `openclaw-fix verify`: proves each bug's property on the repo's RENDERED output, for a
 * reviewer who does not trust the patch modules. It shares nothing with them but the renderer
 * (src/model/render/render.ts), the YAML-with-Jinja parser and the Compose network model
 * (src/model/compose-model.ts); every check finds its files by role and content and reads what
 * Ansible would deploy. `--apply` runs it before and after the planned fixes and refuses to
 * write a branch on which a committed fix does not hold or a property that held stops holding.
 */
import { PLAYBOOK_GLOBS } from '../model/compose-deploy.js';
import type { Plan } from '../core/engine.js';
import { loadCommitFiles, type Git } from '../git/git.js';
import { VARIABLE_GLOBS } from '../model/render/render.js';
import { failureReason, UnknownValues } from '../core/failure.js';
import { unknownReasons } from '../model/render/render.js';
import { VerifyContext } from './context.js';
import { checkAclServices, checkPlainHttpRole, checkTcpHealthcheck, checkWritableRun } from './egress.js';
import { checkBudgetWhereRead } from './litellm.js';
import { checkGatewayIsolation, checkLitellmDependency } from './network.js';
import { notChecked, type CheckStatus, type Outcome } from './outcome.js';
import { findStack, type Stack } from './stack.js';
import { checkHandlersFirstRun, checkImagesPrepulled, checkTelegramToken } from './tasks.js';
import { UserError } from '../core/errors.js';
import type { PatchModule } from '../core/types.js';
// The fixes whose properties verify proves: only their bug number and id are used, never their code.
import { extraAclServicesList } from '../../patches/acl-services-list/acl-services-list.js';
import { bug9 } from '../../patches/backup-images-prepulled/backup-images-prepulled.js';
import { bug3 } from '../../patches/egress-plain-http-role/egress-plain-http-role.js';
import { bug1 } from '../../patches/egress-tcp-healthcheck/egress-tcp-healthcheck.js';
import { bug2 } from '../../patches/egress-writable-run/egress-writable-run.js';
import { bug4 } from '../../patches/gateway-no-direct-egress/gateway-no-direct-egress.js';
import { bug8 } from '../../patches/handlers-first-run-safe/handlers-first-run-safe.js';
import { bug5 } from '../../patches/litellm-budget-where-read/litellm-budget-where-read.js';
import { bug7 } from '../../patches/litellm-no-egress-dependency/litellm-no-egress-dependency.js';
import { bug6 } from '../../patches/telegram-token-no-argv/telegram-token-no-argv.js';

export type { CheckStatus } from './outcome.js';

export interface VerifyCheck {
  /** The report's bug number, or null for a property beyond the report. */
  readonly bug: number | null;
  /** The id of the patch module that fixes it. */
  readonly id: string;
  readonly status: CheckStatus;
  /** For `failed`: what is wrong, with `file:line`. */
  readonly message: string;
  /** The exception that stopped the check (status not-checked), for --debug; never in --json. */
  readonly error?: unknown;
}

export interface VerifyReport {
  readonly checks: readonly VerifyCheck[];
}

export interface VerifyOptions {
  /** Compile and exercise the Smokescreen entrypoint with Go (default true; 'not-checked' without Go). */
  readonly goCheck?: boolean;
  /** Reuse and record the Go proof's verdict in the user's cache (default true; --no-cache). */
  readonly goCache?: boolean;
}

/** Every file verify reads: the roles, wherever Ansible reads variables (inventory, group_vars, host_vars, ansible.cfg), the playbooks (which role brings up which Compose files). */
export const VERIFY_GLOBS = [...new Set(['**/roles/**', ...VARIABLE_GLOBS, ...PLAYBOOK_GLOBS])];

interface Check {
  /** The fix whose property this is: the check takes its bug number and id from the module. */
  readonly patch: Pick<PatchModule, 'bug' | 'id'>;
  run(ctx: VerifyContext, stack: () => Stack | undefined, options: Required<VerifyOptions>): Outcome | Promise<Outcome>;
}

/** In the fixes' apply order. */
const CHECKS: readonly Check[] = [
  { patch: bug2, run: (_ctx, stack) => checkWritableRun(stack()) },
  { patch: bug1, run: (ctx, stack) => checkTcpHealthcheck(ctx, stack()) },
  { patch: bug3, run: (ctx, _stack, options) => checkPlainHttpRole(ctx, options.goCheck, options.goCache) },
  { patch: bug5, run: (ctx) => checkBudgetWhereRead(ctx) },
  { patch: bug4, run: (ctx, stack) => checkGatewayIsolation(ctx, stack()) },
  { patch: bug6, run: (ctx) => checkTelegramToken(ctx) },
  { patch: bug7, run: (_ctx, stack) => checkLitellmDependency(stack()) },
  { patch: bug8, run: (ctx, stack) => checkHandlersFirstRun(ctx, stack()) },
  { patch: bug9, run: (ctx) => checkImagesPrepulled(ctx) },
  { patch: extraAclServicesList, run: (ctx) => checkAclServices(ctx) },
];

/**
 * Checks every property on `files` (repo-relative path → text: at least VERIFY_GLOBS). A
 * problem in one file — malformed YAML, unbalanced Jinja, a template or variable that does not
 * render — stops only the checks that read it: each says `not checked` with the file, the line
 * and why, and every other check still runs. Only the Compose stack is shared: it is found
 * once, when the first check needs it, and its failure is that of every check that needs it.
 */
export async function verifyRepo(files: ReadonlyMap<string, string>, options: VerifyOptions = {}): Promise<VerifyReport> {
  const resolved: Required<VerifyOptions> = { goCheck: options.goCheck ?? true, goCache: options.goCache ?? true };
  const ctx = new VerifyContext(files);
  let found: { stack: Stack | undefined } | { error: unknown } | undefined;
  const stack = (): Stack | undefined => {
    if (!found) {
      try {
        found = { stack: findStack(ctx) };
      } catch (error) {
        found = { error };
      }
    }
    if ('error' in found) throw found.error;
    return found.stack;
  };
  const checks: VerifyCheck[] = [];
  for (const check of CHECKS) {
    let outcome: Outcome;
    let error: unknown;
    try {
      outcome = await check.run(ctx, stack, resolved);
    } catch (caught) {
      error = caught;
      outcome = notChecked(failureReason(caught, undefined, `verify's ${checkLabel(check.patch)} check`));
    }
    // A failure whose evidence holds a value only Ansible knows at run time (a lookup, a fact, a
    // variable of a file that could not be read) is not a verified failure: not checked, and why.
    const unknowns = outcome.status === 'failed' || outcome.status === 'not-applicable' ? unknownReasons(outcome.message) : [];
    if (unknowns.length > 0) {
      error = new UnknownValues(unknowns);
      outcome = notChecked(`it depends on ${unknowns.join('; ')}`);
    }
    checks.push({
      bug: check.patch.bug,
      id: check.patch.id,
      status: outcome.status,
      message: outcome.message,
      ...(error === undefined ? {} : { error }),
    });
  }
  return { checks };
}

/** `bug 2`, or `extra <id>` for a fix beyond the report. */
function checkLabel(check: Pick<VerifyCheck, 'bug' | 'id'>): string {
  return check.bug === null ? `extra ${check.id}` : `bug ${check.bug}`;
}

/** One line per check: `bug N: ok`, `bug N: <what is wrong, file:line>`, `bug N: not checked: …`. */
export function verifyLine(check: VerifyCheck): string {
  const label = checkLabel(check);
  switch (check.status) {
    case 'ok':
      return `${label}: ok`;
    case 'failed':
      return `${label}: ${check.message}`;
    case 'not-checked':
      return `${label}: not checked: ${check.message}`;
    case 'not-applicable':
      return `${label}: not applicable (${check.message})`;
  }
}

/** True when no check failed (not-checked and not-applicable do not fail). */
export function verifyPassed(report: VerifyReport): boolean {
  return report.checks.every((check) => check.status !== 'failed');
}

/**
 * Why a planned result must not be written: a fix being committed that does not verify
 * (`ok`, or `not-checked` where only a missing tool stops the proof) on the result, or a
 * property that held before the fixes and fails after them. Fixes without a verify check and
 * properties that failed before (another bug the run leaves alone) are not held against it.
 */
export function applyProblems(before: VerifyReport, after: VerifyReport, committedIds: readonly string[]): string[] {
  const failing = failingFixes(after, committedIds);
  return [...[...failing.values()].map((why) => why), ...regressions(before, after, committedIds)];
}

/** Each fix being committed whose property does not verify on the result (failed, or not applicable): its id → why. */
export function failingFixes(after: VerifyReport, committedIds: readonly string[]): Map<string, string> {
  const failing = new Map<string, string>();
  for (const check of after.checks) {
    if (committedIds.includes(check.id) && check.status !== 'ok' && check.status !== 'not-checked') {
      failing.set(
        check.id,
        `${checkLabel(check)} is committed but does not verify: ${check.status === 'failed' ? check.message : `${check.status} (${check.message})`}`,
      );
    }
  }
  return failing;
}

/** Properties not being fixed that held before the fixes and fail after them. */
function regressions(before: VerifyReport, after: VerifyReport, committedIds: readonly string[]): string[] {
  const problems: string[] = [];
  for (const check of after.checks) {
    const previous = before.checks.find((other) => other.id === check.id);
    if (!committedIds.includes(check.id) && previous?.status === 'ok' && (check.status === 'failed' || check.status === 'not-applicable')) {
      problems.push(`${checkLabel(check)} held before the fixes and fails after them: ${check.message}`);
    }
  }
  return problems;
}

/**
 * For each fix being committed whose property verify could not check on the result because a
 * file it reads could not be read, parsed or rendered: its id → why (`file:line: …`). Such a fix
 * is still committed (its module converged), with a note saying what to check by hand. A check
 * that is not run for a reason of the machine (no Go) gets no note, so that the commits stay the
 * same wherever the tool runs.
 */
export function uncheckedFixes(after: VerifyReport, committedIds: readonly string[]): Map<string, string> {
  const unchecked = new Map<string, string>();
  for (const check of after.checks) {
    if (committedIds.includes(check.id) && check.status === 'not-checked' && check.error !== undefined)
      unchecked.set(check.id, check.message);
  }
  return unchecked;
}

/** What verify says about a planned result (ApplyOptions.verify). */
export interface VerifyVerdict {
  /** Why the result must not be written (empty: it may): a property that held before and fails after. */
  readonly problems: readonly string[];
  /** Fixes being committed whose property fails on the result, with why: those fixes are left out, the others committed. */
  readonly failing: ReadonlyMap<string, string>;
  /** Committed fixes verify could not check, with why: each is committed with a note (uncheckedFixes). */
  readonly notChecked: ReadonlyMap<string, string>;
}

/**
 * The `ApplyOptions.verify` callback: verifies the planned result (the base commit's files with
 * the plan's changes) and, when a property not being fixed fails there, the base commit's files,
 * and says what stops the branch, which fixes fail and which could not be checked. Reads only
 * from the object database, like the rest of --apply; its `globs` let --apply read these files
 * with its own.
 */
export function applyVerifier(
  git: Git,
  options: VerifyOptions = {},
): ((plan: Plan, base?: string) => Promise<VerifyVerdict>) & { readonly globs: readonly string[] } {
  const verify = async (plan: Plan, base?: string): Promise<VerifyVerdict> => {
    const head = base ?? (await git.head());
    if (!head) throw new UserError(`${git.root} has no commits yet; commit the deployment repo first`);
    const before = (await loadCommitFiles(git, head, VERIFY_GLOBS)).files;
    const after = new Map(before);
    for (const [path, text] of plan.result) after.set(path, text);
    const afterReport = await verifyRepo(after, options);
    const committed = plan.pending.map((outcome) => outcome.patch.id);
    // The base is verified only when the result can show a regression (a property not being
    // fixed that fails there): on a run that fixes everything it showed none, at the cost of a
    // second verify.
    const mayRegress = afterReport.checks.some(
      (check) => !committed.includes(check.id) && (check.status === 'failed' || check.status === 'not-applicable'),
    );
    const beforeReport = mayRegress ? await verifyRepo(before, options) : { checks: [] };
    return {
      problems: regressions(beforeReport, afterReport, committed),
      failing: failingFixes(afterReport, committed),
      notChecked: uncheckedFixes(afterReport, committed),
    };
  };
  return Object.assign(verify, { globs: VERIFY_GLOBS });
}
