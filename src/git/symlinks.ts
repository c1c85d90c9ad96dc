/**
 * Fixes never write through a symlink. A file a fix creates under an in-repo symlinked
 * directory (`roles/openclaw-config/files -> ../shared`) would, committed as a plain path,
 * replace the link with a directory, and a dry run would show only "new file". Such a fix is
 * `unrecognised` instead, naming the link; the other fixes still run.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { commitTree, treeBlobs, type Git } from './git.js';
import { planFixes, type Plan } from '../core/engine.js';
import type { Patch } from '../core/types.js';

/** Where the files come from: the work tree (dry run) or a commit (--apply, --format patch). */
export type Source = { readonly kind: 'work-tree' } | { readonly kind: 'commit'; readonly commit: string };

/** The path and each directory above it. */
function selfAndAncestors(path: string): string[] {
  const out: string[] = [];
  for (let current = path; current !== '.' && current !== ''; current = posix.dirname(current)) out.push(current);
  return out;
}

/** The symlinks among `paths` in the source, with their targets. */
async function symlinksAmong(git: Git, source: Source, paths: readonly string[]): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  if (paths.length === 0) return links;
  if (source.kind === 'work-tree') {
    for (const path of paths) {
      const stats = await lstat(join(git.root, path)).catch(() => undefined);
      if (stats?.isSymbolicLink()) links.set(path, await readlink(join(git.root, path)).catch(() => '?'));
    }
    return links;
  }
  // From the commit's listing, which loading the files made (src/git/git.ts commitTree): a
  // symlink, to a file or a directory, is an entry of mode 120000 there.
  const tree = await commitTree(git, source.commit);
  const wanted = new Set(paths);
  const found = tree.paths.flatMap((path, index) => (tree.modes[index] === '120000' && wanted.has(path) ? [index] : []));
  const targets = await treeBlobs(
    git,
    tree,
    found.map((index) => tree.shas[index]!),
  );
  found.forEach((index, position) => links.set(tree.paths[index]!, targets[position]?.toString('utf8') ?? '?'));
  return links;
}

/** planFixes, then again without the fixes that would create a file through a symlink. */
export async function planWithoutWritingThroughSymlinks(
  git: Git,
  source: Source,
  files: ReadonlyMap<string, string>,
  patches: readonly Patch[],
): Promise<Plan> {
  const refused = new Map<string, string>();
  let plan = planFixes(files, patches);
  for (let round = 0; round < patches.length; round++) {
    const created = [
      ...new Set(
        plan.pending.flatMap((outcome) => outcome.files.filter((change) => change.before === undefined).map((change) => change.path)),
      ),
    ].filter((path) => !refused.has(path));
    const links = await symlinksAmong(git, source, [...new Set(created.flatMap(selfAndAncestors))]);
    let found = false;
    for (const path of created) {
      const link = selfAndAncestors(path).find((candidate) => links.has(candidate));
      if (link === undefined) continue;
      found = true;
      refused.set(
        path,
        `${link} is a symlink (to ${links.get(link)}), and openclaw-fix does not write through symlinks: writing ${path} would replace the link; make ${link} a directory, or add the file at the link's target yourself`,
      );
    }
    if (!found) return plan;
    plan = planFixes(files, patches, { refusedPaths: refused });
  }
  return plan;
}
