/**
 * A module's view lists exactly the loaded files its globs match, however often the engine asks
 * (the listing of a module's last view is reused when the loaded paths are the same).
 */
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { createRepoView, declaredBy, matchesAny } from '../src/core/repo-view.js';
import { fixtureFiles } from './helpers.js';

describe('a module view', () => {
  it('matches every glob list as matchesAny does', () => {
    const paths = [
      ...fixtureFiles().keys(),
      'ansible/roles/x/templates/compose/docker-compose.yaml.j2',
      'roles/bulk/files/asset.txt',
      'vendor/pkg/src/module.js',
      '.hidden/group_vars/all.yml',
    ];
    for (const patch of allPatches)
      for (const path of paths) expect(declaredBy(path, patch.files), `${patch.id} ${path}`).toBe(matchesAny(path, patch.files));
  });

  it('sees a file a fix created and no longer sees one that is gone, with the same globs', () => {
    const globs = ['**/roles/*/tasks/**/*.{yml,yaml}', '**/templates/**/*.j2'];
    const files = new Map([
      ['roles/a/tasks/main.yml', 'a'],
      ['roles/a/files/x.sh', 'x'],
    ]);
    expect(createRepoView(files, globs).paths).toEqual(['roles/a/tasks/main.yml']);
    const created = new Map([...files, ['roles/a/templates/c.yml.j2', 'c']]);
    expect(createRepoView(created, globs).paths).toEqual(['roles/a/tasks/main.yml', 'roles/a/templates/c.yml.j2']);
    // The same number of paths, one of them another: listed again, not taken from the last view.
    const renamed = new Map([
      ['roles/a/tasks/main.yml', 'a'],
      ['roles/b/templates/d.yml.j2', 'd'],
    ]);
    const view = createRepoView(renamed, globs);
    expect(view.paths).toEqual(['roles/a/tasks/main.yml', 'roles/b/templates/d.yml.j2']);
    expect(view.read('roles/a/files/x.sh')).toBeUndefined();
    expect(createRepoView(files, globs).paths).toEqual(['roles/a/tasks/main.yml']);
  });

  it('with `scripts`, also holds the shell scripts those match, by name or shebang, and no other file there', () => {
    const files = new Map([
      ['roles/a/files/archive.tar', '\u001f\u008b#!/bin/sh'],
      ['roles/a/files/backup', '#!/bin/sh\ndocker run alpine true\n'],
      ['roles/a/files/notes.txt', 'docker run alpine true\n'],
      ['roles/a/files/prune.sh', 'docker image prune -f\n'],
      ['roles/a/files/report', '#!/usr/bin/python3\n'],
      ['roles/a/tasks/main.yml', 'a'],
    ]);
    const view = createRepoView(files, ['**/roles/*/tasks/**/*.{yml,yaml}'], ['**/roles/*/files/**']);
    expect(view.paths).toEqual(['roles/a/files/backup', 'roles/a/files/prune.sh', 'roles/a/tasks/main.yml']);
    expect(view.glob('**/files/**')).toEqual(['roles/a/files/backup', 'roles/a/files/prune.sh']);
    expect(view.read('roles/a/files/notes.txt')).toBeUndefined();
    // A file its `files` globs match is in it whole, script or not.
    expect(createRepoView(files, ['**/*.txt'], ['**/roles/*/files/**']).paths).toEqual([
      'roles/a/files/backup',
      'roles/a/files/notes.txt',
      'roles/a/files/prune.sh',
    ]);
  });
});
