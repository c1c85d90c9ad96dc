/**
 * Trust boundaries (issue 13): code from the repository being fixed is untrusted. The Go
 * entrypoint verify compiles and runs is the repo's code; it must see none of the user's
 * environment, and its proof is cached without ever changing a result (issue 12).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bug3, ENTRYPOINT_FILE_NAME } from '../patches/egress-plain-http-role/egress-plain-http-role.js';
import { assetText } from '../src/core/patch-home.js';
import { main } from '../src/cli.js';
import { SANDBOX_VARIABLES } from '../src/verify/go-check.js';
import { userCacheDir } from '../src/core/cache-dir.js';
import {
  appliedFixtureRepo,
  commitAll,
  DEFAULT_FIX_BRANCH,
  fixtureGitRepo,
  git,
  runCli,
  tempDir,
  UPSTREAM_SMOKESCREEN_MAIN,
} from './helpers.js';
import { SLOW_TEST } from './budgets.js';
import { withOwnProofCache } from './setup-cache.js';

const ENTRYPOINT = `roles/openclaw-config/files/${ENTRYPOINT_FILE_NAME}`;
const FAKE_TOKEN = 'ghs_planted-init-must-never-see-this-0123456789';

/** `source` with a `func init()` that writes its working directory and os.Environ() to `dumpPath`. */
function withEnvironmentDump(source: string, dumpPath: string): string {
  const imports = 'import envdumpOS "os"\nimport envdumpStrings "strings"\n';
  const init = `\nfunc init() { cwd, _ := envdumpOS.Getwd(); _ = envdumpOS.WriteFile(${JSON.stringify(dumpPath)}, []byte(cwd+"\\n"+envdumpStrings.Join(envdumpOS.Environ(), "\\n")), 0o644) }\n`;
  return `${source.replace(/^package main\n/m, `package main\n\n${imports}`)}${init}`;
}

/** The fixture with every fix applied and checked out, its entrypoint replaced by `entrypoint`. */
async function fixedRepoWithEntrypoint(entrypoint: string): Promise<string> {
  const repo = await appliedFixtureRepo();
  git(repo, 'checkout', '-q', DEFAULT_FIX_BRANCH);
  writeFileSync(join(repo, ENTRYPOINT), entrypoint);
  commitAll(repo, 'entrypoint with an init()');
  return repo;
}

const SMOKESCREEN_ENTRYPOINT_GO = assetText(bug3, ENTRYPOINT_FILE_NAME);
const bug3Line = (stdout: string): string | undefined => stdout.split('\n').find((line) => line.startsWith('bug 3:'));

describe('repo code runs in a scrubbed environment (issue 13, item 1)', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    process.env.GITHUB_TOKEN = FAKE_TOKEN;
    process.env.AWS_SECRET_ACCESS_KEY = 'aws-fake-secret';
  });
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  it(
    'a planted init() in the entrypoint sees no token and no variable outside the allow-list, and runs outside the repo',
    async () => {
      const dump = join(tempDir(), 'environment.txt');
      const repo = await fixedRepoWithEntrypoint(withEnvironmentDump(SMOKESCREEN_ENTRYPOINT_GO, dump));
      const result = await runCli(repo, ['verify', '--no-cache']);
      expect(bug3Line(result.stdout), result.stdout + result.stderr).toBe('bug 3: ok');
      // The init() did run (that is the point: repo code is executed) ...
      expect(existsSync(dump)).toBe(true);
      const [cwd = '', ...environment] = readFileSync(dump, 'utf8').split('\n');
      // ... but saw only the allow-list, with a HOME that is not the user's, in a directory that is not the repo.
      expect(environment.join('\n')).not.toContain(FAKE_TOKEN);
      const names = environment.map((entry) => entry.slice(0, entry.indexOf('=')));
      expect(names.filter((name) => !(SANDBOX_VARIABLES as readonly string[]).includes(name))).toEqual([]);
      expect(names).not.toContain('GITHUB_TOKEN');
      expect(names).not.toContain('AWS_SECRET_ACCESS_KEY');
      const home = environment.find((entry) => entry.startsWith('HOME='))?.slice('HOME='.length);
      expect(home).toBeDefined();
      expect(home).not.toBe(saved.HOME);
      expect(cwd.startsWith(repo)).toBe(false);
    },
    SLOW_TEST,
  );
});

describe('the Go proof cache (issue 12)', () => {
  it(
    'reuses a cached pass, reports a cached failure again, --no-cache bypasses it, and deleting it changes no result',
    // An empty cache of its own: the run's shared one already holds the fixed entrypoint's proof.
    () =>
      withOwnProofCache(async () => {
        const dump = join(tempDir(), 'ran.txt');
        const passing = await fixedRepoWithEntrypoint(withEnvironmentDump(SMOKESCREEN_ENTRYPOINT_GO, dump));

        const entries = (): number =>
          existsSync(join(userCacheDir(), 'go-proof')) ? readdirSync(join(userCacheDir(), 'go-proof')).length : 0;
        const entriesBefore = entries();
        const cold = await runCli(passing, ['verify']);
        expect(bug3Line(cold.stdout)).toBe('bug 3: ok');
        expect(existsSync(dump)).toBe(true); // compiled and run
        expect(entries()).toBe(entriesBefore + 1);

        rmSync(dump);
        const warm = await runCli(passing, ['verify']);
        expect(warm).toEqual(cold);
        expect(existsSync(dump)).toBe(false); // the cached pass was reused: nothing was built or run

        const bypassed = await runCli(passing, ['verify', '--no-cache']);
        expect(bypassed).toEqual(cold);
        expect(existsSync(dump)).toBe(true); // --no-cache ran it again
        rmSync(dump);

        rmSync(userCacheDir(), { recursive: true, force: true });
        expect(await runCli(passing, ['verify'])).toEqual(cold);
        expect(existsSync(dump)).toBe(true);

        // A failure (upstream's main.go refuses plain-HTTP clients) is cached and reported again, word for word.
        const failingDump = join(tempDir(), 'failing-ran.txt');
        const failing = await fixedRepoWithEntrypoint(withEnvironmentDump(UPSTREAM_SMOKESCREEN_MAIN, failingDump));
        const failedCold = await runCli(failing, ['verify']);
        expect(failedCold.code).toBe(1);
        expect(bug3Line(failedCold.stdout)).toMatch(/^bug 3: .*refuses-plain-http/);
        rmSync(failingDump);
        const failedWarm = await runCli(failing, ['verify']);
        expect(failedWarm).toEqual(failedCold);
        expect(existsSync(failingDump)).toBe(false);
      }),
    SLOW_TEST,
  );

  it('lives in $XDG_CACHE_HOME/openclaw-fix, or ~/.cache/openclaw-fix without it', () => {
    expect(userCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe('/x/cache/openclaw-fix');
    expect(userCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/openclaw-fix');
    expect(userCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/home/u' })).toBe('/home/u/.cache/openclaw-fix');
  });
});

/** Runs `fn` with `variables` added to this process's environment (which the tool's git inherits), then restores it. */
async function withEnvironment<T>(variables: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe('an inherited GIT_DIR / GIT_WORK_TREE does not redirect the tool (item 7)', () => {
  it('--apply writes the branch into the repository given, and only there', async () => {
    const repo = fixtureGitRepo();
    const other = fixtureGitRepo();
    const otherRefs = git(other, 'for-each-ref');
    const result = await withEnvironment({ GIT_DIR: join(other, '.git'), GIT_WORK_TREE: other }, () =>
      runCli(tempDir(), ['--apply', '--repo', repo]),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Created branch ${DEFAULT_FIX_BRANCH}`);
    expect(git(repo, 'rev-parse', '--verify', '--quiet', DEFAULT_FIX_BRANCH).trim()).toMatch(/^[0-9a-f]{40}$/);
    expect(git(other, 'for-each-ref')).toBe(otherRefs);
  });
});

describe('git commands that talk to a remote are bounded (item 4)', () => {
  /** A server that accepts every connection and never answers. */
  async function silentServer(): Promise<{ url: string; close: () => void }> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/acme/deploy.git`,
      close: () => {
        for (const socket of sockets) socket.destroy();
        server.close();
      },
    };
  }

  it('a push to a remote that never answers fails in one line, exit 2, the branch intact locally', async () => {
    const silent = await silentServer();
    try {
      const repo = fixtureGitRepo();
      const bare = join(tempDir(), 'origin.git');
      git(repo, 'init', '-q', '--bare', '-b', 'main', bare);
      git(repo, 'remote', 'add', 'origin', bare);
      git(repo, 'config', 'remote.origin.pushurl', silent.url); // reading answers, pushing hangs
      const result = await runCli(repo, ['--apply', '--push', '--network-timeout', '2']);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(
        /^openclaw-fix: git push to 'origin' failed: git push got no answer within 2 s \(--network-timeout\); the fix branch \S+ is committed locally and intact\n$/,
      );
      expect(git(repo, 'rev-parse', '--verify', '--quiet', DEFAULT_FIX_BRANCH).trim()).toMatch(/^[0-9a-f]{40}$/);

      // Reading a remote that never answers stops the run before anything is written.
      const fresh = fixtureGitRepo();
      git(fresh, 'remote', 'add', 'origin', silent.url);
      const early = await runCli(fresh, ['--apply', '--push', '--network-timeout', '2']);
      expect(early.code).toBe(2);
      expect(early.stderr).toMatch(
        /^openclaw-fix: cannot read remote 'origin': git ls-remote got no answer within 2 s \(--network-timeout\); nothing was written\n$/,
      );
      expect(git(fresh, 'branch', '--list', DEFAULT_FIX_BRANCH)).toBe('');
    } finally {
      silent.close();
    }
  });

  it('--network-timeout must be a positive number of seconds', async () => {
    const result = await runCli(fixtureGitRepo(), ['--apply', '--push', '--network-timeout', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('openclaw-fix: --network-timeout takes a number of seconds greater than 0 (see --help)\n');
  });
});

describe('an empty selector is an error, not "every fix" (item 8)', () => {
  it('--only "", a bare --only or --skip, and an empty item in a list: one line, exit 2, nothing written', async () => {
    const repo = fixtureGitRepo();
    for (const args of [
      ['--apply', '--only', ''],
      ['--apply', '--only'],
      ['--apply', '--skip'],
      ['--apply', '--skip', ''],
      ['--apply', '--only', '2,'],
      ['--list', '--only', ' '],
    ]) {
      const result = await runCli(repo, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^openclaw-fix: --(only|skip) was given an empty fix name; [^\n]+\n$/);
      expect(result.stdout).toBe('');
    }
    expect(git(repo, 'branch', '--list', DEFAULT_FIX_BRANCH)).toBe('');
  });
});

/**
 * Makes `dir` unwritable for this process: chmod for a normal user; as root (which chmod does
 * not stop) the immutable attribute. Returns the undo. Throws when neither works here, rather
 * than letting a test pass without the condition it is about.
 */
function makeUnwritable(dir: string): () => void {
  const root = process.getuid?.() === 0;
  if (root) execFileSync('chattr', ['+i', dir]);
  else chmodSync(dir, 0o555);
  const undo = (): void => {
    if (root) execFileSync('chattr', ['-i', dir]);
    else chmodSync(dir, 0o755);
  };
  try {
    writeFileSync(join(dir, 'probe'), '');
    rmSync(join(dir, 'probe'));
  } catch {
    return undo;
  }
  undo();
  throw new Error(`cannot make ${dir} unwritable on this machine`);
}

describe('messages say what failed, never "re-run it" when a re-run cannot succeed (item 9)', () => {
  it('a read-only git directory: the lock cannot be created, and no other run is blamed', async () => {
    const repo = fixtureGitRepo();
    const undo = makeUnwritable(join(repo, '.git'));
    try {
      const result = await runCli(repo, ['--apply']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /^openclaw-fix: cannot create the lock file \S+openclaw-fix\.lock \((EACCES|EPERM|EROFS), [a-z -]+\): --apply needs a git directory it can write to; nothing was written\n$/,
      );
    } finally {
      undo();
    }
  });

  it('--branch main/sub next to main, --branch @{-1}, and a ref store that refuses the write', async () => {
    const repo = fixtureGitRepo();
    const nested = await runCli(repo, ['--apply', '--branch', 'main/sub']);
    expect(nested.code).toBe(2);
    expect(nested.stderr).toBe(
      'openclaw-fix: cannot create branch main/sub: branch main exists, and git cannot keep both; pass another --branch; nothing was written\n',
    );

    git(repo, 'checkout', '-q', '-b', 'elsewhere');
    git(repo, 'checkout', '-q', 'main');
    const previous = await runCli(repo, ['--apply', '--branch', '@{-1}']);
    expect(previous.code).toBe(2);
    expect(previous.stderr).toBe("openclaw-fix: '@{-1}' is not a valid branch name\n");
    expect(git(repo, 'rev-parse', 'elsewhere')).toBe(git(repo, 'rev-parse', 'main'));

    // The repository's reference-transaction hook refuses every branch update (as a read-only ref store would).
    const hooks = join(tempDir(), 'hooks');
    mkdirSync(hooks);
    writeFileSync(
      join(hooks, 'reference-transaction'),
      '#!/bin/sh\n[ "$1" = prepared ] || exit 0\nif grep -q " refs/heads/"; then exit 1; fi\nexit 0\n',
      { mode: 0o755 },
    );
    git(repo, 'config', 'core.hooksPath', hooks);
    const refused = await runCli(repo, ['--apply']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^openclaw-fix: cannot write branch openclaw-fix\/deployment-bugs: git update-ref failed: ref updates aborted by hook; nothing was written\n$/,
    );
    expect(refused.stderr).not.toMatch(/re-run/);
    expect(git(repo, 'branch', '--list', DEFAULT_FIX_BRANCH)).toBe('');
  });
});

describe("the lock records its owner; a dead owner's lock is taken over (item 10)", () => {
  const lockOf = (repo: string): string => join(repo, '.git', 'openclaw-fix.lock');
  /** The id of a process that has just ended. */
  const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid ?? 999_999;

  it('a lock left by a killed run on this host is taken over; the run succeeds and leaves no lock', async () => {
    const repo = fixtureGitRepo();
    writeFileSync(lockOf(repo), `${JSON.stringify({ pid: deadPid(), host: hostname(), token: 'killed-run' })}\n`);
    const result = await runCli(repo, ['--apply']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(existsSync(lockOf(repo))).toBe(false);
    expect(readdirSync(join(repo, '.git')).filter((name) => name.includes('openclaw-fix.lock'))).toEqual([]);
  });

  it('a live owner, or one on another host, is respected and named', async () => {
    const repo = fixtureGitRepo();
    const live = `${JSON.stringify({ pid: process.pid, host: hostname(), token: 'live' })}\n`;
    writeFileSync(lockOf(repo), live);
    const refused = await runCli(repo, ['--apply']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(
        `^openclaw-fix: another openclaw-fix run is working on this repository \\(pid ${process.pid} on ${hostname().replace(/[.]/g, '\\.')}, `,
      ),
    );
    expect(readFileSync(lockOf(repo), 'utf8')).toBe(live);

    const remote = `${JSON.stringify({ pid: deadPid(), host: 'another-host.example', token: 'remote' })}\n`;
    writeFileSync(lockOf(repo), remote);
    expect((await runCli(repo, ['--apply'])).code).toBe(2);
    expect(readFileSync(lockOf(repo), 'utf8')).toBe(remote);
  });
});

describe("a rebuild never throws away a human's edit (item 5)", () => {
  /** The fixture with the fix branch made, then main moved on, so the next --apply wants to rebuild it. */
  const branchToRebuild = appliedFixtureRepo;
  const moveMain = (repo: string): void => {
    writeFileSync(join(repo, 'NOTES.md'), 'notes\n');
    commitAll(repo, 'docs: notes');
  };
  const tipOf = (repo: string): string => git(repo, 'rev-parse', DEFAULT_FIX_BRANCH).trim();

  it('an amended fix commit (content, trailer kept) is refused, the amendment kept', async () => {
    const repo = await branchToRebuild();
    git(repo, 'checkout', '-q', DEFAULT_FIX_BRANCH);
    writeFileSync(join(repo, ENTRYPOINT), `${readFileSync(join(repo, ENTRYPOINT), 'utf8')}// reviewed by hand\n`);
    git(repo, 'commit', '-q', '-a', '--amend', '--no-edit');
    git(repo, 'checkout', '-q', 'main');
    moveMain(repo);
    const amended = tipOf(repo);
    const result = await runCli(repo, ['--apply']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `^openclaw-fix: branch ${DEFAULT_FIX_BRANCH} has commit [0-9a-f]{12} that was changed after openclaw-fix made it [^\\n]*git branch -D ${DEFAULT_FIX_BRANCH}[^\\n]*\\n$`,
      ),
    );
    expect(tipOf(repo)).toBe(amended);
  });

  it('an edit to a fix commit in the middle of the branch is found and named, not only one at the tip', async () => {
    const repo = await branchToRebuild();
    const chain = git(repo, 'rev-list', '--reverse', `main..${DEFAULT_FIX_BRANCH}`).trim().split('\n');
    expect(chain.length).toBeGreaterThan(6);
    // Commit 5 gets a line by hand; the commits after it are made again on top with their own
    // trees and messages (as a hand-made rebase would leave them, seals and all).
    const middle = chain[4]!;
    git(repo, 'checkout', '-q', middle);
    const [changed] = git(repo, 'diff-tree', '--no-commit-id', '--name-only', '-r', middle).trim().split('\n');
    writeFileSync(join(repo, changed!), `${readFileSync(join(repo, changed!), 'utf8')}# reviewed by hand\n`);
    git(repo, 'commit', '-q', '-a', '--amend', '--no-edit');
    let tip = git(repo, 'rev-parse', 'HEAD').trim();
    const amendedMiddle = tip;
    for (const sha of chain.slice(5)) {
      const raw = git(repo, 'cat-file', 'commit', sha);
      const message = join(repo, '.git', 'rebuilt-message');
      writeFileSync(message, raw.slice(raw.indexOf('\n\n') + 2));
      tip = git(repo, 'commit-tree', `${sha}^{tree}`, '-p', tip, '-F', message).trim();
    }
    git(repo, 'update-ref', `refs/heads/${DEFAULT_FIX_BRANCH}`, tip);
    git(repo, 'checkout', '-q', 'main');
    moveMain(repo);
    const result = await runCli(repo, ['--apply']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`has commit ${amendedMiddle.slice(0, 12)} that was changed after openclaw-fix made it`);
    expect(tipOf(repo)).toBe(tip);
  });

  it('an amended message (trailers kept) is refused too; an untouched branch is still rebuilt', async () => {
    const repo = await branchToRebuild();
    const untouched = await branchToRebuild();
    moveMain(untouched);
    const rebuilt = await runCli(untouched, ['--apply']);
    expect(rebuilt.stderr).toBe('');
    expect(rebuilt.stdout).toContain(`Rebuilt branch ${DEFAULT_FIX_BRANCH}`);

    git(repo, 'checkout', '-q', DEFAULT_FIX_BRANCH);
    execFileSync('git', ['-c', 'core.editor=sed -i 1s/$/,\\ reworded/', 'commit', '-q', '--amend'], { cwd: repo });
    expect(git(repo, 'log', '-1', '--format=%B')).toMatch(/^Openclaw-Fix: /m);
    git(repo, 'checkout', '-q', 'main');
    moveMain(repo);
    const amended = tipOf(repo);
    const result = await runCli(repo, ['--apply']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/changed after openclaw-fix made it/);
    expect(tipOf(repo)).toBe(amended);
  });

  it('a fix branch checked out in another worktree is not moved', async () => {
    const repo = await branchToRebuild();
    const other = join(tempDir(), 'other-worktree');
    git(repo, 'worktree', 'add', '-q', other, DEFAULT_FIX_BRANCH);
    moveMain(repo);
    const tip = tipOf(repo);
    const result = await runCli(repo, ['--apply']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `openclaw-fix: branch ${DEFAULT_FIX_BRANCH} is checked out in the worktree ${other}, so it was not rebuilt: switch that worktree to another branch (or remove it) and re-run; nothing was written\n`,
    );
    expect(tipOf(repo)).toBe(tip);
    expect(git(other, 'status', '--porcelain')).toBe('');
  });
});

describe('secrets by key word, nesting, block scalar and shape are never printed (item 3)', () => {
  /** Three lines pasted right below the egress allow-list, which a fix extends: they are its diff's context lines. */
  function repoWithPasted(lines: readonly string[]): string {
    const repo = fixtureGitRepo();
    const vars = join(repo, 'group_vars/all/vars.yml');
    const text = readFileSync(vars, 'utf8');
    writeFileSync(vars, text.replace('  - registry.npmjs.org\n', `  - registry.npmjs.org\n${lines.join('\n')}\n`));
    commitAll(repo, 'secrets pasted into group_vars');
    return repo;
  }

  const cases: { name: string; lines: string[]; secrets: string[] }[] = [
    {
      name: 'OPENAI_KEY, anthropic_key, openai: { key: … }',
      lines: [
        'OPENAI_KEY: "oa-fake-openai-value-001"',
        'anthropic_key: ant-fake-anthropic-value-002',
        'openai: { key: "nested-fake-openai-value-003", org: acme }',
      ],
      secrets: ['oa-fake-openai-value-001', 'ant-fake-anthropic-value-002', 'nested-fake-openai-value-003'],
    },
    {
      name: 'smtp_pass, webhook_url, ssh_private_key: | (a PEM block)',
      lines: [
        'smtp_pass: "smtp-fake-pass-value-004"',
        'webhook_url: https://hooks.example.com/services/fake-webhook-005',
        'ssh_private_key: |',
        '  -----BEGIN OPENSSH PRIVATE KEY-----',
        '  b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQfakeBODY006',
        '  -----END OPENSSH PRIVATE KEY-----',
      ],
      secrets: ['smtp-fake-pass-value-004', 'fake-webhook-005', 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQfakeBODY006'],
    },
    {
      name: 'credential shapes under harmless keys: sk-…, ghp_…, a long random string',
      lines: [
        'litellm_note: "sk-proj-FAKEshapeOnly0123456789abcdef007"',
        'ci_note: ghp_FAKEshapeOnly0123456789abcdefABCDEF008',
        'backup_label: "Zx9Qw3Er7Ty1Ui5Op2As8Df4Gh6Jk0LmNb009"',
      ],
      secrets: [
        'sk-proj-FAKEshapeOnly0123456789abcdef007',
        'ghp_FAKEshapeOnly0123456789abcdefABCDEF008',
        'Zx9Qw3Er7Ty1Ui5Op2As8Df4Gh6Jk0LmNb009',
      ],
    },
  ];

  for (const { name, lines, secrets } of cases) {
    it(`${name}: not in the dry-run diff, --json or --format patch`, async () => {
      const repo = repoWithPasted(lines);
      const leaks = (text: string): string[] => secrets.filter((secret) => text.includes(secret));
      const dryRun = await runCli(repo, []);
      expect(dryRun.code, dryRun.stderr).toBe(0);
      expect(dryRun.stdout).toContain('+  - api.telegram.org'); // the diff whose context holds them is printed
      expect(dryRun.stdout).toContain('<redacted>');
      expect(leaks(dryRun.stdout + dryRun.stderr)).toEqual([]);
      const json = await runCli(repo, ['--json']);
      expect(leaks(json.stdout + json.stderr)).toEqual([]);
      const patch = await runCli(repo, ['--format', 'patch']);
      expect(leaks(patch.stdout + patch.stderr)).toEqual([]);
      expect(patch.code).toBe(2);
      expect(patch.stderr).toMatch(/^openclaw-fix: group_vars\/all\/vars\.yml: the patch series would contain a secret value/);
    });
  }

  it('ordinary values stay readable: image digests, commit ids, environment variable names, paths', async () => {
    const { redactSecrets, secretValues } = await import('../src/git/secrets.js');
    const files = new Map([
      [
        'group_vars/all/vars.yml',
        'key_env: ANTHROPIC_API_KEY\nredis_image: redis@sha256:3f2b9c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9\nauth_mode: "{{ vault_auth_mode }}"\npassthrough_dir: /opt/openclaw/passthrough\n',
      ],
    ]);
    const secrets = secretValues(files);
    const text = [...files.values()][0] ?? '';
    expect(redactSecrets(text, secrets)).toBe(text);
    expect(
      redactSecrets('commit 0123456789abcdef0123456789abcdef01234567 of github.com/stripe/smokescreen/pkg/smokescreen', []),
    ).not.toContain('<redacted>');
  });
});

describe('a file that is not valid UTF-8 keeps every byte nobody asked to change (item 2)', () => {
  const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
  const LATIN1_LINE = Buffer.from('# Ren\xe9 wrote this file\n', 'latin1');

  /** The fixture with a Latin-1 comment on top of the Compose template, a file several fixes edit. */
  function repoWithLatin1(): string {
    const repo = fixtureGitRepo();
    writeFileSync(join(repo, COMPOSE), Buffer.concat([LATIN1_LINE, readFileSync(join(repo, COMPOSE))]));
    commitAll(repo, 'a Latin-1 comment');
    return repo;
  }

  /** The CLI in-process with its standard output captured as bytes. */
  async function runCliBytes(cwd: string, args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
    const chunks: Buffer[] = [];
    let stderr = '';
    const code = await main(args, {
      stdout: {
        write: (text: string | Uint8Array) => chunks.push(typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text)),
      },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
      cwd,
    });
    return { code, stdout: Buffer.concat(chunks), stderr };
  }

  const REPLACEMENT = Buffer.from('\uFFFD', 'utf8');

  it('--apply: the fixed file still holds the Latin-1 byte, and the fixes still run', async () => {
    const repo = repoWithLatin1();
    const result = await runCli(repo, ['--apply']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const fixed = execFileSync('git', ['show', `${DEFAULT_FIX_BRANCH}:${COMPOSE}`], { cwd: repo });
    expect(fixed.subarray(0, LATIN1_LINE.length).equals(LATIN1_LINE)).toBe(true);
    expect(fixed.includes(REPLACEMENT)).toBe(false);
    // Only the fixes' lines changed: the diff against main has no line about René.
    expect(
      execFileSync('git', ['diff', `main..${DEFAULT_FIX_BRANCH}`, '--', COMPOSE], { cwd: repo }).includes(Buffer.from('Ren', 'latin1')),
    ).toBe(false);
  });

  it('--format patch: the series carries the byte, and git am of it gives the tree --apply commits', async () => {
    const repo = repoWithLatin1();
    const base = git(repo, 'rev-parse', 'HEAD').trim();
    const series = await runCliBytes(repo, ['--format', 'patch']);
    expect(series.stderr).toBe('');
    expect(series.code).toBe(0);
    expect(series.stdout.includes(REPLACEMENT)).toBe(false);
    const clone = join(tempDir(), 'clone');
    git(repo, 'clone', '-q', repo, clone);
    git(clone, 'checkout', '-q', '--detach', base);
    writeFileSync(join(clone, '..', 'series.mbox'), series.stdout);
    git(clone, 'am', '-q', join(clone, '..', 'series.mbox'));
    expect((await runCli(repo, ['--apply'])).code).toBe(0);
    expect(git(clone, 'rev-parse', 'HEAD^{tree}')).toBe(git(repo, 'rev-parse', `${DEFAULT_FIX_BRANCH}^{tree}`));
  });

  it('decodeLossless/encodeLossless give back every byte sequence, valid UTF-8 or not', async () => {
    const { decodeLossless, encodeLossless } = await import('../src/core/bytes.js');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => encodeLossless(decodeLossless(bytes)).equals(Buffer.from(bytes))));
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (text) => decodeLossless(Buffer.from(text, 'utf8')) === text));
    for (const sample of ['\uFEFFbom', 'pair \u{1F4A9} \uFFFD', 'ed b3 a9: \xed\xb3\xa9']) {
      const bytes = Buffer.from(sample, sample.startsWith('ed') ? 'latin1' : 'utf8');
      expect(encodeLossless(decodeLossless(bytes)).equals(bytes)).toBe(true);
    }
  });

  it('the dry run shows no change to the Latin-1 line', async () => {
    const repo = repoWithLatin1();
    const result = await runCli(repo, []);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').filter((line) => /^[-+].*Ren/.test(line))).toEqual([]);
    expect(result.stdout).toContain(`+++ b/${COMPOSE}`);
  });
});

describe('an in-repo symlink is never replaced (item 6)', () => {
  /** roles/openclaw-config/files -> ../../shared/files: a maintainer sharing files between roles. */
  function repoWithSymlinkedFiles(): string {
    const repo = fixtureGitRepo();
    mkdirSync(join(repo, 'shared', 'files'), { recursive: true });
    writeFileSync(join(repo, 'shared', 'files', 'README'), 'files shared by the roles\n');
    symlinkSync('../../shared/files', join(repo, 'roles/openclaw-config/files'));
    commitAll(repo, 'share role files');
    return repo;
  }

  it('the fix that would write through it is unrecognised, naming the link; the others still run, in the dry run and --apply alike', async () => {
    const repo = repoWithSymlinkedFiles();
    const dryRun = await runCli(repo, ['--json']);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    const fixes = (JSON.parse(dryRun.stdout) as { fixes: { id: string; state: string; reason: string }[] }).fixes;
    const bug3 = fixes.find((fix) => fix.id === 'egress-plain-http-role');
    expect(bug3?.state).toBe('unrecognised');
    expect(bug3?.reason).toMatch(
      /^roles\/openclaw-config\/files is a symlink \(to \.\.\/\.\.\/shared\/files\), and openclaw-fix does not write through symlinks/,
    );
    expect(fixes.filter((fix) => fix.state === 'needs-fix').length).toBeGreaterThan(5);

    const applied = await runCli(repo, ['--apply']);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/roles\/openclaw-config\/files is a symlink/);
    // The link is still a link on the fix branch, and nothing was written through it.
    expect(git(repo, 'ls-tree', DEFAULT_FIX_BRANCH, '--', 'roles/openclaw-config/files')).toMatch(/^120000 blob /);
    expect(git(repo, 'diff', '--name-only', `main..${DEFAULT_FIX_BRANCH}`)).not.toMatch(/roles\/openclaw-config\/files|shared\//);
    expect(git(repo, 'log', '--format=%(trailers:key=Openclaw-Fix,valueonly)', `main..${DEFAULT_FIX_BRANCH}`)).not.toContain(
      'egress-plain-http-role',
    );
  });
});

describe('smaller hostile cases', () => {
  it('a relative symlink leaving the repository is judged from its own directory, whatever the working directory', async () => {
    const repo = fixtureGitRepo();
    const compose = 'roles/openclaw-config/templates/docker-compose.yml.j2';
    rmSync(join(repo, compose));
    symlinkSync('../../../../outside.yml.j2', join(repo, compose));
    commitAll(repo, 'compose outside the repo');
    const cwd = process.cwd();
    process.chdir('/');
    try {
      const result = await runCli(repo, ['--apply']);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `openclaw-fix: ${compose} is a symlink that points outside the repository; openclaw-fix will not read or edit through it\n`,
      );
    } finally {
      process.chdir(cwd);
    }
    expect(git(repo, 'branch', '--list', DEFAULT_FIX_BRANCH)).toBe('');
  });

  it('a YAML alias bomb in a variable file ends the run with the file named, never a hang or an internal error', async () => {
    const repo = fixtureGitRepo();
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      ...'bcdefghi'.split('').map((name, index) => `${name}: &${name} [${Array(9).fill(`*${'abcdefghi'[index]}`).join(',')}]`),
    ];
    writeFileSync(join(repo, 'group_vars/all/bomb.yml'), `${bomb.join('\n')}\n`);
    commitAll(repo, 'billion laughs');
    // Only what reads the bomb's variables is stopped by it (failures are confined); nothing hangs expanding it.
    for (const args of [[], ['verify']]) {
      const result = await runCli(repo, args);
      expect([0, 1], `${args.join(' ')}: ${result.stderr}`).toContain(result.code);
      expect(result.stdout + result.stderr).not.toMatch(/internal error/);
    }
    const { readVarFile } = await import('../src/model/render/vars.js');
    expect(() => readVarFile('group_vars/all/bomb.yml', `${bomb.join('\n')}\n`)).toThrow(
      /^group_vars\/all\/bomb\.yml:1: aliases expand too far/,
    );
  });

  it('a YAML alias bomb in a deploy tasks file stops only what reads it, named, never a hang', async () => {
    const repo = fixtureGitRepo();
    const levels = 'abcdefghi'.split('');
    const bomb = levels.map((name, index) =>
      index === 0
        ? `      a: &a ["x","x","x","x","x","x","x","x","x"]`
        : `      ${name}: &${name} [${Array(9)
            .fill(`*${levels[index - 1]}`)
            .join(',')}]`,
    );
    const tasks = join(repo, 'roles/openclaw-deploy/tasks/main.yml');
    writeFileSync(
      tasks,
      `${readFileSync(tasks, 'utf8')}\n- name: Billion laughs\n  ansible.builtin.debug:\n    msg:\n${bomb.join('\n')}\n`,
    );
    commitAll(repo, 'billion laughs in the deploy tasks');
    for (const args of [['--json'], ['verify', '--json']]) {
      const result = await runCli(repo, args);
      expect([0, 1], `${args.join(' ')}: ${result.stderr}`).toContain(result.code);
      expect(result.stdout + result.stderr).not.toMatch(/internal error/);
    }
    const plan = JSON.parse((await runCli(repo, ['--json'])).stdout) as { fixes: { id: string; state: string; reason: string }[] };
    const stopped = plan.fixes.filter((fix) => fix.state === 'unrecognised');
    expect(stopped.length).toBeGreaterThan(0);
    for (const fix of stopped) expect(fix.reason, fix.id).toContain('roles/openclaw-deploy/tasks/main.yml');
  });

  it('a GitHub error body with a newline still makes a one-line error', async () => {
    const server = createHttpServer((_request, response) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: 'Internal\nServer Error' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const repo = fixtureGitRepo();
      const bare = join(tempDir(), 'origin.git');
      git(repo, 'init', '-q', '--bare', '-b', 'main', bare);
      git(repo, 'remote', 'add', 'origin', bare);
      const { port } = server.address() as AddressInfo;
      const result = await runCli(repo, ['--apply', '--push', '--pr'], {
        GITHUB_TOKEN: 'ghs_fake',
        GITHUB_REPOSITORY: 'acme/deploy',
        GITHUB_API_URL: `http://127.0.0.1:${port}`,
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^openclaw-fix: GitHub answered 500 Internal Server Error when trying to [^\n]*\n$/);
    } finally {
      server.close();
    }
  });

  it('a role directory symlinked outside the repository is refused alike by the dry run, --check and --apply', async () => {
    const outside = join(tempDir(), 'openclaw-config');
    const repo = fixtureGitRepo();
    cpSync(join(repo, 'roles/openclaw-config'), outside, { recursive: true });
    rmSync(join(repo, 'roles/openclaw-config'), { recursive: true });
    symlinkSync(outside, join(repo, 'roles/openclaw-config'));
    commitAll(repo, 'the role lives elsewhere');
    for (const args of [[], ['--check'], ['--apply']]) {
      const result = await runCli(repo, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toBe(
        'openclaw-fix: roles/openclaw-config is a symlink that points outside the repository; openclaw-fix will not read or edit through it\n',
      );
    }
  });
});
