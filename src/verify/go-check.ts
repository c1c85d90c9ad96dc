/**
 * Compiling and exercising a Smokescreen entrypoint (a replacement `main.go`) against the
 * bundled stand-in of Smokescreen v0.0.4's API (test/go-standin, shipped with the package).
 *
 * The source is written over the stand-in's main.go, as the Dockerfile copies it over
 * upstream's after `git checkout`, and built with `go build -mod=vendor` fully offline. The
 * stand-in's StartWithConfig replays the proxy's role decision for a plain-HTTP client and for
 * a client with a TLS certificate and prints one machine-readable line; this module reads it.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killGroup, makeTempDir, removeTempDir, trackChild } from '../core/cleanup.js';
import { userCacheDir } from '../core/cache-dir.js';

export type EntrypointStatus =
  | 'ok'
  /** `go build` failed against v0.0.4's API (e.g. StartWithConfig's result used as an error). */
  | 'compile-error'
  /** A client without a TLS certificate is refused (HTTP 407), as with upstream's main.go. */
  | 'refuses-plain-http'
  /** A client with a certificate no longer gets its CommonName as role. */
  | 'loses-cert-role'
  /** The JSON log format or the routing of the standard `log` package through logrus is gone. */
  | 'loses-json-logging'
  /** `--help` or `--version` does not exit 0 (typically a nil config dereferenced). */
  | 'mishandles-help'
  /** The program ended without reaching StartWithConfig (crash, early exit, or it never starts the proxy). */
  | 'did-not-start'
  /**
   * Nothing could be checked: the Go toolchain is not installed, the stand-in module is missing
   * from the installation, or the built program cannot be executed (a noexec temporary
   * directory). verify reports 'not checked' with the detail, never a pass or a failure.
   */
  | 'go-missing';

export interface EntrypointCheck {
  readonly status: EntrypointStatus;
  /** One or more lines for the user: the compiler's errors, the replayed decisions. */
  readonly detail: string;
}

/** Line prefix printed by the stand-in's StartWithConfig (pkg/smokescreen ResultPrefix). */
const RESULT_PREFIX = 'SMOKESCREEN-STANDIN-RESULT ';
/** CommonName of the certificate in the replayed TLS request (pkg/smokescreen CertificateRole). */
const CERTIFICATE_ROLE = 'svc';

const BUILD_TIMEOUT_MS = 180_000;
const RUN_TIMEOUT_MS = 60_000;
const OUTPUT_LIMIT = 8 * 1024 * 1024;

interface RoleDecision {
  role: string;
  refused: boolean;
  status?: number;
  error?: string;
}

interface ReplayResult {
  plain: RoleDecision;
  cert: RoleDecision;
  jsonLogging: boolean;
  stdlogRouted: boolean;
  problem?: string;
}

interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (ENOENT for a missing `go`). */
  spawnError?: NodeJS.ErrnoException;
  timedOut: boolean;
}

/** Where standinDir looks: test/go-standin next to src/ (source) or next to dist/ (built). */
const STANDIN_CANDIDATES = ['../../test/go-standin', '../../../test/go-standin'];

/** The stand-in module's directory, or undefined when the installation lacks it. */
function findStandinDir(): string | undefined {
  return STANDIN_CANDIDATES.map((relative) => fileURLToPath(new URL(relative, import.meta.url))).find((dir) =>
    existsSync(join(dir, 'go.mod')),
  );
}

/**
 * The build cache shared by every run: $TMPDIR/openclaw-fix-go, so only the first run pays for
 * compiling the stand-in's dependencies. Go's build cache is safe for concurrent use (entries
 * are written to temporary files and renamed into place, and cmd/go locks what it must), so
 * two runs at once share it without harm. Go runs what it finds there, so a directory this
 * user does not own alone (another user's, in a shared /tmp) is not used: undefined then, and
 * the caller builds with a private cache.
 */
function sharedGoDir(): string | undefined {
  const shared = join(tmpdir(), 'openclaw-fix-go');
  try {
    mkdirSync(shared, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  try {
    const stats = lstatSync(shared);
    const ownUid = process.getuid?.();
    if (!stats.isDirectory() || (ownUid !== undefined && stats.uid !== ownUid) || (stats.mode & 0o022) !== 0) return undefined;
  } catch {
    return undefined;
  }
  return shared;
}

/**
 * The only variables repo code sees. The entrypoint is code from the repository being fixed —
 * a pull request's author can put a `func init()` in it — so neither `go build` nor the built
 * program gets the user's environment (GITHUB_TOKEN, cloud credentials, SSH agent): only PATH
 * (to find `go`), a HOME and TMPDIR inside the run's own temporary directory, and the Go
 * settings for an offline, cgo-free build from the vendored stand-in.
 */
export const SANDBOX_VARIABLES = [
  'PATH',
  'HOME',
  'TMPDIR',
  'GOCACHE',
  'GOPATH',
  'GOMODCACHE',
  'GOTMPDIR',
  'GOFLAGS',
  'GOPROXY',
  'GOSUMDB',
  'GONOSUMDB',
  'GOWORK',
  'GOTOOLCHAIN',
  'GO111MODULE',
  'CGO_ENABLED',
] as const;

/**
 * The environment every Go command of a proof runs in (SANDBOX_VARIABLES), with HOME and TMPDIR
 * made inside `work`. Exported for the test that vets the entrypoint the way it is built.
 */
export function sandboxEnvironment(work: string): NodeJS.ProcessEnv {
  const shared = sharedGoDir() ?? join(work, 'go');
  const env: Record<(typeof SANDBOX_VARIABLES)[number], string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: join(work, 'home'),
    TMPDIR: join(work, 'tmp'),
    GOCACHE: join(shared, 'cache'),
    GOPATH: join(shared, 'path'),
    GOMODCACHE: join(shared, 'path', 'pkg', 'mod'),
    // go build's own scratch (go-build*) inside the run's directory, removed with it.
    GOTMPDIR: join(work, 'tmp'),
    GOFLAGS: '-mod=vendor',
    GOPROXY: 'off',
    GOSUMDB: 'off',
    GONOSUMDB: '*',
    GOWORK: 'off',
    GOTOOLCHAIN: 'local',
    GO111MODULE: 'on',
    CGO_ENABLED: '0',
  };
  for (const dir of [env.HOME, env.TMPDIR]) mkdirSync(dir, { recursive: true });
  return env;
}

/**
 * Runs a program in its own process group with a time limit; on the limit, on an
 * interruption of openclaw-fix, and when the program exits, the whole group is killed, so
 * nothing it started outlives the check.
 */
function run(command: string, args: readonly string[], cwd: string, timeout: number, env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const untrack = trackChild(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const collect =
      (into: Buffer[]) =>
      (chunk: Buffer): void => {
        size += chunk.length;
        if (size <= OUTPUT_LIMIT) into.push(chunk);
      };
    child.stdout?.on('data', collect(out));
    child.stderr?.on('data', collect(err));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeout);
    let settled = false;
    const finish = (result: ProcessResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      untrack();
      resolve(result);
    };
    child.on('error', (error: NodeJS.ErrnoException) => finish({ code: null, stdout: '', stderr: '', spawnError: error, timedOut: false }));
    // Whatever the program left running in its group goes with it (it could hold the pipes open).
    child.on('exit', () => killGroup(child));
    child.on('close', (code) =>
      finish({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut }),
    );
  });
}

function parseReplay(stdout: string): ReplayResult | undefined {
  const line = stdout.split('\n').find((candidate) => candidate.startsWith(RESULT_PREFIX));
  if (!line) return undefined;
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as ReplayResult;
}

function describeDecision(decision: RoleDecision): string {
  if (decision.refused) return `refused with HTTP ${decision.status ?? '?'} (${decision.error ?? 'no reason'})`;
  const role = decision.role === '' ? 'the empty role (ACL default rule)' : `role "${decision.role}"`;
  return decision.error ? `${role}, after a missing-role error (${decision.error})` : role;
}

function tail(text: string, lines = 20): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** Interprets the stand-in's replay of the role decision. */
function judgeReplay(replay: ReplayResult): EntrypointCheck {
  if (replay.problem) return { status: 'did-not-start', detail: `StartWithConfig: ${replay.problem}` };
  const detail = `plain-HTTP client: ${describeDecision(replay.plain)}; client with certificate CN=${CERTIFICATE_ROLE}: ${describeDecision(replay.cert)}`;
  if (replay.plain.refused) return { status: 'refuses-plain-http', detail };
  if (replay.cert.refused || replay.cert.role !== CERTIFICATE_ROLE) return { status: 'loses-cert-role', detail };
  if (!replay.jsonLogging || !replay.stdlogRouted) {
    const lost = [
      !replay.jsonLogging && 'conf.Log.Formatter is not a logrus.JSONFormatter',
      !replay.stdlogRouted && 'the standard log package is not routed through smokescreen.Log2LogrusWriter',
    ];
    return { status: 'loses-json-logging', detail: `${lost.filter(Boolean).join('; ')}; ${detail}` };
  }
  return { status: 'ok', detail };
}

export interface EntrypointCheckOptions {
  /** Reuse and record verdicts in the proof cache (default true; the CLI's --no-cache turns it off). */
  readonly cache?: boolean;
}

/**
 * Builds `goSource` as Smokescreen v0.0.4's `main.go` against the stand-in and runs it: once
 * as the proxy would start (the stand-in replays the role decision), then with `--help` and
 * `--version`, which must exit 0. Both run in a scrubbed environment (SANDBOX_VARIABLES) in a
 * temporary directory, with a time limit; the directory is always removed.
 *
 * A verdict is a function of the source, the stand-in and the Go toolchain, so it is cached
 * under that key in the tool's cache directory (userCacheDir): a cached pass is reused, a cached failure is reported again.
 * Results that say something about this machine rather than the source (Go missing, a time
 * limit hit) are never cached; deleting the cache only costs a compile.
 */
export async function checkSmokescreenEntrypoint(goSource: string, options: EntrypointCheckOptions = {}): Promise<EntrypointCheck> {
  const standin = findStandinDir();
  if (!standin) {
    return {
      status: 'go-missing',
      detail: `the Smokescreen v0.0.4 stand-in module (test/go-standin) is missing from this openclaw-fix installation; reinstall openclaw-fix`,
    };
  }
  const work = makeTempDir('openclaw-fix-entrypoint-');
  try {
    const env = sandboxEnvironment(work);
    const version = await run('go', ['version'], work, RUN_TIMEOUT_MS, env);
    if (version.spawnError?.code === 'ENOENT') {
      return { status: 'go-missing', detail: "the Go toolchain (`go`) is not installed or not on PATH; install Debian's golang-go" };
    }
    if (version.spawnError || version.code !== 0)
      return { status: 'go-missing', detail: `cannot run go: ${version.spawnError?.message ?? tail(version.stderr, 1)}` };
    const key = proofKey(goSource, standin, version.stdout.trim());
    const cached = options.cache === false ? undefined : readCachedProof(key);
    if (cached) return cached;
    const { check, cacheable } = await buildAndRun(goSource, standin, work, env);
    if (cacheable && options.cache !== false) writeCachedProof(key, check);
    return check;
  } finally {
    removeTempDir(work);
  }
}

async function buildAndRun(
  goSource: string,
  standin: string,
  work: string,
  env: NodeJS.ProcessEnv,
): Promise<{ check: EntrypointCheck; cacheable: boolean }> {
  const verdict = (check: EntrypointCheck) => ({ check, cacheable: true });
  const machine = (check: EntrypointCheck) => ({ check, cacheable: false });
  const module = join(work, 'smokescreen');
  cpSync(standin, module, { recursive: true });
  writeFileSync(join(module, 'main.go'), goSource);
  const binary = join(work, 'smokescreen-bin');

  // -trimpath: each proof builds in a new temporary directory; without it the directory is part of
  // every package's build-cache key, so the vendored packages were compiled again each time.
  const build = await run('go', ['build', '-trimpath', '-mod=vendor', '-o', binary, '.'], module, BUILD_TIMEOUT_MS, env);
  if (build.spawnError?.code === 'ENOENT') {
    return machine({ status: 'go-missing', detail: "the Go toolchain (`go`) is not installed or not on PATH; install Debian's golang-go" });
  }
  if (build.spawnError) return machine({ status: 'go-missing', detail: `cannot run go: ${build.spawnError.message}` });
  if (build.timedOut) return machine({ status: 'compile-error', detail: `go build did not finish within ${BUILD_TIMEOUT_MS / 1000}s` });
  if (build.code !== 0)
    return verdict({ status: 'compile-error', detail: tail(build.stderr.replaceAll(module, '.')) || `go build exited ${build.code}` });

  const start = await run(binary, [], work, RUN_TIMEOUT_MS, env);
  // Not the entrypoint's fault: this host will not run what was built in its temporary directory.
  if (start.spawnError)
    return machine({ status: 'go-missing', detail: `cannot execute the built entrypoint in ${tmpdir()}: ${start.spawnError.message}` });
  const replay = parseReplay(start.stdout);
  if (!replay) {
    const how = start.timedOut ? `kept running for ${RUN_TIMEOUT_MS / 1000}s` : `exited ${start.code ?? 'on a signal'}`;
    const check: EntrypointCheck = {
      status: 'did-not-start',
      detail: `the entrypoint ${how} without calling smokescreen.StartWithConfig${start.stderr.trim() ? `:\n${tail(start.stderr)}` : ''}`,
    };
    return start.timedOut ? machine(check) : verdict(check);
  }
  const judged = judgeReplay(replay);
  if (judged.status !== 'ok') return verdict(judged);

  for (const flag of ['--help', '--version']) {
    const informational = await run(binary, [flag], work, RUN_TIMEOUT_MS, env);
    if (informational.code !== 0) {
      const output = tail(`${informational.stdout}\n${informational.stderr}`, 8);
      const check: EntrypointCheck = {
        status: 'mishandles-help',
        detail: `\`smokescreen ${flag}\` exited ${informational.code ?? 'on a signal'} (NewConfiguration returns a nil config for it)${output ? `:\n${output}` : ''}`,
      };
      return informational.timedOut ? machine(check) : verdict(check);
    }
  }
  return verdict(judged);
}

// -- the proof cache --

/** Bumped whenever what a cached verdict means changes (judging rules, the replay's format). */
const PROOF_FORMAT = 'openclaw-fix-go-proof-1';
const CACHEABLE_STATUSES: ReadonlySet<EntrypointStatus> = new Set([
  'ok',
  'compile-error',
  'refuses-plain-http',
  'loses-cert-role',
  'loses-json-logging',
  'mishandles-help',
  'did-not-start',
]);

const standinHashes = new Map<string, string>();

/** A hash of every file of the stand-in module: the Smokescreen version the proof is against. */
function standinHash(dir: string): string {
  let known = standinHashes.get(dir);
  if (known) return known;
  const hash = createHash('sha256');
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile())
        hash
          .update(`${relative(dir, full)}\0`)
          .update(readFileSync(full))
          .update('\0');
    }
  };
  walk(dir);
  known = hash.digest('hex');
  standinHashes.set(dir, known);
  return known;
}

/** The entrypoint's bytes, the stand-in (Smokescreen's version) and `go version` (toolchain and platform). */
function proofKey(goSource: string, standin: string, goVersion: string): string {
  const source = createHash('sha256').update(goSource, 'utf8').digest('hex');
  return createHash('sha256')
    .update(JSON.stringify([PROOF_FORMAT, source, standinHash(standin), goVersion]))
    .digest('hex');
}

const proofPath = (key: string): string => join(userCacheDir(), 'go-proof', `${key}.json`);

/** A cached verdict, or undefined when there is none or it cannot be read back as one (then the proof runs again). */
function readCachedProof(key: string): EntrypointCheck | undefined {
  try {
    const data = JSON.parse(readFileSync(proofPath(key), 'utf8')) as { format?: unknown; status?: unknown; detail?: unknown };
    if (data.format !== PROOF_FORMAT || typeof data.detail !== 'string' || !CACHEABLE_STATUSES.has(data.status as EntrypointStatus))
      return undefined;
    return { status: data.status as EntrypointStatus, detail: data.detail };
  } catch {
    return undefined;
  }
}

/** Best effort, written to a temporary name and renamed, so a reader never sees half an entry. */
function writeCachedProof(key: string, check: EntrypointCheck): void {
  const path = proofPath(key);
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(temporary, JSON.stringify({ format: PROOF_FORMAT, status: check.status, detail: check.detail }), { mode: 0o600 });
    renameSync(temporary, path);
  } catch {
    rmSync(temporary, { force: true }); // a read-only or full cache directory only costs the next run a compile
  }
}
