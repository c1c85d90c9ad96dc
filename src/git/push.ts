/**
 * `--apply --push [--remote NAME] [--pr]`: publishes the fix branch `--apply` just wrote.
 *
 * The remote branch is force-updated only when it is the tool's own: every commit on it since
 * it forked from the base carries the `Openclaw-Fix:` trailer. The push then leases exactly
 * the tip that was checked (`--force-with-lease=<branch>:<sha>`, or `<branch>:` when it must
 * not exist yet), so a commit someone pushes in between is never overwritten. Nothing here
 * rewrites the local branch: whatever fails, it stays as `--apply` left it.
 */
import { editedCommit, foreignCommits, type ApplyResult } from './apply.js';
import { DEFAULT_NETWORK_TIMEOUT_MS, Git, GitCommandError, GitTimeoutError } from './git.js';
import { upsertPullRequest, redactCredentials, resolveGitHubTarget, type GitHubTarget, type PullRequestOutcome } from './github.js';
import { pullRequestBody, pullRequestTitle } from '../output/pr-body.js';
import { UserError } from '../core/errors.js';

export interface PushOutcome {
  readonly remote: string;
  readonly branch: string;
  /** 'created': new on the remote; 'updated': fast-forward; 'force-updated': the tool's old branch replaced. */
  readonly status: 'created' | 'updated' | 'force-updated' | 'up-to-date';
  readonly tip: string;
  readonly previousRemoteTip: string | null;
}

export interface PublishOptions {
  readonly git: Git;
  readonly remote: string;
  /** The fix branch: its remote tip is read (and its commits fetched) before `--apply` runs. */
  readonly branch: string;
  /** Open or update the pull request too. */
  readonly pr: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly version: string;
  /** How long one git command talking to the remote (ls-remote, fetch, push) may wait (default DEFAULT_NETWORK_TIMEOUT_MS). */
  readonly networkTimeoutMs?: number;
}

// In git.ts, so that the CLI's --help shows it without loading this module (and Octokit).
export { DEFAULT_NETWORK_TIMEOUT_MS };

export interface Published {
  readonly push: PushOutcome;
  readonly pullRequest: PullRequestOutcome | null;
}

export interface PreparedPublish {
  /**
   * The fix branch's tip on the remote, its commits fetched, for ApplyOptions.remoteTip: a
   * bot's fresh clone has no local fix branch, and must not rebuild (new shas, a force-push, a
   * pull request update) what the remote already carries. Undefined when the remote has no
   * such branch or cannot be read now (the push step then says why).
   */
  readonly remoteTip?: { readonly name: string; readonly sha: string };
  readonly publish: (result: ApplyResult) => Promise<Published>;
}

/**
 * Checks what can be checked before `--apply` writes anything (the remote exists; for --pr a
 * token and an owner/name), reads the remote fix branch, and returns the step that publishes
 * the branch once it is built.
 */
export async function preparePublish(options: PublishOptions): Promise<PreparedPublish> {
  const { git, remote } = options;
  const remoteUrl = await configuredRemoteUrl(git, remote);
  const target: GitHubTarget | undefined = options.pr ? resolveGitHubTarget(options.env, remoteUrl) : undefined;
  const timeoutMs = options.networkTimeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS;
  const remoteSha = await peekRemoteBranch(git, remote, options.branch, timeoutMs);
  const publish = async (result: ApplyResult): Promise<Published> => {
    const tip = result.commits.at(-1)?.sha;
    if (!tip) throw new UserError('internal error: nothing to publish');
    const push = await pushFixBranch(git, remote, result.branch, tip, result.base, options.env, timeoutMs);
    if (!target) return { push, pullRequest: null };
    const pullRequest = await upsertPullRequest(target, {
      head: result.branch,
      base: result.baseBranch,
      title: pullRequestTitle(result.plan),
      body: pullRequestBody(result, options.version),
      userAgent: `openclaw-fix/${options.version}`,
    }).catch((error: unknown) => {
      if (error instanceof UserError)
        throw new UserError(`${error.message}; branch ${result.branch} is pushed to ${remote} and intact locally`);
      throw error;
    });
    return { push, pullRequest };
  };
  return { ...(remoteSha ? { remoteTip: { name: remote, sha: remoteSha } } : {}), publish };
}

/** The remote branch's tip with its commits fetched (no ref written), or undefined when absent or unreadable. */
async function peekRemoteBranch(git: Git, remote: string, branch: string, timeoutMs: number): Promise<string | undefined> {
  const remoteRef = `refs/heads/${branch}`;
  try {
    const tip = await remoteBranchTip(git, remote, remoteRef, timeoutMs);
    if (tip) await fetchWithoutRefs(git, remote, remoteRef, timeoutMs);
    return tip;
  } catch (error) {
    // A remote that does not answer would not answer the push either: say so before anything is written.
    if (error instanceof GitTimeoutError) throw new UserError(`cannot read remote '${remote}': ${timeoutText(error)}; nothing was written`);
    return undefined; // pushFixBranch reads the remote again and reports what is wrong
  }
}

function timeoutText(error: GitTimeoutError): string {
  return `git ${error.args[0] ?? ''} got no answer within ${error.timeoutMs / 1000} s (--network-timeout)`;
}

/** The tip of `remoteRef` on the remote, undefined when it has no such branch. */
async function remoteBranchTip(git: Git, remote: string, remoteRef: string, timeoutMs: number): Promise<string | undefined> {
  const listing = await git.run(['ls-remote', '--heads', remote, remoteRef], { timeoutMs });
  return listing
    .split('\n')
    .find((line) => line.endsWith(`\t${remoteRef}`))
    ?.split('\t')[0];
}

/** Brings a remote branch's commits in without writing any ref (not even FETCH_HEAD or a remote-tracking branch). */
function fetchWithoutRefs(git: Git, remote: string, remoteRef: string, timeoutMs: number): Promise<string> {
  return git.run(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', '--refmap=', remote, remoteRef], { timeoutMs });
}

/** The remote's configured (push) URL as written in the config, before any insteadOf rewriting. */
async function configuredRemoteUrl(git: Git, remote: string): Promise<string> {
  for (const key of [`remote.${remote}.pushurl`, `remote.${remote}.url`]) {
    const value = (await git.run(['config', '--get', key]).catch(() => '')).trim();
    if (value) return value;
  }
  throw new UserError(`there is no remote '${remote}' in this repository (git remote -v lists them); pass --remote NAME`);
}

async function pushFixBranch(
  git: Git,
  remote: string,
  branch: string,
  tip: string,
  base: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = DEFAULT_NETWORK_TIMEOUT_MS,
): Promise<PushOutcome> {
  const remoteRef = `refs/heads/${branch}`;
  const keepsLocal = `the fix branch ${branch} is committed locally and intact`;
  const failure = (what: string, error: unknown): UserError => {
    if (error instanceof GitTimeoutError) return new UserError(redactCredentials(`${what}: ${timeoutText(error)}; ${keepsLocal}`, env));
    const lines = error instanceof GitCommandError ? error.stderr.split('\n').filter((line) => line.trim()) : [];
    const detail = (
      lines.find((line) => /^(fatal|error|remote|\s*!)/.test(line)) ??
      lines[0] ??
      (error instanceof Error ? error.message : String(error))
    ).trim();
    return new UserError(redactCredentials(`${what}: ${detail.replace(/^(fatal|error): /, '')}; ${keepsLocal}`, env));
  };

  let previousRemoteTip: string | null;
  try {
    previousRemoteTip = (await remoteBranchTip(git, remote, remoteRef, timeoutMs)) ?? null;
  } catch (error) {
    throw failure(`cannot read remote '${remote}'`, error);
  }
  const outcome = { remote, branch, tip, previousRemoteTip };
  if (previousRemoteTip === tip) return { ...outcome, status: 'up-to-date' };

  let status: PushOutcome['status'] = 'created';
  if (previousRemoteTip) {
    try {
      // To read their trailers.
      await fetchWithoutRefs(git, remote, remoteRef, timeoutMs);
    } catch (error) {
      throw failure(`cannot fetch ${remote}/${branch} to check it is openclaw-fix's own`, error);
    }
    const foreign = await foreignCommits(git, previousRemoteTip, base);
    if (!foreign || foreign.length > 0) {
      const why = foreign
        ? `has ${foreign.length} commit${foreign.length === 1 ? '' : 's'} openclaw-fix did not make (first: ${foreign[0]?.slice(0, 12)})`
        : 'shares no history with the base';
      throw new UserError(`remote branch ${remote}/${branch} ${why}, so it was not pushed; pass --branch with another name; ${keepsLocal}`);
    }
    const edited = await editedCommit(git, previousRemoteTip, base);
    if (
      edited &&
      !(await git.run(['merge-base', '--is-ancestor', previousRemoteTip, tip]).then(
        () => true,
        () => false,
      ))
    ) {
      throw new UserError(
        `remote branch ${remote}/${branch} has commit ${edited.slice(0, 12)} that was changed after openclaw-fix made it, so it was not overwritten; pass --branch with another name; ${keepsLocal}`,
      );
    }
    const fastForward = await git.run(['merge-base', '--is-ancestor', previousRemoteTip, tip]).then(
      () => true,
      () => false,
    );
    status = fastForward ? 'updated' : 'force-updated';
  }

  try {
    await git.run(['push', `--force-with-lease=${remoteRef}:${previousRemoteTip ?? ''}`, remote, `${tip}:${remoteRef}`], { timeoutMs });
  } catch (error) {
    if (error instanceof GitCommandError && /\(stale info\)/.test(error.stderr)) {
      throw new UserError(
        `remote branch ${remote}/${branch} changed while openclaw-fix was running, so nothing was pushed; re-run it; ${keepsLocal}`,
      );
    }
    throw failure(`git push to '${remote}' failed`, error);
  }
  return { ...outcome, status };
}

export function publishedText(published: Published): string {
  const { push, pullRequest } = published;
  const pushed =
    push.status === 'up-to-date'
      ? `Branch ${push.branch} on ${push.remote} is already up to date.`
      : `Pushed ${push.branch} to ${push.remote} (${push.status === 'created' ? 'new branch' : push.status === 'updated' ? 'fast-forward' : "force-updated: it was openclaw-fix's own"}).`;
  if (!pullRequest) return `${pushed}\n`;
  const verb = pullRequest.action === 'created' ? 'Opened' : pullRequest.action === 'updated' ? 'Updated' : 'Left unchanged';
  return `${pushed}\n${verb} pull request #${pullRequest.number}: ${pullRequest.url}\n`;
}
