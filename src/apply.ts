/**
 * `--apply`: one commit per fix on a new branch, built with one `git fast-import` that writes
 * no ref, so the user's branch, HEAD, index and work tree are never touched. The only visible write is
 * the final compare-and-swap `update-ref` of the fix branch: until then an interruption leaves
 * nothing behind but unreachable objects, and after it the branch is complete.
 */
import { randomBytes } from 'node:crypto';
import { openSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { commitMessage, TRAILER } from './commit-message.js';
import { candidateGlobs, planFixes, type FixOutcome, type Plan } from './engine.js';
import { catFileBatch, Git, GitCommandError, loadCommitFiles, UserError, type LoadedFiles } from './git.js';
import type { Patch } from './types.js';

export const DEFAULT_BRANCH = 'openclaw-fix/deployment-bugs';

export interface ApplyOptions {
  readonly git: Git;
  readonly patches: readonly Patch[];
  readonly branch: string;
  /**
   * Checks the fixed files before anything is written: problems (non-empty: nothing is written)
   * and the committed fixes it could not check, each committed with a note saying why.
   */
  readonly verify?: (plan: Plan) => Promise<{
    readonly problems: readonly string[];
    /** Fixes whose property fails on the result: left out (unrecognised, with why), the others re-planned and committed. */
    readonly failing?: ReadonlyMap<string, string>;
    readonly notChecked?: ReadonlyMap<string, string>;
  }>;
  /**
   * The tip of the fix branch on the remote `--push` publishes to, its commits already in the
   * object database (src/push.ts peekRemoteBranch). When the local branch does not carry the
   * fixes but this does, the local branch is pointed at it instead of at new commits, so a bot
   * in a fresh clone publishes nothing new.
   */
  readonly remoteTip?: { readonly name: string; readonly sha: string };
}

export interface AppliedCommit {
  readonly patchId: string;
  readonly sha: string;
  readonly subject: string;
}

export interface ApplyResult {
  /** 'up-to-date': the branch already carried exactly these fixes on HEAD; nothing was written. */
  readonly status: 'nothing-to-do' | 'created' | 'rebuilt' | 'up-to-date';
  readonly plan: Plan;
  readonly branch: string;
  /** The commit the fixes were built on (HEAD). */
  readonly base: string;
  /** The branch the user had checked out. */
  readonly baseBranch: string;
  readonly commits: readonly AppliedCommit[];
  /** The fix branch's previous tip when it was rebuilt. */
  readonly previousTip?: string;
  /** `<remote>/<branch>` when the branch now points at that remote branch's commits (see ApplyOptions.remoteTip). */
  readonly adoptedFrom?: string;
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
    const planned = await planAt(git, head, options.patches);
    const { loaded } = planned;
    let plan = planned.plan;
    let nothing = { plan, branch, base: head, baseBranch, commits: [] };
    if (plan.pending.length === 0) return { status: 'nothing-to-do', ...nothing };

    if (baseBranch === branch) {
      throw new UserError(`'${branch}' is checked out and still needs fixes; check out the branch it was made from and re-run`);
    }
    const previousTip = await git.branchCommit(branch);
    if (previousTip) await assertOwnBranch(git, branch, previousTip, head);

    // A fix whose property verifiably fails on the result is left out and the rest re-planned
    // without it (later fixes may build on its edits), until what remains verifies.
    const leftOut = new Map<string, string>();
    let verdict: Awaited<ReturnType<NonNullable<ApplyOptions['verify']>>> = { problems: [] };
    for (;;) {
      if (!options.verify || plan.pending.length === 0) break;
      verdict = await options.verify(plan);
      if (verdict.problems.length > 0) {
        throw new UserError(`the fixed repository fails verification, so no branch was written: ${verdict.problems.join('; ')}`);
      }
      const failing = [...(verdict.failing ?? [])].filter(([id]) => !leftOut.has(id));
      if (failing.length === 0) break;
      for (const [id, why] of failing) leftOut.set(id, why);
      plan = planFixes(loaded.files, options.patches.filter((patch) => !leftOut.has(patch.id)));
    }
    plan = withLeftOut(withUncheckedNotes(plan, verdict.notChecked ?? new Map()), options.patches, leftOut);
    nothing = { ...nothing, plan };
    if (plan.pending.length === 0) return { status: 'nothing-to-do', ...nothing };

    const built = await buildCommits(git, head, plan, loaded.modes);
    // A re-run on an unchanged base must not churn the branch (new timestamps, new shas, a
    // force-push and a pull request update for nothing): keep commits that carry exactly these fixes.
    if (previousTip) {
      const kept = await sameFixCommits(git, head, previousTip, built);
      if (kept) return { status: 'up-to-date', ...nothing, commits: kept };
    }
    const remote = options.remoteTip;
    const adopted = remote && remote.sha !== previousTip ? await sameFixCommits(git, head, remote.sha, built) : undefined;
    const commits = adopted ?? built;
    await holdBeforeRefForTests();
    const tip = commits.at(-1)?.sha ?? head;
    try {
      await git.run(['update-ref', '-m', `openclaw-fix: ${commits.length} fixes on ${baseBranch}`, `refs/heads/${branch}`, tip, previousTip ?? zeroOid(head)]);
    } catch (error) {
      if (error instanceof GitCommandError) {
        throw new UserError(`branch ${branch} changed while openclaw-fix was running; nothing was written, re-run it`);
      }
      throw error;
    }
    cleanup.refWritten = true;
    return {
      status: previousTip ? 'rebuilt' : 'created',
      ...nothing,
      commits,
      ...(previousTip ? { previousTip } : {}),
      ...(adopted && remote ? { adoptedFrom: `${remote.name}/${branch}` } : {}),
    };
  });
}

/** The plan with an `unrecognised` outcome, saying why, for each fix left out because it does not verify. */
function withLeftOut(plan: Plan, patches: readonly Patch[], leftOut: ReadonlyMap<string, string>): Plan {
  if (leftOut.size === 0) return plan;
  const outcomes: FixOutcome[] = [...plan.outcomes];
  for (const patch of patches) {
    const why = leftOut.get(patch.id);
    if (why !== undefined) outcomes.push({ patch, state: 'unrecognised', reason: `not committed: ${why}`, changes: [], notes: [], files: [] });
  }
  outcomes.sort((a, b) => a.patch.priority - b.patch.priority);
  return { ...plan, outcomes };
}

/** The plan with a note on each fix verify could not check (its commit says what to check by hand). */
function withUncheckedNotes(plan: Plan, notChecked: ReadonlyMap<string, string>): Plan {
  if (notChecked.size === 0) return plan;
  const outcomes = plan.outcomes.map((outcome) => {
    const why = notChecked.get(outcome.patch.id);
    return why === undefined ? outcome : { ...outcome, notes: [...outcome.notes, `verify could not check this fix (${why}); check it by hand`] };
  });
  return { ...plan, outcomes, pending: outcomes.filter((outcome) => outcome.state === 'needs-fix') };
}

/**
 * test/hostile.test.ts interrupts --apply at its most delicate point, commits built and lock
 * held but no ref written: with OPENCLAW_FIX_TEST_HOLD=<file> set, write that file and wait.
 */
async function holdBeforeRefForTests(): Promise<void> {
  const marker = process.env.OPENCLAW_FIX_TEST_HOLD;
  if (!marker) return;
  writeFileSync(marker, `${process.pid}\n`);
  await new Promise((resolve) => setTimeout(resolve, 30_000));
}

/** A branch of that name may be rebuilt only when every commit on it since the base is one of ours. */
async function assertOwnBranch(git: Git, branch: string, tip: string, head: string): Promise<void> {
  const foreign = await foreignCommits(git, tip, head);
  if (!foreign) throw new UserError(`branch ${branch} exists and shares no history with HEAD; pass --branch with another name`);
  if (foreign.length > 0) {
    throw new UserError(
      `branch ${branch} exists and has ${foreign.length} commit${foreign.length === 1 ? '' : 's'} openclaw-fix did not make (first: ${foreign[0]?.slice(0, 12)}); pass --branch with another name or delete it`,
    );
  }
}

/**
 * The commits on `tip` since it forked from `head` that lack the tool's trailer (empty: the
 * branch is all ours), or undefined when the two share no history. Also used for the remote
 * branch before a push (src/push.ts).
 */
export async function foreignCommits(git: Git, tip: string, head: string): Promise<string[] | undefined> {
  const base = (await git.run(['merge-base', head, tip]).catch(() => '')).trim();
  if (!base) return undefined;
  const log = await git.run(['log', '--format=%H%x00%(trailers:key=' + TRAILER + ',valueonly,separator=%x2C)%x00', `${base}..${tip}`]);
  return log
    .split('\n')
    .filter((line) => line.includes('\0'))
    .map((line) => line.split('\0'))
    .filter(([, trailer]) => !trailer?.trim())
    .map(([sha]) => sha ?? '');
}

/**
 * `tip`'s commits when they are exactly `built` in substance: a linear chain whose first parent
 * is `head`, one commit per fix, each with the same tree and the same message (subject, body,
 * `Openclaw-Fix:` trailer) as the freshly built one. Author, committer and dates may differ.
 * undefined when anything differs (the base moved, a fix was added, dropped or changed).
 */
async function sameFixCommits(git: Git, head: string, tip: string, built: readonly AppliedCommit[]): Promise<AppliedCommit[] | undefined> {
  if (built.length === 0) return undefined;
  const chain = (await git.run(['rev-list', '--reverse', '--parents', `${head}..${tip}`]).catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '));
  if (chain.length !== built.length) return undefined;
  let parent = head;
  for (const [sha, ...parents] of chain) {
    if (parents.length !== 1 || parents[0] !== parent || !sha) return undefined;
    parent = sha;
  }
  const existing = chain.map(([sha]) => sha ?? '');
  const objects = await readCommitObjects(git, [...existing, ...built.map((commit) => commit.sha)]);
  const same = existing.every((sha, index) => {
    const old = objects.get(sha);
    const fresh = objects.get(built[index]?.sha ?? '');
    return old !== undefined && fresh !== undefined && old.tree === fresh.tree && old.message === fresh.message;
  });
  return same ? existing.map((sha, index) => ({ patchId: built[index]?.patchId ?? '', sha, subject: built[index]?.subject ?? '' })) : undefined;
}

/** Tree and raw message of each commit (a missing one is left out: the caller then sees it as different). */
async function readCommitObjects(git: Git, shas: readonly string[]): Promise<Map<string, { tree: string; message: string }>> {
  const objects = new Map<string, { tree: string; message: string }>();
  for (const [index, object] of (await catFileBatch(git, shas)).entries()) {
    const sha = shas[index];
    if (object.type !== 'commit' || sha === undefined) continue;
    const body = object.content.toString('utf8');
    const split = body.indexOf('\n\n');
    const headers = split === -1 ? body : body.slice(0, split);
    objects.set(sha, { tree: /^tree ([0-9a-f]+)$/m.exec(headers)?.[1] ?? '', message: split === -1 ? '' : body.slice(split + 2) });
  }
  return objects;
}

/**
 * The commits `--apply` would make on HEAD, built the same way but left unreachable: no ref,
 * index or work-tree file is written (for `--format patch`, src/patch-series.ts).
 */
export async function buildUnreachableFixCommits(git: Git, patches: readonly Patch[]): Promise<{ plan: Plan; base: string; commits: AppliedCommit[] }> {
  const head = await git.head();
  if (!head) throw new UserError(`${git.root} has no commits yet; commit the deployment repo first`);
  const { loaded, plan } = await planAt(git, head, patches);
  return { plan, base: head, commits: await buildCommits(git, head, plan, loaded.modes) };
}

/** The candidate files of `commit` and the plan the patches make of them. */
async function planAt(git: Git, commit: string, patches: readonly Patch[]): Promise<{ loaded: LoadedFiles; plan: Plan }> {
  const loaded = await loadCommitFiles(git, commit, candidateGlobs(patches));
  return { loaded, plan: planFixes(loaded.files, patches) };
}

const zeroOid = (like: string): string => '0'.repeat(like.length);

/**
 * One commit per pending fix, in plan order, on top of `head`, all written by a single
 * `git fast-import` (blobs, trees, commits): spawning hash-object, update-index, write-tree
 * and commit-tree per file and per fix made --apply several times slower than `git am` of the
 * same series (see `npm run bench`). fast-import needs a ref to build on; the stream deletes
 * that scratch ref before it ends, and fast-import writes refs only at the end, so no ref is
 * ever written: the commits stay unreachable until the caller points a branch at them.
 * Blob contents are the engine's bytes, unfiltered, as read from the commit.
 */
export async function buildCommits(git: Git, head: string, plan: Plan, modes: ReadonlyMap<string, string>): Promise<AppliedCommit[]> {
  if (plan.pending.length === 0) return [];
  const [author, committer] = await commitIdents(git);
  const scratchRef = `refs/openclaw-fix-build-${process.pid}-${randomBytes(4).toString('hex')}`;
  const stream: Buffer[] = [];
  const line = (text: string): void => void stream.push(Buffer.from(`${text}\n`, 'utf8'));
  const data = (text: string): void => {
    const bytes = Buffer.from(text, 'utf8');
    stream.push(Buffer.from(`data ${bytes.length}\n`), bytes, Buffer.from('\n'));
  };
  const subjects: string[] = [];
  plan.pending.forEach((outcome, index) => {
    const message = commitMessage(outcome);
    subjects.push(message.split('\n')[0] ?? '');
    line(`commit ${scratchRef}`);
    line(`mark :${index + 1}`);
    line(`author ${author}`);
    line(`committer ${committer}`);
    data(message);
    if (index === 0) line(`from ${head}`);
    for (const change of outcome.files) {
      line(`M ${modes.get(change.path) ?? '100644'} inline ${fastImportPath(change.path)}`);
      data(change.after);
    }
  });
  plan.pending.forEach((_outcome, index) => line(`get-mark :${index + 1}`));
  line(`reset ${scratchRef}`);
  line(`from ${zeroOid(head)}`);
  line('done');
  const shas = (await git.run(['fast-import', '--quiet', '--done'], { input: Buffer.concat(stream) })).trim().split('\n');
  return plan.pending.map((outcome, index) => ({ patchId: outcome.patch.id, sha: shas[index] ?? '', subject: subjects[index] ?? '' }));
}

/** Who the commits are by: git's own idents (config or environment), or the tool's on machines that have none (CI). */
async function commitIdents(git: Git): Promise<[string, string]> {
  try {
    const [author, committer] = await Promise.all([git.run(['var', 'GIT_AUTHOR_IDENT']), git.run(['var', 'GIT_COMMITTER_IDENT'])]);
    return [author.trim(), committer.trim()];
  } catch {
    const tool = `openclaw-fix <openclaw-fix@users.noreply.github.com> ${Math.floor(Date.now() / 1000)} +0000`;
    return [tool, tool];
  }
}

/** fast-import takes a path as the rest of the line unless it starts with a quote or holds a newline: then C-quoted. */
function fastImportPath(path: string): string {
  if (!path.startsWith('"') && !path.includes('\n')) return path;
  return `"${path.replace(/[\\"]/g, (char) => `\\${char}`).replace(/\n/g, '\\n')}"`;
}
