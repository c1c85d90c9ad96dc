/**
 * Temporary directories for tests, removed by test/setup-cache.ts after each test (tempDir) or
 * after the file (fileTempDir). The hooks live there because vitest runs a setup file for every
 * test file, also when files share a worker's modules; hooks registered by a shared module run
 * only for the first file that loads it. Nothing here imports the tool, so a setup file can load
 * it before a test file mocks a module the tool uses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tempDirs: string[] = [];
const fileTempDirs: string[] = [];

export function tempDir(prefix = 'openclaw-fix-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Temp dirs kept until the test file ends: made in a beforeAll, shared by its cases. */
export function fileTempDir(prefix = 'openclaw-fix-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  fileTempDirs.push(dir);
  return dir;
}

export function removeTestTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function removeFileTempDirs(): void {
  for (const dir of fileTempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
