import { defineConfig } from 'vitest/config';
import { DEFAULT_TIMEOUT, SLOW_TEST_THRESHOLD } from './test/budgets.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'patches/**/*.test.ts'],
    // One XDG_CACHE_HOME per run, its Go proof of the fixed entrypoint made once before the files
    // start: no test depends on what an earlier run cached (test/global-setup.ts says why).
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/setup-cache.ts'],
    // Hang detectors, not speed limits: test/budgets.ts says why and lists the slowest cases.
    testTimeout: DEFAULT_TIMEOUT,
    hookTimeout: DEFAULT_TIMEOUT,
    slowTestThreshold: SLOW_TEST_THRESHOLD,
    // Tests spawn git, go and ansible: two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
