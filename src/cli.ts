/**
 * The command line: parse flags, run the engine in one mode, print, return the exit code.
 * Exit codes: 0 done or nothing to do; 1 fixes pending (--check only); 2 error.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs from 'yargs';
import { allPatches } from '../patches/index.js';
import { applyFixes, DEFAULT_BRANCH } from './git/apply.js';
import { encodeLossless } from './core/bytes.js';
import { listJson, listText } from './output/catalogue.js';
import { handleInterrupts } from './core/cleanup.js';
import { candidateGlobs, candidateScripts, type Plan } from './core/engine.js';
import { planWithoutWritingThroughSymlinks } from './git/symlinks.js';
import { DEFAULT_NETWORK_TIMEOUT_MS, Git, loadWorkTreeFiles } from './git/git.js';
import { COLOR, formatText, PLAIN, toJson, useColor, type Mode } from './output/report.js';
import { matchesAny } from './core/repo-view.js';
import { redactSecrets, SECRET_SOURCE_GLOBS, secretValues } from './git/secrets.js';
import { debugFromEnv, describeError, isContentError, stackOf } from './core/failure.js';
import type { VerifyOptions } from './verify/index.js';
import type { Patch } from './core/types.js';
import { UserError, userMessageOf } from './core/errors.js';
// Loaded only by the modes that need them (a dry run and --list never do): the verifier with
// the Go checker, the push/pull-request code with Octokit, the patch-series writer. Module
// loading is most of what a short run costs (npm run bench).
const loadVerify = () => import('./verify/index.js');
const loadPush = () => import('./git/push.js');
const loadPatchSeries = () => import('./git/patch-series.js');

/** The package version, from the package.json above this module (src/ when run from source, dist/src/ when built). */
function packageVersion(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'openclaw-fix' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return '0.0.0';
}

const VERSION = packageVersion();

export interface Io {
  /** Text, or bytes for output that must reach the reader unchanged (a patch series). */
  stdout: { write(text: string | Uint8Array): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

const defaultIo = (): Io => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });

/**
 * Splits `--only 2,1 --only 9` into ['2', '1', '9']. Empty is an error, not "everything": a
 * bot's `--only "$FIXES"` with FIXES unset must not apply every fix.
 */
function listOption(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  const items = values.flatMap((item) => String(item).split(',')).map((item) => item.trim());
  if (items.length === 0 || items.some((item) => item === '')) {
    throw new UserError(`--${name} was given an empty fix name; name each fix by bug number, 'extra' or an id from --list`);
  }
  return items;
}

function matchesSelector(patch: Patch, selector: string): boolean {
  return selector === patch.id || (patch.bug !== null && selector === String(patch.bug)) || (patch.bug === null && selector === 'extra');
}

/** The patches --only/--skip leave, in priority order; an unknown selector is an error, not a no-op. */
function selectPatches(patches: readonly Patch[], only: string[], skip: string[]): Patch[] {
  for (const selector of [...only, ...skip]) {
    if (!patches.some((patch) => matchesSelector(patch, selector))) {
      throw new UserError(`unknown fix '${selector}': use a bug number, 'extra' or an id from --list`);
    }
  }
  return patches.filter(
    (patch) => (only.length === 0 || only.some((s) => matchesSelector(patch, s))) && !skip.some((s) => matchesSelector(patch, s)),
  );
}

/**
 * One line, naming what is wrong: the only form errors take. An error of the tool itself says
 * what it was doing (`doing`: the step, the fix or the file) and the exception's own message,
 * never a wrapper's "(unknown path)"; --debug prints its stack.
 */
export function errorLine(error: unknown, doing?: string, debug = false): string {
  return oneLine(errorText(error, doing, debug));
}

/** Text from elsewhere (a server's answer, git's stderr) may hold newlines: the error stays one line. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function errorText(error: unknown, doing?: string, debug = false): string {
  const told = userMessageOf(error);
  if (told !== undefined) return told;
  const described = describeError(error);
  const at = described.path ? ` (${described.path}${described.line ? `:${described.line}` : ''})` : '';
  return `internal error${doing ? ` while ${doing}` : ''}${at}: ${described.message}${debug ? '' : ' (run with --debug for the stack)'}`;
}

/** With --debug: the stack of every exception a fix or a check was stopped by, on stderr. */
function printStacks(io: Io, debug: boolean, what: 'fix' | 'check', stopped: readonly { label: string; error?: unknown }[]): void {
  const withError = stopped.filter((item) => item.error !== undefined && (debug || !isContentError(item.error)));
  if (withError.length === 0) return;
  if (!debug) {
    const noun = withError.length === 1 ? what : `${what}${what === 'fix' ? 'es' : 's'}`;
    io.stderr.write(
      `openclaw-fix: ${withError.length} ${noun} stopped by an internal error (see ${withError.length === 1 ? 'its reason' : 'their reasons'}); run with --debug for the stack${withError.length === 1 ? '' : 's'}\n`,
    );
    return;
  }
  for (const item of withError) io.stderr.write(`openclaw-fix: debug: ${item.label}: ${stackOf(item.error)}\n`);
}

/** The parsed command line, as yargs returns it. */
type ParsedArgs = Record<string, unknown> & { readonly _: readonly (string | number)[] };

export async function main(argv: readonly string[], givenIo: Io = defaultIo()): Promise<number> {
  // Every byte printed goes through the redaction of the repo's plain-text secrets (src/git/secrets.ts).
  const secrets: string[] = [];
  const io = redactingIo(givenIo, secrets);
  let usageError: string | undefined;
  let helpShown = false;
  const parser = yargs([...argv])
    .scriptName('openclaw-fix')
    .usage(
      '$0 [options]\n\nRepairs the OpenClaw Ansible deployment repo: one commit per fix from the deployment bug report, in its priority order.\nWithout a mode it is a dry run: it prints each fix and its diff and changes nothing.',
    )
    .option('repo', { type: 'string', default: '.', describe: 'the deployment repo (a git clone)', requiresArg: true })
    .option('dry-run', { type: 'boolean', describe: 'print each fix and its unified diff; change nothing (default)' })
    .option('apply', { type: 'boolean', describe: 'commit the fixes on a new branch; your branch and work tree stay as they are' })
    .option('check', { type: 'boolean', describe: 'exit 1 when any fix is pending or unrecognised, 0 when all are in place' })
    .conflicts('apply', ['dry-run', 'check'])
    .conflicts('check', 'dry-run')
    .option('only', { type: 'string', array: true, describe: 'run only these fixes: bug numbers, ids or "extra" (comma-separated)' })
    .option('skip', { type: 'string', array: true, describe: 'leave these fixes out' })
    .option('branch', { type: 'string', default: DEFAULT_BRANCH, describe: 'branch --apply writes', requiresArg: true })
    // -- bot mode and patch series (src/git/push.ts, src/git/github.ts, src/git/patch-series.ts) --
    .option('push', { type: 'boolean', describe: "with --apply: push the fix branch (force-updates only the tool's own branch)" })
    .option('remote', { type: 'string', default: 'origin', describe: 'the remote --push pushes to', requiresArg: true })
    .option('network-timeout', {
      type: 'number',
      default: DEFAULT_NETWORK_TIMEOUT_MS / 1000,
      describe: 'with --push: seconds one git command talking to the remote may take',
      requiresArg: true,
    })
    .option('pr', {
      type: 'boolean',
      describe: 'with --apply --push: open or update the pull request (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL)',
    })
    .option('format', {
      choices: ['text', 'patch'],
      default: 'text',
      describe: 'patch: with --dry-run, write the fixes as an mbox series for git am',
    })
    .check((argv) => {
      if (argv.push && !argv.apply) throw new Error('--push goes with --apply');
      if (argv.pr && !argv.push) throw new Error('--pr goes with --apply --push');
      const timeout = argv['network-timeout'];
      if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)
        throw new Error('--network-timeout takes a number of seconds greater than 0');
      if (argv.format === 'patch' && (argv.apply || argv.check || argv.json)) throw new Error('--format patch goes with --dry-run only');
      return true;
    })
    // -- end bot mode --
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON document (see docs/cli.md)' })
    .option('color', { type: 'boolean', describe: 'colour the output (default: only on a terminal without NO_COLOR)' })
    .option('list', { type: 'boolean', default: false, describe: 'list the fixes in apply order and exit' })
    .option('cache', {
      type: 'boolean',
      default: true,
      describe: 'reuse the Go proof of the Smokescreen entrypoint from $XDG_CACHE_HOME/openclaw-fix (--no-cache: compile it again)',
    })
    .option('debug', { type: 'boolean', default: false, describe: 'print the stack of an internal error (also OPENCLAW_FIX_DEBUG=1)' })
    .command('verify', "check each bug's property on the rendered templates of the work tree (exit 0: all hold, 1: one fails)")
    .example('$0 verify', 'one line per bug: ok, or what is wrong at file:line')
    .example('$0', 'show what would change in the current repo')
    .example('$0 --apply', 'commit the fixes on openclaw-fix/deployment-bugs')
    .example('$0 --check --json', 'for CI: exit 1 while fixes are pending')
    .example('$0 --only 2,1 --dry-run', 'only the two egress start-up fixes')
    .example('$0 --apply --push --pr', 'bot: push the fix branch and open or update its pull request')
    .example('$0 --format patch > fixes.mbox', 'the fixes as a patch series for git am')
    .epilogue('Exit codes: 0 done or nothing to do, 1 fixes pending (--check), 2 error.')
    .version(VERSION)
    .help()
    .alias('h', 'help')
    .strict()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      usageError = message ?? error?.message ?? 'invalid arguments';
    });
  // yargs prints --help/--version itself; route that output through our streams.
  let printed = '';
  let args: Awaited<ReturnType<typeof parser.parseAsync>>;
  try {
    args = await parser.parseAsync([...argv], {}, (_error, _argv, output) => {
      if (output) {
        printed = output;
        helpShown = true;
      }
    });
  } catch (error) {
    usageError ??= error instanceof Error ? error.message : String(error);
    args = {} as typeof args;
  }
  if (usageError) {
    io.stderr.write(`openclaw-fix: ${usageError} (see --help)\n`);
    return 2;
  }
  if (helpShown) {
    io.stdout.write(printed.endsWith('\n') ? printed : `${printed}\n`);
    return 0;
  }

  // SIGINT/SIGTERM: release the lock, remove temporary directories, end child processes, one line.
  const stopHandlingInterrupts = handleInterrupts((line) => void io.stderr.write(line));
  try {
    return await run(args, io, givenIo, secrets);
  } finally {
    stopHandlingInterrupts();
  }
}

async function run(args: ParsedArgs, io: Io, givenIo: Io, secrets: string[]): Promise<number> {
  const json = Boolean(args.json);
  const mode: Mode = args.apply ? 'apply' : args.check ? 'check' : 'dry-run';
  const debug = Boolean(args.debug) || debugFromEnv(io.env);
  /** What the run is doing, for the line of an internal error. */
  let doing = 'reading the command line';
  const fixStacks = (plan: Plan): void =>
    printStacks(
      io,
      debug,
      'fix',
      plan.outcomes.map((outcome) => ({ label: outcome.patch.id, error: outcome.error })),
    );
  try {
    // -- verify (src/verify/): proves the properties on the work tree; runs no fix --
    if (args._[0] === 'verify') {
      if (args.apply || args.check || args['dry-run'] || args.only || args.skip || args.list || args.push)
        throw new UserError('verify takes only --repo and --json');
      doing = 'verifying the work tree';
      return await runVerify(
        await Git.open(resolve(io.cwd, String(args.repo))),
        secrets,
        json,
        io,
        { goCache: args.cache !== false },
        debug,
      );
    }
    const patches = selectPatches(allPatches, listOption('only', args.only), listOption('skip', args.skip));
    if (args.list) {
      io.stdout.write(json ? listJson(patches) : listText(patches));
      return 0;
    }
    doing = 'opening the repository';
    const git = await Git.open(resolve(io.cwd, String(args.repo)));
    const style = useColor(args.color as boolean | undefined, io.stdout, io.env) && !json ? COLOR : PLAIN;

    if (mode === 'apply' || args.format === 'patch') {
      // Both read HEAD, not the work tree: the secrets are learned from the work tree first
      // (for --apply it is clean, so it holds what HEAD holds).
      await learnWorkTreeSecrets(git, secrets);
    }
    if (mode === 'apply') {
      // --push/--pr are checked before anything is written, and run after the branch is.
      const branch = String(args.branch);
      const { preparePublish, publishedText } = await loadPush();
      const { applyVerifier } = await loadVerify();
      const prepared = args.push
        ? await preparePublish({
            git,
            remote: String(args.remote),
            branch,
            pr: Boolean(args.pr),
            env: io.env,
            version: VERSION,
            networkTimeoutMs: Number(args['network-timeout']) * 1000,
          })
        : undefined;
      doing = 'applying the fixes';
      const result = await applyFixes({
        git,
        patches,
        branch,
        verify: applyVerifier(git, { goCache: args.cache !== false }),
        ...(prepared?.remoteTip ? { remoteTip: prepared.remoteTip } : {}),
      });
      fixStacks(result.plan);
      doing = 'reporting the fixes';
      if (!json) io.stdout.write(formatText(mode, git.root, result.plan, style, result));
      const published = prepared && result.commits.length > 0 ? await prepared.publish(result) : undefined;
      if (json)
        io.stdout.write(
          `${JSON.stringify({ ...(toJson(mode, git.root, result.plan, VERSION, result) as object), ...published }, null, 2)}\n`,
        );
      else if (published) io.stdout.write(publishedText(published));
      return 0;
    }
    if (args.format === 'patch') {
      // patchSeries refuses a series that holds a secret, so it is printed as built: redacting
      // a diff line would make `git am` apply different content (a corrupted series).
      doing = 'building the patch series';
      const { patchSeries } = await loadPatchSeries();
      const series = await patchSeries(git, patches, secrets);
      givenIo.stdout.write(encodeLossless(series.mbox));
      for (const note of series.notes) io.stderr.write(`openclaw-fix: ${note}\n`);
      return 0;
    }
    doing = 'reading the work tree';
    const files = await loadWorkTreeWithSecrets(git, candidateGlobs(patches), secrets, candidateScripts(patches));
    doing = 'planning the fixes';
    const plan = await planWithoutWritingThroughSymlinks(git, { kind: 'work-tree' }, files, patches);
    fixStacks(plan);
    doing = 'reporting the fixes';
    io.stdout.write(json ? `${JSON.stringify(toJson(mode, git.root, plan, VERSION), null, 2)}\n` : formatText(mode, git.root, plan, style));
    if (mode === 'check') return plan.outcomes.some((outcome) => outcome.state === 'needs-fix' || outcome.state === 'unrecognised') ? 1 : 0;
    return 0;
  } catch (error) {
    const line = errorLine(error, doing, debug);
    if (debug) io.stderr.write(`openclaw-fix: debug: ${stackOf(error)}\n`);
    if (json)
      io.stdout.write(
        `${JSON.stringify({ tool: 'openclaw-fix', version: VERSION, mode: args._?.[0] === 'verify' ? 'verify' : mode, error: line })}\n`,
      );
    io.stderr.write(`openclaw-fix: ${line}\n`);
    return 2;
  }
}

/** Learns the work tree's plain-text secrets before anything about the repo is printed. */
async function learnWorkTreeSecrets(git: Git, secrets: string[]): Promise<void> {
  try {
    secrets.push(...secretValues((await loadWorkTreeFiles(git, SECRET_SOURCE_GLOBS)).files));
  } catch {
    // a file that cannot be read is reported by the run itself, which then reads nothing from it
  }
}

/**
 * The work-tree files matching `globs` and the shell scripts matching `scripts`, listed and read
 * together with the secret sources in one pass (each listing of the work tree costs a walk of
 * the index and of the untracked files), the secrets learned before the caller prints anything.
 */
async function loadWorkTreeWithSecrets(
  git: Git,
  globs: readonly string[],
  secrets: string[],
  scripts: readonly string[] = [],
): Promise<Map<string, string>> {
  const { files } = await loadWorkTreeFiles(git, [...new Set([...globs, ...SECRET_SOURCE_GLOBS])], scripts);
  secrets.push(...secretValues(new Map([...files].filter(([path]) => matchesAny(path, SECRET_SOURCE_GLOBS)))));
  return new Map([...files].filter(([path]) => matchesAny(path, globs) || matchesAny(path, scripts)));
}

function redactingIo(io: Io, secrets: readonly string[]): Io {
  const redacting = (stream: Io['stdout']): Io['stdout'] => ({
    write: (text: string | Uint8Array) => stream.write(typeof text === 'string' ? redactSecrets(text, secrets) : text),
    isTTY: stream.isTTY,
  });
  return { ...io, stdout: redacting(io.stdout), stderr: redacting(io.stderr) };
}

// -- verify --
async function runVerify(git: Git, secrets: string[], json: boolean, io: Io, options: VerifyOptions, debug: boolean): Promise<number> {
  const { VERIFY_GLOBS, verifyLine, verifyPassed, verifyRepo } = await loadVerify();
  const files = await loadWorkTreeWithSecrets(git, VERIFY_GLOBS, secrets);
  const report = await verifyRepo(files, options);
  printStacks(
    io,
    debug,
    'check',
    report.checks.map((check) => ({ label: `verify ${check.id}`, error: check.error })),
  );
  const passed = verifyPassed(report);
  const document = {
    tool: 'openclaw-fix',
    version: VERSION,
    mode: 'verify',
    repo: git.root,
    passed,
    checks: report.checks.map(({ bug, id, status, message }) => ({ bug, id, status, message })),
  };
  io.stdout.write(json ? `${JSON.stringify(document, null, 2)}\n` : report.checks.map((check) => `${verifyLine(check)}\n`).join(''));
  return passed ? 0 : 1;
}
