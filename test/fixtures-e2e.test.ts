/**
 * Every fixture repo under fixtures/ (discovered, not listed), end to end through the CLI on a
 * real git copy: the dry run exits 0 and finds each fix in the state its
 * `fixtures/<name>.expect.json` says a correct tool must find; `--apply` exits 0 with one
 * commit per pending fix; `verify` on the fix branch passes, or fails naming exactly the fixes
 * expected to be unrecognised, each with a reason; a second `--apply` is a no-op; and a
 * playbook Ansible accepted before the fixes still passes `ansible-playbook --syntax-check`.
 *
 * The expectation files sit beside the fixture directories, not inside them, so each fixture
 * stays a plain deployment repo. They state what a correct tool must do with that repo, not
 * what the code does today. Where the tool still falls short, the fix's entry keeps the correct
 * expectation and adds a `knownGap`: what the tool does today and why that is wrong. The test
 * then holds the tool to the gap as written, so a gap that closes (or changes) fails the test
 * until its entry is updated, and docs/fixes.md's "Known gaps" lists every one of them.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import type { FixState } from '../src/core/types.js';
import { DEFAULT_FIX_BRANCH, fixtureGitRepo, git, runCli, tempDir } from './helpers.js';

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures', import.meta.url));

type VerifyStatus = 'ok' | 'failed' | 'not-checked' | 'not-applicable';

interface FixExpectation {
  /**
   * The state the dry run must report on the fixture as committed; a list when more than one
   * answer is correct (a route a fix may either repair or refuse with file:line, never ignore).
   */
  state: FixState | FixState[];
  /** What verify must say on the fix branch; by default derived from `state`. */
  verify?: VerifyStatus | VerifyStatus[];
  /** For the reader: the idiom in this fixture the expectation is about. */
  why?: string;
  /**
   * Where today's tool falls short of `state`/`verify`: what it does instead (a state and/or a
   * verify status) and why that is wrong. The test checks the gap as written, so it cannot pass
   * silently once the tool changes.
   */
  knownGap?: { state?: FixState; verify?: VerifyStatus | VerifyStatus[]; why: string };
}

interface Expectation {
  about: string;
  /** Repo-relative playbook that `ansible-playbook --syntax-check` must accept before and after the fixes (absent when the fixture is broken on purpose). */
  playbook?: string;
  fixes: Record<string, FixExpectation>;
  /** Text that must not appear on the fix branch, whatever shape the fix takes: a wrong edit the other checks cannot see. */
  neverOnBranch?: { file: string; pattern: string; why: string }[];
}

interface JsonFix {
  id: string;
  state: FixState;
  reason: string;
}

interface JsonRun {
  fixes: JsonFix[];
  apply?: { status: string; branch: string; commits: { patchId: string; sha: string }[] };
}

interface JsonVerify {
  passed: boolean;
  checks: { id: string; status: VerifyStatus; message: string }[];
}

const fixtureNames = readdirSync(FIXTURES_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const PRIORITY_ORDER = allPatches.map((patch) => patch.id);

function expectationOf(name: string): Expectation {
  const path = join(FIXTURES_DIR, `${name}.expect.json`);
  if (!existsSync(path))
    throw new Error(`fixtures/${name} has no fixtures/${name}.expect.json stating what a correct tool must do with it`);
  return JSON.parse(readFileSync(path, 'utf8')) as Expectation;
}

function allowedStates(fix: FixExpectation): FixState[] {
  if (fix.knownGap?.state !== undefined) return [fix.knownGap.state];
  return Array.isArray(fix.state) ? fix.state : [fix.state];
}

/** What verify must say about a fix once the branch is applied, given the state the run found (one of the allowed ones). */
function expectedVerify(fix: FixExpectation, found: FixState): VerifyStatus[] {
  if (fix.knownGap?.verify !== undefined) return Array.isArray(fix.knownGap.verify) ? fix.knownGap.verify : [fix.knownGap.verify];
  if (fix.verify !== undefined) return Array.isArray(fix.verify) ? fix.verify : [fix.verify];
  switch (found) {
    case 'needs-fix':
    case 'fixed':
      return ['ok'];
    case 'not-applicable':
      return ['not-applicable'];
    case 'unrecognised':
      return ['failed', 'not-checked'];
  }
}

/**
 * `ansible-playbook --syntax-check` on a copy of the work tree (no .git), from the playbook's
 * own directory so its ansible.cfg applies. Asynchronous, so the checks before and after the
 * fixes run side by side.
 */
async function ansibleSyntaxCheck(repo: string, playbook: string): Promise<{ status: number | null; output: string }> {
  const work = tempDir('openclaw-fix-ansible-');
  cpSync(repo, work, { recursive: true, filter: (path) => !path.includes('/.git') });
  const cwd = join(work, dirname(playbook));
  const env = { ...process.env, ANSIBLE_CONFIG: join(cwd, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' };
  return new Promise((resolve, reject) => {
    const child = spawn('ansible-playbook', ['--syntax-check', basename(playbook)], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', (error) => reject(new Error(`cannot run ansible-playbook (${error.message})`)));
    child.on('close', (status) => resolve({ status, output }));
  });
}

it('discovers the fixture repos, each with an expectation for every fix', () => {
  expect(fixtureNames).toContain('deployment-repo');
  expect(fixtureNames.length).toBeGreaterThanOrEqual(4);
  for (const name of fixtureNames) expect(Object.keys(expectationOf(name).fixes).sort(), name).toEqual([...PRIORITY_ORDER].sort());
});

describe.each(fixtureNames)('fixtures/%s', (name) => {
  const source = join(FIXTURES_DIR, name);
  // One git copy of the fixture for both cases: the dry run writes nothing (the first case runs first, and alone it needs the same repo).
  let repo: string;
  beforeAll(() => {
    repo = fixtureGitRepo(source, { untilFileEnds: true });
  });

  it('dry run: exit 0, nothing on stderr, every fix in its expected state; an unrecognised one names file:line', async () => {
    const expectation = expectationOf(name);
    const dryRun = await runCli(repo, ['--json']);
    expect.soft(dryRun.stderr, 'stderr').toBe('');
    expect(dryRun.code, dryRun.stderr || dryRun.stdout.slice(0, 500)).toBe(0);
    const run = JSON.parse(dryRun.stdout) as JsonRun;
    const expected = Object.fromEntries(Object.entries(expectation.fixes).map(([id, fix]) => [id, allowedStates(fix).join(' | ')]));
    // The allowed states when the tool's is one of them; otherwise its state and reason, so a mismatch says what the tool saw.
    const actual = Object.fromEntries(
      run.fixes.map((fix) => {
        const allowed = expectation.fixes[fix.id] === undefined ? [] : allowedStates(expectation.fixes[fix.id]!);
        return [fix.id, allowed.includes(fix.state) ? allowed.join(' | ') : `${fix.state} (${fix.reason})`];
      }),
    );
    expect(actual).toEqual(expected);
    for (const fix of run.fixes.filter((f) => f.state === 'unrecognised')) expect(fix.reason, fix.id).toMatch(/[\w./-]+:\d+/);
  });

  it(
    '--apply exits 0 with one commit per pending fix; verify on the branch agrees; --check and a second --apply have nothing to do',
    { timeout: 600_000 },
    async () => {
      const expectation = expectationOf(name);
      const mainTip = git(repo, 'rev-parse', 'main').trim();

      const apply = await runCli(repo, ['--apply', '--json']);
      expect(apply.code, apply.stderr || apply.stdout.slice(0, 500)).toBe(0);
      expect.soft(apply.stderr, 'stderr of --apply').toBe('');
      const applied = JSON.parse(apply.stdout) as JsonRun;
      // Where the expectation allows more than one state, the rest follows from the one found (the dry-run case checks it is allowed).
      const found = new Map(
        applied.fixes.map((fix) => [
          fix.id,
          allowedStates(expectation.fixes[fix.id]!).includes(fix.state) ? fix.state : allowedStates(expectation.fixes[fix.id]!)[0]!,
        ]),
      );
      const pending = PRIORITY_ORDER.filter((id) => found.get(id) === 'needs-fix');
      const unrecognised = PRIORITY_ORDER.filter((id) => found.get(id) === 'unrecognised');
      expect
        .soft(
          applied.apply?.commits.map((commit) => commit.patchId),
          'commits on the fix branch',
        )
        .toEqual(pending);
      expect(git(repo, 'rev-parse', 'main').trim(), "the user's branch").toBe(mainTip);

      // Nothing pending: no branch is written, and the repo as it is must verify.
      const fixBranch = pending.length === 0 ? 'main' : DEFAULT_FIX_BRANCH;
      git(repo, 'checkout', '-q', fixBranch);
      const branchTip = git(repo, 'rev-parse', 'HEAD').trim();

      const verify = await runCli(repo, ['verify', '--json']);
      expect.soft(verify.stderr, 'stderr of verify').toBe('');
      expect(verify.code, verify.stderr || verify.stdout.slice(0, 500)).not.toBe(2);
      const verified = JSON.parse(verify.stdout) as JsonVerify;
      const wanted: Record<string, string> = {};
      const got: Record<string, string> = {};
      for (const check of verified.checks) {
        const fix = expectation.fixes[check.id];
        expect(fix, `verify checks ${check.id}, which the expectation does not know`).toBeDefined();
        const allowed = expectedVerify(fix!, found.get(check.id)!);
        wanted[check.id] = allowed.join(' | ');
        got[check.id] = allowed.includes(check.status) ? allowed.join(' | ') : `${check.status}: ${check.message}`;
        // A check that does not hold says why.
        if (check.status === 'failed' || check.status === 'not-checked') expect(check.message, check.id).toMatch(/\S/);
      }
      expect.soft(got, 'verify on the fix branch').toEqual(wanted);
      const failing = verified.checks
        .filter((check) => check.status === 'failed' || check.status === 'not-checked')
        .map((check) => check.id);
      const expectedFailing = verified.checks
        .filter((check) =>
          expectedVerify(expectation.fixes[check.id]!, found.get(check.id)!).every(
            (status) => status === 'failed' || status === 'not-checked',
          ),
        )
        .map((check) => check.id);
      expect
        .soft(failing, 'verify fails exactly for the fixes expected unrecognised (or with a known gap in verify)')
        .toEqual(expectedFailing);
      // verify exits 1 when a property fails; a check it could not make (not-checked) is reported, not a failure.
      expect.soft(verify.code, 'verify exit code').toBe(verified.checks.some((check) => check.status === 'failed') ? 1 : 0);

      const check = await runCli(repo, ['--check', '--json']);
      const checked = JSON.parse(check.stdout) as JsonRun;
      expect
        .soft(
          checked.fixes.filter((fix) => fix.state === 'needs-fix').map((fix) => `${fix.id}: ${fix.reason}`),
          '--check on the fix branch: nothing pending',
        )
        .toEqual([]);
      expect.soft(check.code, '--check exit code').toBe(unrecognised.length === 0 ? 0 : 1);

      const again = await runCli(repo, ['--apply', '--json']);
      expect.soft(again.code, again.stderr).toBe(0);
      if (again.code === 0) expect.soft((JSON.parse(again.stdout) as JsonRun).apply?.status, 'second --apply').toBe('nothing-to-do');
      expect.soft(git(repo, 'rev-parse', fixBranch).trim(), 'fix branch after a second --apply').toBe(branchTip);

      for (const forbidden of expectation.neverOnBranch ?? []) {
        const text = git(repo, 'show', `${fixBranch}:${forbidden.file}`);
        expect.soft(text, `${forbidden.file} on the fix branch: ${forbidden.why}`).not.toMatch(new RegExp(forbidden.pattern));
      }

      if (expectation.playbook !== undefined) {
        // Before: the fixture as committed (its directory holds exactly the committed files).
        const [before, after] = await Promise.all([
          ansibleSyntaxCheck(source, expectation.playbook),
          ansibleSyntaxCheck(repo, expectation.playbook),
        ]);
        expect(before.status, `the fixture's own playbook must pass --syntax-check: ${before.output}`).toBe(0);
        expect.soft(after.status, `--syntax-check on the fix branch: ${after.output}`).toBe(0);
      }
    },
  );
});
