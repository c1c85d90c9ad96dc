/**
 * `--format patch`: the series `git am` turns into exactly the tree `--apply` commits, with the
 * same messages, written without touching the user's refs, index or work tree.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bug7 as bug7Module } from '../patches/litellm-no-egress-dependency/litellm-no-egress-dependency.js';
import { applyFixes } from '../src/git/apply.js';
import { Git } from '../src/git/git.js';
import { patchSeries } from '../src/git/patch-series.js';
import type { Patch } from '../src/core/types.js';
import { commitAll, DEFAULT_FIX_BRANCH, fixtureGitRepo, git, runCli, snapshot, tempDir } from './helpers.js';
import { loadPatch } from '../src/core/patch-home.js';

const bug7 = loadPatch(bug7Module);

const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';

/** `git am` of `mbox` on a fresh clone of `repo` at `base`; returns the clone. Plain `git am`, no --keep-cr. */
function amOnFreshClone(repo: string, base: string, mbox: string): string {
  const clone = join(tempDir(), 'clone');
  git(repo, 'clone', '-q', repo, clone);
  git(clone, 'checkout', '-q', '--detach', base);
  const series = join(clone, '..', 'series.mbox');
  writeFileSync(series, mbox);
  git(clone, 'am', '-q', series);
  return clone;
}

/** Subject and body of each commit in base..tip, oldest first (one element per commit). */
function messages(repo: string, range: string): string[] {
  return git(repo, 'log', '--reverse', '--format=%B%x00', range)
    .split('\0\n')
    .filter((message) => message.trim() !== '');
}

describe('--format patch', () => {
  it('writes an mbox that git am turns into the tree and messages --apply commits, changing nothing', async () => {
    const repo = fixtureGitRepo();
    const base = git(repo, 'rev-parse', 'HEAD').trim();
    const before = snapshot(repo, { strict: true });

    const series = await runCli(repo, ['--dry-run', '--format', 'patch']);
    expect(series.code).toBe(0);
    expect(series.stderr).toBe('');
    expect(snapshot(repo, { strict: true })).toBe(before);

    const applied = await runCli(repo, ['--apply']);
    expect(applied.code).toBe(0);
    const commitCount = Number(git(repo, 'rev-list', '--count', `${base}..${DEFAULT_FIX_BRANCH}`).trim());
    expect(commitCount).toBeGreaterThan(0);
    // One patch per fix, in apply order.
    expect(series.stdout.match(/^From [0-9a-f]{40} /gm)).toHaveLength(commitCount);
    expect(series.stdout).toContain(`base-commit: ${base}`);

    const clone = amOnFreshClone(repo, base, series.stdout);
    expect(git(clone, 'rev-parse', 'HEAD^{tree}')).toBe(git(repo, 'rev-parse', `${DEFAULT_FIX_BRANCH}^{tree}`));
    expect(messages(clone, `${base}..HEAD`)).toEqual(messages(repo, `${base}..${DEFAULT_FIX_BRANCH}`));
  });

  it('keeps file modes, CRLF endings, a missing final newline and new files exact', async () => {
    const repo = fixtureGitRepo();
    // The Compose file bug 7 edits: executable, CRLF, no final newline.
    const composePath = join(repo, COMPOSE);
    writeFileSync(composePath, readFileSync(composePath, 'utf8').replace(/\n/g, '\r\n').replace(/\r\n$/, ''));
    chmodSync(composePath, 0o755);
    commitAll(repo, 'CRLF, executable, no final newline');
    const base = git(repo, 'rev-parse', 'HEAD').trim();
    // A fix that creates a file (as the Smokescreen entrypoint fix does), with CRLF and no final newline.
    const createsFile: Patch = {
      id: 'test-creates-file',
      bug: null,
      priority: 99,
      scope: 'test',
      title: 'add a notes file',
      problem: 'no notes',
      why: 'tests new files',
      departsFromReport: null,
      files: ['NOTES.txt'],
      check: (view) =>
        view.read('NOTES.txt') === undefined
          ? { state: 'needs-fix', reason: 'NOTES.txt missing', edits: [{ path: 'NOTES.txt', start: 0, end: 0, text: 'first\r\nsecond' }] }
          : { state: 'fixed', reason: 'NOTES.txt present' },
    };
    const patches = [bug7, createsFile];

    const gitRepo = await Git.open(repo);
    const before = snapshot(repo, { strict: true });
    const { mbox } = await patchSeries(gitRepo, patches);
    expect(snapshot(repo, { strict: true })).toBe(before);
    const result = await applyFixes({ git: gitRepo, patches, branch: DEFAULT_FIX_BRANCH });
    expect(result.commits.map((commit) => commit.patchId)).toEqual([bug7.id, createsFile.id]);
    // The property is about files the fixes really touch.
    expect(git(repo, 'diff', '--name-only', base, DEFAULT_FIX_BRANCH).trim().split('\n')).toEqual(['NOTES.txt', COMPOSE]);
    expect(git(repo, 'ls-tree', DEFAULT_FIX_BRANCH, COMPOSE)).toMatch(/^100755 /);
    expect(git(repo, 'cat-file', 'blob', `${DEFAULT_FIX_BRANCH}:${COMPOSE}`)).toMatch(/\r\n[^\n]*[^\r\n]$/);

    const clone = amOnFreshClone(repo, base, mbox);
    expect(git(clone, 'rev-parse', 'HEAD^{tree}')).toBe(git(repo, 'rev-parse', `${DEFAULT_FIX_BRANCH}^{tree}`));
    expect(messages(clone, `${base}..HEAD`)).toEqual(messages(repo, `${base}..${DEFAULT_FIX_BRANCH}`));
  });

  it('is refused with --apply, --check or --json, and says so on one line', async () => {
    const repo = fixtureGitRepo();
    for (const mode of ['--apply', '--check', '--json']) {
      const result = await runCli(repo, [mode, '--format', 'patch']);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^openclaw-fix: --format patch goes with --dry-run only \(see --help\)\n$/);
    }
  });
});
