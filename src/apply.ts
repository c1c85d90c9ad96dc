/**
 * `--apply`: one commit per fix on a new branch, built with git plumbing and a temporary index,
 * so the user's branch, HEAD, index and work tree are never touched. The only visible write is
 * the final compare-and-swap `update-ref` of the fix branch: until then an interruption leaves
 * nothing behind but unreachable objects, and after it the branch is complete.
 */
import { mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitMessage, TRAILER } from './commit-message.js';
import { candidateGlobs, planFixes, type Plan } from './engine.js';
import { Git, GitCommandError, loadCommitFiles, UserError } from './git.js';
import type { Patch } from './types.js';

export const DEFAULT_BRANCH = 'openclaw-fix/deployment-bugs';
const ZERO_OID = '0000000000000000000000000000000000000000';

export interface ApplyOptions {
  readonly git: Git;
  readonly patches: readonly Patch[];
  readonly branch: string;
  /** Checks the fixed files before anything is written; returns problems (empty = fine). */
  readonly verify?: (plan: Plan) => Promise<readonly string[]>;
}

export interface AppliedCommit {
  readonly patchId: string;
  readonly sha: string;
  readonly subject: string;
}

export interface ApplyResult {
  readonly status: 'nothing-to-do' | 'created' | 'rebuilt';
  readonly plan: Plan;
  readonly branch: string;
  /** The commit the fixes were built on (HEAD). */
  readonly base: string;
  /** The branch the user had checked out. */
  readonly baseBranch: string;
  readonly commits: readonly AppliedCommit[];
  /** The fix branch's previous tip when it was rebuilt. */
  readonly previousTip?: string;
}

/** Runs `fn` with a lock file in the git dir, so two runs on one repo cannot interleave. */
async function withLock<T>(git: Git, fn: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const lockPath = await git.gitPath('openclaw-fix.lock');
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx');
  } catch {
    throw new UserError(`another openclaw-fix run is working on this repository (${lockPath} exists; delete it if no run is active)`);
  }
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  const cleanup = new Cleanup();
  cleanup.add(() => rmSync(lockPath, { force: true }));
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanup.runAll();
    process.stderr.write(`openclaw-fix: interrupted by ${signal}; ${cleanup.refWritten ? 'the fix branch was already complete' : 'no branch was written'}\n`);
    process.exit(2);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(cleanup);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    cleanup.runAll();
  }
}

/** Synchronous clean-up steps, run once, also from a signal handler. */
class Cleanup {
  private readonly steps: (() => void)[] = [];
  refWritten = false;
  add(step: () => void): void {
    this.steps.push(step);
  }
  runAll(): void {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        step();
      } catch {
        // best effort: a clean-up step must not hide the original outcome
      }
    }
  }
}

export async function applyFixes(options: ApplyOptions): Promise<ApplyResult> {
  const { git, branch } = options;
  const head = await git.head();
  if (!head) throw new UserError(`${git.root} has no commits yet; commit the deployment repo first`);
  const baseBranch = await git.currentBranch();
  if (!baseBranch) throw new UserError('HEAD is detached; check out the branch the fixes should build on (e.g. git switch main)');
  if (!(await git.isValidBranchName(branch))) throw new UserError(`'${branch}' is not a valid branch name`);
  const dirty = await git.dirtyEntries();
  if (dirty.length > 0) {
    throw new UserError(`the work tree has uncommitted changes (${dirty.length} path${dirty.length === 1 ? '' : 's'}, first: ${dirty[0]?.slice(3)}); commit or stash them first`);
  }

  return withLock(git, async (cleanup): Promise<ApplyResult> => {
    const loaded = await loadCommitFiles(git, head, candidateGlobs(options.patches));
    const plan = planFixes(loaded.files, options.patches);
    const nothing = { plan, branch, base: head, baseBranch, commits: [] };
    if (plan.pending.length === 0) return { status: 'nothing-to-do', ...nothing };

    if (baseBranch === branch) {
      throw new UserError(`'${branch}' is checked out and still needs fixes; check out the branch it was made from and re-run`);
    }
    const previousTip = await git.branchCommit(branch);
    if (previousTip) await assertOwnBranch(git, branch, previousTip, head);

    const problems = options.verify ? await options.verify(plan) : [];
    if (problems.length > 0) {
      throw new UserError(`the fixed repository fails verification, so no branch was written: ${problems.join('; ')}`);
    }

    const commits = await buildCommits(git, head, plan, loaded.modes, cleanup);
    const tip = commits.at(-1)?.sha ?? head;
    try {
      await git.run(['update-ref', '-m', `openclaw-fix: ${commits.length} fixes on ${baseBranch}`, `refs/heads/${branch}`, tip, previousTip ?? ZERO_OID]);
    } catch (error) {
      if (error instanceof GitCommandError) {
        throw new UserError(`branch ${branch} changed while openclaw-fix was running; nothing was written, re-run it`);
      }
      throw error;
    }
    cleanup.refWritten = true;
    return { status: previousTip ? 'rebuilt' : 'created', ...nothing, commits, ...(previousTip ? { previousTip } : {}) };
  });
}

/** A branch of that name may be rebuilt only when every commit on it since the base is one of ours. */
async function assertOwnBranch(git: Git, branch: string, tip: string, head: string): Promise<void> {
  const base = (await git.run(['merge-base', head, tip]).catch(() => '')).trim();
  if (!base) throw new UserError(`branch ${branch} exists and shares no history with HEAD; pass --branch with another name`);
  const log = await git.run(['log', '--format=%H%x00%(trailers:key=' + TRAILER + ',valueonly,separator=%x2C)%x00', `${base}..${tip}`]);
  const foreign = log
    .split('\n')
    .filter((line) => line.includes('\0'))
    .map((line) => line.split('\0'))
    .filter(([, trailer]) => !trailer?.trim());
  if (foreign.length > 0) {
    throw new UserError(
      `branch ${branch} exists and has ${foreign.length} commit${foreign.length === 1 ? '' : 's'} openclaw-fix did not make (first: ${foreign[0]?.[0]?.slice(0, 12)}); pass --branch with another name or delete it`,
    );
  }
}

/** One commit per pending fix, in plan order, on a temporary index that starts from `head`. */
async function buildCommits(git: Git, head: string, plan: Plan, modes: ReadonlyMap<string, string>, cleanup: Cleanup): Promise<AppliedCommit[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'openclaw-fix-index-'));
  cleanup.add(() => rmSync(scratch, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { GIT_INDEX_FILE: join(scratch, 'index') };
  if (!(await git.hasIdentity())) {
    // CI machines often have no identity; commit as the tool rather than fail.
    Object.assign(env, { GIT_AUTHOR_NAME: 'openclaw-fix', GIT_AUTHOR_EMAIL: 'openclaw-fix@users.noreply.github.com', GIT_COMMITTER_NAME: 'openclaw-fix', GIT_COMMITTER_EMAIL: 'openclaw-fix@users.noreply.github.com' });
  }
  await git.run(['read-tree', head], { env });
  const commits: AppliedCommit[] = [];
  let parent = head;
  for (const outcome of plan.pending) {
    const entries: string[] = [];
    for (const change of outcome.files) {
      const sha = (await git.run(['hash-object', '-w', '--stdin', `--path=${change.path}`], { input: change.after, env })).trim();
      entries.push(`${modes.get(change.path) ?? '100644'} ${sha}\t${change.path}`);
    }
    await git.run(['update-index', '--index-info'], { input: entries.join('\n') + '\n', env });
    const tree = (await git.run(['write-tree'], { env })).trim();
    const message = commitMessage(outcome);
    const sha = (await git.run(['commit-tree', tree, '-p', parent, '-F', '-'], { input: message, env })).trim();
    commits.push({ patchId: outcome.patch.id, sha, subject: message.split('\n')[0] ?? '' });
    parent = sha;
  }
  return commits;
}
