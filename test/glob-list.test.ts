/**
 * matchesAny and filterPaths answer as picomatch does (`dot: true`; one glob as its matcher,
 * a list as the alternatives of its expressions), although they match most paths segment by
 * segment and once per directory: every glob the fixes, verify and the loaders use, and odd
 * ones, against the fixture's paths and thousands of generated ones (odd paths included).
 */
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { filterListing, filterPaths, matchesAny } from '../src/core/repo-view.js';
import { SECRET_SOURCE_GLOBS } from '../src/git/secrets.js';
import { VERIFY_GLOBS } from '../src/verify/index.js';
import { ROUTE_GLOBS, ROUTE_SCRIPT_GLOBS } from '../src/model/secret-routes.js';
import { fixtureFiles } from './helpers.js';

const LISTS: string[][] = [
  ...allPatches.map((patch) => [...patch.files]),
  allPatches.flatMap((patch) => patch.files),
  ...allPatches.flatMap((patch) => (patch.scripts ? [[...patch.scripts]] : [])),
  allPatches.flatMap((patch) => [...patch.files, ...(patch.scripts ?? [])]),
  [...SECRET_SOURCE_GLOBS],
  [...VERIFY_GLOBS],
  [...ROUTE_GLOBS],
  [...ROUTE_SCRIPT_GLOBS],
  ['**/roles', '**/roles/*'],
  ['**/roles/*/templates/**', '**/roles/*/files/**'],
  ['**/roles/openclaw-config/tasks/main.{yml,yaml}'],
  ['*.{yml,yaml}'],
  ['**'],
  ['**/*'],
  ['a/**/b/**'],
  ['**/x?.yml', 'dir/*/*.y*ml.j2'],
  // Not simple: picomatch's expression decides.
  ['**/[ab]*.yml', '**/@(main|site).yml', '**/roles/{a,b/c}/**', '!**/*.md', '**/\\*.yml'],
];

const oldMatchers = new Map<string, (path: string) => boolean>();

/** What matchesAny was: picomatch's matcher for one glob, its expressions as alternatives for a list. */
function oldMatchesAny(path: string, patterns: readonly string[]): boolean {
  const key = patterns.join('\0');
  let matcher = oldMatchers.get(key);
  if (!matcher) {
    const combined = new RegExp(patterns.map((pattern) => `(?:${picomatch.makeRe(pattern, { dot: true }).source})`).join('|'));
    matcher = patterns.length === 1 ? picomatch(patterns[0]!, { dot: true }) : (candidate: string): boolean => combined.test(candidate);
    oldMatchers.set(key, matcher);
  }
  return matcher(path);
}

function generatedPaths(): string[] {
  const segments = new Set([
    'a',
    'b',
    'x1.yml',
    '.hidden',
    'vault.yml',
    'my_vault',
    'Dockerfile',
    'run.sh.j2',
    'main.yml',
    '',
    '.',
    '..',
    '*.yml',
  ]);
  for (const list of LISTS) for (const pattern of list) for (const segment of pattern.split('/')) segments.add(segment);
  const pool = [...segments];
  let seed = 12345;
  const random = (below: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % below;
  };
  const paths: string[] = [];
  for (let index = 0; index < 6000; index++) {
    const parts = Array.from({ length: 1 + random(6) }, () => pool[random(pool.length)]!);
    let path = parts.join('/');
    if (random(15) === 0) path += '/';
    if (random(20) === 0) path = `/${path}`;
    paths.push(path);
  }
  return paths;
}

describe('glob lists', () => {
  it('match exactly the paths picomatch matches', () => {
    const paths = [...new Set([...fixtureFiles().keys(), ...generatedPaths(), ...LISTS.flat()])];
    const sorted = [...paths].sort();
    for (const list of LISTS) {
      const expected = paths.filter((path) => oldMatchesAny(path, list));
      expect(
        paths.filter((path) => matchesAny(path, list)),
        list.join(' '),
      ).toEqual(expected);
      expect(filterPaths(sorted, list), list.join(' ')).toEqual(sorted.filter((path) => expected.includes(path)));
      expect(filterPaths(paths, list), list.join(' ')).toEqual(expected);
      // The same paths as `git ls-files -z` lists them (the empty path aside: a listing has none).
      const listed = paths.filter((path) => path !== '' && !path.includes('\0'));
      expect(filterListing(`${listed.join('\0')}\0`, list), list.join(' ')).toEqual(listed.filter((path) => expected.includes(path)));
      expect(filterListing(sorted.filter((path) => path !== '').join('\0'), list), list.join(' ')).toEqual(
        sorted.filter((path) => path !== '' && expected.includes(path)),
      );
    }
  });
});
