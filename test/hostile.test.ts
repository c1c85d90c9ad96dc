/**
 * Hostile input: the CLI against real git repos in the states users really leave them in. An
 * error is exit 2 and ONE line on stderr naming the problem, and the repository — refs, HEAD,
 * index file, status, work-tree bytes — is exactly as before. The tool never prints a secret.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  openSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  commitAll,
  DEFAULT_FIX_BRANCH,
  FIXTURE_REPO,
  fixtureGitRepo,
  git,
  PROJECT_ROOT,
  runCli,
  sha256,
  snapshot,
  tempDir,
  treeHashes,
  type CliResult,
} from './helpers.js';
import { SLOW_TEST } from './budgets.js';

const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';

/** The one-line error contract: exit 2, a single `openclaw-fix: …` line matching `pattern`, nothing on stdout. */
function expectOneLineError(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr).toMatch(/^openclaw-fix: [^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
  expect(result.stdout).toBe('');
}

/**
 * True when every source under src/ and patches/ that `npm run build` turns into a file of dist/
 * has that file, at least as new as itself: a .ts module (not a test: tsconfig.json leaves the
 * patches' *.test.ts out of the build, and counting them made this false on every clean
 * build, so each run compiled the CLI again, ~14 CPU-s) its .js, and a fix's prose or asset
 * (.md, .go, copied by scripts/copy-patch-homes.mjs) its copy.
 */
function distIsCurrent(): boolean {
  const sources: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.test.ts')) continue;
      else if (entry.name.endsWith('.ts') || (dir.startsWith(join(PROJECT_ROOT, 'patches')) && /\.(md|go)$/.test(entry.name)))
        sources.push(join(dir, entry.name));
    }
  };
  for (const top of ['src', 'patches']) walk(join(PROJECT_ROOT, top));
  // The launcher runs the bundle (scripts/bundle.mjs): it must be newer than every source too.
  const bundle = join(PROJECT_ROOT, 'dist', 'openclaw-fix.cjs');
  return sources.every((source) => {
    const built = join(PROJECT_ROOT, 'dist', relative(PROJECT_ROOT, source)).replace(/\.ts$/, '.js');
    const sourceTime = statSync(source).mtimeMs;
    return existsSync(built) && statSync(built).mtimeMs >= sourceTime && existsSync(bundle) && statSync(bundle).mtimeMs >= sourceTime;
  });
}

describe('hostile repositories: one line, exit 2, nothing touched', () => {
  it('not a git repository', async () => {
    const dir = tempDir();
    cpSync(FIXTURE_REPO, dir, { recursive: true });
    const before = treeHashes(dir);
    for (const args of [[], ['--apply'], ['verify']]) {
      expectOneLineError(await runCli(dir, args), /is not a git repository/);
    }
    expect(treeHashes(dir)).toBe(before);
  });

  it('an empty repository (no commits yet)', async () => {
    const repo = tempDir();
    cpSync(FIXTURE_REPO, repo, { recursive: true });
    git(repo, 'init', '-q', '-b', 'main');
    const before = snapshot(repo, { strict: true });
    expectOneLineError(await runCli(repo, ['--apply']), /has no commits yet; commit the deployment repo first/);
    expect(snapshot(repo, { strict: true })).toBe(before);
  });

  it('a dirty work tree (--apply)', async () => {
    const repo = fixtureGitRepo();
    writeFileSync(join(repo, COMPOSE), `${readFileSync(join(repo, COMPOSE), 'utf8')}# local edit\n`);
    // A touched but unchanged file: a plain `git status` would refresh and rewrite the index.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(repo, 'playbook.yml'), later, later);
    const before = snapshot(repo, { strict: true });
    expectOneLineError(
      await runCli(repo, ['--apply']),
      new RegExp(`uncommitted changes \\(1 path, first: ${COMPOSE.replace(/\./g, '\\.')}\\)`),
    );
    expect(snapshot(repo, { strict: true })).toBe(before);
  });

  it('a detached HEAD (--apply)', async () => {
    const repo = fixtureGitRepo();
    git(repo, 'checkout', '-q', '--detach');
    const before = snapshot(repo, { strict: true });
    expectOneLineError(await runCli(repo, ['--apply']), /HEAD is detached/);
    expect(snapshot(repo, { strict: true })).toBe(before);
  });

  it('the fix branch exists with commits the tool did not make', async () => {
    const repo = fixtureGitRepo();
    git(repo, 'branch', DEFAULT_FIX_BRANCH);
    git(repo, 'checkout', '-q', DEFAULT_FIX_BRANCH);
    writeFileSync(join(repo, 'NOTES.md'), 'mine\n');
    commitAll(repo, 'my own work');
    git(repo, 'checkout', '-q', 'main');
    const before = snapshot(repo, { strict: true });
    expectOneLineError(
      await runCli(repo, ['--apply']),
      new RegExp(`branch ${DEFAULT_FIX_BRANCH} exists and has 1 commit openclaw-fix did not make`),
    );
    expect(snapshot(repo, { strict: true })).toBe(before);
  });

  it('a symlink pointing outside the repository is refused, never read through', async () => {
    const outside = join(tempDir(), 'outside.yml.j2');
    writeFileSync(outside, readFileSync(join(FIXTURE_REPO, COMPOSE)));
    const repo = fixtureGitRepo();
    rmSync(join(repo, COMPOSE));
    symlinkSync(outside, join(repo, COMPOSE));
    commitAll(repo, 'compose lives elsewhere');
    const before = snapshot(repo, { strict: true });
    const outsideBefore = sha256(readFileSync(outside));
    for (const args of [[], ['--apply']]) {
      expectOneLineError(
        await runCli(repo, args),
        new RegExp(`${COMPOSE.replace(/\./g, '\\.')} is a symlink that points outside the repository`),
      );
    }
    expect(snapshot(repo, { strict: true })).toBe(before);
    expect(sha256(readFileSync(outside))).toBe(outsideBefore);
  });

  it('another run holding the lock: refused, and its lock is left alone', async () => {
    const repo = fixtureGitRepo();
    const lock = join(repo, '.git', 'openclaw-fix.lock');
    writeFileSync(lock, '12345\n');
    const before = snapshot(repo, { strict: true });
    expectOneLineError(await runCli(repo, ['--apply']), /another openclaw-fix run is working on this repository/);
    expect(snapshot(repo, { strict: true })).toBe(before);
    expect(readFileSync(lock, 'utf8')).toBe('12345\n');
  });
});

describe('hostile repositories that are not errors', () => {
  it('a missing target file: the fixes that need it are not applicable, the others still run', async () => {
    const repo = fixtureGitRepo();
    git(repo, 'rm', '-q', COMPOSE);
    git(repo, 'commit', '-q', '-m', 'no compose template');
    const before = snapshot(repo, { strict: true });
    const result = await runCli(repo, ['--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const fixes = (JSON.parse(result.stdout) as { fixes: { id: string; state: string; reason: string }[] }).fixes;
    const byId = new Map(fixes.map((fix) => [fix.id, fix]));
    for (const id of ['egress-writable-run', 'litellm-no-egress-dependency'])
      expect(byId.get(id)?.state, byId.get(id)?.reason).toBe('not-applicable');
    expect(fixes.some((fix) => fix.state === 'needs-fix')).toBe(true); // e.g. the Telegram token task is still fixed
    expect(snapshot(repo, { strict: true })).toBe(before);
  });

  // A broken file is not an error of the repository: it stops only the fixes that read it (issue 10).
  for (const [name, broken, pattern] of [
    [
      'malformed YAML',
      (text: string) => text.replace('    container_name: openclaw-redis\n', '    container_name: openclaw-redis\n   restart: always\n'),
      ':\\d+: not valid YAML',
    ],
    [
      'unbalanced Jinja',
      (text: string) => text.replace('  redis:\n', '  redis:\n{% if redis_enabled %}\n'),
      ":\\d+: '\\{% if %\\}' is never closed",
    ],
  ] as const) {
    it(`${name} in a target file stops only the fixes that read it, naming the file and line; the others are committed`, async () => {
      const repo = fixtureGitRepo();
      writeFileSync(join(repo, COMPOSE), broken(readFileSync(join(repo, COMPOSE), 'utf8')));
      commitAll(repo, name);
      const before = snapshot(repo, { strict: true });
      const named = new RegExp(`${COMPOSE.replace(/\./g, '\\.')}${pattern}`);
      const dry = await runCli(repo, ['--json']);
      expect(dry.code, dry.stderr).toBe(0);
      const fixes = (JSON.parse(dry.stdout) as { fixes: { id: string; state: string; reason: string }[] }).fixes;
      const stopped = fixes.filter((fix) => fix.state === 'unrecognised');
      expect(stopped.map((fix) => fix.id)).toContain('egress-writable-run');
      for (const fix of stopped) expect(fix.reason).toMatch(named);
      expect(fixes.filter((fix) => fix.state === 'needs-fix').map((fix) => fix.id)).toEqual(
        expect.arrayContaining(['backup-images-prepulled', 'handlers-first-run-safe']),
      );
      expect((await runCli(repo, ['--check'])).code).toBe(1);
      const verified = await runCli(repo, ['verify']);
      expect(verified.stdout).toMatch(new RegExp(`^bug 2: not checked: .*${named.source}`, 'm'));
      expect(snapshot(repo, { strict: true })).toBe(before);
      const applied = await runCli(repo, ['--apply']);
      expect(applied.code, applied.stderr).toBe(0);
      expect(git(repo, 'log', '--format=%(trailers:key=Openclaw-Fix,valueonly)', `main..${DEFAULT_FIX_BRANCH}`)).toMatch(
        /backup-images-prepulled/,
      );
      expect(git(repo, 'diff', '--stat', `main..${DEFAULT_FIX_BRANCH}`, '--', COMPOSE)).toBe('');
    });
  }

  it('a read-only target file: --apply still works, because it never writes the work tree', async () => {
    const repo = fixtureGitRepo();
    chmodSync(join(repo, COMPOSE), 0o444);
    const before = snapshot(repo, { strict: true });
    const result = await runCli(repo, ['--apply']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // The branch carries the fix; the user's read-only file is untouched, mode and bytes.
    expect(git(repo, 'diff', '--stat', `main..${DEFAULT_FIX_BRANCH}`, '--', COMPOSE)).toMatch(/1 file changed/);
    expect(snapshot(repo, { strict: true }).replace(new RegExp(`^refs/heads/${DEFAULT_FIX_BRANCH} \\w+\\n`, 'm'), '')).toBe(before);
    expect(statSync(join(repo, COMPOSE)).mode & 0o777).toBe(0o444);
  });

  it('two runs at once: one writes the branch, the other is refused or finds it done; no lock is left', async () => {
    const repo = fixtureGitRepo();
    const results = await Promise.all([runCli(repo, ['--apply']), runCli(repo, ['--apply'])]);
    expect(results.some((result) => result.code === 0)).toBe(true);
    for (const result of results) {
      if (result.code !== 0) expectOneLineError(result, /another openclaw-fix run is working on this repository/);
    }
    expect(existsSync(join(repo, '.git', 'openclaw-fix.lock'))).toBe(false);
    expect(git(repo, 'log', '--format=%(trailers:key=Openclaw-Fix,valueonly)', `main..${DEFAULT_FIX_BRANCH}`).trim()).not.toBe('');
  });
});

describe('SIGINT in the middle of --apply (bin/openclaw-fix.js as a child process)', () => {
  let build = PROJECT_ROOT;
  beforeAll(() => {
    // The launcher runs ../dist/openclaw-fix.cjs. `npm ci` (CI) and `npm run build` leave a dist/
    // built from the current sources: use the package as it is, the way a user runs it. Only
    // when a source is newer than its build (a developer's edit) compile the current sources
    // beside a copy of the launcher.
    if (distIsCurrent()) return;
    build = join(PROJECT_ROOT, 'node_modules', '.cache', 'openclaw-fix-hostile');
    rmSync(build, { recursive: true, force: true });
    const tsc = spawnSync(
      process.execPath,
      [
        join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(PROJECT_ROOT, 'tsconfig.json'),
        '--outDir',
        join(build, 'dist'),
        '--sourceMap',
        'false',
        '--noEmitOnError',
        'false',
      ],
      { encoding: 'utf8' },
    );
    if (!existsSync(join(build, 'dist', 'src', 'cli.js'))) throw new Error(`tsc did not build the CLI: ${tsc.stdout}${tsc.stderr}`);
    // As `npm run build` does: each fix's prose and assets beside its compiled module, and the bundle the launcher runs.
    spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'copy-patch-homes.mjs'), join(build, 'dist')]);
    const bundled = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'bundle.mjs'), build], { encoding: 'utf8' });
    if (bundled.status !== 0) throw new Error(`scripts/bundle.mjs did not bundle the CLI: ${bundled.stdout}${bundled.stderr}`);
    mkdirSync(join(build, 'bin'), { recursive: true });
    copyFileSync(join(PROJECT_ROOT, 'bin', 'openclaw-fix.js'), join(build, 'bin', 'openclaw-fix.js'));
    // verify's Go check reads its stand-in module from the package, as installed.
    cpSync(join(PROJECT_ROOT, 'test', 'go-standin'), join(build, 'test', 'go-standin'), { recursive: true });
  }, SLOW_TEST);

  /**
   * A `git` first on PATH that runs the real one, except for the update-ref of the fix branch
   * (--apply's one visible write, made with the lock held and every commit built): that one
   * writes `marker` and waits, writing nothing, until the run that started it has ended. The
   * run is thus stopped at that point by what it does, not by a clock or a hook in its code.
   */
  function gitHoldingTheBranchWrite(marker: string): string {
    const realGit = spawnSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
    const dir = tempDir('openclaw-fix-git-shim-');
    const script = [
      '#!/bin/sh',
      'case " $* " in',
      `  *" update-ref "*refs/heads/${DEFAULT_FIX_BRANCH}*)`,
      `    echo "$$" > '${marker}'`,
      '    while kill -0 "$PPID" 2>/dev/null; do sleep 0.1; done',
      '    exit 1 ;;',
      'esac',
      `exec '${realGit}' "$@"`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'git'), script, { mode: 0o755 });
    return dir;
  }

  it(
    'leaves no branch, no lock, no scratch ref or temp file, and says so in one line',
    async () => {
      const repo = fixtureGitRepo();
      const scratchTmp = tempDir('openclaw-fix-tmp-');
      const marker = join(tempDir(), 'holding');
      const shim = gitHoldingTheBranchWrite(marker);
      const before = snapshot(repo, { strict: true });
      const child = spawn(process.execPath, [join(build, 'bin', 'openclaw-fix.js'), '--apply'], {
        cwd: repo,
        env: { ...process.env, PATH: `${shim}:${process.env.PATH ?? ''}`, TMPDIR: scratchTmp },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Wait until the run holds the lock with its commits built and is writing the branch (held by the shim).
      // Bounded by the run, not by a clock: it reaches the hold point or exits (the test's timeout only catches a hang).
      while (!existsSync(marker) && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(existsSync(marker), `the run never reached the hold point: ${stderr}`).toBe(true);
      expect(existsSync(join(repo, '.git', 'openclaw-fix.lock'))).toBe(true);
      child.kill('SIGINT');
      const code = await exited;

      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^openclaw-fix: interrupted by SIGINT; no branch was written\n$/);
      expect(snapshot(repo, { strict: true })).toBe(before); // no branch, no lock, no scratch ref, index untouched
      // openclaw-fix-go is verify's Go build cache, shared by design between runs; nothing else may stay.
      expect(readdirSync(scratchTmp).filter((name) => name !== 'openclaw-fix-go')).toEqual([]);
    },
    SLOW_TEST,
  );
  /** Starts the built CLI in `repo` with its own TMPDIR; resolves output and exit code when it ends. */
  function startCli(repo: string, args: string[], scratchTmp: string) {
    const child = spawn(process.execPath, [join(build, 'bin', 'openclaw-fix.js'), ...args], {
      cwd: repo,
      env: { ...process.env, TMPDIR: scratchTmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    return { child, output, exited };
  }

  /** Waits until `ready()` or the child ends: bounded by the run, not by a clock (the test's timeout only catches a hang). */
  async function until(ready: () => boolean, child: ChildProcess): Promise<boolean> {
    while (!ready() && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50));
    return ready();
  }

  /** The Go proof of --apply's verify is compiling: its temporary module is in place. */
  const compiling = (scratchTmp: string) => (): boolean =>
    readdirSync(scratchTmp).some(
      (name) => name.startsWith('openclaw-fix-entrypoint-') && existsSync(join(scratchTmp, name, 'smokescreen', 'main.go')),
    );

  it(
    'SIGINT while the Go proof compiles: no lock, no temporary directory, no go-build scratch left (item 10)',
    async () => {
      const repo = fixtureGitRepo();
      const scratchTmp = tempDir('openclaw-fix-tmp-');
      const before = snapshot(repo, { strict: true });
      const run = startCli(repo, ['--apply', '--no-cache'], scratchTmp);
      expect(await until(compiling(scratchTmp), run.child), `the run never compiled the entrypoint: ${run.output.stderr}`).toBe(true);
      run.child.kill('SIGINT');
      const { code } = await run.exited;
      expect(code).toBe(2);
      expect(run.output.stderr).toBe('openclaw-fix: interrupted by SIGINT; no branch was written\n');
      expect(snapshot(repo, { strict: true })).toBe(before);
      expect(readdirSync(scratchTmp).filter((name) => name !== 'openclaw-fix-go')).toEqual([]);
    },
    SLOW_TEST,
  );

  it(
    '--apply with standard output on a full disk: one line, exit 2, the branch written (smaller)',
    async () => {
      const repo = fixtureGitRepo();
      const full = openSync('/dev/full', 'w');
      try {
        const child = spawn(process.execPath, [join(build, 'bin', 'openclaw-fix.js'), '--apply'], {
          cwd: repo,
          stdio: ['ignore', full, 'pipe'],
        });
        let stderr = '';
        child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        expect(code).toBe(2);
        expect(stderr).toMatch(
          /^openclaw-fix: cannot write to standard output \(ENOSPC\); the output is lost, not the run's work \(--apply: see the fix branch\)\n$/,
        );
        expect(git(repo, 'rev-parse', '--verify', '--quiet', DEFAULT_FIX_BRANCH).trim()).toMatch(/^[0-9a-f]{40}$/);
      } finally {
        closeSync(full);
      }
    },
    SLOW_TEST,
  );

  it(
    "SIGKILL with the lock held: the next --apply takes the dead run's lock over and writes the branch (item 10)",
    async () => {
      const repo = fixtureGitRepo();
      const scratchTmp = tempDir('openclaw-fix-tmp-');
      const run = startCli(repo, ['--apply', '--no-cache'], scratchTmp);
      expect(await until(compiling(scratchTmp), run.child), run.output.stderr).toBe(true);
      run.child.kill('SIGKILL');
      expect((await run.exited).signal).toBe('SIGKILL');
      expect(existsSync(join(repo, '.git', 'openclaw-fix.lock'))).toBe(true); // nothing can remove it on SIGKILL
      const next = await runCli(repo, ['--apply']);
      expect(next.stderr).toBe('');
      expect(next.code).toBe(0);
      expect(existsSync(join(repo, '.git', 'openclaw-fix.lock'))).toBe(false);
    },
    SLOW_TEST,
  );
});

describe('secrets in the repo are never printed', () => {
  const TOKEN_IN_VAULT = '7391046628:AAF-fake-telegram-SECRET-in-vault';
  const KEY_IN_GROUP_VARS = 'sk-fake-litellm-SECRET-in-group-vars';

  function repoWithSecrets(): string {
    const repo = fixtureGitRepo();
    // A vault file someone forgot to encrypt, and a key pasted into group_vars right below the
    // egress list (a fix edits that list, so the key sits in the diff's context lines).
    writeFileSync(
      join(repo, 'group_vars/all/vault.yml'),
      `---\nvault_telegram_bot_token: "${TOKEN_IN_VAULT}"\nvault_gateway_token: "gw-fake-SECRET"\n`,
    );
    const vars = join(repo, 'group_vars/all/vars.yml');
    writeFileSync(
      vars,
      readFileSync(vars, 'utf8').replace(
        'litellm_master_key: "{{ vault_litellm_master_key }}"',
        `litellm_master_key: "${KEY_IN_GROUP_VARS}"`,
      ),
    );
    commitAll(repo, 'secrets in plain text');
    return repo;
  }

  const leaks = (text: string): string[] => [TOKEN_IN_VAULT, KEY_IN_GROUP_VARS, 'gw-fake-SECRET'].filter((secret) => text.includes(secret));

  it(
    'not in a dry run, --json, --check, verify, --apply output or its commit messages',
    async () => {
      const repo = repoWithSecrets();
      for (const args of [
        [],
        ['--json'],
        ['--check'],
        ['verify'],
        ['verify', '--json'],
        ['--apply'],
        ['--apply', '--json', '--branch', 'second'],
      ]) {
        const result = await runCli(repo, args);
        expect(leaks(result.stdout + result.stderr), `openclaw-fix ${args.join(' ')}`).toEqual([]);
      }
      expect(leaks(git(repo, 'log', '--format=%B', `main..${DEFAULT_FIX_BRANCH}`))).toEqual([]);
    },
    SLOW_TEST,
  );

  it('not in an error line about the file that holds it', async () => {
    const repo = repoWithSecrets();
    const vars = join(repo, 'group_vars/all/vars.yml');
    writeFileSync(
      vars,
      readFileSync(vars, 'utf8').replace(
        `litellm_master_key: "${KEY_IN_GROUP_VARS}"`,
        `litellm_master_key: "${KEY_IN_GROUP_VARS}\n  broken: [`,
      ),
    );
    commitAll(repo, 'broken vars');
    // A broken variable file is confined to the fixes and checks that need the variables (issue 10):
    // they name it, with its line; the dry run and --apply go on (exit 0, the others committed);
    // verify renders for every check, so each is not checked, naming it (exit 0: nothing failed). It never leaks.
    for (const [args, code] of [
      [[], 0],
      [['--apply'], 0],
      [['verify'], 0],
    ] as const) {
      const result = await runCli(repo, [...args]);
      expect(result.code, `openclaw-fix ${args.join(' ')}: ${result.stderr}${result.stdout}`).toBe(code);
      expect(result.stderr, `openclaw-fix ${args.join(' ')}`).toBe('');
      expect(result.stdout, `openclaw-fix ${args.join(' ')}`).toMatch(/group_vars\/all\/vars\.yml:\d+/);
      expect(leaks(result.stdout + result.stderr), `openclaw-fix ${args.join(' ')}: ${result.stderr}`).toEqual([]);
      if (args[0] === 'verify')
        for (const line of result.stdout.trim().split('\n'))
          expect(line).toMatch(/: not checked: cannot read group_vars\/all\/vars\.yml:\d+: not valid YAML/);
    }
    expect(
      git(repo, 'log', '--format=%s', `main..${DEFAULT_FIX_BRANCH}`).trim().split('\n').length,
      'fixes that do not read the variables are committed',
    ).toBeGreaterThanOrEqual(5);
  });
});
