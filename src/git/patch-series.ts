/**
 * `--dry-run --format patch`: the fixes as an mbox patch series on stdout, one patch per fix
 * in apply order with the commit messages `--apply` writes, so that `git am` on the same base
 * gives the tree `--apply` commits.
 *
 * The commits are built exactly as `--apply` builds them (src/git/apply.ts) but no ref points at
 * them; `git format-patch` then writes the series from the dangling tip. Only unreachable
 * objects are added: the user's refs, index and work tree are not touched.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildUnreachableFixCommits } from './apply.js';
import { decodeLossless } from '../core/bytes.js';
import { makeTempDir, removeTempDir } from '../core/cleanup.js';
import type { Plan } from '../core/engine.js';
import { loadCommitFiles, type Git } from './git.js';
import { fixLabel } from '../output/report.js';
import { holdsSecret, SECRET_SOURCE_GLOBS, secretValues } from './secrets.js';
import type { Patch } from '../core/types.js';
import { UserError } from '../core/errors.js';

export interface PatchSeries {
  readonly mbox: string;
  readonly plan: Plan;
  readonly base: string;
  /** What the user should know that is not in the series (one line each, for stderr). */
  readonly notes: readonly string[];
}

/**
 * The series, or a UserError when it would hold one of `secrets` (or of HEAD's plain-text
 * secrets, which uncommitted edits may have removed from the work tree): the CLI prints
 * everything else redacted, but a redacted diff line is a corrupted series — `git am` would
 * commit `<redacted>` — so the series is either printed byte for byte or not at all.
 */
export async function patchSeries(git: Git, patches: readonly Patch[], secrets: readonly string[] = []): Promise<PatchSeries> {
  const { plan, base, commits } = await buildUnreachableFixCommits(git, patches);
  const notes = plan.outcomes
    .filter((outcome) => outcome.state === 'unrecognised')
    .map((outcome) => `not in the series: ${fixLabel(outcome)} (${outcome.patch.title}): ${outcome.reason}`);
  if ((await git.dirtyEntries()).length > 0)
    notes.push(`the series is built from HEAD (${base.slice(0, 12)}); uncommitted changes are not in it`);
  const tip = commits.at(-1)?.sha;
  if (!tip) return { mbox: '', plan, base, notes: [...notes, 'nothing to fix: the series is empty'] };

  // `git am` strips the CR of every CRLF line it reads from an mbox (unless run with
  // --keep-cr), so a text diff of a CRLF file would not apply, or would apply without its CRs.
  // Files holding a CR travel as binary patches instead, which keep every byte.
  const withCarriageReturns = [
    ...new Set(
      plan.pending.flatMap((outcome) =>
        outcome.files.filter((change) => change.after.includes('\r') || change.before?.includes('\r')).map((change) => change.path),
      ),
    ),
  ];
  const scratch = makeTempDir('openclaw-fix-patch-');
  try {
    const attributes = join(scratch, 'attributes');
    writeFileSync(attributes, withCarriageReturns.map((path) => `${attributePattern(path)} binary\n`).join(''));
    // Bytes, decoded losslessly: a file that is not UTF-8 must reach `git am` byte for byte.
    const mbox = decodeLossless(
      await git.runBuffer([
        // The user's diff and format settings must not make a series `git am` cannot apply.
        ...[
          '-c',
          `core.attributesFile=${attributes}`,
          '-c',
          'diff.noprefix=false',
          '-c',
          'diff.mnemonicPrefix=false',
          '-c',
          'diff.relative=false',
        ],
        'format-patch',
        '--stdout',
        '--binary',
        '--no-cover-letter',
        '--no-attach',
        '--no-signoff',
        '--no-notes',
        '--no-ext-diff',
        `--base=${base}`,
        `${base}..${tip}`,
      ]),
    );
    const allSecrets = [...secrets, ...secretValues((await loadCommitFiles(git, base, SECRET_SOURCE_GLOBS)).files)];
    const holder = secretHolder(mbox, plan, withCarriageReturns, allSecrets);
    if (holder) {
      throw new UserError(
        `${holder}: the patch series would contain a secret value from the repo's variables, and it is never printed (redacting it would corrupt the series); nothing was printed: run openclaw-fix --apply to commit the fixes on a branch instead`,
      );
    }
    return { mbox, plan, base, notes };
  } finally {
    removeTempDir(scratch);
  }
}

/**
 * Where the first secret in the series is: the file whose diff holds it, or the commit message
 * that does. Files sent as binary patches (base85 of their bytes) are judged by their content.
 */
function secretHolder(mbox: string, plan: Plan, binaryPaths: readonly string[], secrets: readonly string[]): string | undefined {
  const binary = plan.pending
    .flatMap((outcome) => outcome.files)
    .find((change) => binaryPaths.includes(change.path) && holdsSecret(`${change.before ?? ''}\n${change.after}`, secrets));
  if (binary) return binary.path;
  if (!holdsSecret(mbox, secrets)) return undefined;
  const paths = [...new Set(plan.pending.flatMap((outcome) => outcome.files.map((change) => change.path)))].sort(
    (a, b) => b.length - a.length,
  );
  let where = 'a commit message';
  for (const line of mbox.split('\n')) {
    if (/^From [0-9a-f]{40,64} /.test(line)) where = 'a commit message';
    else if (line.startsWith('diff --git '))
      where = paths.find((path) => line.endsWith(` b/${path}`) || line.endsWith(` "b/${path}"`)) ?? line.slice('diff --git '.length);
    if (holdsSecret(line, secrets)) return where;
  }
  return 'the series';
}

/** A gitattributes pattern matching exactly `path`: glob characters escaped, C-quoted when it holds a space or quote. */
function attributePattern(path: string): string {
  const pattern = `/${path.replace(/[\\*?[\]!#]/g, (char) => `\\${char}`)}`;
  return /[\s"]/.test(pattern) ? `"${pattern.replace(/[\\"]/g, (char) => `\\${char}`)}"` : pattern;
}
