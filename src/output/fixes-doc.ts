/**
 * docs/fixes.md is generated from each fix's own prose (patches/<id>/<id>.md) and metadata, in
 * apply order, so the page cannot drift from what the tool does: `npm run docs` rewrites it,
 * and a test fails when it is stale.
 */
import { subjectOf } from './commit-message.js';
import type { Patch } from '../core/types.js';

const HEADER = `# The fixes, and where they depart from the report

<!-- Generated from patches/<id>/<id>.md by \`npm run docs\`; edit those, not this page. -->

openclaw-fix applies one commit per fix, in the report's priority order (bugs 2, 1, 3, 5, 4, 6,
7, 8, 9), then the fixes beyond the report. The specification is the audit
(\`deployment-bug-report.md\`); where it disagrees with the facts checked against the upstream
programs (\`upstream-facts.md\`), the fix follows the fact, and the section below says so.

| order | bug | id | commit subject |
| --- | --- | --- | --- |
`;

export function fixesDocument(patches: readonly Patch[]): string {
  const table = patches
    .map((patch) => `| ${patch.priority} | ${patch.bug ?? 'beyond the report'} | \`${patch.id}\` | ${subjectOf(patch)} |`)
    .join('\n');
  const sections = patches.map((patch) => {
    const lines = [
      `## ${patch.bug === null ? 'Beyond the report' : `Bug ${patch.bug}`}: ${patch.title}`,
      '',
      `\`${patch.id}\` · commit \`${subjectOf(patch)}\``,
      '',
      `**What is wrong.** ${patch.problem}`,
      '',
      `**The fix.** ${patch.why}`,
      '',
      `**Departs from the report.** ${patch.departsFromReport ?? 'No: the fix follows the report.'}`,
    ];
    if (patch.details) lines.push('', patch.details.trim());
    lines.push('', `Files it reads: ${patch.files.map((glob) => `\`${glob}\``).join(', ')}`);
    if (patch.scripts?.length) lines.push('', `Shell scripts it reads: ${patch.scripts.map((glob) => `\`${glob}\``).join(', ')}`);
    return lines.join('\n');
  });
  return `${HEADER}${table}\n\n${sections.join('\n\n')}\n`;
}
