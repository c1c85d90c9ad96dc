/**
 * The maintainer's and reviewer's runs on a real git copy of the fixture: dry run, --apply,
 * re-run, --check, --json, and the safety rules around the user's branch.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { appliedFixtureRepo, commitAll, DEFAULT_FIX_BRANCH, fixtureGitRepo, git, runCli, snapshot, type CliResult } from './helpers.js';

const pendingIds = (result: CliResult): string[] =>
  (JSON.parse(result.stdout) as { fixes: { id: string; state: string }[] }).fixes
    .filter((fix) => fix.state === 'needs-fix')
    .map((fix) => fix.id);

describe('dry run (the default)', () => {
  it('prints each pending fix with a unified diff and changes nothing', async () => {
    const repo = fixtureGitRepo();
    const before = snapshot(repo);
    const result = await runCli(repo, []);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/bug 7 +let LiteLLM start without waiting for the egress proxy — needs fix/);
    expect(result.stdout).toMatch(/^--- a\/roles\/openclaw-config\/templates\/docker-compose\.yml\.j2$/m);
    expect(result.stdout).toMatch(/^- +openclaw-egress:$/m);
    expect(result.stdout).toContain('Run with --apply');
    expect(result.stderr).toBe('');
    expect(snapshot(repo)).toBe(before);
  });

  it('colours only on a terminal and never with NO_COLOR', async () => {
    const repo = fixtureGitRepo();
    expect((await runCli(repo, [], {}, false)).stdout).not.toContain('\x1b[');
    expect((await runCli(repo, [], {}, true)).stdout).toContain('\x1b[');
    expect((await runCli(repo, [], { NO_COLOR: '1' }, true)).stdout).not.toContain('\x1b[');
    expect((await runCli(repo, ['--no-color'], {}, true)).stdout).not.toContain('\x1b[');
  });

  it('--json is one parsable document with every fix in priority order', async () => {
    const repo = fixtureGitRepo();
    const result = await runCli(repo, ['--json']);
    const doc = JSON.parse(result.stdout) as { mode: string; fixes: { id: string; priority: number; diff: string | null }[] };
    expect(doc.mode).toBe('dry-run');
    expect(doc.fixes.map((fix) => fix.id)).toEqual([...allPatches].sort((a, b) => a.priority - b.priority).map((patch) => patch.id));
    expect(doc.fixes.find((fix) => fix.id === 'litellm-no-egress-dependency')?.diff).toContain('-      openclaw-egress:');
  });
});

describe('--apply', () => {
  it('makes one commit per fix in priority order on a new branch and leaves the user where they were', async () => {
    const repo = fixtureGitRepo();
    const mainTip = git(repo, 'rev-parse', 'main').trim();
    const pending = pendingIds(await runCli(repo, ['--json']));
    const before = snapshot(repo);

    const result = await runCli(repo, ['--apply']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Created branch ${DEFAULT_FIX_BRANCH} with ${pending.length} commit`);

    // The user's branch, HEAD, index and work tree: identical but for the new ref.
    const refsAfter = snapshot(repo).replace(new RegExp(`^refs/heads/${DEFAULT_FIX_BRANCH} \\w+\\n`, 'm'), '');
    expect(refsAfter).toBe(before);
    expect(git(repo, 'rev-parse', 'main').trim()).toBe(mainTip);

    const log = git(
      repo,
      'log',
      '--reverse',
      '--format=%s%x00%(trailers:key=Openclaw-Fix,valueonly,separator=%x2C)%x00%P',
      `main..${DEFAULT_FIX_BRANCH}`,
    )
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\0'));
    expect(log.map(([, trailer]) => trailer?.trim())).toEqual(pending);
    expect(log[0]?.[2]).toBe(mainTip);
    expect(log.find(([, trailer]) => trailer?.trim() === 'litellm-no-egress-dependency')?.[0]).toBe(
      'fix(compose): let LiteLLM start without waiting for the egress proxy (bug 7)',
    );

    const body = git(repo, 'log', '-1', '--format=%B', `${DEFAULT_FIX_BRANCH}`);
    expect(body).toMatch(/What was wrong: /);
    expect(body).toMatch(/Why: /);
  });

  it('on the fixed branch: nothing to do, exit 0, nothing written; --check exits 1 before and 0 after', async () => {
    const repo = fixtureGitRepo();
    expect((await runCli(repo, ['--check'])).code).toBe(1);
    expect((await runCli(repo, ['--apply'])).code).toBe(0);
    git(repo, 'checkout', '-q', DEFAULT_FIX_BRANCH);
    const before = snapshot(repo);
    const again = await runCli(repo, ['--apply']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing to do');
    expect(snapshot(repo)).toBe(before);
    const check = await runCli(repo, ['--check']);
    expect(check.stdout).not.toMatch(/needs fix/);
    expect(check.code).toBe(0);
  });

  it('rebuilds its own branch from the current HEAD when the base moved on (the bot re-run)', async () => {
    const repo = await appliedFixtureRepo();
    const firstTip = git(repo, 'rev-parse', DEFAULT_FIX_BRANCH).trim();
    writeFileSync(join(repo, 'NOTES.md'), 'unrelated change\n');
    commitAll(repo, 'docs: notes');
    const newBase = git(repo, 'rev-parse', 'HEAD').trim();

    const result = await runCli(repo, ['--apply', '--json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout) as { apply: { status: string; previousTip: string; base: string } };
    expect(doc.apply).toMatchObject({ status: 'rebuilt', previousTip: firstTip, base: newBase });
    expect(git(repo, 'merge-base', DEFAULT_FIX_BRANCH, 'main').trim()).toBe(newBase);
  });

  it('refuses a branch of that name with commits it did not make', async () => {
    const repo = fixtureGitRepo();
    git(repo, 'checkout', '-q', '-b', DEFAULT_FIX_BRANCH);
    writeFileSync(join(repo, 'mine.txt'), 'my work\n');
    commitAll(repo, 'my own work');
    git(repo, 'checkout', '-q', 'main');
    const before = snapshot(repo);
    const result = await runCli(repo, ['--apply']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(`^openclaw-fix: branch ${DEFAULT_FIX_BRANCH} exists and has 1 commit openclaw-fix did not make .*\\n$`),
    );
    expect(snapshot(repo)).toBe(before);
  });

  it('refuses a dirty work tree with one line and changes nothing', async () => {
    const repo = fixtureGitRepo();
    writeFileSync(join(repo, 'playbook.yml'), 'edited\n');
    const before = snapshot(repo);
    const result = await runCli(repo, ['--apply']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^openclaw-fix: the work tree has uncommitted changes \(1 path, first: playbook\.yml\); commit or stash them first\n$/,
    );
    expect(snapshot(repo)).toBe(before);
  });

  it('writes --branch when given and honours --only', async () => {
    const repo = fixtureGitRepo();
    const result = await runCli(repo, ['--apply', '--only', '7', '--branch', 'fix/litellm']);
    expect(result.code).toBe(0);
    expect(git(repo, 'log', '--format=%s', 'main..fix/litellm').trim()).toBe(
      'fix(compose): let LiteLLM start without waiting for the egress proxy (bug 7)',
    );
  });
});

describe('usage errors', () => {
  it('an unknown fix selector or flag is one line and exit 2', async () => {
    const repo = fixtureGitRepo();
    const unknownFix = await runCli(repo, ['--only', '42']);
    expect(unknownFix.code).toBe(2);
    expect(unknownFix.stderr).toBe("openclaw-fix: unknown fix '42': use a bug number, 'extra' or an id from --list\n");
    const unknownFlag = await runCli(repo, ['--frobnicate']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--help documents the modes and exit codes', async () => {
    const result = await runCli('/', ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--apply');
    expect(result.stdout).toContain('Exit codes: 0 done or nothing to do, 1 fixes pending (--check), 2 error.');
  });
});
