/**
 * The suite's time budgets, in one place. No test asserts on elapsed time: every figure here
 * is a hang detector, set far above what the work needs on a busy one-CPU machine (the suite
 * must pass under `taskset -c 0 .ci/run` on a shared runner), and a slow test bounds its WORK
 * (200 variants, one playbook run, one build) instead of its clock. Speed targets live in
 * `npm run bench`, never in a test.
 *
 * The slowest cases, by the work they do (each uses SLOW_TEST below):
 *   - test/fuzz.test.ts: 200 generated variants of the fixture, each planned twice and verified;
 *   - test/ansible-crosscheck.test.ts and the tests of bugs 8, 9, 3 and 6
 *     (patches/<id>/<id>.test.ts): real ansible-playbook runs, Go builds and go vet;
 *   - test/end-to-end.test.ts: --apply (Go included) and verify of whole repos, some with Ansible;
 *   - test/hostile.test.ts, test/hostile-trust.test.ts: SIGINT/SIGKILL in the middle of
 *     --apply (child processes; a tsc build of the CLI only when dist/ is older than the
 *     sources), the secrets check running every mode, the Go proof cache proved on its own;
 *   - test/confinement.test.ts: the 220-injection property test;
 *   - test/rerun.test.ts, test/push-pr.test.ts: several --apply runs against a bare remote and
 *     a stub GitHub (the Go proof of the fixed entrypoint is made once per run, see
 *     test/global-setup.ts);
 *   - test/verify-standin.test.ts: --apply and verify of the fixture.
 * vitest's slowTestThreshold (vitest.config.ts) names any other test that grows slow in the
 * report.
 */
const MINUTE = 60_000;

/**
 * The test files that cost the most, costliest first (CPU seconds of `vitest run <file>` alone,
 * user + sys, each including ~7.6 CPU-s of vitest start-up and the global Go proof, measured
 * on the 2-CPU machine busy with other jobs, so +-15%): hostile-trust ~40, fuzz ~39 (no child
 * process: all of it the tool's own work), fixtures-e2e ~33, handlers ~31 (its one
 * ansible-playbook run ~23), confinement ~30, rerun ~30, hostile ~29 (~43 while it compiled
 * the CLI again every run), push-pr ~28, bug 6 ~27 (two playbook runs of nine tasks),
 * end-to-end ~24, apply ~22, ansible-crosscheck ~18 (~39 while every rendered template went
 * through the stat and copy modules), bug 3 ~18 (~38 while go vet compiled its dependencies
 * in an empty cache), verify ~16. The run starts them first (vitest.config.ts), so the long
 * ones do not begin last and leave one CPU idle at the end; vitest's own record of durations
 * is not there on a clean clone.
 */
export const SLOWEST_FILES = [
  'test/hostile-trust.test.ts',
  'test/fuzz.test.ts',
  'test/fixtures-e2e.test.ts',
  'patches/handlers-first-run-safe/handlers-first-run-safe.test.ts',
  'test/confinement.test.ts',
  'test/rerun.test.ts',
  'test/hostile.test.ts',
  'test/push-pr.test.ts',
  'patches/telegram-token-no-argv/telegram-token-no-argv.test.ts',
  'test/end-to-end.test.ts',
  'test/apply.test.ts',
  'test/ansible-crosscheck.test.ts',
  'patches/egress-plain-http-role/egress-plain-http-role.test.ts',
  'test/verify.test.ts',
] as const;

/** Any test or hook without a budget of its own (vitest.config.ts). */
export const DEFAULT_TIMEOUT = 10 * MINUTE;

/** A test or hook among the slowest cases listed above. */
export const SLOW_TEST = 30 * MINUTE;

/** A child process doing real work (ansible-playbook): killed only if it hangs, never for being slow. */
export const CHILD_PROCESS_TIMEOUT = 20 * MINUTE;

/** Reported as slow by vitest (a display, never a failure). */
export const SLOW_TEST_THRESHOLD = 10_000;
