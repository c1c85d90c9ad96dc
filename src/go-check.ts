/**
 * Compiling and exercising a Smokescreen entrypoint (a replacement `main.go`) against the
 * bundled stand-in of Smokescreen v0.0.4's API (test/go-standin, shipped with the package).
 *
 * The source is written over the stand-in's main.go, as the Dockerfile copies it over
 * upstream's after `git checkout`, and built with `go build -mod=vendor` fully offline. The
 * stand-in's StartWithConfig replays the proxy's role decision for a plain-HTTP client and for
 * a client with a TLS certificate and prints one machine-readable line; this module reads it.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
const RUN_TIMEOUT_MS = 20_000;

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
const STANDIN_CANDIDATES = ['../test/go-standin', '../../test/go-standin'];

/** The stand-in module's directory, or undefined when the installation lacks it. */
function findStandinDir(): string | undefined {
  return STANDIN_CANDIDATES.map((relative) => fileURLToPath(new URL(relative, import.meta.url))).find((dir) => existsSync(join(dir, 'go.mod')));
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
 * The environment for `go`: no network (GOPROXY=off, vendored dependencies), a writable build
 * cache even where HOME is not, and a static build like the Dockerfile's.
 */
function goEnvironment(privateDir: string): NodeJS.ProcessEnv {
  const shared = sharedGoDir() ?? privateDir;
  return {
    ...process.env,
    GOCACHE: process.env.GOCACHE ?? join(shared, 'cache'),
    GOPATH: process.env.GOPATH ?? join(shared, 'path'),
    GOFLAGS: '-mod=vendor',
    GOPROXY: 'off',
    GOSUMDB: 'off',
    GONOSUMDB: '*',
    GOWORK: 'off',
    GOTOOLCHAIN: 'local',
    GO111MODULE: 'on',
    CGO_ENABLED: '0',
  };
}

function run(command: string, args: readonly string[], cwd: string, timeout: number, env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout, killSignal: 'SIGKILL', maxBuffer: 8 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const failure = error as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      if (failure && (failure.code === 'ENOENT' || failure.code === 'EACCES')) {
        resolve({ code: null, stdout, stderr, spawnError: failure, timedOut: false });
        return;
      }
      const timedOut = Boolean(failure?.killed);
      resolve({ code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0, stdout, stderr, timedOut });
    });
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
    const lost = [!replay.jsonLogging && 'conf.Log.Formatter is not a logrus.JSONFormatter', !replay.stdlogRouted && 'the standard log package is not routed through smokescreen.Log2LogrusWriter'];
    return { status: 'loses-json-logging', detail: `${lost.filter(Boolean).join('; ')}; ${detail}` };
  }
  return { status: 'ok', detail };
}

/**
 * Builds `goSource` as Smokescreen v0.0.4's `main.go` against the stand-in and runs it: once
 * as the proxy would start (the stand-in replays the role decision), then with `--help` and
 * `--version`, which must exit 0. The temporary build directory is always removed.
 */
export async function checkSmokescreenEntrypoint(goSource: string): Promise<EntrypointCheck> {
  const standin = findStandinDir();
  if (!standin) {
    return {
      status: 'go-missing',
      detail: `the Smokescreen v0.0.4 stand-in module (test/go-standin) is missing from this openclaw-fix installation; reinstall openclaw-fix`,
    };
  }
  const work = mkdtempSync(join(tmpdir(), 'openclaw-fix-entrypoint-'));
  const env = goEnvironment(join(work, 'go'));
  try {
    const module = join(work, 'smokescreen');
    cpSync(standin, module, { recursive: true });
    writeFileSync(join(module, 'main.go'), goSource);
    const binary = join(work, 'smokescreen-bin');

    const build = await run('go', ['build', '-mod=vendor', '-o', binary, '.'], module, BUILD_TIMEOUT_MS, env);
    if (build.spawnError?.code === 'ENOENT') {
      return { status: 'go-missing', detail: 'the Go toolchain (`go`) is not installed or not on PATH; install Debian\'s golang-go' };
    }
    if (build.spawnError) return { status: 'go-missing', detail: `cannot run go: ${build.spawnError.message}` };
    if (build.timedOut) return { status: 'compile-error', detail: `go build did not finish within ${BUILD_TIMEOUT_MS / 1000}s` };
    if (build.code !== 0) return { status: 'compile-error', detail: tail(build.stderr.replaceAll(module, '.')) || `go build exited ${build.code}` };

    const start = await run(binary, [], work, RUN_TIMEOUT_MS, env);
    // Not the entrypoint's fault: this host will not run what was built in its temporary directory.
    if (start.spawnError) return { status: 'go-missing', detail: `cannot execute the built entrypoint in ${tmpdir()}: ${start.spawnError.message}` };
    const replay = parseReplay(start.stdout);
    if (!replay) {
      const how = start.timedOut ? `kept running for ${RUN_TIMEOUT_MS / 1000}s` : `exited ${start.code ?? 'on a signal'}`;
      return { status: 'did-not-start', detail: `the entrypoint ${how} without calling smokescreen.StartWithConfig${start.stderr.trim() ? `:\n${tail(start.stderr)}` : ''}` };
    }
    const verdict = judgeReplay(replay);
    if (verdict.status !== 'ok') return verdict;

    for (const flag of ['--help', '--version']) {
      const informational = await run(binary, [flag], work, RUN_TIMEOUT_MS, env);
      if (informational.code !== 0) {
        const output = tail(`${informational.stdout}\n${informational.stderr}`, 8);
        return { status: 'mishandles-help', detail: `\`smokescreen ${flag}\` exited ${informational.code ?? 'on a signal'} (NewConfiguration returns a nil config for it)${output ? `:\n${output}` : ''}` };
      }
    }
    return verdict;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
