/** The read-only view of a repository that patch modules receive. */
import picomatch from 'picomatch';
import { isShellScript } from '../toolkit/shell.js';
import type { RepoView } from './types.js';

const anyMatcherCache = new Map<string, GlobList>();

/**
 * True when one of the globs matches `path` (picomatch, `dot: true`). Every fix's view filters
 * every candidate path through its globs, and the loaders filter the whole index: on a
 * 50,000-file repo, running picomatch's expressions over every path was the largest cost of a
 * dry run (npm run bench). So each list is compiled once (GlobList), and most of the work is
 * done once per directory.
 */
export function matchesAny(path: string, patterns: readonly string[]): boolean {
  return globList(patterns).matches(path);
}

/** By the array first: a caller filtering many paths passes one array each time, and joining it per path cost more than matching. */
const listOfArray = new WeakMap<readonly string[], GlobList>();

/** The paths among `paths` that one of the globs matches (as matchesAny), in order: sorted paths share the work per directory. */
export function filterPaths(paths: readonly string[], patterns: readonly string[]): readonly string[] {
  return globList(patterns).filter(paths);
}

/**
 * The paths of a NUL-separated listing (`git ls-files -z`) that one of the globs matches (as
 * filterPaths), in order. The listing is read where it lies, not split first: on a 50,000-file
 * repository, making a string of every path, and of every name to test, cost more than the
 * matching; only the paths kept become strings.
 */
export function filterListing(listing: string, patterns: readonly string[]): string[] {
  return globList(patterns).filterListing(listing);
}

/**
 * How many glob lists and globs the process keeps compiled. The globs are the modules' own and
 * the lists they pass to `glob`; the bound only keeps a long-lived process (the test runner)
 * small should globs ever be built from repo content.
 */
const REMEMBERED_GLOBS = 2000;

function globList(patterns: readonly string[]): GlobList {
  let list = listOfArray.get(patterns);
  if (list) return list;
  const key = patterns.join('\0');
  list = anyMatcherCache.get(key);
  if (!list) {
    if (anyMatcherCache.size >= REMEMBERED_GLOBS) anyMatcherCache.clear();
    list = new GlobList(patterns);
    anyMatcherCache.set(key, list);
  }
  listOfArray.set(patterns, list);
  return list;
}

const compiledGlobs = new Map<string, CompiledGlob>();

/** A glob compiled once and shared by every list that holds it (eleven modules' lists hold 147 globs, 51 distinct). */
function compiled(pattern: string): CompiledGlob {
  let glob = compiledGlobs.get(pattern);
  if (!glob) {
    if (compiledGlobs.size >= REMEMBERED_GLOBS) compiledGlobs.clear();
    compiledGlobs.set(pattern, (glob = compile(pattern)));
  }
  return glob;
}

/** A glob segment made of plain characters, `*`, `?` and brace groups of plain alternatives (`*.{yml,yaml}`). */
const SIMPLE_SEGMENT = /^(?:[\w.*?-]|\{[\w-]+(?:\.[\w-]+)*(?:,[\w-]+(?:\.[\w-]+)*)+\})+$/;

/** One glob: picomatch's expression, and for a simple glob a test per segment (undefined for `**`). */
interface CompiledGlob {
  readonly exact: RegExp;
  readonly tests?: readonly (SegmentTest | undefined)[];
  /** For each glob segment, as bits: it and the ones after it that `**` segments let a path skip to. */
  readonly closures?: readonly number[];
}

type SimpleGlob = Required<CompiledGlob>;

/** What decides, for the paths in one directory, whether a list matches them: see GlobList. */
interface DirectoryPlan {
  /** Every path in the directory matches. */
  readonly always: boolean;
  /** A test of the path's last segment (the glob segments that can end a match there, as one expression): the path matches when it passes. */
  readonly name: RegExp | undefined;
  /**
   * The same test of a name in a NUL-separated listing, sticky: matched where the name starts, it
   * passes when it ends where the name does (no name holds `/` or NUL).
   */
  readonly nameInListing: RegExp | undefined;
  /** Globs that are not simple: picomatch's expression on the whole path. */
  readonly others: readonly RegExp[];
}

/** How many filtered lists a GlobList remembers. */
const REMEMBERED_LISTS = 4;

/** True when the two lists hold the same strings in the same order. */
function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/** How many directories a list keeps plans for before it starts again (a long-lived process stays small). */
const REMEMBERED_DIRECTORIES = 20_000;

/**
 * A list of picomatch globs (`dot: true`) compiled for filtering many paths; the answers are
 * picomatch's. A simple glob (segments of `**`, or of plain characters, `*`, `?` and brace
 * alternatives) on a plain path (no empty, `.` or `..` segment, as every path git lists) is
 * matched segment by segment: picomatch's expression reads `**` as any number of segments and
 * every other glob segment within one path segment, and its guards against `.` and `..`
 * never apply. The directory part of a path decides most of it, so it is worked out once per
 * directory (which glob segments the directories can have reached) and kept: after that, a
 * path costs a look-up and a test or two of its last segment, and the paths of a directory
 * no glob can reach cost nothing more. Any other glob or path gets picomatch's expression.
 */
class GlobList {
  private readonly globs: CompiledGlob[];
  private readonly plans = new Map<string, DirectoryPlan>();
  /** The globs matched segment by segment, and the expressions of the others (picomatch's, on the whole path). */
  private readonly simple: readonly SimpleGlob[];
  private readonly others: readonly RegExp[];
  /** Per simple glob, the states of the repository's root directory, and of the directories worked out (null: not plain). */
  private readonly initial: readonly number[];
  private readonly states = new Map<string, readonly number[] | null>();
  /** By states as interned (see intern). */
  private readonly plansByStates = new WeakMap<readonly number[], DirectoryPlan>();
  /** Equal states as one array (intern), and for each, the test of a segment against all its tests and where a segment that passes none leads. */
  private readonly vectors = new Map<string, readonly number[]>();
  private readonly steps = new WeakMap<readonly number[], { readonly any: RegExp; none?: readonly number[] }>();
  /**
   * The last few lists filtered, with their results. Each fix's view filters the loaded paths,
   * and the engine hands each fix a new map after every fix that changed a file, nearly always
   * with the same paths: comparing the lists (the same strings) is much cheaper than filtering.
   */
  private readonly filtered: { input: readonly string[]; output: readonly string[] }[] = [];
  /** One glob is tested as picomatch's matcher does (the glob's own text matches, an empty path does not); a list as its expressions only. */
  private readonly single: string | undefined;
  /** The directory part of `single`: filter tests the paths there one by one. */
  private readonly singleDirectory: string | undefined;

  constructor(patterns: readonly string[]) {
    this.single = patterns.length === 1 ? patterns[0] : undefined;
    this.singleDirectory = this.single?.slice(0, Math.max(0, this.single.lastIndexOf('/')));
    this.globs = patterns.map(compiled);
    this.simple = this.globs.filter((glob): glob is SimpleGlob => glob.tests !== undefined && glob.closures !== undefined);
    this.others = this.globs.filter((glob) => glob.tests === undefined || glob.closures === undefined).map((glob) => glob.exact);
    this.initial = this.intern(this.simple.map((glob) => glob.closures[0]!));
  }

  matches(path: string): boolean {
    if (this.single !== undefined && (path === '' || path === this.single)) return path !== '';
    const slash = path.lastIndexOf('/');
    return this.matchesIn(slash === -1 ? '' : path.slice(0, slash), path, slash);
  }

  /** The paths among `paths` that match, in order; consecutive paths of one directory share its plan. */
  filter(paths: readonly string[]): readonly string[] {
    const known = this.filtered.find(({ input }) => sameStrings(input, paths));
    if (known) return known.output;
    const output = Object.freeze(this.filterAll(paths));
    this.filtered.unshift({ input: paths, output });
    this.filtered.length = Math.min(this.filtered.length, REMEMBERED_LISTS);
    return output;
  }

  filterListing(listing: string): string[] {
    const kept: string[] = [];
    // The current directory (paths of one directory come one after the other in a sorted listing) and its plan.
    let directory: string | undefined;
    let cut = -2;
    let plan: DirectoryPlan | undefined;
    for (let start = 0, end = 0; start < listing.length; start = end + 1) {
      end = listing.indexOf('\0', start);
      if (end === -1) end = listing.length;
      if (end === start) continue;
      const slash = listing.lastIndexOf('/', end - 1);
      const at = slash < start ? -1 : slash - start; // as path.lastIndexOf('/')
      if (directory === undefined || at !== cut || (at > 0 && !listing.startsWith(directory, start))) {
        cut = at;
        directory = at === -1 ? '' : listing.slice(start, start + at);
        plan = at === 0 || directory === this.singleDirectory ? undefined : this.plan(directory);
      }
      if (plan === NEVER) continue;
      const name = start + at + 1;
      const plainName = end > name && !(end - name <= 2 && listing[name] === '.' && (end - name === 1 || listing[name + 1] === '.'));
      if (plan === undefined || !plainName) {
        const path = listing.slice(start, end);
        if (this.matches(path)) kept.push(path);
      } else if (plan.always || (plan.nameInListing !== undefined && nameAt(plan.nameInListing, listing, name))) {
        kept.push(listing.slice(start, end));
      } else if (plan.others.length > 0) {
        const path = listing.slice(start, end);
        if (plan.others.some((exact) => exact.test(path))) kept.push(path);
      }
    }
    return kept;
  }

  private filterAll(paths: readonly string[]): string[] {
    const kept: string[] = [];
    for (const run of runsOf(paths)) {
      const plan = run.plain && run.directory !== this.singleDirectory ? this.plan(run.directory) : undefined;
      if (plan === NEVER) continue;
      for (let index = run.start; index < run.end; index++) {
        const path = paths[index]!;
        if (plan === undefined ? this.matches(path) : matchesWithPlan(plan, path, run.slash)) kept.push(path);
      }
    }
    return kept;
  }

  private matchesIn(directory: string, path: string, slash: number): boolean {
    const plan = slash === 0 || !plainName(path, slash) ? undefined : this.plan(directory);
    return plan === undefined ? this.globs.some((glob) => glob.exact.test(path)) : matchesWithPlan(plan, path, slash);
  }

  /** undefined for a directory that is not plain (picomatch decides its paths). */
  private plan(directory: string): DirectoryPlan | undefined {
    let plan = this.plans.get(directory);
    if (plan !== undefined) return plan;
    const states = this.statesOf(directory);
    if (states === undefined) return undefined;
    plan = this.planOf(states);
    if (this.plans.size >= REMEMBERED_DIRECTORIES) this.plans.clear();
    this.plans.set(directory, plan);
    return plan;
  }

  /**
   * For each simple glob, the glob segments `directory` can have led to, as bits (an NFA over the
   * segments; `**` loops); undefined for a directory that is not plain. Worked out from the
   * nearest ancestor worked out before, one segment at a time: the directories of a big tree
   * share their ancestors (`vendor/pkg-1/src`, `vendor/pkg-2/src`).
   */
  private statesOf(directory: string): readonly number[] | undefined {
    if (directory === '') return this.initial;
    const known = this.states.get(directory);
    if (known !== undefined) return known ?? undefined;
    const ends: number[] = [];
    for (let at = directory.indexOf('/'); at !== -1; at = directory.indexOf('/', at + 1)) ends.push(at);
    ends.push(directory.length);
    let from = 0;
    let states = this.initial;
    for (let index = ends.length - 2; index >= 0; index--) {
      const ancestor = this.states.get(directory.slice(0, ends[index]));
      if (ancestor === undefined) continue;
      if (ancestor === null) return this.remember(directory, null);
      states = ancestor;
      from = index + 1;
      break;
    }
    for (let index = from; index < ends.length; index++) {
      const segment = directory.slice(index === 0 ? 0 : ends[index - 1]! + 1, ends[index]);
      if (segment === '' || segment === '.' || segment === '..') return this.remember(directory, null);
      states = this.step(states, segment);
      this.remember(directory.slice(0, ends[index]), states);
    }
    return states;
  }

  private remember(directory: string, states: readonly number[] | null): undefined {
    if (this.states.size >= REMEMBERED_DIRECTORIES) this.states.clear();
    this.states.set(directory, states);
    return undefined;
  }

  /**
   * The states after one more directory segment. Most segments of a big tree (`vendor`,
   * `pkg-1`, `src`) pass no test the states could take, and then lead where any such segment
   * does: one test of the segment against the states' tests at once, and the answer kept.
   */
  private step(before: readonly number[], segment: string): readonly number[] {
    let known = this.steps.get(before);
    if (known === undefined) {
      const inners = new Set<string>();
      before.forEach((states, index) => {
        const { tests } = this.simple[index]!;
        for (let state = 0; state < tests.length; state++) if (states & (1 << state) && tests[state]) inners.add(tests[state]!.inner);
      });
      known = { any: new RegExp(`^(?:${[...inners].join('|')})$`) };
      this.steps.set(before, known);
    }
    if (!known.any.test(segment)) return (known.none ??= this.intern(this.stepEach(before, segment)));
    return this.intern(this.stepEach(before, segment));
  }

  private stepEach(before: readonly number[], segment: string): number[] {
    return before.map((states, index) => {
      if (states === 0) return 0;
      const { tests, closures } = this.simple[index]!;
      let moved = 0;
      for (let state = 0; state < tests.length; state++) {
        if (!(states & (1 << state))) continue;
        const test = tests[state];
        if (test === undefined) moved |= 1 << state;
        else if (test.re.test(segment)) moved |= 1 << (state + 1);
      }
      let closed = 0;
      for (let state = 0; state <= tests.length; state++) if (moved & (1 << state)) closed |= closures[state]!;
      return closed;
    });
  }

  /** One array for equal states, so that what is known of them (steps, plans) is found again. */
  private intern(states: readonly number[]): readonly number[] {
    const key = states.join(',');
    let known = this.vectors.get(key);
    if (known === undefined) {
      if (this.vectors.size >= REMEMBERED_DIRECTORIES) this.vectors.clear();
      this.vectors.set(key, (known = states));
    }
    return known;
  }

  /** The plan of the directories whose states are `states` (many directories share them: worked out once). */
  private planOf(states: readonly number[]): DirectoryPlan {
    let plan = this.plansByStates.get(states);
    if (plan !== undefined) return plan;
    let always = false;
    const names = new Set<string>();
    states.forEach((set, index) => {
      const { tests, closures } = this.simple[index]!;
      const end = tests.length;
      // The last segment: taken by a `**` the rest of which is `**` too (any name), or by a glob segment that ends it.
      for (let state = 0; state < end; state++) {
        if (!(set & (1 << state))) continue;
        const test = tests[state];
        if (test === undefined) {
          if (closures[state]! & (1 << end)) always = true;
        } else if (closures[state + 1]! & (1 << end)) names.add(test.inner);
      }
    });
    const name = nameExpression(names);
    plan =
      always || name !== undefined || this.others.length > 0
        ? { always, name, nameInListing: name && stickyNames.get(name), others: this.others }
        : NEVER;
    this.plansByStates.set(states, plan);
    return plan;
  }
}

/** Consecutive paths of one directory in a list: [start, end), the directory, and whether every one of them is plain. */
interface Run {
  readonly start: number;
  readonly end: number;
  readonly directory: string;
  /** Where the directory ends in each path (-1: none). */
  readonly slash: number;
  readonly plain: boolean;
}

const runsOfList = new WeakMap<readonly string[], readonly Run[]>();
const recentRuns: { paths: readonly string[]; runs: readonly Run[] }[] = [];

/**
 * The runs of a list of paths (sorted lists have few: one per directory, about). Found once per
 * list and kept, by the list and, for a new list with the same paths, by its content: every
 * glob list filtering it then costs a plan per run, and nothing for a run its plan excludes.
 */
function runsOf(paths: readonly string[]): readonly Run[] {
  let runs = runsOfList.get(paths);
  if (runs) return runs;
  runs = recentRuns.find((known) => sameStrings(known.paths, paths))?.runs;
  if (!runs) {
    const found: Run[] = [];
    let current: { start: number; directory: string; slash: number; plain: boolean } | undefined;
    paths.forEach((path, index) => {
      const slash = path.lastIndexOf('/');
      const plain = slash !== 0 && plainName(path, slash);
      if (current && slash === current.slash && path.startsWith(current.directory)) {
        current.plain &&= plain;
        return;
      }
      if (current) found.push({ ...current, end: index });
      current = { start: index, directory: slash === -1 ? '' : path.slice(0, slash), slash, plain };
    });
    if (current) found.push({ ...current, end: paths.length });
    runs = found;
    recentRuns.unshift({ paths, runs });
    recentRuns.length = Math.min(recentRuns.length, REMEMBERED_LISTS);
  }
  runsOfList.set(paths, runs);
  return runs;
}

/** The plan of a directory none of whose paths a list matches. */
const NEVER: DirectoryPlan = { always: false, name: undefined, nameInListing: undefined, others: [] };

/** False for a path ending in `/`, `/.` or `/..` (or that is `.` or `..`): not plain, picomatch decides it. */
function plainName(path: string, slash: number): boolean {
  const length = path.length - slash - 1;
  return !(length === 0 || (length <= 2 && /^\.\.?$/.test(path.slice(slash + 1))));
}

function matchesWithPlan(plan: DirectoryPlan, path: string, slash: number): boolean {
  if (plan === NEVER) return false;
  if (plan.always) return true;
  const name = path.slice(slash + 1);
  return plan.name?.test(name) === true || plan.others.some((exact) => exact.test(path));
}

function compile(pattern: string): CompiledGlob {
  const exact = picomatch.makeRe(pattern, { dot: true });
  const segments = pattern.split('/');
  const simple =
    segments.length < 30 &&
    segments.every(
      (segment) => segment === '**' || (SIMPLE_SEGMENT.test(segment) && !segment.includes('**') && segment !== '.' && segment !== '..'),
    );
  if (!simple) return { exact };
  const tests = segments.map((segment) => (segment === '**' ? undefined : segmentTest(segment)));
  const closures: number[] = [];
  for (let state = tests.length; state >= 0; state--)
    closures[state] = (1 << state) | (state < tests.length && tests[state] === undefined ? closures[state + 1]! : 0);
  return { exact, tests, closures };
}

/** One simple glob segment as an expression for one path segment; `inner` is its body, to be joined with others. */
interface SegmentTest {
  readonly re: RegExp;
  readonly inner: string;
}

/** A segment test: literal characters, `*` (within the segment), `?` (one character) and brace alternatives. */
function segmentTest(segment: string): SegmentTest {
  const inner = expandBraces(segment)
    .map((alternative) => alternative.replace(/[.*?-]/g, (char) => (char === '*' ? '[^/]*' : char === '?' ? '[^/]' : `\\${char}`)))
    .join('|');
  return { re: new RegExp(`^(?:${inner})$`), inner };
}

/** Each name expression's sticky twin for NUL-separated listings (DirectoryPlan.nameInListing). */
const stickyNames = new WeakMap<RegExp, RegExp>();

/** Whether the name starting at `start` in a NUL-separated listing passes a plan's `nameInListing`. */
function nameAt(sticky: RegExp, listing: string, start: number): boolean {
  sticky.lastIndex = start;
  return sticky.test(listing);
}

const nameExpressions = new Map<string, RegExp>();

/** One expression for the segment tests that can end a match in a directory (most directories of a list share it). */
function nameExpression(inners: ReadonlySet<string>): RegExp | undefined {
  if (inners.size === 0) return undefined;
  const body = `(?:${[...inners].map((inner) => `(?:${inner})`).join('|')})`;
  const source = `^${body}$`;
  let re = nameExpressions.get(source);
  if (!re) {
    nameExpressions.set(source, (re = new RegExp(source)));
    // A wildcard's `[^/]` stops at the end of the name in a listing too.
    stickyNames.set(re, new RegExp(`${body.replaceAll('[^/]', '[^/\\0]')}(?=\\0|$)`, 'y'));
  }
  return re;
}

/** `a{b,c}d{e,f}` → `abde`, `abdf`, `acde`, `acdf` (brace groups of plain alternatives only, as SIMPLE_SEGMENT admits). */
function expandBraces(segment: string): string[] {
  const group = /\{([^{}]*)\}/.exec(segment);
  if (!group) return [segment];
  const before = segment.slice(0, group.index);
  const after = segment.slice(group.index + group[0].length);
  return (group[1] ?? '').split(',').flatMap((alternative) => expandBraces(`${before}${alternative}${after}`));
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

/**
 * The view of `files` a patch module gets. With `only` (the module's declared `files` globs) it
 * sees just the files those match, so a file outside them cannot change its answer, and a
 * problem in that file cannot stop it; with `scripts` (its `scripts` globs), also the shell
 * scripts those match (isShellScript), and no other file they match.
 */
export function createRepoView(files: ReadonlyMap<string, string>, only?: readonly string[], scripts: readonly string[] = []): RepoView {
  const all = [...files.keys()];
  // Loaded maps are sorted already (a check of every key is cheaper than sorting them for each view).
  if (all.some((path, index) => index > 0 && all[index - 1]! > path)) all.sort();
  let paths = only === undefined ? all : filterPaths(all, only);
  if (only !== undefined && scripts.length > 0) {
    const whole = new Set(paths);
    const added = new Set(filterPaths(all, scripts).filter((path) => !whole.has(path) && isShellScript(path, files.get(path) ?? '')));
    if (added.size > 0) paths = all.filter((path) => whole.has(path) || added.has(path));
  }
  const visible = only === undefined ? undefined : new Set(paths);
  const glob = (...patterns: string[]): string[] => [...filterPaths(paths, patterns)];
  return {
    paths,
    read: (path) => (visible === undefined || visible.has(path) ? files.get(path) : undefined),
    glob,
    roleFiles: (role, pattern) => glob(`**/roles/${role}/${pattern}`),
  };
}

/**
 * True when one of the globs matches `path`: what a module's view holds, where it may write and
 * what it finds with `glob`. It is matchesAny (one GlobList per list, its globs compiled once
 * for every list that holds them).
 */
export function declaredBy(path: string, globs: readonly string[]): boolean {
  return matchesAny(path, globs);
}
