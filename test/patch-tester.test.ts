/** The PatchTester fails a fix that does not converge, or that changes more than its case says. */
import { describe, expect, it } from 'vitest';
import { bug7 } from '../patches/litellm-no-egress-dependency/litellm-no-egress-dependency.js';
import type { PatchModule } from '../src/core/types.js';
import { PatchTester } from './patch-tester.js';

const FILE = 'roles/x/templates/docker-compose.yml.j2';
const files = () =>
  new Map([
    [FILE, 'a: 1\n'],
    ['roles/x/templates/other.yml.j2', 'b: 1\n'],
  ]);

/** Appends a line every time it runs: it never says `fixed`. */
const restless: PatchModule = {
  ...bug7,
  files: ['**'],
  check: (repo) => ({ state: 'needs-fix', reason: 'more', edits: [{ path: FILE, start: 0, end: 0, text: '# again\n' }] }),
};

describe('PatchTester', () => {
  const tester = new PatchTester();

  it('fails an invalid case whose fix still has work on the second plan', async () => {
    await expect(tester.runInvalid(restless, { name: 'x', files, output: { [FILE]: '# again\na: 1\n' } })).rejects.toThrow();
  });

  it('fails an invalid case whose fix changes a file the case does not list', async () => {
    const both: PatchModule = {
      ...restless,
      check: (repo) =>
        repo.read(FILE)!.startsWith('#')
          ? { state: 'fixed', reason: 'done' }
          : {
              state: 'needs-fix',
              reason: 'r',
              edits: [
                { path: FILE, start: 0, end: 0, text: '#\n' },
                { path: 'roles/x/templates/other.yml.j2', start: 0, end: 0, text: '#\n' },
              ],
            },
    };
    await expect(tester.runInvalid(both, { name: 'x', files, output: { [FILE]: '#\na: 1\n' } })).rejects.toThrow(
      /the files the fix changes/,
    );
    await tester.runInvalid(both, { name: 'x', files, output: { [FILE]: '#\na: 1\n', 'roles/x/templates/other.yml.j2': '#\nb: 1\n' } });
  });

  it('fails a valid case whose fix changes something', () => {
    expect(() => tester.runValid(restless, { name: 'x', files })).toThrow();
  });
});
