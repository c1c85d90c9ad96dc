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
});
