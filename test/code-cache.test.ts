import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeCacheFile, loadWithCodeCache } from '../src/core/code-cache.js';
import { tempDir } from './helpers.js';

/** A CommonJS module with a function that only a call compiles (V8 compiles lazily). */
const moduleSource = (answer: string): string =>
  `'use strict';\nexports.answer = function answer() { return ${JSON.stringify(answer)}; };\n`;

describe('the V8 code cache of the bundled CLI (src/core/code-cache.ts)', () => {
  it('compiles from the cache on the second run, with the same behaviour', () => {
    const dir = tempDir();
    const file = join(dir, 'cli.cjs');
    writeFileSync(file, moduleSource('first'));
    const cacheDir = join(dir, 'cache');
    const cold = loadWithCodeCache(file, cacheDir);
    expect(cold.fromCache).toBe(false);
    expect((cold.exports.answer as () => string)()).toBe('first');
    cold.saveCache();
    expect(readdirSync(join(cacheDir, 'v8'))).toEqual([codeCacheFile(cacheDir, moduleSource('first')).split('/').at(-1)]);
    const warm = loadWithCodeCache(file, cacheDir);
    expect(warm.fromCache).toBe(true);
    expect((warm.exports.answer as () => string)()).toBe('first');
  });

  it('never runs a cache made for other bytes of the same length (V8 checks only the length)', () => {
    const dir = tempDir();
    const file = join(dir, 'cli.cjs');
    const cacheDir = join(dir, 'cache');
    writeFileSync(file, moduleSource('old!'));
    const before = loadWithCodeCache(file, cacheDir);
    (before.exports.answer as () => string)();
    before.saveCache();
    writeFileSync(file, moduleSource('new!'));
    const after = loadWithCodeCache(file, cacheDir);
    expect(after.fromCache).toBe(false);
    expect((after.exports.answer as () => string)()).toBe('new!');
  });

  it('without a cache directory (--no-cache) or with one it cannot write, it runs and writes nothing', () => {
    const dir = tempDir();
    const file = join(dir, 'cli.cjs');
    writeFileSync(file, moduleSource('plain'));
    const uncached = loadWithCodeCache(file, undefined);
    uncached.saveCache();
    expect((uncached.exports.answer as () => string)()).toBe('plain');
    expect(readdirSync(dir)).toEqual(['cli.cjs']);

    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o500);
    const blocked = loadWithCodeCache(file, join(readOnly, 'cache'));
    expect(() => blocked.saveCache()).not.toThrow();
    expect((blocked.exports.answer as () => string)()).toBe('plain');
    if (process.getuid?.() !== 0) expect(existsSync(join(readOnly, 'cache'))).toBe(false);
  });

  it('keeps only the most recent caches, one per build', () => {
    const dir = tempDir();
    const cacheDir = join(dir, 'cache');
    for (let build = 0; build < 7; build++) {
      const file = join(dir, `cli-${build}.cjs`);
      writeFileSync(file, moduleSource(`build ${build}`));
      loadWithCodeCache(file, cacheDir).saveCache();
    }
    expect(readdirSync(join(cacheDir, 'v8')).filter((name) => name.endsWith('.bin'))).toHaveLength(4);
  });
});
