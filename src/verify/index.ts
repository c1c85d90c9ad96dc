/**
 * `openclaw-fix verify`: proves each bug's property on the repo's RENDERED output, for a
 * reviewer who does not trust the patch modules. It shares nothing with them but the renderer
 * (src/render.ts), the YAML-with-Jinja parser and the Compose network model
 * (src/compose-model.ts); every check finds its files by role and content and reads what
 * Ansible would deploy. `--apply` runs it before and after the planned fixes and refuses to
 * write a branch on which a committed fix does not hold or a property that held stops holding.
 */
import { PLAYBOOK_GLOBS } from '../compose-deploy.js';
import type { Plan } from '../engine.js';
import { loadCommitFiles, UserError, type Git } from '../git.js';
import { YamlTemplateError } from '../template-yaml.js';
import { VerifyContext } from './context.js';
import { checkAclServices, checkPlainHttpRole, checkTcpHealthcheck, checkWritableRun } from './egress.js';
import { checkBudgetWhereRead } from './litellm.js';
import { checkGatewayIsolation, checkLitellmDependency } from './network.js';
import type { CheckStatus, Outcome } from './outcome.js';
import { findStack, type Stack } from './stack.js';
import { checkHandlersFirstRun, checkImagesPrepulled, checkTelegramToken } from './tasks.js';

export type { CheckStatus } from './outcome.js';

export interface VerifyCheck {
  /** The report's bug number, or null for a property beyond the report. */
  readonly bug: number | null;
  /** The id of the patch module that fixes it. */
  readonly id: string;
  readonly status: CheckStatus;
  /** For `failed`: what is wrong, with `file:line`. */
  readonly message: string;
}

export interface VerifyReport {
  readonly checks: readonly VerifyCheck[];
}

export interface VerifyOptions {
  /** Compile and exercise the Smokescreen entrypoint with Go (default true; 'not-checked' without Go). */
  readonly goCheck?: boolean;
}

/** Every file verify reads: the roles, the group variables, ansible.cfg (for `ansible_managed`), the playbooks (which role brings up which Compose files). */
export const VERIFY_GLOBS = ['**/roles/**', '**/group_vars/**', '**/ansible.cfg', ...PLAYBOOK_GLOBS];

interface Check {
  readonly bug: number | null;
  readonly id: string;
  run(ctx: VerifyContext, stack: Stack | undefined, options: Required<VerifyOptions>): Outcome | Promise<Outcome>;
}

/** In the fixes' apply order. */
const CHECKS: readonly Check[] = [
  { bug: 2, id: 'egress-writable-run', run: (_ctx, stack) => checkWritableRun(stack) },
  { bug: 1, id: 'egress-tcp-healthcheck', run: (ctx, stack) => checkTcpHealthcheck(ctx, stack) },
  { bug: 3, id: 'egress-plain-http-role', run: (ctx, _stack, options) => checkPlainHttpRole(ctx, options.goCheck) },
  { bug: 5, id: 'litellm-budget-where-read', run: (ctx) => checkBudgetWhereRead(ctx) },
  { bug: 4, id: 'gateway-no-direct-egress', run: (ctx, stack) => checkGatewayIsolation(ctx, stack) },
  { bug: 6, id: 'telegram-token-no-argv', run: (ctx) => checkTelegramToken(ctx) },
  { bug: 7, id: 'litellm-no-egress-dependency', run: (_ctx, stack) => checkLitellmDependency(stack) },
  { bug: 8, id: 'handlers-first-run-safe', run: (ctx, stack) => checkHandlersFirstRun(ctx, stack) },
  { bug: 9, id: 'backup-images-prepulled', run: (ctx) => checkImagesPrepulled(ctx) },
  { bug: null, id: 'acl-services-list', run: (ctx) => checkAclServices(ctx) },
];

/**
 * Checks every property on `files` (repo-relative path → text: at least VERIFY_GLOBS).
 * A repo problem that stops rendering (malformed YAML, a template that does not render)
 * throws (YamlTemplateError, UserError): the CLI reports it as an error, exit 2.
 */
export async function verifyRepo(files: ReadonlyMap<string, string>, options: VerifyOptions = {}): Promise<VerifyReport> {
  const resolved: Required<VerifyOptions> = { goCheck: options.goCheck ?? true };
  const ctx = new VerifyContext(files);
  const stack = findStack(ctx);
  const checks: VerifyCheck[] = [];
  for (const check of CHECKS) {
    const outcome = await check.run(ctx, stack, resolved);
    checks.push({ bug: check.bug, id: check.id, status: outcome.status, message: outcome.message });
  }
  return { checks };
}

/** `bug 2` or `extra acl-services-list`. */
function checkLabel(check: Pick<VerifyCheck, 'bug' | 'id'>): string {
  return check.bug === null ? `extra ${check.id}` : `bug ${check.bug}`;
}

/** One line per check: `bug N: ok`, `bug N: <what is wrong, file:line>`, `bug N: not checked (…)`. */
export function verifyLine(check: VerifyCheck): string {
  const label = checkLabel(check);
  switch (check.status) {
    case 'ok':
      return `${label}: ok`;
    case 'failed':
      return `${label}: ${check.message}`;
    case 'not-checked':
      return `${label}: not checked (${check.message})`;
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
  const problems: string[] = [];
  for (const check of after.checks) {
    const previous = before.checks.find((other) => other.id === check.id);
    if (committedIds.includes(check.id)) {
      if (check.status !== 'ok' && check.status !== 'not-checked') {
        problems.push(`${checkLabel(check)} is committed but does not verify: ${check.status === 'failed' ? check.message : `${check.status} (${check.message})`}`);
      }
    } else if (previous?.status === 'ok' && (check.status === 'failed' || check.status === 'not-applicable')) {
      problems.push(`${checkLabel(check)} held before the fixes and fails after them: ${check.message}`);
    }
  }
  return problems;
}

/**
 * The `ApplyOptions.verify` callback: verifies HEAD's files and the planned result (HEAD's
 * files with the plan's changes), and returns applyProblems. Reads only from the object
 * database, like the rest of --apply.
 */
export function applyVerifier(git: Git, options: VerifyOptions = {}): (plan: Plan) => Promise<readonly string[]> {
  return async (plan) => {
    const head = await git.head();
    if (!head) throw new UserError(`${git.root} has no commits yet; commit the deployment repo first`);
    const before = (await loadCommitFiles(git, head, VERIFY_GLOBS)).files;
    const after = new Map(before);
    for (const [path, text] of plan.result) after.set(path, text);
    let reports: [VerifyReport, VerifyReport];
    try {
      reports = [await verifyRepo(before, options), await verifyRepo(after, options)];
    } catch (error) {
      if (error instanceof UserError || error instanceof YamlTemplateError) throw new UserError(`cannot verify the fixed repository, so no branch was written: ${error.message}`);
      throw error;
    }
    return applyProblems(reports[0], reports[1], plan.pending.map((outcome) => outcome.patch.id));
  };
}
