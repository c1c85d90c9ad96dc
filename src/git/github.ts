/**
 * The pull request for `--apply --push --pr`, through the GitHub REST API (@octokit/core:
 * three endpoints, no plugins). One pull request per fix branch: a re-run finds the open one
 * by its head and updates it. Every failure becomes one line naming the step and the likely
 * cause; the token never appears in it.
 */
import { Octokit } from '@octokit/core';
import { UserError } from '../core/errors.js';

const DEFAULT_GITHUB_API_URL = 'https://api.github.com';

export interface GitHubTarget {
  /** REST base URL: https://api.github.com, or an Enterprise server's https://HOST/api/v3. */
  readonly apiUrl: string;
  readonly token: string;
  readonly owner: string;
  readonly repo: string;
}

export interface PullRequestOutcome {
  readonly action: 'created' | 'updated' | 'unchanged';
  readonly number: number;
  readonly url: string;
}

export interface PullRequestContent {
  /** The fix branch (in the same repository). */
  readonly head: string;
  /** The branch the fixes were made from. */
  readonly base: string;
  readonly title: string;
  readonly body: string;
  readonly userAgent: string;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * owner/name from a remote URL in any of git's forms: https://host/owner/name(.git),
 * ssh://[user@]host[:port]/owner/name, git@host:owner/name(.git), git://host/owner/name.
 * undefined for local paths and file:// URLs.
 */
export function parseGitHubRemote(url: string): { owner: string; repo: string } | undefined {
  let path: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    if (/^file:/i.test(url)) return undefined;
    try {
      path = new URL(url).pathname;
    } catch {
      return undefined;
    }
  } else {
    const scpLike = /^(?:[^@/\s]+@)?[^:/\s]+:(?!\/)(.+)$/.exec(url);
    if (!scpLike?.[1]) return undefined;
    path = scpLike[1];
  }
  const segments = decodeURIComponent(path)
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .split('/')
    .filter(Boolean);
  const [owner, repo] = segments.slice(-2);
  if (segments.length < 2 || !owner || !repo || !NAME.test(owner) || !NAME.test(repo)) return undefined;
  return { owner, repo };
}

/** Where the pull request goes, from the environment (GitHub Actions sets all three) or the push remote's URL. */
export function resolveGitHubTarget(env: NodeJS.ProcessEnv, remoteUrl: string): GitHubTarget {
  const token = env.GITHUB_TOKEN?.trim();
  if (!token) throw new UserError('--pr needs a token in GITHUB_TOKEN that may push and open pull requests; nothing was written');
  const apiUrl = (env.GITHUB_API_URL?.trim() || DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+/.test(apiUrl)) throw new UserError(`GITHUB_API_URL '${apiUrl}' is not an http(s) URL; nothing was written`);
  const fromEnv = env.GITHUB_REPOSITORY?.trim();
  if (fromEnv) {
    const [owner = '', repo = '', ...rest] = fromEnv.split('/');
    if (rest.length > 0 || !NAME.test(owner) || !NAME.test(repo))
      throw new UserError(`GITHUB_REPOSITORY '${fromEnv}' is not owner/name; nothing was written`);
    return { apiUrl, token, owner, repo };
  }
  const parsed = parseGitHubRemote(remoteUrl);
  if (!parsed) {
    throw new UserError(
      `cannot tell the GitHub repository from the remote URL '${redactCredentials(remoteUrl, env)}'; set GITHUB_REPOSITORY=owner/name; nothing was written`,
    );
  }
  return { apiUrl, token, ...parsed };
}

/** Removes the token and any user:password@ in URLs from a message before it is shown. */
export function redactCredentials(text: string, env: NodeJS.ProcessEnv): string {
  let safe = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
  for (const name of ['GITHUB_TOKEN', 'GH_TOKEN']) {
    const secret = env[name]?.trim();
    if (secret && secret.length >= 4) safe = safe.split(secret).join('***');
  }
  return safe;
}

const silentLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

interface PullSummary {
  number: number;
  html_url: string;
  title: string;
  body: string | null;
  head: { ref: string };
  base: { ref: string };
}

/** Opens the pull request from `head` into `base`, or updates the open one for `head`: never a second. */
export async function upsertPullRequest(target: GitHubTarget, content: PullRequestContent): Promise<PullRequestOutcome> {
  const { owner, repo } = target;
  const octokit = new Octokit({
    auth: target.token,
    baseUrl: target.apiUrl,
    userAgent: content.userAgent,
    log: silentLog,
    request: { signal: AbortSignal.timeout(60_000) },
  });
  let step = `list the open pull requests of ${owner}/${repo}`;
  try {
    const open = await octokit.request('GET /repos/{owner}/{repo}/pulls', {
      owner,
      repo,
      head: `${owner}:${content.head}`,
      state: 'open',
      per_page: 100,
    });
    const existing = (open.data as PullSummary[]).find((pull) => pull.head.ref === content.head);
    if (existing) {
      if (existing.title === content.title && (existing.body ?? '') === content.body && existing.base.ref === content.base) {
        return { action: 'unchanged', number: existing.number, url: existing.html_url };
      }
      step = `update pull request #${existing.number} of ${owner}/${repo}`;
      const { data } = await octokit.request('PATCH /repos/{owner}/{repo}/pulls/{pull_number}', {
        owner,
        repo,
        pull_number: existing.number,
        title: content.title,
        body: content.body,
        base: content.base,
      });
      return { action: 'updated', number: data.number, url: data.html_url };
    }
    step = `open a pull request from ${content.head} into ${content.base} on ${owner}/${repo}`;
    const { data } = await octokit.request('POST /repos/{owner}/{repo}/pulls', {
      owner,
      repo,
      head: content.head,
      base: content.base,
      title: content.title,
      body: content.body,
    });
    return { action: 'created', number: data.number, url: data.html_url };
  } catch (error) {
    throw new UserError(redactCredentials(apiErrorLine(error, step, target), { GITHUB_TOKEN: target.token }));
  }
}

function apiErrorLine(error: unknown, step: string, target: GitHubTarget): string {
  const { status, response, cause, name } = error as { status?: unknown; response?: { data?: unknown }; cause?: unknown; name?: string };
  if (typeof status !== 'number' || !response) {
    const reason =
      name === 'TimeoutError' || name === 'AbortError'
        ? 'no answer within 60 s'
        : cause instanceof Error
          ? cause.cause instanceof Error
            ? cause.cause.message
            : cause.message
          : error instanceof Error
            ? error.message
            : String(error);
    return `cannot reach the GitHub API at ${target.apiUrl} to ${step}: ${reason.split('\n')[0]}`;
  }
  const data = (response.data ?? {}) as { message?: unknown; errors?: unknown };
  const apiMessage = typeof data.message === 'string' ? data.message : '';
  const details = Array.isArray(data.errors)
    ? data.errors
        .map((item: { message?: unknown; code?: unknown }) =>
          typeof item?.message === 'string' ? item.message : typeof item?.code === 'string' ? item.code : '',
        )
        .filter(Boolean)
    : [];
  const said = [apiMessage, ...details].filter(Boolean).join(': ');
  const answer = `${status}${said ? ` ${said}` : ''}`;
  switch (status) {
    case 401:
      return `GitHub rejected GITHUB_TOKEN (${answer}) when trying to ${step}: the token is invalid or expired`;
    case 403:
      return `GitHub refused to ${step} (${answer}): the token needs contents and pull-requests write access there, or a rate limit was hit`;
    case 404:
      return `GitHub has no repository ${target.owner}/${target.repo} the token can see at ${target.apiUrl} (${answer}) when trying to ${step}: check GITHUB_REPOSITORY and GITHUB_API_URL`;
    case 422:
      return `GitHub could not ${step} (${answer})`;
    default:
      return `GitHub answered ${answer} when trying to ${step}`;
  }
}
