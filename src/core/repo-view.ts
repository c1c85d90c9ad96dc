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

const anyMatcherCache = new Map<string, RegExp>();

/**
 * True when one of the globs matches `path`. The globs of one call become one regular
 * expression (picomatch's, as alternatives), built once per list: on a 50,000-file repo every
 * fix's view filters each path through some forty globs, and testing them one by one was the
 * largest cost of a dry run there (npm run bench).
 */
export function matchesAny(path: string, patterns: readonly string[]): boolean {
  if (patterns.length === 1) return matcher(patterns[0]!)(path);
  const key = patterns.join('\0');
  let combined = anyMatcherCache.get(key);
  if (!combined) {
    combined = new RegExp(patterns.map((pattern) => `(?:${picomatch.makeRe(pattern, { dot: true }).source})`).join('|'));
    anyMatcherCache.set(key, combined);
  }
  return combined.test(path);
}

/**
 * A git pathspec that selects at least every path the picomatch glob matches. Git's `:(glob)`
 * magic knows `*`, `**` and `?` but not braces or extglobs, so from the first segment that
 * uses those on, the pathspec widens to `**`; picomatch then filters exactly.
 */
function gitPathspecFor(pattern: string): string {
  const segments = pattern.split('/');
  const first = segments.findIndex((segment) => /[{}()!+@]/.test(segment));
  const kept = first === -1 ? segments : [...segments.slice(0, first), '**'];
  return `:(glob)${kept.join('/')}`;
}

const viewFiles = new WeakMap<RepoView, ReadonlyMap<string, string>>();

/**
 * Every file of the view as a map (what the variable loader and the renderer read): one map per
 * view, so that their caches, keyed by the map, serve every reader of one check.
 */
export function filesOfView(repo: RepoView): ReadonlyMap<string, string> {
  let files = viewFiles.get(repo);
  if (!files) viewFiles.set(repo, (files = new Map(repo.paths.map((path) => [path, repo.read(path) ?? '']))));
  return files;
}

const globExpressions = new Map<string, RegExp>();

/**
 * picomatch's expression for one glob, compiled once (the pieces matchesAny joins into one).
 * The globs are the modules' own and the lists they pass to `glob`; the bound only keeps a
 * long-lived process (the test runner) small should globs ever be built from repo content.
 */
function globExpression(pattern: string): RegExp {
  let expression = globExpressions.get(pattern);
  if (!expression) {
    if (globExpressions.size >= 2000) globExpressions.clear();
    globExpressions.set(pattern, (expression = picomatch.makeRe(pattern, { dot: true })));
  }
  return expression;
}

/**
 * True when one of the globs matches `path`, exactly as matchesAny decides: what a module's view
 * holds, where it may write and what it finds with `glob`. Each glob is tested on its own (one
 * expression per glob, shared by every module that uses it) rather than as matchesAny's one
 * expression per list: the engine asks this for each module's list (eleven lists, 147 globs, 51
 * distinct), and compiling a combined expression per list cost more in a dry run than testing
 * the globs one by one. One glob is tested as matchesAny tests it (picomatch's matcher).
 */
export function declaredBy(path: string, globs: readonly string[]): boolean {
  if (globs.length === 1) return matcher(globs[0]!)(path);
  return globs.some((pattern) => globExpression(pattern).test(path));
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a === b || (a.length === b.length && a.every((item, index) => item === b[index]));

/**
 * The last listing of each module's view, keyed by the module's `files` array (the engine passes
 * the same one for a module's check and its re-check): the loaded paths it was made from and the
 * ones the globs let through, sorted. A re-check, and any view of the same paths, reuses it
 * instead of testing every loaded path again (10,000 of them on the bench's large repo).
 * Weakly keyed, one entry per module: nothing outlives the modules.
 */
const lastListing = new WeakMap<readonly string[], { readonly loaded: readonly string[]; readonly visible: readonly string[] }>();

/**
 * For the last loaded listing, the paths each glob matches: modules share most of their globs, so
 * each glob is tested once per loaded path for all of their views rather than once per module.
 * One listing kept (the engine's files change only when a fix creates a file).
 */
let matchedByGlob: { readonly loaded: readonly string[]; readonly byGlob: Map<string, ReadonlySet<string>> } | undefined;

function pathsMatching(pattern: string, loaded: readonly string[]): ReadonlySet<string> {
  if (!matchedByGlob || !sameList(matchedByGlob.loaded, loaded)) matchedByGlob = { loaded, byGlob: new Map() };
  let matched = matchedByGlob.byGlob.get(pattern);
  if (!matched) {
    const expression = globExpression(pattern);
    matchedByGlob.byGlob.set(pattern, (matched = new Set(loaded.filter((path) => expression.test(path)))));
  }
  return matched;
}

function visiblePaths(files: ReadonlyMap<string, string>, only: readonly string[]): string[] {
  const loaded = [...files.keys()];
  const last = lastListing.get(only);
  if (last && sameList(last.loaded, loaded)) return [...last.visible];
  // declaredBy's decision: one glob through picomatch's matcher, several as their expressions.
  const matched = only.length === 1 ? undefined : only.map((pattern) => pathsMatching(pattern, loaded));
  const visible = loaded
    .filter((path) => (matched === undefined ? declaredBy(path, only) : matched.some((paths) => paths.has(path))))
    .sort();
  lastListing.set(only, { loaded, visible });
  return [...visible];
}

/**
 * The view of `files` a patch module gets. With `only` (the module's declared `files` globs) it
 * sees just the files those match, so a file outside them cannot change its answer, and a
 * problem in that file cannot stop it.
 */
export function createRepoView(files: ReadonlyMap<string, string>, only?: readonly string[]): RepoView {
  const paths = only === undefined ? [...files.keys()].sort() : visiblePaths(files, only);
  const visible = only === undefined ? undefined : new Set(paths);
  const glob = (...patterns: string[]): string[] => paths.filter((path) => declaredBy(path, patterns));
  return {
    paths,
    read: (path) => (visible === undefined || visible.has(path) ? files.get(path) : undefined),
    glob,
    roleFiles: (role, pattern) => glob(`**/roles/${role}/${pattern}`),
  };
}

/**
 * Git pathspecs selecting at least every path one of the picomatch globs matches, few and
 * narrow: on a 50,000-file repo each `:(glob)**\/…` pathspec costs git ~3 ms, and one widened
 * to `**` lists the whole tree (npm run bench). Brace alternatives within a segment become one
 * superset glob (`*.{yml,yaml}` → `*.y*ml`), alternatives spanning segments are expanded, and
 * a pathspec another one already covers is dropped. picomatch filters the listing exactly;
 * anything still outside git's syntax (extglobs, ranges) falls back to gitPathspecFor.
 */
export function gitPathspecsFor(patterns: readonly string[]): string[] {
  const globs = [...new Set(patterns.flatMap(narrowBraces))];
  const kept = globs.filter(
    (glob, index) =>
      !globs.some((other, otherIndex) => otherIndex !== index && covers(other, glob) && (!covers(glob, other) || otherIndex < index)),
  );
  return [...new Set(kept.map((glob) => (/[{}()]/.test(glob) ? gitPathspecFor(glob) : `:(glob)${glob}`)))];
}

/** Replaces the innermost brace groups: one segment → `prefix*suffix`; spanning segments → one pattern per alternative. */
function narrowBraces(pattern: string): string[] {
  const group = /\{([^{}]*)\}/.exec(pattern);
  if (!group) return [pattern];
  const alternatives = (group[1] ?? '').split(',');
  if (alternatives.length < 2) return [pattern]; // `{a}` or a range: left to gitPathspecFor
  const before = pattern.slice(0, group.index);
  const after = pattern.slice(group.index + group[0].length);
  if (alternatives.some((alternative) => alternative.includes('/')))
    return alternatives.flatMap((alternative) => narrowBraces(`${before}${alternative}${after}`));
  return narrowBraces(`${before}${supersetGlob(alternatives)}${after}`);
}

/** One glob segment matching every alternative: their common prefix and suffix around a `*`. */
function supersetGlob(alternatives: readonly string[]): string {
  const first = alternatives[0] ?? '';
  if (alternatives.every((alternative) => alternative === first)) return first;
  const shortest = Math.min(...alternatives.map((alternative) => alternative.length));
  let prefix = 0;
  while (prefix < shortest && alternatives.every((alternative) => alternative[prefix] === first[prefix])) prefix++;
  let suffix = 0;
  while (suffix < shortest - prefix && alternatives.every((alternative) => alternative.at(-1 - suffix) === first.at(-1 - suffix))) suffix++;
  return `${first.slice(0, prefix)}*${suffix > 0 ? first.slice(-suffix) : ''}`;
}

/** True when every path `inner` matches is matched by `outer` (decided segment by segment; false when unsure). */
function covers(outer: string, inner: string): boolean {
  const coversSegments = (outerSegments: readonly string[], innerSegments: readonly string[]): boolean => {
    const [outerHead, ...outerTail] = outerSegments;
    const [innerHead, ...innerTail] = innerSegments;
    if (outerHead === undefined) return innerHead === undefined;
    if (outerHead === '**')
      return coversSegments(outerTail, innerSegments) || (innerHead !== undefined && coversSegments(outerSegments, innerTail));
    if (innerHead === undefined || innerHead === '**' || /[{}()]/.test(outerHead + innerHead)) return false;
    const segmentCovered = outerHead === innerHead || outerHead === '*' || (!/[*?[\]\\]/.test(innerHead) && matcher(outerHead)(innerHead));
    return segmentCovered && coversSegments(outerTail, innerTail);
  };
  return coversSegments(outer.split('/'), inner.split('/'));
}
