/**
 * Title and body of the pull request `--pr` opens: what each fix did, where it departs from
 * the report and why (the modules' `departsFromReport`), and the report's "How to Verify"
 * checklist with its wrong expectation corrected.
 */
import type { ApplyResult } from '../git/apply.js';
import type { FixOutcome, Plan } from '../core/engine.js';
import { fixLabel } from './report.js';

const GITHUB_TITLE_LIMIT = 256;

/** Names the fixes: the one commit's subject, or the bugs in apply order. */
export function pullRequestTitle(plan: Plan): string {
  const pending = plan.pending;
  if (pending.length === 1 && pending[0]) return `openclaw-fix: ${pending[0].patch.title} (${fixLabel(pending[0])})`;
  const bugs = pending.flatMap((outcome) => (outcome.patch.bug === null ? [] : [String(outcome.patch.bug)]));
  const extras = pending.length - bugs.length;
  const parts = [
    bugs.length > 0 ? `bug${bugs.length === 1 ? '' : 's'} ${bugs.join(', ')}` : '',
    extras > 0 ? `${extras} beyond the report` : '',
  ].filter(Boolean);
  const title = `openclaw-fix: fix deployment ${parts.join(' + ')}`;
  return title.length <= GITHUB_TITLE_LIMIT ? title : `${title.slice(0, GITHUB_TITLE_LIMIT - 1)}…`;
}

const STATE_TEXT: Record<FixOutcome['state'], string> = {
  'needs-fix': 'fixed in this pull request',
  fixed: 'already in place',
  'not-applicable': 'not applicable',
  unrecognised: 'not fixed: shape not recognised',
};

/** A Markdown table cell: one line, pipes escaped. */
const cell = (text: string): string => text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');

export function pullRequestBody(result: ApplyResult, version: string): string {
  const commitOf = new Map(result.commits.map((commit) => [commit.patchId, commit.sha]));
  const outcomes = result.plan.outcomes;
  const out: string[] = [
    `Fixes from the OpenClaw deployment bug report, one commit per fix in the report's priority order, made by openclaw-fix ${version} on \`${result.baseBranch}\` (${result.base.slice(0, 12)}). Review commit by commit; each message says what was wrong, what changed and why.`,
    '',
    '| Bug | Fix | State | Commit |',
    '| --- | --- | --- | --- |',
    ...outcomes.map((outcome) => {
      const sha = commitOf.get(outcome.patch.id);
      const state = outcome.state === 'unrecognised' ? `${STATE_TEXT.unrecognised} (${outcome.reason})` : STATE_TEXT[outcome.state];
      return `| ${fixLabel(outcome)} | ${cell(outcome.patch.title)} | ${cell(state)} | ${sha ? sha.slice(0, 12) : '—'} |`;
    }),
  ];

  const departures = outcomes.filter((outcome) => outcome.patch.departsFromReport && outcome.state !== 'not-applicable');
  if (departures.length > 0) {
    out.push('', '## Where the fixes depart from the report', '');
    for (const outcome of departures) out.push(`- **${fixLabel(outcome)} — ${outcome.patch.title}**: ${outcome.patch.departsFromReport}`);
  }

  const unrecognised = outcomes.filter((outcome) => outcome.state === 'unrecognised');
  const notes = result.plan.pending.filter((outcome) => outcome.notes.length > 0);
  if (unrecognised.length > 0 || notes.length > 0) {
    out.push('', '## Left for you', '');
    for (const outcome of unrecognised) out.push(`- ${fixLabel(outcome)} (${outcome.patch.title}) was not fixed: ${outcome.reason}`);
    for (const outcome of notes) for (const note of outcome.notes) out.push(`- ${fixLabel(outcome)}: ${note}`);
  }

  out.push('', '## How to verify', '', HOW_TO_VERIFY);
  out.push(
    '',
    `<sub>Re-running openclaw-fix with \`--apply --push --pr\` rebuilds \`${result.branch}\` from the current \`${result.baseBranch}\` and updates this pull request.</sub>`,
  );
  return `${out.join('\n')}\n`;
}

/**
 * The report's "How to Verify" checklist, corrected where it disagrees with the programs
 * (shared/upstream-facts.md): Smokescreen answers a denied destination with HTTP 407, not 403;
 * LiteLLM's budget is enforced from max_budget together with budget_duration.
 */
const HOW_TO_VERIFY = `After merging, run the playbook and check (the report's checklist, corrected):

\`\`\`bash
# 1. Egress container stays running (not restarting)
docker inspect openclaw-egress --format '{{.State.Status}}'
# Expected: running

# 2. Health check passes
docker inspect openclaw-egress --format '{{.State.Health.Status}}'
# Expected: healthy

# 3. Proxy traffic works (whitelisted domain)
docker exec openclaw curl -x http://openclaw-egress:4750 -I https://api.anthropic.com
# Expected: HTTP 200

# 4. Proxy traffic blocked (non-whitelisted domain)
docker exec openclaw curl -x http://openclaw-egress:4750 -I https://example.com
# Expected: HTTP 407 "Request rejected by proxy" (curl: CONNECT tunnel failed, response 407)

# 5. LiteLLM rate limits and budgets active
docker exec openclaw-litellm wget -qO- http://localhost:4000/model/info | python3 -m json.tool | grep -E 'rpm|max_budget|budget_duration'
# Expected: rpm, max_budget and budget_duration present per model

# 6. Full stack healthy
docker compose ps
# Expected: all 5 containers running (healthy)
\`\`\`

Corrected from the report: check 4 expected HTTP 403, but Smokescreen refuses a denied destination with **407**; check 5 now also looks for \`budget_duration\`, without which LiteLLM does not enforce \`max_budget\`.`;
