/**
 * The loaders list the index, the untracked files or a commit's tree whole and filter them with
 * the globs once per directory (src/core/repo-view.ts), for speed on big repos: they must still
 * find every file a module's globs match, wherever the roles live and whatever the extension
 * spelling.
 */
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { candidateGlobs, candidateScripts } from '../src/core/engine.js';
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

  it("reads a role's files/ only for the shell scripts there, in the work tree and in a commit", async () => {
    const repo = fixtureGitRepo();
    const files = 'roles/openclaw-maintenance/files';
    writeFiles(repo, [
      [`${files}/rotate-telegram-token`, '#!/usr/bin/env bash\nset -eu\ndocker exec openclaw true\n'],
      [`${files}/prune.sh`, 'docker image prune -f\n'],
      [`${files}/tools/backup`, '#!/bin/sh\ndocker run --rm alpine:3.21 true\n'],
      [`${files}/report.py`, '#!/usr/bin/env python3\nprint(1)\n'],
      [`${files}/assets/logo.txt`, 'not a script\n'],
      [`${files}/empty`, ''],
      [`${files}/one`, '#'],
      [`${files}/settings.yml`, 'a: 1\n'],
    ]);
    writeFileSync(join(repo, files, 'archive.tar'), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x23, 0x21]));
    commitAll(repo, 'role files');
    writeFiles(repo, [[`${files}/untracked-job`, '#!/bin/bash\necho hi\n']]);

    const globs = candidateGlobs(allPatches);
    const scripts = candidateScripts(allPatches);
    expect(scripts).toContain('**/roles/*/files/**');
    const handle = await Git.open(repo);
    const underFiles = (paths: Iterable<string>): string[] => [...paths].filter((path) => path.startsWith(`${files}/`)).sort();
    const expected = [`${files}/prune.sh`, `${files}/rotate-telegram-token`, `${files}/settings.yml`, `${files}/tools/backup`];
    const inWorkTree = (await loadWorkTreeFiles(handle, globs, scripts)).files;
    expect(underFiles(inWorkTree.keys())).toEqual([...expected, `${files}/untracked-job`].sort());
    expect(inWorkTree.get(`${files}/tools/backup`)).toBe('#!/bin/sh\ndocker run --rm alpine:3.21 true\n');
    expect(underFiles((await loadCommitFiles(handle, 'HEAD', globs, [], scripts)).files.keys())).toEqual(expected);

    // A link there that leaves the repository is refused, as anywhere else a module reads.
    symlinkSync('/etc/passwd', join(repo, files, 'escape'));
    commitAll(repo, 'a link out');
    await expect(loadWorkTreeFiles(handle, globs, scripts)).rejects.toThrow(/escape is a symlink that points outside the repository/);
    await expect(loadCommitFiles(handle, 'HEAD', globs, [], scripts)).rejects.toThrow(
      /escape is a symlink that points outside the repository/,
    );
  });
});
