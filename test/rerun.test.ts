/**
 * The bot's re-run: `--apply [--push --pr]` on a base that did not move, with fixes that did
 * not change, writes nothing, pushes nothing and does not touch the pull request — also from a
 * fresh clone that has only the remote's fix branch (what a CI checkout looks like). It still
 * rebuilds when the fixes differ or the commits on the branch do not carry exactly them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureGitRepo, git, runCli, tempDir } from './helpers.js';
import { SLOW_TEST } from './budgets.js';

const BRANCH = 'openclaw-fix/deployment-bugs';
const GITHUB_URL = 'https://github.com/acme/deploy.git';
const TOKEN = 'ghs_rerun-not-a-real-token';

interface ApplyDoc {
  apply: { status: string; previousTip: string | null; adoptedFrom: string | null; commits: { sha: string; patchId: string }[] };
  push?: { status: string; tip: string };
  pullRequest?: { action: string; number: number };
}

/**
 * Runs `fn` as if at `date`: the commits --apply builds then carry that date, so a re-run's
 * fresh commits differ from the first run's even within one second, as a later CI run's do.
 */
async function at<T>(date: string, fn: () => Promise<T>): Promise<T> {
  const saved = { author: process.env.GIT_AUTHOR_DATE, committer: process.env.GIT_COMMITTER_DATE };
  process.env.GIT_AUTHOR_DATE = date;
  process.env.GIT_COMMITTER_DATE = date;
  try {
    return await fn();
  } finally {
    for (const [name, value] of [
      ['GIT_AUTHOR_DATE', saved.author],
      ['GIT_COMMITTER_DATE', saved.committer],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const tipOf = (repo: string, ref: string): string => git(repo, 'for-each-ref', '--format=%(objectname)', `refs/heads/${ref}`).trim();
const reflogLength = (repo: string): number => git(repo, 'reflog', 'show', '--format=%H', `refs/heads/${BRANCH}`).trim().split('\n').length;

describe('--apply on an unchanged base', () => {
  it(
    'leaves its own branch alone when it carries exactly these fixes: up-to-date, exit 0, no ref written',
    async () => {
      const repo = fixtureGitRepo();
      const first = await at('2030-01-01T00:00:00Z', () => runCli(repo, ['--apply']));
      expect(first.code).toBe(0);
      const tip = tipOf(repo, BRANCH);
      const reflog = reflogLength(repo);

      const again = await at('2030-01-08T00:00:00Z', () => runCli(repo, ['--apply', '--json']));
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      const doc = JSON.parse(again.stdout) as ApplyDoc;
      expect(doc.apply.status).toBe('up-to-date');
      expect(doc.apply.previousTip).toBeNull();
      expect(doc.apply.commits.at(-1)?.sha).toBe(tip); // the commits reported are the branch's own
      expect(tipOf(repo, BRANCH)).toBe(tip);
      expect(reflogLength(repo)).toBe(reflog); // not even a same-value update-ref

      const text = await at('2030-01-09T00:00:00Z', () => runCli(repo, ['--apply']));
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(
        new RegExp(
          `Branch ${BRANCH} is up to date: its \\d+ commits on main \\([0-9a-f]{12}\\) already carry exactly these fixes\\. Nothing was written\\.`,
        ),
      );
      expect(tipOf(repo, BRANCH)).toBe(tip);
    },
    SLOW_TEST,
  );

  it(
    'rebuilds when the fixes differ (a fix added or dropped), but never over a commit amended by hand',
    async () => {
      const repo = fixtureGitRepo();
      await at('2030-01-01T00:00:00Z', () => runCli(repo, ['--apply', '--only', '7']));
      const onlySeven = tipOf(repo, BRANCH);
      const all = JSON.parse((await at('2030-01-02T00:00:00Z', () => runCli(repo, ['--apply', '--json']))).stdout) as ApplyDoc;
      expect(all.apply).toMatchObject({ status: 'rebuilt', previousTip: onlySeven });
      const back = JSON.parse(
        (await at('2030-01-03T00:00:00Z', () => runCli(repo, ['--apply', '--json', '--only', '7']))).stdout,
      ) as ApplyDoc;
      expect(back.apply.status).toBe('rebuilt');
      expect(back.apply.commits.map((commit) => commit.patchId)).toEqual(['litellm-no-egress-dependency']);

      // Same message and trailer, different tree: the tool's commit, amended by hand, is a human's
      // now (issue 13): a rebuild would throw the amendment away, so the run refuses and says so.
      git(repo, 'checkout', '-q', BRANCH);
      writeFileSync(join(repo, 'EXTRA.md'), 'not part of the fix\n');
      git(repo, 'add', 'EXTRA.md');
      git(repo, 'commit', '-q', '--amend', '--no-edit');
      git(repo, 'checkout', '-q', 'main');
      const amended = tipOf(repo, BRANCH);
      const refused = await at('2030-01-04T00:00:00Z', () => runCli(repo, ['--apply', '--only', '7']));
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/openclaw-fix\/deployment-bugs|amend|by hand|human/i);
      expect(tipOf(repo, BRANCH)).toBe(amended);
      expect(git(repo, 'ls-tree', '--name-only', BRANCH, 'EXTRA.md').trim()).toBe('EXTRA.md');
    },
    SLOW_TEST,
  );
});

/** The three GitHub endpoints the tool calls, recording every request. */
async function fakeGitHub(): Promise<{
  url: string;
  requests: string[];
  pulls: { number: number; title: string; body: string; base: string; head: string }[];
  server: Server;
}> {
  const state = {
    url: '',
    requests: [] as string[],
    pulls: [] as { number: number; title: string; body: string; base: string; head: string }[],
  };
  const view = (pull: (typeof state.pulls)[number]) => ({
    number: pull.number,
    title: pull.title,
    body: pull.body,
    head: { ref: pull.head },
    base: { ref: pull.base },
    html_url: `https://github.example/acme/deploy/pull/${pull.number}`,
  });
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    request.on('end', () => {
      const body = (text ? JSON.parse(text) : {}) as Record<string, string>;
      state.requests.push(`${request.method} ${new URL(request.url ?? '/', 'http://x').pathname}`);
      const send = (status: number, data: unknown): void =>
        void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
      const one = /\/pulls\/(\d+)$/.exec(request.url ?? '');
      if (request.method === 'GET') return send(200, state.pulls.map(view));
      if (request.method === 'POST') {
        const pull = {
          number: state.pulls.length + 1,
          title: body.title ?? '',
          body: body.body ?? '',
          base: body.base ?? '',
          head: body.head ?? '',
        };
        state.pulls.push(pull);
        return send(201, view(pull));
      }
      const pull = state.pulls.find((candidate) => candidate.number === Number(one?.[1]));
      if (request.method === 'PATCH' && pull)
        return send(200, view(Object.assign(pull, { title: body.title, body: body.body, base: body.base })));
      return send(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { ...state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A clone whose `origin` (a GitHub URL, redirected to a bare repo) holds `main`. */
function cloneWithOrigin(bare: string, source?: string): string {
  const repo = source ?? fixtureGitRepo();
  if (!source) {
    git(repo, 'init', '-q', '--bare', '-b', 'main', bare);
    git(repo, 'remote', 'add', 'origin', GITHUB_URL);
    git(repo, 'config', `url.${bare}.insteadOf`, GITHUB_URL);
    git(repo, 'push', '-q', 'origin', 'main');
  }
  return repo;
}

describe('--apply --push --pr on an unchanged base', () => {
  it(
    'pushes nothing and leaves the pull request alone, from the same clone and from a fresh CI checkout',
    async () => {
      const bare = join(tempDir(), 'origin.git');
      const repo = cloneWithOrigin(bare);
      const github = await fakeGitHub();
      const env = { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.url };
      const first = await at('2030-01-01T00:00:00Z', () => runCli(repo, ['--apply', '--push', '--pr'], env));
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const remoteTip = git(bare, 'rev-parse', BRANCH).trim();
      expect(github.requests).toEqual(['GET /repos/acme/deploy/pulls', 'POST /repos/acme/deploy/pulls']);

      // The same clone, a week later.
      github.requests.length = 0;
      const again = await at('2030-01-08T00:00:00Z', () => runCli(repo, ['--apply', '--push', '--pr', '--json'], env));
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      const doc = JSON.parse(again.stdout) as ApplyDoc;
      expect(doc.apply.status).toBe('up-to-date');
      expect(doc.push).toMatchObject({ status: 'up-to-date', tip: remoteTip });
      expect(doc.pullRequest).toMatchObject({ action: 'unchanged', number: 1 });
      expect(github.requests).toEqual(['GET /repos/acme/deploy/pulls']);
      expect(git(bare, 'rev-parse', BRANCH).trim()).toBe(remoteTip);

      // A fresh checkout, as actions/checkout makes it: no local fix branch, only the remote's.
      const fresh = join(tempDir(), 'ci');
      git(tempDir(), 'clone', '-q', bare, fresh);
      git(fresh, 'remote', 'set-url', 'origin', GITHUB_URL);
      git(fresh, 'config', `url.${bare}.insteadOf`, GITHUB_URL);
      github.requests.length = 0;
      const ci = await at('2030-01-15T00:00:00Z', () => runCli(fresh, ['--apply', '--push', '--pr', '--json'], env));
      expect(ci.stderr).toBe('');
      expect(ci.code).toBe(0);
      const ciDoc = JSON.parse(ci.stdout) as ApplyDoc;
      expect(ciDoc.apply).toMatchObject({ status: 'created', adoptedFrom: `origin/${BRANCH}` });
      expect(tipOf(fresh, BRANCH)).toBe(remoteTip);
      expect(ciDoc.push).toMatchObject({ status: 'up-to-date', tip: remoteTip });
      expect(ciDoc.pullRequest).toMatchObject({ action: 'unchanged', number: 1 });
      expect(github.requests).toEqual(['GET /repos/acme/deploy/pulls']);
      expect(github.pulls).toHaveLength(1);
      expect(git(bare, 'rev-parse', BRANCH).trim()).toBe(remoteTip);
    },
    SLOW_TEST,
  );
});
