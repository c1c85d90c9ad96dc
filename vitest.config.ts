import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // An empty XDG_CACHE_HOME per test file: no test depends on what an earlier run cached.
    setupFiles: ['test/setup-cache.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn git, go and ansible: two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
