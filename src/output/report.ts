/** What the user reads: per-fix headers and diffs as text, or one JSON document. */
import type { ApplyResult } from '../git/apply.js';
import { subjectOf } from './commit-message.js';
import { unifiedDiff, type FixOutcome, type Plan } from '../core/engine.js';
import type { FixState } from '../core/types.js';

export type Mode = 'dry-run' | 'check' | 'apply';

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const ansi = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;
export const COLOR: Style = {
  bold: ansi(1, 22),
  dim: ansi(2, 22),
  red: ansi(31, 39),
  green: ansi(32, 39),
  yellow: ansi(33, 39),
  cyan: ansi(36, 39),
};
const identity = (text: string) => text;
export const PLAIN: Style = { bold: identity, dim: identity, red: identity, green: identity, yellow: identity, cyan: identity };

/** Colour only on a terminal, never with NO_COLOR (https://no-color.org), and as the flags say. */
export function useColor(flag: boolean | undefined, stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (flag !== undefined) return flag && !env.NO_COLOR;
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}

const STATE_LABEL: Record<FixState, string> = {
  'needs-fix': 'needs fix',
  fixed: 'already fixed',
  'not-applicable': 'not applicable',
  unrecognised: 'unrecognised — not fixed',
};

function stateText(state: FixState, style: Style): string {
  const label = STATE_LABEL[state];
  if (state === 'needs-fix') return style.yellow(label);
  if (state === 'fixed') return style.green(label);
  if (state === 'unrecognised') return style.red(label);
  return style.dim(label);
}

function colorDiff(diff: string, style: Style): string {
  return diff
    .split('\n')
    .map((line) => {
      if (line.startsWith('+++') || line.startsWith('---')) return style.bold(line);
      if (line.startsWith('@@')) return style.cyan(line);
      if (line.startsWith('+')) return style.green(line);
      if (line.startsWith('-')) return style.red(line);
      return line;
    })
    .join('\n');
}

export function fixLabel(outcome: FixOutcome): string {
  return outcome.patch.bug === null ? 'extra' : `bug ${outcome.patch.bug}`;
}

function summaryCounts(plan: Plan): Record<'needsFix' | 'fixed' | 'notApplicable' | 'unrecognised', number> {
  const count = (state: FixState) => plan.outcomes.filter((outcome) => outcome.state === state).length;
  return {
    needsFix: count('needs-fix'),
    fixed: count('fixed'),
    notApplicable: count('not-applicable'),
    unrecognised: count('unrecognised'),
  };
}

export function formatText(mode: Mode, repo: string, plan: Plan, style: Style, apply?: ApplyResult): string {
  const out: string[] = [];
  const commitOf = new Map(apply?.commits.map((commit) => [commit.patchId, commit.sha]));
  for (const outcome of plan.outcomes) {
    const sha = commitOf.get(outcome.patch.id);
    out.push(
      `${style.bold(`${fixLabel(outcome).padEnd(6)} ${outcome.patch.title}`)} — ${stateText(outcome.state, style)}${sha ? style.dim(` (${sha.slice(0, 12)})`) : ''}`,
    );
    out.push(`       ${style.dim(outcome.reason)}`);
    for (const note of outcome.notes) out.push(`       ${style.yellow('note:')} ${note}`);
    if (mode === 'dry-run' && outcome.files.length > 0) out.push('', colorDiff(unifiedDiff(outcome).trimEnd(), style));
    out.push('');
  }
  const counts = summaryCounts(plan);
  const summary = [
    `${counts.needsFix} to fix`,
    `${counts.fixed} already fixed`,
    counts.notApplicable ? `${counts.notApplicable} not applicable` : '',
    counts.unrecognised ? style.red(`${counts.unrecognised} unrecognised`) : '',
  ].filter(Boolean);
  out.push(`${repo}: ${summary.join(', ')}.`);
  if (mode === 'dry-run' && counts.needsFix > 0)
    out.push('Run with --apply to commit each fix on its own branch; this run changed nothing.');
  if (mode === 'check' && counts.needsFix > 0) out.push('Fixes are pending (exit 1).');
  if (mode === 'apply' && apply) {
    const commits = `${apply.commits.length} commit${apply.commits.length === 1 ? '' : 's'}`;
    if (apply.status === 'nothing-to-do')
      out.push(
        counts.unrecognised > 0
          ? 'Nothing to do: every recognised fix is already in place. No branch was written.'
          : 'Nothing to do: every fix is already in place. No branch was written.',
      );
    else if (apply.status === 'up-to-date')
      out.push(
        `Branch ${style.bold(apply.branch)} is up to date: its ${commits} on ${apply.baseBranch} (${apply.base.slice(0, 12)}) already carry exactly these fixes. Nothing was written.`,
      );
    else if (apply.adoptedFrom)
      out.push(
        `${apply.status === 'rebuilt' ? 'Moved' : 'Created'} branch ${style.bold(apply.branch)} at ${apply.adoptedFrom}, whose ${commits} on ${apply.baseBranch} (${apply.base.slice(0, 12)}) already carry exactly these fixes; your branch and work tree are unchanged.`,
      );
    else
      out.push(
        `${apply.status === 'rebuilt' ? 'Rebuilt' : 'Created'} branch ${style.bold(apply.branch)} with ${commits} on ${apply.baseBranch} (${apply.base.slice(0, 12)}); your branch and work tree are unchanged.`,
      );
  } else if (counts.needsFix === 0) {
    out.push('Nothing to do: every recognised fix is already in place.');
  }
  return out.join('\n') + '\n';
}

export function toJson(mode: Mode, repo: string, plan: Plan, version: string, apply?: ApplyResult): unknown {
  const commitOf = new Map(apply?.commits.map((commit) => [commit.patchId, commit.sha]));
  return {
    tool: 'openclaw-fix',
    version,
    mode,
    repo,
    summary: summaryCounts(plan),
    fixes: plan.outcomes.map((outcome) => ({
      id: outcome.patch.id,
      bug: outcome.patch.bug,
      priority: outcome.patch.priority,
      title: outcome.patch.title,
      subject: subjectOf(outcome.patch),
      state: outcome.state,
      reason: outcome.reason,
      changes: outcome.changes,
      notes: outcome.notes,
      departsFromReport: outcome.patch.departsFromReport,
      files: outcome.files.map((change) => change.path),
      diff: outcome.files.length > 0 ? unifiedDiff(outcome) : null,
      commit: commitOf.get(outcome.patch.id) ?? null,
    })),
    ...(apply
      ? {
          apply: {
            status: apply.status,
            branch: apply.branch,
            base: apply.base,
            baseBranch: apply.baseBranch,
            previousTip: apply.previousTip ?? null,
            adoptedFrom: apply.adoptedFrom ?? null,
            commits: apply.commits,
          },
        }
      : {}),
  };
}
