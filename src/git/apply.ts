/**
 * `--apply`: one commit per fix on a new branch, built with one `git fast-import` that writes
 * no ref, so the user's branch, HEAD, index and work tree are never touched. The only visible write is
 * the final compare-and-swap `update-ref` of the fix branch: until then an interruption leaves
 * nothing behind but unreachable objects, and after it the branch is complete.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { onInterrupt } from '../core/cleanup.js';
import { encodeLossless } from '../core/bytes.js';
import { commitMessage, TRAILER } from '../output/commit-message.js';
import { candidateGlobs, candidateScripts, planFixes, type FixOutcome, type Plan } from '../core/engine.js';
import { planWithoutWritingThroughSymlinks } from './symlinks.js';
import { catFileBatch, Git, GitCommandError, loadCommitFiles, type LoadedFiles } from './git.js';
import type { Patch } from '../core/types.js';
import { UserError } from '../core/errors.js';

export const DEFAULT_BRANCH = 'openclaw-fix/deployment-bugs';

export interface ApplyOptions {
  readonly git: Git;
  readonly patches: readonly Patch[];
  readonly branch: string;
  /**
   * Checks the fixed files before anything is written: problems (non-empty: nothing is written)
   * and the committed fixes it could not check, each committed with a note saying why.
   */
  readonly verify?: ((
    plan: Plan,
    /** The commit the plan was made on (HEAD when the run started). */
    base: string,
  ) => Promise<{
    readonly problems: readonly string[];
    /** Fixes whose property fails on the result: left out (unrecognised, with why), the others re-planned and committed. */
    readonly failing?: ReadonlyMap<string, string>;
    readonly notChecked?: ReadonlyMap<string, string>;
  }>) & {
    /** The files it reads: their blobs are read with the candidates', in one batch (src/git/git.ts loadCommitFiles). */
    readonly globs?: readonly string[];
  };
  /**
   * The tip of the fix branch on the remote `--push` publishes to, its commits already in the
   * object database (src/git/push.ts peekRemoteBranch). When the local branch does not carry the
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

/** Who holds the lock: recorded in it, so a later run can tell a live holder from a killed one. */
interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
}

function readLockOwner(text: string): LockOwner | undefined {
  try {
    const data = JSON.parse(text) as Partial<LockOwner>;
    return typeof data.pid === 'number' && typeof data.host === 'string' && typeof data.token === 'string'
      ? { pid: data.pid, host: data.host, token: data.token }
      : undefined;
  } catch {
    return undefined; // an older run's lock (a bare pid), or not ours at all: treated as held
  }
}

/** True while a process with that id exists (one of another user's included). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
};

/** `EACCES (permission denied)`: the code for searching, the words for reading. */
function errnoText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  return ERRNO_TEXT[code] ? `${code}, ${ERRNO_TEXT[code]}` : code;
}

/**
 * Takes the lock file in the git dir, so two runs on one repo cannot interleave. The lock
 * records pid and host; a lock whose process is gone (on this host: a run killed with SIGKILL
 * cannot remove its lock) is taken over instead of refusing every later run. Returns the
 * function that releases it.
 */
function acquireLock(lockPath: string): () => void {
  const owner: LockOwner = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex') };
  const ownText = `${JSON.stringify(owner)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      try {
        writeSync(fd, ownText);
      } finally {
        closeSync(fd);
      }
      return () => {
        // Only our own lock: a run that took over a lock we failed to hold keeps its own.
        if (readFileText(lockPath) === ownText) rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new UserError(
          `cannot create the lock file ${lockPath} (${errnoText(error)}): --apply needs a git directory it can write to; nothing was written`,
        );
      }
    }
    const held = readFileText(lockPath);
    if (held === undefined) continue; // released in between: try again
    const holder = readLockOwner(held);
    if (!holder || holder.host !== owner.host || processExists(holder.pid)) {
      const who = holder ? `pid ${holder.pid} on ${holder.host}` : `${lockPath} exists`;
      throw new UserError(
        `another openclaw-fix run is working on this repository (${holder ? `${who}, ${lockPath}` : who}; delete it if no run is active)`,
      );
    }
    // Stale: its process is gone. Move it aside atomically, and put it back if it is not the
    // one just read (another run took it over first and holds it now).
    const aside = `${lockPath}.stale-${owner.pid}-${owner.token}`;
    try {
      renameSync(lockPath, aside);
    } catch {
      continue;
    }
    if (readFileText(aside) !== held) {
      try {
        linkSync(aside, lockPath);
      } catch {
        // someone holds a fresh lock already
      }
      rmSync(aside, { force: true });
      throw new UserError(`another openclaw-fix run is working on this repository (${lockPath}; delete it if no run is active)`);
    }
    rmSync(aside, { force: true });
  }
  throw new UserError(`another openclaw-fix run is working on this repository (${lockPath}; delete it if no run is active)`);
}

function readFileText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Runs `fn` holding the lock; an interruption releases it and says whether the branch was written. */
async function withLock<T>(git: Git, fn: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const release = acquireLock(await git.gitPath('openclaw-fix.lock'));
  const cleanup = new Cleanup();
  cleanup.add(release);
  const unregister = onInterrupt(() => {
    cleanup.runAll();
    return cleanup.refWritten ? 'the fix branch was already complete' : 'no branch was written';
  });
  try {
    return await fn(cleanup);
  } finally {
    unregister();
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
    throw new UserError(
      `the work tree has uncommitted changes (${dirty.length} path${dirty.length === 1 ? '' : 's'}, first: ${dirty[0]?.slice(3)}); commit or stash them first`,
    );
  }

  return withLock(git, async (cleanup): Promise<ApplyResult> => {
    const planned = await planAt(git, head, options.patches, options.verify?.globs);
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
      verdict = await options.verify(plan, head);
      if (verdict.problems.length > 0) {
        throw new UserError(`the fixed repository fails verification, so no branch was written: ${verdict.problems.join('; ')}`);
      }
      const failing = [...(verdict.failing ?? [])].filter(([id]) => !leftOut.has(id));
      if (failing.length === 0) break;
      for (const [id, why] of failing) leftOut.set(id, why);
      plan = planFixes(
        loaded.files,
        options.patches.filter((patch) => !leftOut.has(patch.id)),
      );
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
    const tip = commits.at(-1)?.sha ?? head;
    if (previousTip) await assertNotCheckedOut(git, branch);
    try {
      await git.run([
        'update-ref',
        '-m',
        `openclaw-fix: ${commits.length} fixes on ${baseBranch}`,
        `refs/heads/${branch}`,
        tip,
        previousTip ?? zeroOid(head),
      ]);
    } catch (error) {
      if (error instanceof GitCommandError) throw refWriteError(branch, error);
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
    if (why !== undefined)
      outcomes.push({ patch, state: 'unrecognised', reason: `not committed: ${why}`, changes: [], notes: [], files: [] });
  }
  outcomes.sort((a, b) => a.patch.priority - b.patch.priority);
  return { ...plan, outcomes };
}

/** The plan with a note on each fix verify could not check (its commit says what to check by hand). */
function withUncheckedNotes(plan: Plan, notChecked: ReadonlyMap<string, string>): Plan {
  if (notChecked.size === 0) return plan;
  const outcomes = plan.outcomes.map((outcome) => {
    const why = notChecked.get(outcome.patch.id);
    return why === undefined
      ? outcome
      : { ...outcome, notes: [...outcome.notes, `verify could not check this fix (${why}); check it by hand`] };
  });
  return { ...plan, outcomes, pending: outcomes.filter((outcome) => outcome.state === 'needs-fix') };
}

/**
 * What a failed compare-and-swap `update-ref` of the fix branch means. Only a branch that
 * moved (or appeared) since it was read is worth a re-run; a name git cannot create next to
 * an existing branch, or a ref store it cannot write, would fail again: say what failed.
 */
function refWriteError(branch: string, error: GitCommandError): UserError {
  const said =
    error.stderr
      .trim()
      .split('\n')
      .find((line) => line.trim()) ?? error.message;
  const reason = said
    .replace(/^fatal: /, '')
    .replace(/^update_ref failed for ref '[^']*': /, '')
    .replace(/^cannot lock ref '[^']*': /, '');
  if (/ but expected |reference already exists|unable to resolve reference/.test(reason)) {
    return new UserError(`branch ${branch} changed while openclaw-fix was running (${reason}); nothing was written, re-run it`);
  }
  const clash = /'refs\/heads\/(.+)' exists; cannot create '/.exec(reason);
  if (clash)
    return new UserError(
      `cannot create branch ${branch}: branch ${clash[1]} exists, and git cannot keep both; pass another --branch; nothing was written`,
    );
  return new UserError(`cannot write branch ${branch}: git update-ref failed: ${reason}; nothing was written`);
}

/** A branch of that name may be rebuilt only when every commit on it since the base is one of ours, as we wrote it. */
async function assertOwnBranch(git: Git, branch: string, tip: string, head: string): Promise<void> {
  const foreign = await foreignCommits(git, tip, head);
  if (!foreign) throw new UserError(`branch ${branch} exists and shares no history with HEAD; pass --branch with another name`);
  if (foreign.length > 0) {
    throw new UserError(
      `branch ${branch} exists and has ${foreign.length} commit${foreign.length === 1 ? '' : 's'} openclaw-fix did not make (first: ${foreign[0]?.slice(0, 12)}); pass --branch with another name or delete it`,
    );
  }
  const edited = await editedCommit(git, tip, head);
  if (edited) {
    throw new UserError(
      `branch ${branch} has commit ${edited.slice(0, 12)} that was changed after openclaw-fix made it (its content or message is not what openclaw-fix wrote), so it was not rebuilt: keep that work and pass --branch with another name, or delete the branch (git branch -D ${branch}) to let openclaw-fix rebuild it`,
    );
  }
}

/**
 * Moving a branch another worktree has checked out would leave that worktree's index and files
 * describing the old commits: it would show the difference as staged changes nobody made.
 */
async function assertNotCheckedOut(git: Git, branch: string): Promise<void> {
  const listing = await git.run(['worktree', 'list', '--porcelain', '-z']);
  let worktree = '';
  for (const field of listing.split('\0')) {
    if (field.startsWith('worktree ')) worktree = field.slice('worktree '.length);
    else if (field === `branch refs/heads/${branch}`) {
      throw new UserError(
        `branch ${branch} is checked out in the worktree ${worktree}, so it was not rebuilt: switch that worktree to another branch (or remove it) and re-run; nothing was written`,
      );
    }
  }
}

/**
 * The seal trailer: a hash of the commit's message (without the seal) and of the mode and
 * bytes of every file it changes. The fix trailer survives `git commit --amend --no-edit`,
 * so it cannot tell a human's amendment from the tool's commit; the seal can: a rebuild
 * replaces only commits whose seal still matches what they hold.
 */
const SEAL_TRAILER = 'Openclaw-Fix-Seal';

interface SealedFile {
  readonly path: string;
  readonly mode: string;
  readonly content: Buffer;
}

function sealOf(message: string, files: readonly SealedFile[]): string {
  const hash = createHash('sha256').update(`openclaw-fix-seal-1\0${message}\0`);
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(`${file.mode} ${file.path}\0`).update(createHash('sha256').update(file.content).digest('hex')).update('\0');
  }
  return hash.digest('hex');
}

/** `message` (ending in its trailer line) with the seal trailer added after it. */
function sealed(message: string, files: readonly SealedFile[]): string {
  return `${message}${SEAL_TRAILER}: ${sealOf(message, files)}\n`;
}

/**
 * The first commit on `tip` since `head`'s merge base whose seal does not match its message
 * and changes (a human amended it), or that is a merge; undefined when every one is as the
 * tool wrote it.
 */
export async function editedCommit(git: Git, tip: string, head: string): Promise<string | undefined> {
  const base = (await git.run(['merge-base', head, tip]).catch(() => '')).trim();
  const chain = (await git.run(['rev-list', '--reverse', '--parents', `${base}..${tip}`]))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '));
  const objects = await readCommitObjects(
    git,
    chain.map(([sha]) => sha ?? ''),
  );
  const sealOfMessage = (message: string): RegExpExecArray | null => new RegExp(`^${SEAL_TRAILER}: ([0-9a-f]{64})\\n$`, 'm').exec(message);
  // The commits up to the first one that is a merge or whose message has no seal at its end
  // (that one is the answer if none before it is): what each changes, and the bytes, read with
  // one diff-tree and one cat-file for all of them. A process per commit made a re-run on an
  // eleven-fix branch spawn 22.
  const firstUnsealed = chain.findIndex(([sha = '', ...parents]) => {
    const message = objects.get(sha)?.message ?? '';
    const seal = sealOfMessage(message);
    return parents.length !== 1 || !seal || !message.endsWith(seal[0]);
  });
  const sealedChain = firstUnsealed === -1 ? chain : chain.slice(0, firstUnsealed);
  const changes = await changesOfCommits(git, sealedChain);
  const contents = await catFileBatch(
    git,
    [...changes.values()].flat().map((file) => file.blob),
  );
  let next = 0;
  const filesOf = new Map(
    [...changes].map(([sha, files]) => [sha, files.map((file) => ({ ...file, content: contents[next++]?.content ?? Buffer.alloc(0) }))]),
  );
  for (const [sha = ''] of sealedChain) {
    const message = objects.get(sha)?.message ?? '';
    const seal = sealOfMessage(message)!;
    const files = filesOf.get(sha);
    if (files === undefined || files.some((file) => file.status === 'D')) return sha; // a fix never deletes a file
    if (sealOf(message.slice(0, message.length - seal[0].length), files) !== seal[1]) return sha;
  }
  if (firstUnsealed !== -1) return chain[firstUnsealed]?.[0] ?? '';
  return undefined;
}

/** A file a commit changes: its path, new mode and blob, and diff-tree's status letter. */
interface CommitChange {
  readonly path: string;
  readonly mode: string;
  readonly blob: string;
  readonly status: string;
}

/**
 * The files each commit changes against the parent given with it (`[commit, parent]` pairs):
 * path, new mode, new blob and status, as `git diff-tree -r --no-renames` reports them. One
 * process for all: `--stdin` prints each commit's id (`--always`: even when it changes
 * nothing), then its entries; with `-z` an entry is its `:modes blobs status` header and its
 * path, so a path that looks like a commit id is still read as a path.
 */
async function changesOfCommits(git: Git, pairs: readonly string[][]): Promise<Map<string, CommitChange[]>> {
  const changes = new Map<string, CommitChange[]>();
  if (pairs.length === 0) return changes;
  const out = await git.run(['diff-tree', '-r', '-z', '--no-renames', '--always', '--stdin'], {
    input: pairs.map(([sha, parent]) => `${sha} ${parent}\n`).join(''),
  });
  const tokens = out.split('\0');
  let current: CommitChange[] | undefined;
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index] ?? '';
    if (token.startsWith(':')) {
      const [, mode = '', , blob = '', status = ''] = token.split(' ');
      current?.push({ path: tokens[++index] ?? '', mode, blob, status });
    } else if (token !== '') {
      changes.set(token.trim(), (current = []));
    }
  }
  return changes;
}

/**
 * The commits on `tip` since it forked from `head` that lack the tool's trailer (empty: the
 * branch is all ours), or undefined when the two share no history. Also used for the remote
 * branch before a push (src/git/push.ts).
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
  return same
    ? existing.map((sha, index) => ({ patchId: built[index]?.patchId ?? '', sha, subject: built[index]?.subject ?? '' }))
    : undefined;
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
 * index or work-tree file is written (for `--format patch`, src/git/patch-series.ts).
 */
export async function buildUnreachableFixCommits(
  git: Git,
  patches: readonly Patch[],
): Promise<{ plan: Plan; base: string; commits: AppliedCommit[] }> {
  const head = await git.head();
  if (!head) throw new UserError(`${git.root} has no commits yet; commit the deployment repo first`);
  const { loaded, plan } = await planAt(git, head, patches);
  return { plan, base: head, commits: await buildCommits(git, head, plan, loaded.modes) };
}

/** The candidate files of `commit` and the plan the patches make of them (with `prefetch`, see loadCommitFiles). */
async function planAt(
  git: Git,
  commit: string,
  patches: readonly Patch[],
  prefetch: readonly string[] = [],
): Promise<{ loaded: LoadedFiles; plan: Plan }> {
  const loaded = await loadCommitFiles(git, commit, candidateGlobs(patches), prefetch, candidateScripts(patches));
  return { loaded, plan: await planWithoutWritingThroughSymlinks(git, { kind: 'commit', commit }, loaded.files, patches) };
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
async function buildCommits(git: Git, head: string, plan: Plan, modes: ReadonlyMap<string, string>): Promise<AppliedCommit[]> {
  if (plan.pending.length === 0) return [];
  const [author, committer] = await commitIdents(git);
  const scratchRef = `refs/openclaw-fix-build-${process.pid}-${randomBytes(4).toString('hex')}`;
  const stream: Buffer[] = [];
  const line = (text: string): void => void stream.push(Buffer.from(`${text}\n`, 'utf8'));
  const bytes = (content: Buffer): void => void stream.push(Buffer.from(`data ${content.length}\n`), content, Buffer.from('\n'));
  const data = (text: string): void => bytes(Buffer.from(text, 'utf8'));
  const subjects: string[] = [];
  plan.pending.forEach((outcome, index) => {
    const message = sealed(
      commitMessage(outcome),
      outcome.files.map((change) => ({
        path: change.path,
        mode: modes.get(change.path) ?? '100644',
        content: encodeLossless(change.after),
      })),
    );
    subjects.push(message.split('\n')[0] ?? '');
    line(`commit ${scratchRef}`);
    line(`mark :${index + 1}`);
    line(`author ${author}`);
    line(`committer ${committer}`);
    data(message);
    if (index === 0) line(`from ${head}`);
    for (const change of outcome.files) {
      line(`M ${modes.get(change.path) ?? '100644'} inline ${fastImportPath(change.path)}`);
      bytes(encodeLossless(change.after)); // a byte that is not UTF-8 stays that byte (src/core/bytes.ts)
    }
  });
  plan.pending.forEach((_outcome, index) => line(`get-mark :${index + 1}`));
  line(`reset ${scratchRef}`);
  line(`from ${zeroOid(head)}`);
  line('done');
  // The objects stay in the one pack fast-import writes: below fastimport.unpackLimit (100 by
  // default) it spawns unpack-objects to write each as a loose file, which cost a warm --apply
  // on the fixture 0.1–0.3 s of its wall time for ~40 objects. Unreachable ones (an interrupted
  // run, a branch left up to date) are pruned by git's garbage collection either way.
  const shas = (await git.run(['-c', 'fastimport.unpackLimit=0', 'fast-import', '--quiet', '--done'], { input: Buffer.concat(stream) }))
    .trim()
    .split('\n');
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
