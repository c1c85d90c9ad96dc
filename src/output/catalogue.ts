/**
 * What `--list` prints, and the catalogue that lets the installed CLI print it without
 * loading the fixes: `npm run build` writes dist/catalogue.json from the compiled patch
 * modules, and bin/openclaw-fix.js answers a plain `--list` (or `--list --json`) from it, in
 * a few milliseconds instead of the ~200 ms that loading yargs, yaml, nunjucks and every
 * patch module costs. Any other command line, or a catalogue that the patch modules beside it
 * no longer match (by content hash), takes the full path through src/cli.ts; both print the same bytes (a test
 * compares them).
 *
 * Node built-ins only: this module is the whole of a --list run.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

export interface CatalogueEntry {
  readonly id: string;
  readonly bug: number | null;
  readonly priority: number;
  readonly title: string;
  readonly scope: string;
}

export function listText(patches: readonly CatalogueEntry[]): string {
  return (
    patches
      .map(
        (patch) =>
          `${String(patch.priority).padStart(2)}. ${(patch.bug === null ? 'extra' : `bug ${patch.bug}`).padEnd(6)} ${patch.id.padEnd(34)} ${patch.title}`,
      )
      .join('\n') + '\n'
  );
}

export function listJson(patches: readonly CatalogueEntry[]): string {
  return `${JSON.stringify(
    patches.map(({ id, bug, priority, title, scope }) => ({ id, bug, priority, title, scope })),
    null,
    2,
  )}\n`;
}

/** Where the build puts the catalogue: dist/, holding the compiled src/ and patches/. */
const BUILD = new URL('../../', import.meta.url);

interface CatalogueFile {
  /** A hash of each compiled patch module it was made from (not times: npm resets them on install). */
  readonly sources: Record<string, string>;
  readonly patches: readonly CatalogueEntry[];
}

/** A hash of each compiled patch module and its prose (the title is in <id>.md), so a catalogue they no longer match is not used. */
function patchModuleStamps(build: URL): Record<string, string> {
  const patchesDir = new URL('patches/', build);
  const stamps: Record<string, string> = {};
  // Each fix has its own folder (patches/<id>/<id>.js beside <id>.md): stamp every compiled module and its prose.
  const names = readdirSync(patchesDir, { recursive: true, encoding: 'utf8' }).filter(
    (entry) => entry.endsWith('.js') || entry.endsWith('.md'),
  );
  for (const name of names.sort()) {
    stamps[name] = createHash('sha256')
      .update(readFileSync(new URL(name, patchesDir)))
      .digest('hex');
  }
  return stamps;
}

/** The catalogue of `patches`, compiled into `build`/patches/ (dist/ by default), as the file to write. */
export function catalogueFile(patches: readonly CatalogueEntry[], build: URL = BUILD): string {
  const file: CatalogueFile = {
    sources: patchModuleStamps(build),
    patches: patches.map(({ id, bug, priority, title, scope }) => ({ id, bug, priority, title, scope })),
  };
  return `${JSON.stringify(file)}\n`;
}

/**
 * What a plain `--list` or `--list --json` prints, from the catalogue; undefined for any other
 * command line, or when the catalogue is missing or the patch modules no longer match it.
 */
export function quickList(argv: readonly string[], build: URL = BUILD): string | undefined {
  const args = new Set(argv);
  if (args.size !== argv.length || !args.has('--list') || ![...args].every((arg) => arg === '--list' || arg === '--json')) return undefined;
  let file: CatalogueFile;
  try {
    file = JSON.parse(readFileSync(new URL('catalogue.json', build), 'utf8')) as CatalogueFile;
    if (JSON.stringify(file.sources) !== JSON.stringify(patchModuleStamps(build))) return undefined;
  } catch {
    return undefined;
  }
  return args.has('--json') ? listJson(file.patches) : listText(file.patches);
}
