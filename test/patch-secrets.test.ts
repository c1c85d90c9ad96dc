/**
 * `--format patch` and the repo's plain-text secrets: a series is printed byte for byte or not
 * at all. Redacting a diff line would corrupt it (`git am` would commit `<redacted>`), and
 * printing it would leak the secret, so a series holding one is refused in one line.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { Git } from '../src/git/git.js';
import { patchSeries } from '../src/git/patch-series.js';
import { fixtureGitRepo, git, runCli, tempDir } from './helpers.js';

const KEY_IN_GROUP_VARS = 'sk-fake-litellm-SECRET-in-group-vars';
const TOKEN_IN_VAULT = '7391046628:AAF-fake-telegram-SECRET-in-vault';

/** The fixture with an unencrypted vault file: secrets the CLI knows, none of them near a fix. */
function repoWithVaultSecrets(): string {
  const repo = fixtureGitRepo();
  writeFileSync(join(repo, 'group_vars/all/vault.yml'), `---\nvault_telegram_bot_token: "${TOKEN_IN_VAULT}"\n`);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'vault in plain text');
  return repo;
}

/** …plus a key pasted into group_vars right below the egress allow-list, which a fix edits: the key is a context line of its diff. */
function withKeyInDiffContext(repo: string, commit = true): void {
  const vars = join(repo, 'group_vars/all/vars.yml');
  const text = readFileSync(vars, 'utf8');
  const pasted = text.replace('litellm_master_key: "{{ vault_litellm_master_key }}"', `litellm_master_key: "${KEY_IN_GROUP_VARS}"`);
  expect(pasted).not.toBe(text);
  writeFileSync(vars, pasted);
  if (commit) {
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'key in plain text');
  }
}

describe('--format patch with secrets in the repo', () => {
  it('refuses a series that would hold a secret: one line naming the file, exit 2, nothing on stdout', async () => {
    const repo = repoWithVaultSecrets();
    withKeyInDiffContext(repo);
    const result = await runCli(repo, ['--format', 'patch']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^openclaw-fix: group_vars\/all\/vars\.yml: the patch series would contain a secret value [^\n]*run openclaw-fix --apply [^\n]*\n$/,
    );
    expect(result.stderr).not.toContain(KEY_IN_GROUP_VARS);
    expect(result.stdout + result.stderr).not.toContain('<redacted>');
    // The series really would have carried the key: the same commits, made by --apply, do.
    expect((await runCli(repo, ['--apply'])).code).toBe(0);
    expect(git(repo, 'format-patch', '--stdout', 'main..openclaw-fix/deployment-bugs')).toContain(
      `litellm_master_key: "${KEY_IN_GROUP_VARS}"`,
    );
  });

  it('also when the secret is only in HEAD: the work tree no longer holds it, the series (built from HEAD) does', async () => {
    const repo = repoWithVaultSecrets();
    withKeyInDiffContext(repo);
    const vars = join(repo, 'group_vars/all/vars.yml');
    writeFileSync(vars, readFileSync(vars, 'utf8').replace(KEY_IN_GROUP_VARS, '{{ vault_litellm_master_key }}')); // uncommitted
    const result = await runCli(repo, ['--format', 'patch']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^openclaw-fix: group_vars\/all\/vars\.yml: the patch series would contain a secret value/);
    expect(result.stderr).not.toContain(KEY_IN_GROUP_VARS);
  });

  it('prints a series without a secret byte for byte, and git am of it gives the tree --apply commits', async () => {
    const repo = repoWithVaultSecrets();
    const base = git(repo, 'rev-parse', 'HEAD').trim();
    const printed = await runCli(repo, ['--format', 'patch']);
    expect(printed.code).toBe(0);
    expect(printed.stderr).toBe('');
    expect(printed.stdout).not.toContain(TOKEN_IN_VAULT);
    // Exactly what the builder makes (a rebuild differs only in the commits' dates and shas): nothing redacted.
    const undated = (mbox: string): string =>
      mbox.replace(/^From [0-9a-f]{40,64} /gm, 'From <sha> ').replace(/^Date: .*$/gm, 'Date: <date>');
    expect(undated(printed.stdout)).toBe(undated((await patchSeries(await Git.open(repo), allPatches)).mbox));
    const clone = join(tempDir(), 'clone');
    git(repo, 'clone', '-q', repo, clone);
    git(clone, 'checkout', '-q', '--detach', base);
    writeFileSync(join(clone, '..', 'series.mbox'), printed.stdout);
    git(clone, 'am', '-q', join(clone, '..', 'series.mbox'));
    expect((await runCli(repo, ['--apply'])).code).toBe(0);
    expect(git(clone, 'rev-parse', 'HEAD^{tree}').trim()).toBe(git(repo, 'rev-parse', 'openclaw-fix/deployment-bugs^{tree}').trim());
  });
});
