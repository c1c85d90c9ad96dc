import { relative } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
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

/** Files that replace a module the tool imports (vi.mock): they get a fresh module graph of their own. */
const MOCKING_FILES = ['test/verify-standin.test.ts', 'patches/egress-plain-http-role/egress-plain-http-role.test.ts'];

export default defineConfig({
  test: {
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
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts', 'patches/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...MOCKING_FILES],
          // The files of a worker share its loaded modules: loading the tool again for each file
          // cost ~0.7 CPU-s a file (ten small files: 17.9 CPU-s isolated, 10.6 shared). Every
          // file restores what it changes (process.env, spies); temp dirs are per file
          // (test/temp-dirs.ts), the parse memo is keyed by content.
          isolate: false,
        },
      },
      { extends: true, test: { name: 'isolated', include: MOCKING_FILES } },
    ],
  },
});
