/** Shared test utilities: fixture loading, real git repositories in temp dirs, and running the CLI in-process. */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main, type Io } from '../src/cli.js';
import { CHILD_PROCESS_TIMEOUT } from './budgets.js';
import { fileTempDir, tempDir } from './temp-dirs.js';

export const FIXTURE_REPO = fileURLToPath(new URL('../fixtures/deployment-repo', import.meta.url));
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every file of a directory as repo-relative POSIX path → text. */
export function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (current: string): void => {
    for (const entry of readdirSync(current)) {
      if (entry === '.git') continue;
      const full = join(current, entry);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(relative(dir, full).split(sep).join('/'), readFileSync(full, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

/** The bundled fixture repo's files, in memory. */
export function fixtureFiles(): Map<string, string> {
  return readTree(FIXTURE_REPO);
}

export { fileTempDir, tempDir } from './temp-dirs.js';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
    },
  });
}

/** A copy of the fixture (or `source`) in a temp dir, as a git repo with one commit on `main`. */
export function fixtureGitRepo(source = FIXTURE_REPO, { untilFileEnds = false }: { untilFileEnds?: boolean } = {}): string {
  const dir = untilFileEnds ? fileTempDir() : tempDir();
  const prepared = preparedRepoOf(source);
  if (prepared === undefined) {
    initRepo(source, dir);
    return dir;
  }
  // A file copy of the repo prepared once, then one git call to take the new files' stat data
  // into the index: a fresh init, config, add and commit took six.
  cpSync(prepared, dir, { recursive: true, verbatimSymlinks: true });
  git(dir, 'update-index', '-q', '--refresh');
  return dir;
}

/** The repo fixtureGitRepo made of `source`, once per test file, for the fixtures under fixtures/ only (they never change while tests run). */
const preparedRepos = new Map<string, string>();
function preparedRepoOf(source: string): string | undefined {
  if (!relative(join(PROJECT_ROOT, 'fixtures'), source).match(/^[^./][^/]*$/)) return undefined;
  let prepared = preparedRepos.get(source);
  // Made in a file temp dir: when files share this module, the next file makes its own.
  if (prepared === undefined || !existsSync(prepared)) {
    prepared = fileTempDir('openclaw-fix-prepared-');
    initRepo(source, prepared);
    preparedRepos.set(source, prepared);
  }
  return prepared;
}

function initRepo(source: string, dir: string): void {
  cpSync(source, dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'Test');
  git(dir, 'config', 'user.email', 'test@example.com');
  git(dir, 'config', 'commit.gpgsign', 'false');
  commitAll(dir, 'initial deployment repo');
}

/**
 * A copy of the fixture repo after `--apply` (the fix branch written, `main` checked out), for
 * tests whose subject comes after it: the --apply runs once per test file, each caller gets a copy.
 */
export async function appliedFixtureRepo(): Promise<string> {
  if (appliedFixture === undefined || !existsSync(appliedFixture)) {
    const applied = fixtureGitRepo(FIXTURE_REPO, { untilFileEnds: true });
    const result = await runCli(applied, ['--apply']);
    if (result.code !== 0) throw new Error(`--apply on the fixture failed (exit ${result.code}): ${result.stderr}`);
    appliedFixture = applied;
  }
  const dir = tempDir();
  cpSync(appliedFixture, dir, { recursive: true, verbatimSymlinks: true });
  git(dir, 'update-index', '-q', '--refresh');
  return dir;
}
let appliedFixture: string | undefined;

/** Writes `text` at `path`, creating the directories above it. */
export function writeFileMakingDirs(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Writes each repo-relative path → text under `dir`. */
export function writeFiles(dir: string, files: Iterable<readonly [string, string]>): void {
  for (const [path, text] of files) writeFileMakingDirs(join(dir, path), text);
}

/** A git repo (one commit on `main`, as fixtureGitRepo) holding exactly `files`. */
export function gitRepoOf(files: Iterable<readonly [string, string]>): string {
  const source = tempDir('openclaw-fix-src-');
  writeFiles(source, files);
  return fixtureGitRepo(source);
}

/** Stages everything in the work tree and commits it. */
export function commitAll(repo: string, message: string): void {
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', message);
}

/** The branch `--apply` writes when no --branch is given: a user-visible name, so spelt out here, not imported. */
export const DEFAULT_FIX_BRANCH = 'openclaw-fix/deployment-bugs';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI's `main` in-process in `cwd` with only `env` as its environment, capturing both streams. */
export async function runCli(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, isTTY = false): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (text: string) => (stdout += text), isTTY },
    stderr: { write: (text: string) => (stderr += text) },
    env: { ...env },
    cwd,
  };
  // A library warning (process.emitWarning) would reach a user's terminal on stderr; in-process
  // it would bypass `io`, so the run's warnings are caught and counted as its stderr.
  const onWarning = (warning: Error) => (stderr += `(node) ${warning.name}: ${warning.message}\n`);
  process.on('warning', onWarning);
  try {
    const code = await main(args, io);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    return { code, stdout, stderr };
  } finally {
    process.off('warning', onWarning);
  }
}

/** git without optional locks, so that reading the repo's state never refreshes (rewrites) the index. */
function gitWithoutLocks(repo: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } });
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every path under `dir` with a hash of its bytes and its mode (symlinks by target), .git excluded. */
export function treeHashes(dir: string): string {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name === '.git') continue;
      const full = join(current, entry.name);
      const rel = relative(dir, full);
      if (entry.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(full)}`);
      else if (entry.isDirectory()) walk(full);
      else out.push(`${rel} ${sha256(readFileSync(full))} ${(statSync(full).mode & 0o777).toString(8)}`);
    }
  };
  walk(dir);
  return out.join('\n');
}

/**
 * Everything of the user's that a run must leave alone, for comparing before and after: refs
 * (one `refname objectname` line each), HEAD, status, staged entries and unstaged changes.
 * `strict` also takes the index file's bytes, every work-tree file's bytes and mode, and what
 * the git dir holds besides objects and logs — read without optional locks, so that taking the
 * snapshot never rewrites the index itself.
 */
export function snapshot(repo: string, { strict = false }: { strict?: boolean } = {}): string {
  const gitDir = join(repo, '.git');
  const read = strict ? gitWithoutLocks : git;
  const parts = [
    read(repo, 'for-each-ref', '--format=%(refname) %(objectname)'),
    readFileSync(join(gitDir, 'HEAD'), 'utf8'),
    read(repo, 'status', '--porcelain', '--untracked-files=all'),
    read(repo, 'ls-files', '-s'),
    read(repo, 'diff'),
  ];
  if (strict) {
    parts.push(
      existsSync(join(gitDir, 'index')) ? sha256(readFileSync(join(gitDir, 'index'))) : 'no index',
      treeHashes(repo),
      readdirSync(gitDir)
        .filter((name) => name !== 'objects' && name !== 'logs')
        .sort()
        .join(' '),
    );
  }
  return parts.join('\n--\n');
}

/** The report's Bug 3 entrypoint snippet, verbatim. It must keep failing: v0.0.4's StartWithConfig returns nothing, so this does not compile. */
export const REPORT_BUG3_ENTRYPOINT = `// custom-main.go — use as build target instead of .
package main

import (
    "net/http"
    "github.com/stripe/smokescreen/cmd"
    "github.com/stripe/smokescreen/pkg/smokescreen"
)

func main() {
    conf, err := cmd.NewConfiguration(nil, nil)
    if err != nil {
        panic(err)
    }
    // Return empty role → falls back to "default" ACL policy
    conf.RoleFromRequest = func(req *http.Request) (string, error) {
        return "default", nil
    }
    if err := smokescreen.StartWithConfig(conf, nil); err != nil {
        panic(err)
    }
}
`;

/** Upstream v0.0.4's main.go as the Go stand-in (test/go-standin) replicates it: compiles, refuses plain-HTTP clients. */
export const UPSTREAM_SMOKESCREEN_MAIN = readFileSync(join(PROJECT_ROOT, 'test', 'go-standin', 'main.go'), 'utf8');

/**
 * Real `ansible-playbook` in `work`, as the tests that prove a fix under Ansible run it: an
 * ansible.cfg written in the work dir (the system Python, temp files inside `work`, no retry
 * files, no cows; `defaults` adds lines to its [defaults], such as `ansible_managed = …`, which
 * only the config can set), a private ANSIBLE_HOME, no colour, no localhost warning; `env` adds
 * to the environment.
 */
export function ansiblePlaybook(
  work: string,
  args: readonly string[],
  { env = {}, defaults = [] }: { env?: NodeJS.ProcessEnv; defaults?: readonly string[] } = {},
): SpawnSyncReturns<string> {
  writeFileSync(
    join(work, 'ansible.cfg'),
    [
      '[defaults]',
      ...defaults,
      'interpreter_python = /usr/bin/python3',
      `local_tmp = ${join(work, 'tmp')}`,
      'retry_files_enabled = False',
      'nocows = True',
      '',
    ].join('\n'),
  );
  return spawnSync('ansible-playbook', args, {
    cwd: work,
    encoding: 'utf8',
    env: {
      ...process.env,
      ANSIBLE_CONFIG: join(work, 'ansible.cfg'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_HOME: join(work, 'home'),
      ANSIBLE_LOCALHOST_WARNING: 'False',
      ...env,
    },
    timeout: CHILD_PROCESS_TIMEOUT,
  });
}
