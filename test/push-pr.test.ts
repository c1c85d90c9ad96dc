/**
 * Bot mode: `--apply --push [--pr]` against a real bare repository in a temp dir and a local
 * HTTP server on 127.0.0.1 that answers the three GitHub endpoints the tool uses.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGitHubRemote } from '../src/git/github.js';
import { commitAll, DEFAULT_FIX_BRANCH, fixtureGitRepo, git, runCli, tempDir } from './helpers.js';
import { SLOW_TEST } from './budgets.js';

const TOKEN = 'ghs_not-a-real-token-7f3c9a';
/** The remote URL the tests configure; git is redirected to the bare repo with url.<bare>.insteadOf. */
const GITHUB_URL = 'https://github.com/acme/deploy.git';

/** The fixture as a clone whose `origin` is a bare repository holding `main`. */
function repoWithBareOrigin(): { repo: string; bare: string } {
  const repo = fixtureGitRepo();
  const bare = join(tempDir(), 'origin.git');
  git(repo, 'init', '-q', '--bare', '-b', 'main', bare);
  git(repo, 'remote', 'add', 'origin', GITHUB_URL);
  git(repo, 'config', `url.${bare}.insteadOf`, GITHUB_URL);
  git(repo, 'push', '-q', 'origin', 'main');
  return { repo, bare };
}

/** The branch's tip in the bare repository, '' when it has no such branch. */
const remoteTip = (bare: string, branch: string): string =>
  git(bare, 'for-each-ref', '--format=%(objectname)', `refs/heads/${branch}`).trim();

function commitOnMain(repo: string, file: string): string {
  writeFileSync(join(repo, file), `${file}\n`);
  commitAll(repo, `docs: ${file}`);
  return git(repo, 'rev-parse', 'HEAD').trim();
}

describe('--apply --push', () => {
  it(
    'creates the branch on the remote, then force-updates only its own branch after the base moved',
    async () => {
      const { repo, bare } = repoWithBareOrigin();
      const first = await runCli(repo, ['--apply', '--push']);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toContain(`Pushed ${DEFAULT_FIX_BRANCH} to origin (new branch).`);
      const firstTip = git(repo, 'rev-parse', DEFAULT_FIX_BRANCH).trim();
      expect(remoteTip(bare, DEFAULT_FIX_BRANCH)).toBe(firstTip);
      // No local ref but the fix branch (and the remote-tracking refs git keeps anyway) was written.
      expect(git(repo, 'for-each-ref', '--format=%(refname)', 'refs/heads').trim().split('\n').sort()).toEqual([
        `refs/heads/main`,
        `refs/heads/${DEFAULT_FIX_BRANCH}`,
      ]);

      const remoteMainBefore = remoteTip(bare, 'main');
      const newBase = commitOnMain(repo, 'NOTES.md');
      const second = await runCli(repo, ['--apply', '--push']);
      expect(second.stderr).toBe('');
      expect(second.code).toBe(0);
      expect(second.stdout).toContain("force-updated: it was openclaw-fix's own");
      const secondTip = git(repo, 'rev-parse', DEFAULT_FIX_BRANCH).trim();
      expect(secondTip).not.toBe(firstTip);
      expect(remoteTip(bare, DEFAULT_FIX_BRANCH)).toBe(secondTip);
      expect(git(bare, 'merge-base', DEFAULT_FIX_BRANCH, newBase).trim()).toBe(newBase);
      // Only the tool's branch moved on the remote.
      expect(remoteTip(bare, 'main')).toBe(remoteMainBefore);
    },
    SLOW_TEST,
  );

  it(
    'refuses a remote branch of that name that has commits it did not make, and leaves both branches as they were',
    async () => {
      const { repo, bare } = repoWithBareOrigin();
      expect((await runCli(repo, ['--apply', '--push'])).code).toBe(0);
      // Someone else adds a commit to the branch on the remote.
      const other = join(tempDir(), 'other');
      git(repo, 'clone', '-q', '-b', DEFAULT_FIX_BRANCH, bare, other);
      commitOnMain(other, 'THEIRS.md');
      git(other, 'push', '-q', 'origin', DEFAULT_FIX_BRANCH);
      const theirTip = remoteTip(bare, DEFAULT_FIX_BRANCH);

      commitOnMain(repo, 'NOTES.md');
      const result = await runCli(repo, ['--apply', '--push']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        new RegExp(
          `^openclaw-fix: remote branch origin/${DEFAULT_FIX_BRANCH} has 1 commit openclaw-fix did not make \\(first: [0-9a-f]{12}\\), so it was not pushed; .*\\n$`,
        ),
      );
      expect(remoteTip(bare, DEFAULT_FIX_BRANCH)).toBe(theirTip);
      // The local fix branch is built and intact: every commit on it is the tool's.
      const ownCommits = git(repo, 'rev-list', '--count', '--grep=^Openclaw-Fix: ', `main..${DEFAULT_FIX_BRANCH}`).trim();
      expect(ownCommits).not.toBe('0');
      expect(git(repo, 'rev-list', '--count', `main..${DEFAULT_FIX_BRANCH}`).trim()).toBe(ownCommits);
    },
    SLOW_TEST,
  );

  it('needs --apply, and an unknown remote is one line before anything is written', async () => {
    const { repo } = repoWithBareOrigin();
    const withoutApply = await runCli(repo, ['--push']);
    expect(withoutApply.code).toBe(2);
    expect(withoutApply.stderr).toBe('openclaw-fix: --push goes with --apply (see --help)\n');
    expect((await runCli(repo, ['--apply', '--pr'])).stderr).toBe('openclaw-fix: --pr goes with --apply --push (see --help)\n');
    const unknownRemote = await runCli(repo, ['--apply', '--push', '--remote', 'upstream']);
    expect(unknownRemote.code).toBe(2);
    expect(unknownRemote.stderr).toBe(
      "openclaw-fix: there is no remote 'upstream' in this repository (git remote -v lists them); pass --remote NAME\n",
    );
    expect(git(repo, 'branch', '--list', DEFAULT_FIX_BRANCH)).toBe('');
  });
});

interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> | null;
}

interface StoredPull {
  number: number;
  state: string;
  title: string;
  body: string;
  head: { ref: string; label: string };
  base: { ref: string };
  html_url: string;
}

/** A stand-in for the GitHub REST API: list pulls by head, create, update; or fail every call with `failWith`. */
class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly pulls: StoredPull[] = [];
  failWith: { status: number; on: 'any' | 'POST'; body: Record<string, unknown> } | undefined;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
        const method = request.method ?? '';
        this.requests.push({ method, path: request.url ?? '', headers: request.headers, body });
        const send = (status: number, data: unknown): void => {
          response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
          response.end(JSON.stringify(data));
        };
        if (this.failWith && (this.failWith.on === 'any' || this.failWith.on === method))
          return send(this.failWith.status, this.failWith.body);
        const url = new URL(request.url ?? '/', 'http://127.0.0.1');
        const list = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(url.pathname);
        const one = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/.exec(url.pathname);
        if (list && method === 'GET') {
          const head = url.searchParams.get('head');
          return send(
            200,
            this.pulls.filter((pull) => pull.state === url.searchParams.get('state') && (!head || pull.head.label === head)),
          );
        }
        if (list && method === 'POST' && body) {
          const number = this.pulls.length + 1;
          const pull: StoredPull = {
            number,
            state: 'open',
            title: String(body.title),
            body: String(body.body),
            head: { ref: String(body.head), label: `${list[1]}:${String(body.head)}` },
            base: { ref: String(body.base) },
            html_url: `https://github.example/${list[1]}/${list[2]}/pull/${number}`,
          };
          this.pulls.push(pull);
          return send(201, pull);
        }
        const existing = one ? this.pulls.find((pull) => pull.number === Number(one[3])) : undefined;
        if (existing && method === 'PATCH' && body) {
          Object.assign(existing, {
            title: body.title ?? existing.title,
            body: body.body ?? existing.body,
            base: body.base ? { ref: String(body.base) } : existing.base,
          });
          return send(200, existing);
        }
        return send(404, { message: 'Not Found' });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const servers: FakeGitHub[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
});

async function fakeGitHub(): Promise<FakeGitHub> {
  const server = await new FakeGitHub().start();
  servers.push(server);
  return server;
}

const shortShas = (repo: string): string[] =>
  git(repo, 'log', '--format=%H', `main..${DEFAULT_FIX_BRANCH}`)
    .trim()
    .split('\n')
    .map((sha) => sha.slice(0, 12));

describe('--apply --push --pr', () => {
  it('opens one pull request, and a re-run after the base moved updates it instead of opening a second', async () => {
    const { repo, bare } = repoWithBareOrigin();
    const github = await fakeGitHub();
    // No GITHUB_REPOSITORY: owner/name come from the push remote's URL.
    const env = { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.url };

    const first = await runCli(repo, ['--apply', '--push', '--pr'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Opened pull request #1: https://github.example/acme/deploy/pull/1');
    expect(github.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      `GET /repos/acme/deploy/pulls?head=${encodeURIComponent(`acme:${DEFAULT_FIX_BRANCH}`)}&state=open&per_page=100`,
      'POST /repos/acme/deploy/pulls',
    ]);
    for (const request of github.requests) expect(request.headers.authorization).toBe(`token ${TOKEN}`);
    const created = github.requests[1]?.body ?? {};
    expect(created).toMatchObject({ head: DEFAULT_FIX_BRANCH, base: 'main' });
    expect(String(created.title)).toMatch(/^openclaw-fix: fix deployment bugs \d/);
    const body = String(created.body);
    expect(body).toContain('| Bug | Fix | State | Commit |');
    for (const sha of shortShas(repo)) expect(body).toContain(`| ${sha} |`);
    expect(body).toContain('| bug 7 | let LiteLLM start without waiting for the egress proxy | fixed in this pull request |');
    expect(body).toMatch(/# Expected: HTTP 407/);
    expect(body).not.toMatch(/# Expected: HTTP 403/);
    expect(remoteTip(bare, DEFAULT_FIX_BRANCH)).toBe(git(repo, 'rev-parse', DEFAULT_FIX_BRANCH).trim());

    commitOnMain(repo, 'NOTES.md');
    github.requests.length = 0;
    const second = await runCli(repo, ['--apply', '--push', '--pr', '--json'], env);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const doc = JSON.parse(second.stdout) as { push: { status: string }; pullRequest: { action: string; number: number } };
    expect(doc.push.status).toBe('force-updated');
    expect(doc.pullRequest).toMatchObject({ action: 'updated', number: 1 });
    expect(github.requests.map((request) => request.method)).toEqual(['GET', 'PATCH']);
    expect(github.requests[1]?.path).toBe('/repos/acme/deploy/pulls/1');
    expect(github.requests[1]?.headers.authorization).toBe(`token ${TOKEN}`);
    const updatedBody = String(github.requests[1]?.body?.body);
    for (const sha of shortShas(repo)) expect(updatedBody).toContain(`| ${sha} |`);
    expect(github.pulls).toHaveLength(1);
    expect(`${first.stdout}${second.stdout}`).not.toContain(TOKEN);
  });

  const failures: { name: string; status?: number; on?: 'any' | 'POST'; message?: string; line: RegExp }[] = [
    {
      name: '401 bad credentials',
      status: 401,
      message: 'Bad credentials',
      line: /GitHub rejected GITHUB_TOKEN \(401 Bad credentials\) when trying to list the open pull requests of acme\/deploy/,
    },
    {
      name: '403 forbidden',
      status: 403,
      message: 'Resource not accessible by integration',
      line: /GitHub refused to list the open pull requests of acme\/deploy \(403 Resource not accessible by integration\): the token needs/,
    },
    {
      name: '404 not found',
      status: 404,
      message: 'Not Found',
      line: /GitHub has no repository acme\/deploy the token can see at http:\/\/127\.0\.0\.1:\d+ \(404 Not Found\)/,
    },
    {
      name: '422 validation failed',
      status: 422,
      on: 'POST',
      message: 'Validation Failed',
      line: /GitHub could not open a pull request from openclaw-fix\/deployment-bugs into main on acme\/deploy \(422 Validation Failed: No commits between main and/,
    },
    {
      name: 'connection refused',
      line: /cannot reach the GitHub API at http:\/\/127\.0\.0\.1:\d+ to list the open pull requests of acme\/deploy: connect ECONNREFUSED/,
    },
  ];

  for (const failure of failures) {
    it(`${failure.name}: one line, exit 2, no token anywhere, the fix branch pushed and intact`, async () => {
      const { repo, bare } = repoWithBareOrigin();
      const github = await fakeGitHub();
      let apiUrl = github.url;
      if (failure.status) {
        const errors =
          failure.status === 422
            ? [{ resource: 'PullRequest', code: 'custom', message: `No commits between main and ${DEFAULT_FIX_BRANCH}` }]
            : undefined;
        github.failWith = {
          status: failure.status,
          on: failure.on ?? 'any',
          body: { message: failure.message, ...(errors ? { errors } : {}), documentation_url: 'https://docs.github.com/rest' },
        };
      } else {
        await github.stop(); // nothing listens on that port any more
        apiUrl = github.url;
      }
      const result = await runCli(repo, ['--apply', '--push', '--pr'], {
        GITHUB_TOKEN: TOKEN,
        GITHUB_API_URL: apiUrl,
        GITHUB_REPOSITORY: 'acme/deploy',
      });
      expect(result.code).toBe(2);
      const lines = result.stderr.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^openclaw-fix: /);
      expect(lines[0]).toMatch(failure.line);
      expect(lines[0]).toMatch(new RegExp(`branch ${DEFAULT_FIX_BRANCH} is pushed to origin and intact locally$`));
      expect(`${result.stdout}${result.stderr}`).not.toContain(TOKEN);
      const localTip = git(repo, 'rev-parse', DEFAULT_FIX_BRANCH).trim();
      expect(remoteTip(bare, DEFAULT_FIX_BRANCH)).toBe(localTip);
      expect(git(repo, 'rev-list', '--count', `main..${DEFAULT_FIX_BRANCH}`).trim()).not.toBe('0');
      for (const request of github.requests) expect(request.headers.authorization).toBe(`token ${TOKEN}`);
    });
  }

  it('without GITHUB_TOKEN or an owner/name it stops before writing anything', async () => {
    const { repo, bare } = repoWithBareOrigin();
    const noToken = await runCli(repo, ['--apply', '--push', '--pr'], {});
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/^openclaw-fix: --pr needs a token in GITHUB_TOKEN .*nothing was written\n$/);
    git(repo, 'remote', 'set-url', 'origin', bare);
    const noRepository = await runCli(repo, ['--apply', '--push', '--pr'], { GITHUB_TOKEN: TOKEN });
    expect(noRepository.code).toBe(2);
    expect(noRepository.stderr).toMatch(
      /^openclaw-fix: cannot tell the GitHub repository from the remote URL .*; set GITHUB_REPOSITORY=owner\/name; nothing was written\n$/,
    );
    expect(git(repo, 'branch', '--list', DEFAULT_FIX_BRANCH)).toBe('');
    expect(remoteTip(bare, DEFAULT_FIX_BRANCH)).toBe('');
  });
});

describe('the repository a pull request goes to', () => {
  it('is read from https and ssh remote URLs, Enterprise hosts included', () => {
    for (const url of [
      'https://github.com/acme/deploy.git',
      'https://x-access-token:abc@github.com/acme/deploy',
      'git@github.com:acme/deploy.git',
      'ssh://git@github.example.com:2222/acme/deploy.git',
      'https://ghe.example.com/acme/deploy/',
    ]) {
      expect(parseGitHubRemote(url), url).toEqual({ owner: 'acme', repo: 'deploy' });
    }
    for (const url of ['/srv/git/deploy.git', 'file:///srv/git/acme/deploy.git', 'https://github.com/deploy.git'])
      expect(parseGitHubRemote(url), url).toBeUndefined();
  });
});
