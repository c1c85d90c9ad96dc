/** The commit message of one fix: what was wrong, what changed, why, where it departs from the report. */
import type { FixOutcome } from '../core/engine.js';
import type { Patch } from '../core/types.js';

/** Trailer that marks a commit as openclaw-fix's own: a re-run may rebuild a branch made only of these. */
export const TRAILER = 'Openclaw-Fix';

export function subjectOf(patch: Patch): string {
  const origin = patch.bug === null ? 'beyond the report' : `bug ${patch.bug}`;
  return `fix(${patch.scope}): ${patch.title} (${origin})`;
}

export function commitMessage(outcome: FixOutcome): string {
  const { patch } = outcome;
  const sections = [subjectOf(patch), `What was wrong: ${patch.problem}`];
  if (outcome.changes.length > 0) sections.push(['What changed:', ...outcome.changes.map((change) => `- ${change}`)].join('\n'));
  sections.push(`Why: ${patch.why}`);
  if (patch.departsFromReport) sections.push(`Departs from the report: ${patch.departsFromReport}`);
  if (outcome.notes.length > 0) sections.push(['Still to do by hand:', ...outcome.notes.map((note) => `- ${note}`)].join('\n'));
  sections.push(`${TRAILER}: ${patch.id}`);
  return sections.join('\n\n') + '\n';
}
