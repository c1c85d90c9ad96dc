/**
 * Parse once: each (path, content) is masked and parsed once; every fix, the engine's checks
 * and verify share that parse, so none of them may change it.
 */
import { isCollection, isDocument, visit, type Document } from 'yaml';
import { describe, expect, it } from 'vitest';
import { allPatches } from '../patches/index.js';
import { planFixes } from '../src/core/engine.js';
import { ParseMemo } from '../src/core/parse-cache.js';
import { parsedTemplates, parseYamlTemplate, YamlTemplateError } from '../src/toolkit/template-yaml.js';
import { ansibleData, parsedAnsibleData, parsedVarFiles, readVarFile } from '../src/model/render/vars.js';
import { verifyRepo } from '../src/verify/index.js';
import { parsedTaskLists, readTaskList } from '../src/model/compose-deploy.js';
import { fixtureFiles } from './helpers.js';

const YAML_FILE = /\.(ya?ml)(\.j2)?$/;

/** Freezes every node of the documents (and the documents): a write to one then throws. */
function deepFreeze(documents: readonly Document.Parsed[]): void {
  for (const doc of documents) {
    visit(doc, (_key, node) => {
      if (isCollection(node)) Object.freeze(node.items);
      if (Array.isArray((node as { range?: unknown }).range)) Object.freeze((node as { range: number[] }).range);
      Object.freeze(node);
    });
    if (isDocument(doc)) Object.freeze(doc);
  }
}

describe('the template parse cache', () => {
  it('parses a path and content once, again when the content changes, and repeats a parse error', () => {
    const text = 'services:\n  a: {{ x }}\n';
    const first = parseYamlTemplate('compose.yml.j2', text);
    expect(parseYamlTemplate('compose.yml.j2', `${text}`)).toBe(first);
    const changed = parseYamlTemplate('compose.yml.j2', `${text}  b: 1\n`);
    expect(changed).not.toBe(first);
    expect(Object.keys((changed.documents[0]?.toJS() as { services: object }).services)).toEqual(['a', 'b']);
    // Another path with the same bytes is another file: errors and reasons name the path.
    expect(parseYamlTemplate('other.yml.j2', text).path).toBe('other.yml.j2');
    const broken = (): unknown => parseYamlTemplate('broken.yml', 'a: [1\n');
    expect(broken).toThrow(YamlTemplateError);
    expect(broken).toThrow(/^broken\.yml:\d+: not valid YAML/);
  });

  it('keeps at most its bound of text parsed, dropping the least recently used', () => {
    let parses = 0;
    const memo = new ParseMemo<string>(10);
    const parse = (path: string, text: string): string => `${path}:${text}:${++parses}`;
    expect(memo.get('a', '1234', parse)).toBe('a:1234:1');
    expect(memo.get('b', '1234', parse)).toBe('b:1234:2');
    expect(memo.get('a', '1234', parse)).toBe('a:1234:1'); // a is now the most recent
    memo.get('c', '1234', parse); // 12 characters: b goes
    expect(memo.get('a', '1234', parse)).toBe('a:1234:1');
    expect(memo.get('b', '1234', parse)).toBe('b:1234:4');
    expect(memo.get('big', 'x'.repeat(11), parse)).toBe(`big:${'x'.repeat(11)}:5`); // larger than the bound: never kept
    expect(memo.get('big', 'x'.repeat(11), parse)).toBe(`big:${'x'.repeat(11)}:6`);
  });

  it('plans the fixture parsing each file version once, and no fix or verify changes a shared parse', async () => {
    const files = fixtureFiles();
    parsedTemplates.clear();
    // Frozen before any fix sees them: a fix, the engine or verify writing to a node would throw.
    for (const [path, text] of files) {
      if (!YAML_FILE.test(path)) continue;
      try {
        deepFreeze(parseYamlTemplate(path, text).documents);
      } catch (error) {
        if (!(error instanceof YamlTemplateError)) throw error;
      }
    }
    const frozen = parsedTemplates.stats().misses;
    const plan = planFixes(files, allPatches);
    expect(plan.pending.length).toBeGreaterThan(5);
    // Each later parse is of a version a fix wrote: at most one per file each fix changed.
    const written = plan.outcomes.reduce(
      (count, outcome) => count + outcome.files.filter((change) => YAML_FILE.test(change.path)).length,
      0,
    );
    const { hits, misses } = parsedTemplates.stats();
    expect(misses - frozen).toBeLessThanOrEqual(written);
    expect(hits).toBeGreaterThan(misses);
    for (const outcome of plan.outcomes)
      for (const change of outcome.files)
        if (YAML_FILE.test(change.path)) deepFreeze(parseYamlTemplate(change.path, change.after).documents);
    const report = await verifyRepo(plan.result, { goCheck: false });
    expect(report.checks.filter((check) => check.status === 'failed')).toEqual([]);
  });

  it('reads each variable, playbook and task file version once for every fix and check, and none of them changes what it read', async () => {
    const files = fixtureFiles();
    // A version of the repo no earlier case planned: the variables are read again for it, once per view of the files.
    files.set('group_vars/all/vars.yml', `${files.get('group_vars/all/vars.yml')}# read once\n`);
    parsedVarFiles.clear();
    parsedAnsibleData.clear();
    parsedTaskLists.clear();
    const deepFreezeData = (value: unknown): void => {
      if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
      Object.freeze(value);
      for (const item of Object.values(value)) deepFreezeData(item);
    };
    // Frozen before any fix sees them: a fix, the engine or verify writing to a variable's value would throw.
    for (const [path, text] of files) {
      if (!/\.ya?ml$/.test(path)) continue;
      const taskList = (): unknown => {
        const read = readTaskList(path, text);
        return 'items' in read ? read.items : undefined;
      };
      for (const read of [() => readVarFile(path, text)?.data, () => ansibleData(path, text), taskList]) {
        try {
          deepFreezeData(read());
        } catch {
          // not YAML we read: the run skips it too
        }
      }
    }
    const memos = [parsedVarFiles, parsedAnsibleData, parsedTaskLists];
    const frozen = memos.map((memo) => memo.stats());
    const plan = planFixes(files, allPatches);
    expect(plan.pending.length).toBeGreaterThan(5);
    // Each later parse is of a version a fix wrote: at most one per file each fix changed (each fix and check parsed them all again before).
    const written = plan.outcomes.reduce((count, outcome) => count + outcome.files.length, 0);
    memos.forEach((memo, index) => {
      const { hits, misses } = memo.stats();
      expect(misses - frozen[index]!.misses).toBeLessThanOrEqual(written);
      expect(hits - frozen[index]!.hits).toBeGreaterThan(0);
    });
    const report = await verifyRepo(plan.result, { goCheck: false });
    expect(report.checks.filter((check) => check.status === 'failed')).toEqual([]);
  });
});
