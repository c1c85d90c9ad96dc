/**
 * Run by vitest before every test file, also when files share a worker's modules: the temporary
 * directories of test/helpers.ts removed after each test and after the file, and the user cache
 * directory every test file runs with: the one test/global-setup.ts made for this
 * run, holding Go proofs this run's code made (so no proof from the developer's own runs, or
 * from an earlier test run, ever decides a result). A test that proves the cache itself takes
 * an empty one of its own with `withOwnProofCache`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, inject } from 'vitest';
import { removeFileTempDirs, removeTestTempDirs } from './temp-dirs.js';

afterEach(removeTestTempDirs);
afterAll(removeFileTempDirs);

process.env.XDG_CACHE_HOME = inject('sharedCacheHome') ?? mkdtempSync(join(tmpdir(), 'openclaw-fix-test-cache-'));

/** Runs `fn` with an empty user cache directory of its own (XDG_CACHE_HOME), then restores the shared one. */
export async function withOwnProofCache<T>(fn: () => Promise<T>): Promise<T> {
  const shared = process.env.XDG_CACHE_HOME;
  const own = mkdtempSync(join(tmpdir(), 'openclaw-fix-test-cache-'));
  process.env.XDG_CACHE_HOME = own;
  try {
    return await fn();
  } finally {
    process.env.XDG_CACHE_HOME = shared;
    rmSync(own, { recursive: true, force: true });
  }
}
