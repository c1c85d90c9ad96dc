/**
 * One error for a file a fix cannot read (src/core/errors.ts): the same defect says the same thing
 * whichever reader meets it, and stops only the fixes that read that file.
 */
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { errorLine } from '../src/cli.js';
import { planFixes } from '../src/core/engine.js';
import { UnrecognisedShape, UserError } from '../src/core/errors.js';
import { FIXTURE_REPO, readTree } from './helpers.js';

const COMPOSE = 'roles/openclaw-config/templates/docker-compose.yml.j2';
const DOCKERFILE = 'roles/openclaw-config/templates/Dockerfile.smokescreen.j2';

/** The fixture with `{% if unclosed_flag %}` put before the first line matching `before` of `path`. */
function withUnclosedIf(path: string, before: RegExp): Map<string, string> {
  const files = readTree(FIXTURE_REPO);
  const text = files.get(path)!;
  const at = text.search(before);
  expect(at).toBeGreaterThanOrEqual(0);
  files.set(path, `${text.slice(0, at)}{% if unclosed_flag %}\n${text.slice(at)}`);
  return files;
}

describe('an unclosed {% if %} means the same in every template', () => {
  it('in the Compose template and in the Dockerfile: "cannot parse <file>:<line>", only for the fixes that read it', () => {
    const clean = planFixes(readTree(FIXTURE_REPO), allPatches);
    for (const [path, before] of [
      [COMPOSE, /^services:/m],
      [DOCKERFILE, /^FROM /m],
    ] as const) {
      const plan = planFixes(withUnclosedIf(path, before), allPatches);
      const stopped = plan.outcomes.filter((outcome) => outcome.state === 'unrecognised');
      expect(stopped.length, path).toBeGreaterThan(0);
      for (const outcome of stopped) {
        expect(outcome.reason, `${outcome.patch.id} on ${path}`).toMatch(
          new RegExp(`^cannot parse ${path.replace(/\./g, '\\.')}:\\d+: '\\{% if %\\}' is never closed$`),
        );
        expect(outcome.patch.files.some((glob) => glob.includes('templates'))).toBe(true);
      }
      // Every other fix comes out as it does on the intact fixture.
      for (const outcome of plan.outcomes.filter((o) => o.state !== 'unrecognised')) {
        expect(outcome.state, `${outcome.patch.id} on ${path}`).toBe(clean.outcomes.find((o) => o.patch.id === outcome.patch.id)?.state);
      }
    }
  });
});

describe('errors that end the run', () => {
  it('print their own message; any other exception is an internal error', () => {
    expect(errorLine(new UserError('the work tree has uncommitted changes'))).toBe('the work tree has uncommitted changes');
    expect(errorLine(new UnrecognisedShape('x.yml:3: not a list'))).toBe('x.yml:3: not a list');
    expect(errorLine(new TypeError('boom'), 'planning the fixes')).toMatch(/^internal error while planning the fixes: boom/);
  });
});
