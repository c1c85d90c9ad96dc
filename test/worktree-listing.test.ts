/**
 * A dry run, `--check` and `verify` list the work tree once: the files they read and the
 * secret sources the redaction needs come from one listing (one `ls-files --cached --others`:
 * listing the untracked files reads the index anyway), split in memory. Each listing walks the index and
 * the untracked files, which is most of what a dry run costs on a big repository.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Git } from '../src/git/git.js';
import { DEFAULT_FIX_BRANCH, fixtureGitRepo, git, runCli, type CliResult } from './helpers.js';

const SECRET = 'sk-untracked-SECRET-in-host-vars';
const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';

/** One CLI run, with the arguments of every `git ls-files` it spawned. */
async function withLsFilesCalls(repo: string, args: string[]): Promise<{ calls: string[][]; result: CliResult }> {
  const spy = vi.spyOn(Git.prototype, 'run');
  try {
    const result = await runCli(repo, args);
    return { calls: spy.mock.calls.map(([gitArgs]) => [...gitArgs]).filter((gitArgs) => gitArgs[0] === 'ls-files'), result };
  } finally {
    spy.mockRestore();
  }
}

describe('listing the work tree', () => {
  for (const args of [['--dry-run'], ['--check'], ['verify']]) {
    it(`openclaw-fix ${args.join(' ')} lists it once and still learns the secrets before printing`, async () => {
      const repo = fixtureGitRepo();
      // An untracked host_vars file with a secret (only the secret-source globs reach
      // host_vars), and the same value pasted into a context line of bug 7's diff.
      mkdirSync(join(repo, 'host_vars'));
      writeFileSync(join(repo, 'host_vars/gateway.yml'), `litellm_api_key: "${SECRET}"\n`);
      const compose = join(repo, COMPOSE);
      const lines = readFileSync(compose, 'utf8').split('\n');
      const litellmDependsOn = lines.findIndex(
        (line, index) => line.trim() === 'depends_on:' && lines[index + 3]?.trim() === 'openclaw-egress:',
      );
      expect(litellmDependsOn).toBeGreaterThan(0);
      lines.splice(litellmDependsOn + 1, 0, `      # pasted by mistake: ${SECRET}`);
      writeFileSync(compose, lines.join('\n'));

      const { calls, result } = await withLsFilesCalls(repo, args);
      expect(result.code, result.stderr).not.toBe(2);
      expect(calls.filter((call) => call.includes('--cached'))).toHaveLength(1);
      expect(calls.filter((call) => call.includes('--others'))).toHaveLength(1);
      expect(calls).toHaveLength(1);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
      if (args[0] === '--dry-run') expect(result.stdout).toContain('# pasted by mistake: <redacted>');
    });
  }
});

describe('listing a commit', () => {
  it('--apply lists HEAD once for planning, the symlink check and verify, and builds no scratch index', async () => {
    const repo = fixtureGitRepo();
    const spy = vi.spyOn(Git.prototype, 'run');
    let result: CliResult;
    let calls: string[][];
    try {
      result = await runCli(repo, ['--apply']);
      calls = spy.mock.calls.map(([gitArgs]) => [...gitArgs]);
    } finally {
      spy.mockRestore();
    }
    expect(result.code, result.stderr).toBe(0);
    // The fixture's fixes create files, so the symlink check looked at their directories.
    expect(git(repo, 'diff', '--diff-filter=A', '--name-only', 'HEAD', DEFAULT_FIX_BRANCH).trim()).not.toBe('');
    expect(calls.filter((call) => call[0] === 'ls-tree')).toHaveLength(1);
    expect(calls.filter((call) => call.includes('read-tree'))).toHaveLength(0);
    expect(calls.filter((call) => call[0] === 'rev-parse' && call.includes('HEAD^{commit}'))).toHaveLength(1);
  });
});
