/**
 * Everything openclaw-fix asks of git, through one small spawn wrapper (standard input
 * included, which the plumbing needs). No git library: loading one cost ~100 ms of every run.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, resolve } from 'node:path';
import { decodeLossless } from '../core/bytes.js';
import { killGroup, trackChild } from '../core/cleanup.js';
import { filterListing, filterPaths } from '../core/repo-view.js';
import { UserError } from '../core/errors.js';
import { isShellScript } from '../toolkit/shell.js';

export interface GitRunOptions {
  readonly input?: string | Buffer;
  readonly env?: NodeJS.ProcessEnv;
  /** Kill git (and the ssh or helper it started) after this long and reject with GitTimeoutError: for commands that talk to a remote. */
  readonly timeoutMs?: number;
}

/**
 * The variables through which an inherited environment points git at another repository
 * (from `git rev-parse --local-env-vars`, without the configuration ones: a bot may pass its
 * push credentials as GIT_CONFIG_COUNT/KEY/VALUE). A hook, an alias or a CI step can leave GIT_DIR or
 * GIT_WORK_TREE set; then every git the tool runs would read and write that repository while
 * the output names the one given with --repo. They are removed for every git the tool runs;
 * the tool sets GIT_INDEX_FILE itself where it needs a scratch index.
 */
const REPOSITORY_VARIABLES = [
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_OBJECT_DIRECTORY',
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_IMPLICIT_WORK_TREE',
  'GIT_GRAFT_FILE',
  'GIT_INDEX_FILE',
  'GIT_NO_REPLACE_OBJECTS',
  'GIT_REPLACE_REF_BASE',
  'GIT_PREFIX',
  'GIT_SHALLOW_FILE',
  'GIT_COMMON_DIR',
  'GIT_NAMESPACE',
  'GIT_QUARANTINE_PATH',
];

/** The environment git runs with: the user's, minus the repository variables, plus `extra`. */
function gitEnvironment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (REPOSITORY_VARIABLES.includes(name)) delete env[name];
  }
  // No optional locks: `git status` would otherwise refresh and rewrite the user's index.
  return { ...env, ...extra, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' };
}

export class Git {
  private constructor(readonly root: string) {}

  /** Opens the repository containing `dir`; UserError when there is none. */
  static async open(dir: string): Promise<Git> {
    const absolute = resolve(dir);
    try {
      const stats = await lstat(absolute);
      if (!stats.isDirectory()) throw new UserError(`${absolute} is not a directory`);
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw new UserError(`${absolute} does not exist`);
    }
    let top: string;
    try {
      top = (await runGit(absolute, ['rev-parse', '--show-toplevel'])).trim();
    } catch {
      throw new UserError(`${absolute} is not a git repository (run openclaw-fix inside a clone of the deployment repo)`);
    }
    if (!top) throw new UserError(`${absolute} is a bare git repository; run openclaw-fix in a clone with a work tree`);
    return new Git(top);
  }

  run(args: readonly string[], options: GitRunOptions = {}): Promise<string> {
    return runGit(this.root, args, options);
  }

  /** git's standard output as bytes, for output that carries file content (a patch series). */
  runBuffer(args: readonly string[], options: GitRunOptions = {}): Promise<Buffer> {
    return runGitBuffer(this.root, args, options);
  }

  /** The commit HEAD points at, or undefined in a repository with no commits. */
  async head(): Promise<string | undefined> {
    try {
      return (await this.run(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** The checked-out branch's short name, or undefined when HEAD is detached. */
  async currentBranch(): Promise<string | undefined> {
    try {
      return (await this.run(['symbolic-ref', '--quiet', '--short', 'HEAD'])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** `git status --porcelain` lines: tracked changes and untracked, unignored files. */
  async dirtyEntries(): Promise<string[]> {
    const out = await this.run(['status', '--porcelain=v1', '--untracked-files=normal']);
    return out.split('\n').filter((line) => line.trim() !== '');
  }

  async branchCommit(branch: string): Promise<string | undefined> {
    try {
      return (await this.run(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** Path of a file under the git directory (works in linked worktrees). */
  async gitPath(name: string): Promise<string> {
    const path = (await this.run(['rev-parse', '--git-path', name])).trim();
    return isAbsolute(path) ? path : join(this.root, path);
  }

  /**
   * Whether `branch` is a valid branch name as written. Not `check-ref-format --branch`,
   * which expands `@{-1}` and `-` to the previous branch: the tool writes `refs/heads/<branch>`
   * literally.
   */
  async isValidBranchName(branch: string): Promise<boolean> {
    if (branch.startsWith('-') || branch === 'HEAD') return false;
    try {
      await this.run(['check-ref-format', `refs/heads/${branch}`]);
      return true;
    } catch {
      return false;
    }
  }
}

/** A remote that accepts the connection and never answers must not hang a bot forever. */
export const DEFAULT_NETWORK_TIMEOUT_MS = 120_000;

/** A git command that talks to a remote got no answer in time (see GitRunOptions.timeoutMs). */
export class GitTimeoutError extends UserError {
  constructor(
    readonly args: readonly string[],
    readonly timeoutMs: number,
  ) {
    super(`git ${args[0] ?? ''} got no answer within ${timeoutMs / 1000} s`);
    this.name = 'GitTimeoutError';
  }
}

export class GitCommandError extends UserError {
  constructor(
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`git ${args[0] ?? ''} failed${exitCode === null ? '' : ` (exit ${exitCode})`}: ${stderr.trim().split('\n')[0] ?? ''}`);
    this.name = 'GitCommandError';
  }
}

async function runGit(cwd: string, args: readonly string[], options: GitRunOptions = {}): Promise<string> {
  return (await runGitBuffer(cwd, args, options)).toString('utf8');
}

/** Runs git and resolves with its raw standard output (byte counts matter for cat-file --batch). */
function runGitBuffer(cwd: string, args: readonly string[], options: GitRunOptions = {}): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const timed = options.timeoutMs !== undefined;
    const child = spawn('git', args, {
      cwd,
      env: gitEnvironment(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so a timeout also ends the ssh or credential helper git started.
      detached: timed,
    });
    const untrack = timed ? trackChild(child) : undefined;
    let timedOut = false;
    const timer = timed
      ? setTimeout(() => {
          timedOut = true;
          killGroup(child);
        }, options.timeoutMs)
      : undefined;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      untrack?.();
      reject(error.message.includes('ENOENT') ? new UserError('git is not installed or not on PATH') : error);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      untrack?.();
      if (timedOut) reject(new GitTimeoutError(args, options.timeoutMs ?? 0));
      else if (code === 0) resolvePromise(Buffer.concat(stdout));
      else reject(new GitCommandError(args, code, Buffer.concat(stderr).toString('utf8')));
    });
    child.stdin.on('error', () => undefined); // git may exit before reading all input; the exit code tells
    child.stdin.end(options.input ?? '');
  });
}

/** One object read by `git cat-file --batch`; `content` is empty for a missing object. */
export interface BatchObject {
  readonly type: string;
  readonly content: Buffer;
}

/** Reads many objects with one `git cat-file --batch`, in the order asked. */
export async function catFileBatch(git: Git, shas: readonly string[]): Promise<BatchObject[]> {
  if (shas.length === 0) return [];
  const out = await runGitBuffer(git.root, ['cat-file', '--batch'], { input: shas.join('\n') + '\n' });
  const objects: BatchObject[] = [];
  let offset = 0;
  for (let index = 0; index < shas.length; index++) {
    const headerEnd = out.indexOf(10, offset);
    const [, type = '', size] = out.subarray(offset, headerEnd).toString('utf8').split(' ');
    if (size === undefined) {
      objects.push({ type: 'missing', content: Buffer.alloc(0) }); // "<sha> missing"
      offset = headerEnd + 1;
      continue;
    }
    objects.push({ type, content: out.subarray(headerEnd + 1, headerEnd + 1 + Number(size)) });
    offset = headerEnd + 1 + Number(size) + 1;
  }
  return objects;
}

/** A candidate file: its text, and for files read from a commit, its mode there. */
export interface LoadedFiles {
  readonly files: Map<string, string>;
  readonly modes: Map<string, string>;
}

/**
 * A roles directory or a role that is a symlink: no glob of a fix matches the link itself, so
 * without listing it a role kept outside the repository would be silently "not applicable" in
 * a dry run while --apply (whose verify reads `**\/roles/**`) refused it. Both loaders list
 * these too and refuse one that leaves the repository.
 */
const ROLE_LINKS = ['**/roles', '**/roles/*'];

/**
 * Loads the files matching `globs` from the work tree (tracked and untracked-unignored), and the
 * shell scripts among the files matching only `scripts` (a module's `scripts`: see PatchModule).
 */
export async function loadWorkTreeFiles(git: Git, globs: readonly string[], scripts: readonly string[] = []): Promise<LoadedFiles> {
  // Tracked and untracked files listed whole by one process, and filtered here. git tests every
  // entry against every pathspec: with the fixes' forty `:(glob)**/…` pathspecs, the index
  // listing cost 0.28 s of CPU on a 50,000-file repo against 0.04 s whole, and narrowing the
  // globs to few pathspecs cost ~40 ms more. Listing the untracked files reads the index anyway
  // (40 ms of the 95 there), so a second process for the tracked ones read it again: one
  // process cost as little wall time and ~80 ms less CPU. filterListing rejects most paths once
  // per directory, on the listing as git printed it.
  const listing = await git.run(['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  const listed = filterListing(listing, [...globs, ...scripts, ...ROLE_LINKS]);
  const paths =
    listed.length > 1 && listed.some((path, index) => index > 0 && listed[index - 1]! >= path) ? [...new Set(listed)].sort() : listed;
  const files = new Map<string, string>();
  const modes = new Map<string, string>();
  const realRoot = await realpath(git.root);
  // Synchronous reads: one after the other either way, and on a 50,000-file repo (10,000 of
  // them under roles/) a promise and a thread-pool round trip per call doubled the load time.
  // git lists normalised relative paths: joined as strings (path.join normalised each one, a tenth of the loading).
  const prefix = git.root.endsWith('/') ? git.root : `${git.root}/`;
  // Which list wants each path, worked out per directory (a look-up per path cost twice as much).
  const wholeFiles = new Set(filterPaths(paths, globs));
  const scriptFiles = new Set(scripts.length === 0 ? [] : filterPaths(paths, scripts));
  for (const path of paths) {
    const full = prefix + path;
    const whole = wholeFiles.has(path);
    // A file wanted only as a shell script, and not one by its name: read whole only when it starts with `#!`.
    const onlyScript = !whole && scriptFiles.has(path);
    if (onlyScript && !isShellScript(path, '') && startsWithShebang(full) === false) continue;
    const opened = whole || onlyScript ? openPlainFile(full) : undefined;
    if (opened === 'not a file') continue;
    if (opened !== undefined) {
      const text = decodeLossless(opened.bytes);
      if (onlyScript && !isShellScript(path, text)) continue;
      files.set(path, text);
      modes.set(path, opened.mode & 0o111 ? '100755' : '100644');
      continue;
    }
    let stats;
    try {
      stats = lstatSync(full);
    } catch {
      continue; // listed in the index but deleted in the work tree
    }
    if (stats.isSymbolicLink()) {
      let target: string | undefined;
      try {
        target = realpathSync(full);
      } catch {
        target = undefined;
      }
      if (!target || relative(realRoot, target).startsWith('..') || isAbsolute(relative(realRoot, target))) {
        throw new UserError(`${path} is a symlink that points outside the repository; openclaw-fix will not read or edit through it`);
      }
      continue; // its target is a file of the repo and is loaded under its own name
    }
    if (!stats.isFile() || !(whole || onlyScript)) continue;
    let text: string;
    try {
      text = decodeLossless(readFileSync(full));
    } catch (error) {
      throw new UserError(`${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (onlyScript && !isShellScript(path, text)) continue;
    files.set(path, text);
    modes.set(path, stats.mode & 0o111 ? '100755' : '100644');
  }
  return { files, modes };
}

/** A work-tree file opened for reading, not following a symlink nor waiting on a FIFO; undefined when it cannot be. */
function openNoFollow(full: string): number | undefined {
  try {
    return openSync(full, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch {
    return undefined;
  }
}

const shebang = Buffer.alloc(2);

/**
 * Whether a work-tree file starts with `#!`, from its first two bytes: one open (as
 * openPlainFile's), read and close, for the thousands of assets a role's `files/` may hold
 * (archives included), which a module reads only when they are scripts. false when it does not
 * (an empty file, a FIFO, a device); undefined when it cannot be opened or read (missing, a
 * symlink, a directory): the caller then looks at it as at any other candidate.
 */
function startsWithShebang(full: string): boolean | undefined {
  const fd = openNoFollow(full);
  if (fd === undefined) return undefined;
  try {
    return readSync(fd, shebang, 0, 2, 0) === 2 && shebang[0] === 0x23 && shebang[1] === 0x21;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * A work-tree file's bytes and mode, read with one open (not following a symlink, not waiting
 * on a FIFO), fstat, read and close: on a repo with 10,000 candidate files an lstat before each
 * read cost a fifth of the loading. 'not a file' for a directory (a submodule) or another
 * special file; undefined when it cannot be opened (missing, a symlink, no permission): the
 * caller then looks at it as before, with lstat.
 */
function openPlainFile(full: string): { bytes: Buffer; mode: number } | 'not a file' | undefined {
  const fd = openNoFollow(full);
  if (fd === undefined) return undefined;
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return 'not a file';
    const chunks: Buffer[] = [];
    // As readFileSync: the size fstat gave, or chunks until the end for a file that reports none.
    let remaining = stats.size > 0 ? stats.size : Infinity;
    while (remaining > 0) {
      const chunk = Buffer.allocUnsafe(Math.min(remaining, 64 * 1024));
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      chunks.push(read === chunk.length ? chunk : chunk.subarray(0, read));
      remaining -= read;
    }
    return { bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), mode: stats.mode };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** A commit's tree as `ls-tree -r` lists it (blobs, symlinks and submodules, by path), and the blobs read from it so far. */
export interface CommitTree {
  readonly paths: readonly string[];
  readonly modes: readonly string[];
  readonly shas: readonly string[];
  readonly blobs: Map<string, Buffer>;
}

/**
 * The last commit listed, by repository and commit id: a commit never changes, so `--apply`'s
 * planning, its symlink check and verify share one listing and read each blob once (one
 * `ls-tree` and one `cat-file` where each had its own). Only a full object id is kept (a name
 * such as HEAD moves); one commit at a time keeps a long-lived process small.
 */
let lastTree: { readonly key: string; readonly tree: CommitTree } | undefined;

export async function commitTree(git: Git, commit: string): Promise<CommitTree> {
  const key = `${git.root}\0${commit}`;
  const immutable = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit);
  if (immutable && lastTree?.key === key) return lastTree.tree;
  // The whole tree, filtered by the caller: ls-tree takes no `:(glob)` pathspecs, and reading the
  // commit into a throw-away index for `ls-files` to select with them cost 0.4 s of CPU on a
  // 50,000-file repo (writing the index, then every entry against every pathspec), against
  // 0.05 s for `ls-tree -r` (filterPaths rejects most paths once per directory).
  const listing = await git.run(['ls-tree', '-r', '-z', '--full-tree', commit]);
  const paths: string[] = [];
  const modes: string[] = [];
  const shas: string[] = [];
  for (const record of listing.split('\0')) {
    const tab = record.indexOf('\t');
    if (tab === -1) continue;
    const [mode = '', , sha = ''] = record.slice(0, tab).split(' ');
    paths.push(record.slice(tab + 1));
    modes.push(mode);
    shas.push(sha);
  }
  const tree: CommitTree = { paths, modes, shas, blobs: new Map() };
  if (immutable) lastTree = { key, tree };
  return tree;
}

/** The contents of blobs of `tree` (empty for a missing one), reading with one `cat-file --batch` only those not read yet. */
export async function treeBlobs(git: Git, tree: CommitTree, shas: readonly string[]): Promise<Buffer[]> {
  const missing = [...new Set(shas.filter((sha) => !tree.blobs.has(sha)))];
  const read = await catFileBatch(git, missing);
  missing.forEach((sha, index) => tree.blobs.set(sha, read[index]?.content ?? Buffer.alloc(0)));
  return shas.map((sha) => tree.blobs.get(sha) ?? Buffer.alloc(0));
}

/**
 * Loads the files matching `globs` from a commit, and the shell scripts among the files matching
 * only `scripts` (as loadWorkTreeFiles), with one `cat-file --batch` for all blobs.
 * The blobs of the files `prefetch` matches are read in the same batch and kept with the
 * commit's listing, for a later load of them (--apply's verify).
 */
export async function loadCommitFiles(
  git: Git,
  commit: string,
  globs: readonly string[],
  prefetch: readonly string[] = [],
  scripts: readonly string[] = [],
): Promise<LoadedFiles> {
  const tree = await commitTree(git, commit);
  const { paths } = tree;
  const whole = new Set(filterPaths(paths, globs));
  const onlyScripts = new Set(filterPaths(paths, scripts).filter((path) => !whole.has(path)));
  const wanted = new Set([...whole, ...onlyScripts]);
  const links = new Set(filterPaths(paths, ROLE_LINKS));
  const entries: { mode: string; sha: string; path: string }[] = [];
  paths.forEach((path, index) => {
    if (!wanted.has(path) && !links.has(path)) return;
    const mode = tree.modes[index]!;
    // 160000: a submodule, not a file
    if (mode === '160000' || !(wanted.has(path) || (mode === '120000' && links.has(path)))) return;
    entries.push({ mode, sha: tree.shas[index]!, path });
  });
  const prefetched = new Set(prefetch.length === 0 ? [] : filterPaths(paths, prefetch));
  const extra = paths.flatMap((path, index) => (prefetched.has(path) && tree.modes[index] !== '160000' ? [tree.shas[index]!] : []));
  const read = await treeBlobs(git, tree, [...entries.map((entry) => entry.sha), ...extra]);
  const files = new Map<string, string>();
  const modes = new Map<string, string>();
  for (const [index, entry] of entries.entries()) {
    const content = read[index] ?? Buffer.alloc(0);
    if (entry.mode === '120000') {
      const target = content.toString('utf8');
      // Resolved against the link's own directory, as repo-relative POSIX paths: never against
      // the process's working directory (from /, `../x` would normalise to `x` and look inside).
      const resolved = posix.normalize(posix.join(posix.dirname(entry.path), target));
      if (isAbsolute(target) || resolved.startsWith('../') || resolved === '..') {
        throw new UserError(`${entry.path} is a symlink that points outside the repository; openclaw-fix will not read or edit through it`);
      }
      continue;
    }
    const text = decodeLossless(content);
    if (onlyScripts.has(entry.path) && !isShellScript(entry.path, text)) continue;
    files.set(entry.path, text);
    modes.set(entry.path, entry.mode);
  }
  return { files, modes };
}
