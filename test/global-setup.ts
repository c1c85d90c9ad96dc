/**
 * Once per `vitest run`, before any test file: one user cache directory for the whole run, in
 * which the Go proof (src/verify/go-check.ts) of the entrypoint every `--apply` writes is made
 * once, by the real build and run, before the files start. Each file used to get an empty cache
 * and compiled that same entrypoint again (one `go build` and three runs of the program per file,
 * and on a machine whose Go build cache is cold, a compile of the stand-in's dependencies by each
 * of the files starting at once). A proof is keyed by the entrypoint's bytes, the stand-in's
 * bytes and `go version`, and every proof in this directory was made by this run's code, so
 * sharing it cannot change a result; the tests that prove the cache itself give their own
 * process an empty one (test/setup-cache.ts, `withOwnProofCache`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bug3, ENTRYPOINT_FILE_NAME } from '../patches/egress-plain-http-role/egress-plain-http-role.js';
import { assetText } from '../src/core/patch-home.js';
import { checkSmokescreenEntrypoint } from '../src/verify/go-check.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** XDG_CACHE_HOME shared by every test file of this run (test/setup-cache.ts). */
    sharedCacheHome: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const cacheHome = mkdtempSync(join(tmpdir(), 'openclaw-fix-test-cache-'));
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cacheHome;
  try {
    // Whatever the verdict, it is this code's verdict: the tests that need the entrypoint to pass say so themselves.
    await checkSmokescreenEntrypoint(assetText(bug3, ENTRYPOINT_FILE_NAME));
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }
  project.provide('sharedCacheHome', cacheHome);
  return () => rmSync(cacheHome, { recursive: true, force: true });
}
