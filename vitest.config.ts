import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { DEFAULT_TIMEOUT, SLOWEST_FILES, SLOW_TEST_THRESHOLD } from './test/budgets.js';

/** The costliest files (test/budgets.ts) first, in that order; the rest as vitest orders them. */
class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification): number => {
      const index = (SLOWEST_FILES as readonly string[]).indexOf(relative(file.project.config.root, file.moduleId).split('\\').join('/'));
      return index === -1 ? SLOWEST_FILES.length : index;
    };
    return (await super.sort(files))
      .map((file, order) => ({ file, order }))
      .sort((a, b) => rank(a.file) - rank(b.file) || a.order - b.order)
      .map(({ file }) => file);
  }
}

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
    sequence: { sequencer: SlowestFirst },
    // Tests spawn git, go and ansible: two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
