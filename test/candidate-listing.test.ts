/**
 * The loaders list the index, the untracked files or a commit's tree whole and filter them with
 * the globs once per directory (src/core/repo-view.ts), for speed on big repos: they must still
 * find every file a module's globs match, wherever the roles live and whatever the extension
 * spelling.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { candidateGlobs } from '../src/core/engine.js';
import { Git, loadCommitFiles, loadWorkTreeFiles } from '../src/git/git.js';
import { matchesAny } from '../src/core/repo-view.js';
import { commitAll, fixtureGitRepo, git, readTree, writeFiles } from './helpers.js';

describe('candidate listing', () => {
  it('finds exactly the files the globs match, in the work tree and in a commit', async () => {
    const repo = fixtureGitRepo();
    const extra = [
      'ansible/roles/openclaw-config/templates/docker-compose.yaml.j2',
      'ansible/roles/openclaw-config/tasks/sub/nested.yaml',
      'ansible/group_vars/prod/deep/vars.yaml',
      'site.playbook.yaml',
      'collections/requirements.yaml',
      'roles/bulk/files/asset.txt',
      'vendor/roles/x/templates/readme.md',
      'docs/playbook-notes.md',
    ];
    writeFiles(
      repo,
      extra.map((path) => [path, `# ${path}\n`]),
    );
    commitAll(repo, 'more shapes');
    writeFileSync(join(repo, 'untracked.playbook.yml'), '- hosts: all\n');

    const globs = candidateGlobs(allPatches);
    const expected = (paths: Iterable<string>): string[] => [...paths].filter((path) => matchesAny(path, globs)).sort();
    const handle = await Git.open(repo);
    const inWorkTree = [...(await loadWorkTreeFiles(handle, globs)).files.keys()].sort();
    const inCommit = [...(await loadCommitFiles(handle, 'HEAD', globs)).files.keys()].sort();

    expect(inWorkTree).toEqual(expected(readTree(repo).keys()));
    expect(inWorkTree).toContain('untracked.playbook.yml');
    expect(inCommit).toEqual(expected(git(repo, 'ls-tree', '-r', '--name-only', 'HEAD').trim().split('\n')));
    expect(inCommit).toContain('ansible/group_vars/prod/deep/vars.yaml');
  });
});
