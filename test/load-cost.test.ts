/**
 * Load only what the mode needs: a dry run and --list must not load Octokit, the Go checker or
 * the patch-series writer (module loading was most of a short run's cost), and a plain --list
 * of the installed CLI is answered from the build's catalogue without loading any fix.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { catalogueFile, listText, quickList } from '../src/output/catalogue.js';
import { PROJECT_ROOT, runCli, tempDir } from './helpers.js';

/** Modules `entry` loads through static imports (type-only imports excluded): repo paths and package names. */
function staticImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    const key = relative(PROJECT_ROOT, file);
    if (seen.has(key)) return;
    seen.add(key);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else seen.add(specifier);
    }
  };
  visit(join(PROJECT_ROOT, entry));
  return seen;
}

describe('module loading', () => {
  it('the CLI loads the verifier, Go checker, Octokit and patch-series writer only by dynamic import', () => {
    const loaded = staticImports('src/cli.ts');
    expect(loaded.has('src/core/engine.ts')).toBe(true); // the walk follows imports
    for (const lazy of [
      'src/verify/go-check.ts',
      'src/git/github.ts',
      'src/git/push.ts',
      'src/git/patch-series.ts',
      'src/verify/index.ts',
      '@octokit/core',
      'simple-git',
    ]) {
      expect(loaded, lazy).not.toContain(lazy);
    }
  });

  it('the --list catalogue loads nothing but Node built-ins', () => {
    expect(
      [...staticImports('src/output/catalogue.ts')].filter((module) => module !== 'src/output/catalogue.ts' && !module.startsWith('node:')),
    ).toEqual([]);
  });

  it('a plain --list from the catalogue prints what the CLI prints, and a stale catalogue is not used', async () => {
    const build = tempDir();
    mkdirSync(join(build, 'patches'));
    writeFileSync(join(build, 'patches', 'index.js'), '// compiled patch modules\n');
    const buildUrl = pathToFileURL(`${build}/`);
    writeFileSync(join(build, 'catalogue.json'), catalogueFile(allPatches, buildUrl));
    const cwd = tempDir();
    for (const argv of [['--list'], ['--list', '--json'], ['--json', '--list']]) {
      const full = await runCli(cwd, argv);
      expect(full.code).toBe(0);
      expect(quickList(argv, buildUrl)).toBe(full.stdout);
    }
    // Anything else goes through the CLI, which knows the other options and the errors.
    for (const argv of [['--list', '--only', '2'], ['--list', '--list'], ['--list', '--help'], ['--dry-run']])
      expect(quickList(argv, buildUrl)).toBeUndefined();
    appendFileSync(join(build, 'patches', 'index.js'), '// rebuilt\n');
    expect(quickList(['--list'], buildUrl)).toBeUndefined();
    // A fix's title lives in its prose (patches/<id>/<id>.md): a changed .md makes the catalogue stale too.
    mkdirSync(join(build, 'patches', 'some-fix'));
    writeFileSync(join(build, 'patches', 'some-fix', 'some-fix.md'), '# a title\n');
    writeFileSync(join(build, 'catalogue.json'), catalogueFile(allPatches, buildUrl));
    expect(quickList(['--list'], buildUrl)).toBe(listText(allPatches));
    appendFileSync(join(build, 'patches', 'some-fix', 'some-fix.md'), '\n## What is wrong\n');
    expect(quickList(['--list'], buildUrl)).toBeUndefined();
  });
});
