/**
 * The engine keeps every byte outside the edited spans: Jinja masking keeps offsets, edits apply
 * in order and never overlap. (That a fix keeps comments, CRLF and a missing final newline is in
 * each fix's own table, e.g. patches/litellm-no-egress-dependency/litellm-no-egress-dependency.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { applyEditsToText, EditConflictError } from '../src/core/edits.js';
import { maskJinja, scanJinja } from '../src/toolkit/jinja-mask.js';
import { parseYamlTemplate, YamlTemplateError } from '../src/toolkit/template-yaml.js';
import { COMMENTED_COMPOSE_TEMPLATE } from './compose-template.js';

const COMPOSE = COMMENTED_COMPOSE_TEMPLATE;

describe('Jinja masking', () => {
  it('keeps every offset and newline, and reads {{ "{{" }} escapes as one expression', () => {
    const spans = scanJinja(COMPOSE);
    const masked = maskJinja(COMPOSE, spans);
    expect(masked.length).toBe(COMPOSE.length);
    expect(masked.split('\n').length).toBe(COMPOSE.split('\n').length);
    expect(spans.filter((span) => span.body === "'{{'")).toHaveLength(1);
    expect(masked).not.toMatch(/[{}]{2}|\{%|%\}/);
  });

  it('turns block tags alone on a line into blank lines so loops parse', () => {
    const text = 'items:\n{% for x in xs %}\n  - "{{ x }}"\n{% endfor %}\n';
    const tpl = parseYamlTemplate('t.yml.j2', text);
    const blank = (tag: string) => ' '.repeat(tag.length);
    expect(tpl.masked).toBe(`items:\n${blank('{% for x in xs %}')}\n  - "_______"\n${blank('{% endfor %}')}\n`);
    expect(tpl.documents[0]?.toJS()).toEqual({ items: ['_______'] });
  });

  it('keeps the indentation of a multi-line expression inside a block scalar', () => {
    const text = "fact:\n  files: >-\n    {{ ['a']\n       + ['b'] }}\nnext: 1\n";
    const tpl = parseYamlTemplate('tasks.yml', text);
    expect(tpl.masked.split('\n')[3]).toMatch(/^ {7}_+$/);
    expect(Object.keys(tpl.documents[0]?.toJS() as object)).toEqual(['fact', 'next']);
  });

  it('names the file and line of an unclosed or unbalanced tag', () => {
    expect(() => parseYamlTemplate('a.yml.j2', 'a: 1\nb: {{ x\n')).toThrow(
      new YamlTemplateError('a.yml.j2', 2, "unclosed Jinja expression '{{'"),
    );
    expect(() => parseYamlTemplate('a.yml.j2', 'a: 1\n{% if x %}\nb: 2\n')).toThrow(/a\.yml\.j2:2: '\{% if %\}' is never closed/);
    expect(() => parseYamlTemplate('a.yml.j2', 'a: 1\n{% endfor %}\n')).toThrow(/a\.yml\.j2:2: .*without an opening tag/);
  });

  it('names the file and line of malformed YAML', () => {
    expect(() => parseYamlTemplate('b.yml', 'a:\n  - x\n y: [\n')).toThrow(/^b\.yml:\d+: not valid YAML/);
  });
});

describe('edit application', () => {
  it('refuses overlapping edits', () => {
    expect(() =>
      applyEditsToText('f', 'abcdef', [
        { path: 'f', start: 1, end: 4, text: 'X' },
        { path: 'f', start: 3, end: 5, text: 'Y' },
      ]),
    ).toThrow(EditConflictError);
  });

  it('applies edits in offset order whatever order they come in', () => {
    expect(
      applyEditsToText('f', 'abcdef', [
        { path: 'f', start: 4, end: 5, text: 'E' },
        { path: 'f', start: 0, end: 1, text: 'A' },
        { path: 'f', start: 2, end: 2, text: '+' },
      ]),
    ).toBe('Ab+cdEf');
  });
});
