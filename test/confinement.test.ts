/**
 * Failure confinement (issue 10): a construct the tool does not understand, put into any ONE
 * file of a fixture repo — an unknown lookup or filter, a YAML syntax error, an unbalanced or
 * unknown Jinja tag — never stops the run as a whole. The fixes that do not read that file come
 * out exactly as without it, and verify holds for them on the result; the fixes that do read it
 * either come out the same or say `unrecognised` naming the file; verify says `not checked`
 * naming the file for a check that cannot read it, and never `failed` for a fix being committed.
 * The engine and verify run in-process (a few whole-CLI runs at the end), so 200+ injections stay
 * cheap on one CPU; the work is bounded by the number of injections, not by a clock.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { errorLine } from '../src/cli.js';
import { candidateGlobs, candidateScripts, planFixes, type Plan } from '../src/core/engine.js';
import { failureReason, FileProblem } from '../src/core/failure.js';
import { TemplateSyntaxError } from '../src/toolkit/jinja-mask.js';
import { YamlTemplateError } from '../src/toolkit/template-yaml.js';
import { matchesAny } from '../src/core/repo-view.js';
import type { FixState, Patch } from '../src/core/types.js';
import { verifyRepo, VERIFY_GLOBS, type VerifyReport } from '../src/verify/index.js';
import { DEFAULT_FIX_BRANCH, FIXTURE_REPO, git, gitRepoOf, PROJECT_ROOT, readTree, runCli } from './helpers.js';
import { SLOW_TEST } from './budgets.js';

const INJECTIONS = Number(process.env.OPENCLAW_FIX_INJECTIONS ?? 220);
const SEED = Number(process.env.OPENCLAW_FIX_PROPERTY_SEED ?? 20261201);

/** Every fixture repo under fixtures/: the deployment repo, and any added later, each held to the property. */
const FIXTURES = readdirSync(join(PROJECT_ROOT, 'fixtures'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => join(PROJECT_ROOT, 'fixtures', entry.name))
  .sort();

/** Constructs the tool does not understand, each as the line(s) to insert. */
const CONSTRUCTS = {
  'unknown lookup': "injected_path: \"{{ lookup('nosuchplugin', 'HOME') }}/.ssh/id_ed25519\"",
  'env lookup': "local_ssh_key_path: \"{{ lookup('env', 'HOME') }}/.ssh/id_ed25519\"",
  'unknown filter': 'injected_value: "{{ openclaw_base_dir | no_such_filter(3) }}"',
  'unknown filter inline': '    - "{{ egress_allowed_domains | frobnicate }}"',
  'YAML syntax error': 'injected: [unclosed, flow',
  'tasks on one line': '  block:    - name: Create Telegram bot token tempfile',
  'bad indentation': '   misindented: value',
  'tab indentation': '\tinjected: tab',
  'unclosed if': '{% if injected_flag %}',
  'stray endfor': '{% endfor %}',
  'unknown block tag': '{% frobnicate %}',
  'unclosed expression': 'injected: "{{ openclaw_base_dir"',
  'unclosed comment': '{# a comment that never ends',
} as const;
type ConstructName = keyof typeof CONSTRUCTS;

interface Baseline {
  readonly files: ReadonlyMap<string, string>;
  readonly plan: Plan;
  readonly verified: VerifyReport;
  /** Files a fix or verify reads: where an injection can matter. */
  readonly readable: readonly string[];
}

async function baselineOf(fixture: string): Promise<Baseline> {
  const files = readTree(fixture);
  const plan = planFixes(files, allPatches);
  const verified = await verifyRepo(plan.result, { goCheck: false });
  const globs = [...candidateGlobs(allPatches), ...candidateScripts(allPatches), ...VERIFY_GLOBS];
  return { files, plan, verified, readable: [...files.keys()].filter((path) => matchesAny(path, globs)).sort() };
}

function inject(text: string, lineIndex: number, construct: string): string {
  const lines = text.split('\n');
  const at = Math.min(lineIndex, lines.length);
  return [...lines.slice(0, at), construct, ...lines.slice(at)].join('\n');
}

const label = (id: string, bug: number | null): string => (bug === null ? id : `bug ${bug} (${id})`);

/** What one injected run broke of the confinement contract: empty when it held. */
async function violations(base: Baseline, path: string, construct: ConstructName, lineIndex: number, stats: Stats): Promise<string[]> {
  const files = new Map(base.files);
  files.set(path, inject(base.files.get(path) ?? '', lineIndex, CONSTRUCTS[construct]));
  const problems: string[] = [];
  let plan: Plan;
  try {
    plan = planFixes(files, allPatches);
  } catch (error) {
    return [`the run failed as a whole: ${String(error)}`];
  }
  for (const outcome of plan.outcomes) {
    const before = base.plan.outcomes.find((other) => other.patch.id === outcome.patch.id);
    const name = label(outcome.patch.id, outcome.patch.bug);
    if (/internal error/.test(outcome.reason)) problems.push(`${name}: ${outcome.reason}`);
    const reads = matchesAny(path, outcome.patch.files) || matchesAny(path, outcome.patch.scripts ?? []);
    if (outcome.state === before?.state) {
      stats.unchanged++;
      continue;
    }
    if (!reads) problems.push(`${name} does not read ${path} but went from ${before?.state} to ${outcome.state}: ${outcome.reason}`);
    else if (outcome.state !== 'unrecognised')
      problems.push(
        `${name} reads ${path} and went from ${before?.state} to ${outcome.state} (only unrecognised may replace its answer): ${outcome.reason}`,
      );
    else if (!outcome.reason.includes(path)) problems.push(`${name} is unrecognised without naming ${path}: ${outcome.reason}`);
    else stats.unrecognised++;
  }
  const verified = await verifyRepo(plan.result, { goCheck: false });
  for (const check of verified.checks) {
    const before = base.verified.checks.find((other) => other.id === check.id);
    const committed = plan.pending.some((outcome) => outcome.patch.id === check.id);
    const name = label(check.id, check.bug);
    if (/internal error/.test(check.message)) problems.push(`verify ${name}: ${check.message}`);
    if (check.status === before?.status) continue;
    // Its fix stopped (unrecognised, naming the file, checked above): the bug is left as it was.
    if (!committed && base.plan.pending.some((outcome) => outcome.patch.id === check.id)) continue;
    if (check.status === 'not-checked' && check.message.includes(path)) {
      stats.notChecked++;
      continue;
    }
    // A fix being committed must verify (or be not checked, saying why); any other check may
    // change only by not being checked, naming the file.
    if (check.status === 'failed' && committed) problems.push(`verify ${name} fails on a fix being committed: ${check.message}`);
    else if (check.status !== 'ok' || before?.status !== 'not-checked')
      problems.push(`verify ${name} went from ${before?.status} to ${check.status}: ${check.message}`);
  }
  return problems;
}

interface Stats {
  injections: number;
  unchanged: number;
  unrecognised: number;
  notChecked: number;
  byConstruct: Record<string, number>;
}

describe('failure confinement: one broken file stops only the fixes that read it', () => {
  // The same number of injections into each fixture (the work is bounded by INJECTIONS, not a clock).
  const perFixture = Math.ceil(INJECTIONS / FIXTURES.length);
  it(
    `${perFixture} injections into each of the ${FIXTURES.length} fixtures of a construct the tool does not understand never fail the run as a whole`,
    async () => {
      const baselines = await Promise.all(FIXTURES.map(baselineOf));
      const measured: Record<string, Stats> = {};
      for (const [index, base] of baselines.entries()) {
        const fixture = FIXTURES[index]!.slice(FIXTURES[index]!.lastIndexOf('/') + 1);
        const stats: Stats = { injections: 0, unchanged: 0, unrecognised: 0, notChecked: 0, byConstruct: {} };
        measured[fixture] = stats;
        const injection = fc.record({
          file: fc.nat(),
          line: fc.nat({ max: 400 }),
          construct: fc.constantFrom(...(Object.keys(CONSTRUCTS) as ConstructName[])),
        });
        await fc.assert(
          fc.asyncProperty(injection, async ({ file, line, construct }) => {
            const path = base.readable[file % base.readable.length]!;
            const lineIndex = line % ((base.files.get(path) ?? '').split('\n').length + 1);
            stats.injections++;
            stats.byConstruct[construct] = (stats.byConstruct[construct] ?? 0) + 1;
            const problems = await violations(base, path, construct, lineIndex, stats);
            expect(problems, `${fixture}: ${construct} at ${path}:${lineIndex + 1}`).toEqual([]);
          }),
          { numRuns: perFixture, seed: SEED + index, endOnFailure: true },
        );
      }
      // The measured counts, for the closing note.
      console.log(`confinement: ${JSON.stringify(measured)}`);
      const total = Object.values(measured).reduce((sum, stats) => sum + stats.injections, 0);
      expect(total).toBeGreaterThanOrEqual(200);
      expect(Object.keys(measured).length).toBeGreaterThanOrEqual(5);
    },
    SLOW_TEST,
  );

  it('a counterexample found by a wider sweep: a line that YAML folds into the volume variable names the vars file (bug 6)', async () => {
    const base = await baselineOf(join(PROJECT_ROOT, 'fixtures', 'ansible-layout'));
    const stats: Stats = { injections: 1, unchanged: 0, unrecognised: 0, notChecked: 0, byConstruct: {} };
    expect(await violations(base, 'ansible/roles/gateway/vars/main.yaml', 'unknown filter inline', 3, stats)).toEqual([]);
  });

  it('a counterexample found by a wider sweep: a lookup line at the top of the ACL template leaves the ACL fixes unrecognised, naming it', async () => {
    const base = await baselineOf(join(PROJECT_ROOT, 'fixtures', 'idioms-overlays'));
    const stats: Stats = { injections: 1, unchanged: 0, unrecognised: 0, notChecked: 0, byConstruct: {} };
    expect(await violations(base, 'roles/openclaw-config/templates/smokescreen-acl.yaml.j2', 'env lookup', 1, stats)).toEqual([]);
  });
});

describe('failure reasons name the file, the line and the cause', () => {
  it('for a YAML parse error, a Jinja error, a renderer error with or without its place, and a defect', () => {
    const tasks = 'roles/x/tasks/main.yml';
    expect(failureReason(new YamlTemplateError(tasks, 3, 'not valid YAML: bad'), undefined, 'fix')).toBe(
      `cannot parse ${tasks}:3: not valid YAML: bad`,
    );
    expect(failureReason(new TemplateSyntaxError(7, "'{% if %}' is never closed"), tasks, 'fix')).toBe(
      `cannot parse ${tasks}:7: '{% if %}' is never closed`,
    );
    const renderError = Object.assign(new Error('t.j2:4: filter not found: frob'), {
      name: 'RenderError',
      path: 'roles/x/templates/t.j2',
      line: 4,
      detail: 'filter not found: frob',
    });
    expect(failureReason(renderError, tasks, 'fix')).toBe('cannot render roles/x/templates/t.j2:4: filter not found: frob');
    const nunjucksError = Object.assign(new Error('(unknown path) [Line 2, Column 5]\n  Error: filter not found: frob'), {
      name: 'Template render error',
    });
    expect(failureReason(nunjucksError, 'roles/x/templates/t.j2', 'fix')).toBe(
      'cannot render roles/x/templates/t.j2:2: filter not found: frob',
    );
    expect(failureReason(new FileProblem('group_vars/all.yml', 9, 'variable x does not render: boom'), tasks, 'fix')).toBe(
      'cannot read group_vars/all.yml:9: variable x does not render: boom',
    );
    expect(failureReason(new TypeError("Cannot read properties of undefined (reading 'x')"), tasks, 'bug-fix')).toBe(
      `internal error in bug-fix while reading ${tasks}: Cannot read properties of undefined (reading 'x')`,
    );
  });
});

describe('the engine holds each fix to its declared files', () => {
  const probe = (files: readonly string[], check: Patch['check']): Patch => ({ ...allPatches[0]!, files, check });
  const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
  const HANDLERS = 'roles/openclaw-config/handlers/main.yml';

  it('a module sees only the files its globs match', () => {
    const seen: { paths: readonly string[]; compose: string | undefined }[] = [];
    planFixes(readTree(FIXTURE_REPO), [
      probe(
        ['**/handlers/*.yml'],
        (repo) => (seen.push({ paths: repo.paths, compose: repo.read(COMPOSE) }), { state: 'fixed', reason: 'looked' }),
      ),
    ]);
    expect(seen[0]).toEqual({ paths: [HANDLERS], compose: undefined });
  });

  it('an edit outside them is refused: that fix is unrecognised, the others still run', () => {
    const outside = probe(['**/handlers/*.yml'], () => ({
      state: 'needs-fix',
      reason: 'sneaky',
      edits: [{ path: COMPOSE, start: 0, end: 0, text: '# sneaky\n' }],
    }));
    const plan = planFixes(readTree(FIXTURE_REPO), [outside, ...allPatches.slice(1)]);
    expect(plan.outcomes[0]?.state).toBe('unrecognised');
    expect(plan.outcomes[0]?.reason).toMatch(new RegExp(`edits ${COMPOSE.replace(/\./g, '\\.')}, outside the files it declares`));
    expect(plan.result.get(COMPOSE)?.startsWith('# sneaky')).toBe(false);
    expect(plan.pending.length).toBe(allPatches.length - 1);
  });

  it('a fix that does not converge stops alone, nothing of it applied', () => {
    const restless = probe(['**/handlers/*.yml'], (repo) => ({
      state: 'needs-fix',
      reason: 'again',
      edits: [{ path: HANDLERS, start: 0, end: 0, text: `# pass ${repo.read(HANDLERS)?.length}\n` }],
    }));
    const files = readTree(FIXTURE_REPO);
    const plan = planFixes(files, [restless, ...allPatches.slice(1)]);
    expect(plan.outcomes[0]?.state).toBe('unrecognised');
    expect(plan.outcomes[0]?.reason).toMatch(/did not converge/);
    expect(plan.result.get(HANDLERS)?.startsWith('# pass')).toBe(false);
    expect(plan.pending.length).toBe(allPatches.length - 1);
  });
});

describe('failure confinement, whole CLI runs', () => {
  it("the issue's repro: a lookup('env') in group_vars never ends the run; --apply commits, verify on the branch exits 0", async () => {
    const files = readTree(FIXTURE_REPO);
    const vars = 'group_vars/all/vars.yml';
    files.set(vars, `${files.get(vars)}local_ssh_key_path: "{{ lookup('env', 'HOME') }}/.ssh/id_ed25519"\n`);
    const repo = gitRepoOf(files);
    const dry = await runCli(repo, []);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).not.toMatch(/unknown path|internal error/);
    const applied = await runCli(repo, ['--apply', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    const document = JSON.parse(applied.stdout) as { fixes: { id: string; state: string; reason: string; commit: string | null }[] };
    // Every fix that does not read the variables is committed; one that does is either committed or names the file.
    for (const fix of document.fixes) {
      if (fix.state === 'unrecognised') expect(fix.reason, fix.id).toContain(vars);
      else expect(fix.state, `${fix.id}: ${fix.reason}`).toBe('needs-fix');
    }
    expect(document.fixes.filter((fix) => fix.commit !== null).length).toBeGreaterThanOrEqual(9);
    git(repo, 'checkout', '-q', DEFAULT_FIX_BRANCH);
    const verified = await runCli(repo, ['verify']);
    expect(verified.code, verified.stdout).toBe(0);
    expect(verified.stdout).not.toMatch(/unknown path|internal error/);
  });

  it('whole CLI runs: dry run, --check and verify never exit 2 on an injected file, and name it', async () => {
    const cases: [string, ConstructName][] = [
      ['roles/openclaw-config/templates/smokescreen-acl.yaml.j2', 'unknown filter inline'],
      ['roles/openclaw-config/templates/litellm-config.yaml.j2', 'unclosed if'],
      ['roles/openclaw-config/handlers/main.yml', 'tab indentation'],
      ['roles/reverse-proxy/templates/compose.caddy.yml.j2', 'unknown block tag'],
    ];
    for (const [path, construct] of cases) {
      const files = readTree(FIXTURE_REPO);
      files.set(path, inject(files.get(path) ?? '', 5, CONSTRUCTS[construct]));
      const repo = gitRepoOf(files);
      const dry = await runCli(repo, ['--json']);
      expect(dry.code, `${construct} in ${path}: ${dry.stderr}`).toBe(0);
      const fixes = (JSON.parse(dry.stdout) as { fixes: { state: string; reason: string }[] }).fixes;
      expect(fixes.some((fix) => fix.state === 'needs-fix')).toBe(true);
      for (const fix of fixes.filter((fix) => fix.state === 'unrecognised')) expect(fix.reason).toContain(path);
      expect((await runCli(repo, ['--check'])).code).toBe(1);
      const verified = await runCli(repo, ['verify']);
      expect(verified.code, verified.stderr).not.toBe(2);
      expect(verified.stderr).toBe('');
    }
  });

  it('an invalid tasks file stops only the fixes that read it, naming file:line; --debug prints the stack behind it', async () => {
    const files = readTree(FIXTURE_REPO);
    const tasks = 'roles/openclaw-integrate/tasks/main.yml';
    files.set(tasks, `${files.get(tasks)}  block:    - name: Create Telegram bot token tempfile\n`);
    const repo = gitRepoOf(files);
    const dry = await runCli(repo, ['--debug']);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(/^openclaw-fix: debug: telegram-token-no-argv: YamlTemplateError: .*\n\s+at /);
    const applied = await runCli(repo, ['--apply', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toBe('');
    const document = JSON.parse(applied.stdout) as { fixes: { id: string; state: string; reason: string; commit: string | null }[] };
    const stopped = document.fixes.filter((fix) => fix.state === 'unrecognised');
    expect(stopped.map((fix) => fix.id)).toEqual(['telegram-token-no-argv']);
    expect(stopped[0]?.reason).toMatch(new RegExp(`^cannot parse ${tasks.replace(/\./g, '\\.')}:\\d+: not valid YAML`));
    expect(document.fixes.filter((fix) => fix.commit !== null).length).toBe(document.fixes.length - 1);
  });

  it("an internal error names the fix, the file it was reading and the exception's message, never '(unknown path)'", async () => {
    const files = readTree(FIXTURE_REPO);
    const [first] = allPatches;
    // A module with a defect: it reads a file, then dereferences undefined.
    const defective: Patch = {
      ...first!,
      check: (repo) => {
        const path = repo.glob('**/docker-compose.yml.j2')[0] ?? '';
        return { state: repo.read(path)!.length > 0 ? (undefined as unknown as { x: FixState }).x : 'fixed', reason: '' };
      },
    };
    const plan = planFixes(files, [defective]);
    const [outcome] = plan.outcomes;
    expect(outcome?.state).toBe('unrecognised');
    expect(outcome?.reason).toMatch(
      new RegExp(
        `^internal error in ${first!.id} while reading roles/openclaw-config/templates/docker-compose\\.yml\\.j2: Cannot read properties of undefined`,
      ),
    );
    expect(outcome?.error).toBeInstanceOf(TypeError);
    // A renderer's exception outside any fix, as nunjucks words it: its own message, and what the run was doing.
    const nunjucksStyle = Object.assign(new Error("(unknown path)\n  Error: lookup('env') is not supported"), {
      name: 'Template render error',
    });
    expect(errorLine(nunjucksStyle, 'planning the fixes')).toBe(
      "internal error while planning the fixes: lookup('env') is not supported (run with --debug for the stack)",
    );
  });
});
