/** The read-only view of a repository that patch modules receive. */
import picomatch from 'picomatch';
import type { RepoView } from './types.js';

const matcherCache = new Map<string, (path: string) => boolean>();

function matcher(pattern: string): (path: string) => boolean {
  let match = matcherCache.get(pattern);
  if (!match) {
    match = picomatch(pattern, { dot: true });
    matcherCache.set(pattern, match);
  }
  return match;
}

export function matchesAny(path: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => matcher(pattern)(path));
}

/**
 * A git pathspec that selects at least every path the picomatch glob matches. Git's `:(glob)`
 * magic knows `*`, `**` and `?` but not braces or extglobs, so from the first segment that
 * uses those on, the pathspec widens to `**`; picomatch then filters exactly.
 */
export function gitPathspecFor(pattern: string): string {
  const segments = pattern.split('/');
  const first = segments.findIndex((segment) => /[{}()!+@]/.test(segment));
  const kept = first === -1 ? segments : [...segments.slice(0, first), '**'];
  return `:(glob)${kept.join('/')}`;
}

export function createRepoView(files: ReadonlyMap<string, string>): RepoView {
  const paths = [...files.keys()].sort();
  const glob = (...patterns: string[]): string[] => paths.filter((path) => matchesAny(path, patterns));
  return {
    paths,
    read: (path) => files.get(path),
    glob,
    roleFiles: (role, pattern) => glob(`**/roles/${role}/${pattern}`),
  };
}
