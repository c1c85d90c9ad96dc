/**
 * The contract between the engine and the patch modules.
 *
 * A patch module is pure: given a read-only view of the repository's candidate files it
 * reports the state of one fix and, when the fix is needed, the text edits that make it.
 * It never touches git or the file system; the engine applies, verifies, diffs and commits.
 */

/** What a patch module found. */
export type FixState = 'needs-fix' | 'fixed' | 'not-applicable' | 'unrecognised';

/**
 * Replace `original.slice(start, end)` of file `path` with `text`.
 * Offsets are UTF-16 indices into the file's current text (as JavaScript strings count).
 * An edit on a path that does not exist yet creates that file (use start = end = 0).
 */
export interface TextEdit {
  readonly path: string;
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

export interface CheckResult {
  readonly state: FixState;
  /** One line for the user, naming `file:line` where it can (e.g. "egress tmpfs lacks /run at roles/…/docker-compose.yml.j2:144"). */
  readonly reason: string;
  /** The edits that make the fix; present (and non-empty) exactly when state is 'needs-fix'. */
  readonly edits?: readonly TextEdit[];
  /** What the edits change, one short sentence each: goes into the commit body. */
  readonly changes?: readonly string[];
  /** Advice the user must act on that no edit can carry (printed with the fix, and in --json). */
  readonly notes?: readonly string[];
}

/** Read-only view of the repository's candidate files, as the engine loaded them. */
export interface RepoView {
  /** Repo-relative POSIX paths of every loaded file, sorted. */
  readonly paths: readonly string[];
  /** The file's text, or undefined when it is not in the view. */
  read(path: string): string | undefined;
  /** Loaded paths matching any of the globs (picomatch syntax, matched against the repo-relative path), sorted. */
  glob(...patterns: string[]): string[];
  /**
   * Files of an Ansible role wherever the roles live (`roles/` at the root, `ansible/roles/`, …):
   * `roleFiles('openclaw-config', 'handlers/main.{yml,yaml}')`.
   */
  roleFiles(role: string, pattern: string): string[];
}

/** What a patch module declares: facts and a check. Its prose lives in `<id>.md` beside it. */
export interface PatchModule {
  /** Stable kebab-case id; also the value of the commit trailer, and the name of the module's folder and files. */
  readonly id: string;
  /** The report's bug number, or null for a fix beyond the report. */
  readonly bug: number | null;
  /** Position in the apply order: the report's priority list (2, 1, 3, 5, 4, 6, 7, 8, 9), then fixes beyond it. */
  readonly priority: number;
  /** Conventional-commit scope: `fix(<scope>): …`. */
  readonly scope: string;
  /** Globs (picomatch, repo-relative) of every file the module may read; the engine loads only these. */
  readonly files: readonly string[];
  /**
   * Globs of files the module reads only when they are shell scripts (`isShellScript`: by name, or
   * by a `#!` line): a role's `files/` may hold thousands of assets, and a file there matters to
   * the module only as a script. Its view holds the scripts among them; the others are not read
   * whole, kept or shown (the loader looks at a file's first bytes to tell).
   */
  readonly scripts?: readonly string[];
  /**
   * The module's own URL (`import.meta.url`): the engine reads `<id>.md` and the `assets` from
   * its folder (src/core/patch-home.ts), so the module itself never touches the file system.
   */
  readonly home: string;
  /** Files beside the module that `check` uses (e.g. a Go source it writes), read by name through `assets`. */
  readonly assets?: readonly string[];
  check(repo: RepoView, assets: PatchAssets): CheckResult;
}

/** The texts of a module's declared `assets`, loaded by the engine. */
export interface PatchAssets {
  /** The asset's text; throws for a name the module did not declare. */
  text(name: string): string;
}

/** A fix's prose, from `patches/<id>/<id>.md`: commit message, PR body, --json and docs/fixes.md use it. */
export interface PatchProse {
  /** Imperative summary, used as the commit subject (the `.md`'s `# ` heading). */
  readonly title: string;
  /** What is wrong in the deployment, in a sentence or two (`## What is wrong`). */
  readonly problem: string;
  /** Why the fix is what it is (`## The fix`). */
  readonly why: string;
  /** Where and why this fix departs from the report's snippet, with the fact it rests on; null when it follows the report (`## Departs from the report`, absent then). */
  readonly departsFromReport: string | null;
  /** Longer notes for docs/fixes.md (Markdown): design choices, facts relied on, what the user must still do (`## Details`). */
  readonly details?: string;
}

/** A fix as the engine runs it: the module's facts, its prose, and a check with its assets bound. */
export interface Patch extends PatchProse {
  readonly id: string;
  readonly bug: number | null;
  readonly priority: number;
  readonly scope: string;
  readonly files: readonly string[];
  /** The module's `scripts` (see PatchModule). */
  readonly scripts?: readonly string[];
  check(repo: RepoView): CheckResult;
}
