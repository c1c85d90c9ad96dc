/**
 * Loads the bundled CLI (dist/openclaw-fix.cjs, scripts/bundle.mjs) with V8's code cache, so
 * that a run after the first one does not compile the bundle's 1.3 MB again: Node 20 has no
 * compile cache of its own for ES modules (module.enableCompileCache came with Node 22), but a
 * CommonJS script compiled through `vm.Script` takes `cachedData`.
 *
 * The cache is written after the run, not after the compile: by then V8 has compiled the
 * functions the run called, and the cache holds them too. It lives under the user's cache
 * directory, one file per bundle content and Node version (V8 checks only the source's length
 * against a cache, so the key must be the content itself); V8 refuses a cache made by another
 * V8, and a refused, unreadable or unwritable cache only means compiling as without one.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { constants, Script } from 'node:vm';

export interface LoadedScript {
  /** What the CommonJS module exported. */
  readonly exports: Record<string, unknown>;
  /** True when V8 compiled it from the cache. */
  readonly fromCache: boolean;
  /** Writes the code cache when there was none to use (a no-op otherwise, and when it cannot be written). */
  saveCache(): void;
}

/** The cache file for `source`: its content, Node's version and the platform. */
export function codeCacheFile(cacheDir: string, source: string): string {
  const key = createHash('sha256').update(`${process.version}\0${process.arch}\0`).update(source).digest('hex').slice(0, 40);
  return join(cacheDir, 'v8', `${key}.bin`);
}

/** Runs the CommonJS file `file`, compiled from the code cache in `cacheDir` when there is one (none: undefined). */
export function loadWithCodeCache(file: string, cacheDir: string | undefined): LoadedScript {
  const source = readFileSync(file, 'utf8');
  const cacheFile = cacheDir === undefined ? undefined : codeCacheFile(cacheDir, source);
  let cachedData: Buffer | undefined;
  if (cacheFile !== undefined) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // no cache yet
    }
  }
  const script = new Script(Module.wrap(source), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const fromCache = cachedData !== undefined && !script.cachedDataRejected;
  const module = { exports: {} as Record<string, unknown> };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return {
    exports: module.exports,
    fromCache,
    saveCache() {
      if (fromCache || cacheFile === undefined) return;
      const temporary = `${cacheFile}.${process.pid}.tmp`;
      try {
        mkdirSync(dirname(cacheFile), { recursive: true });
        writeFileSync(temporary, script.createCachedData());
        // Atomic: a concurrent run reads the old file, the new one or none, never half of one.
        renameSync(temporary, cacheFile);
        pruneOldCaches(dirname(cacheFile));
      } catch {
        try {
          rmSync(temporary, { force: true });
        } catch {
          // nothing more to do: the cache is an optimisation
        }
      }
    },
  };
}

/** Each build of the CLI leaves a cache; keep the few most recently written (another install may be in use). */
const CACHES_KEPT = 4;

/** A temporary file this old was left by a run killed while writing it (SIGKILL, power loss). */
const ABANDONED_AFTER_MS = 10 * 60_000;

function pruneOldCaches(dir: string): void {
  const entries = readdirSync(dir).map((name) => ({ name, path: join(dir, name), written: statSync(join(dir, name)).mtimeMs }));
  const caches = entries.filter((entry) => entry.name.endsWith('.bin')).sort((a, b) => b.written - a.written);
  const abandoned = entries.filter((entry) => entry.name.endsWith('.tmp') && Date.now() - entry.written > ABANDONED_AFTER_MS);
  for (const old of [...caches.slice(CACHES_KEPT), ...abandoned]) rmSync(old.path, { force: true });
}
