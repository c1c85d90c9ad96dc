/** The shared edit helpers write in the file's own style and refuse what they cannot edit safely. */
import { isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import { describe, expect, it } from 'vitest';
import { applyEditsToText } from '../src/core/edits.js';
import { parseYamlTemplate, type ParsedTemplate } from '../src/toolkit/template-yaml.js';
import { appendToSeq, insertIntoMap, mapAt, quoteLike, removeFromMap, removeFromSeq, seqAt } from '../src/toolkit/yaml-edit.js';
import { UnrecognisedShape } from '../src/core/errors.js';

function root(text: string): { tpl: ParsedTemplate; map: YAMLMap } {
  const tpl = parseYamlTemplate('f.yml.j2', text);
  const map = tpl.documents[0]?.contents;
  if (!isMap(map)) throw new Error('not a map');
  return { tpl, map };
}

function seq(tpl: ParsedTemplate, map: YAMLMap, key: string): YAMLSeq {
  const found = seqAt(tpl, map, key);
  if (!isSeq(found)) throw new Error('not a seq');
  return found;
}

const apply = (tpl: ParsedTemplate, edit: { start: number; end: number; text: string; path: string }) =>
  applyEditsToText(tpl.path, tpl.text, [edit]);

describe('appendToSeq', () => {
  it('copies the dash indentation and quoting of a block list', () => {
    const { tpl, map } = root('tmpfs:\n    -   "/tmp:size=16M"   # scratch\nnext: 1\n');
    const list = seq(tpl, map, 'tmpfs');
    expect(apply(tpl, appendToSeq(tpl, list, [quoteLike(list.items[0] as never, '/run:size=8M')]))).toBe(
      'tmpfs:\n    -   "/tmp:size=16M"   # scratch\n    -   "/run:size=8M"\nnext: 1\n',
    );
  });

  it('quotes a value beside plain items when plain YAML would read it as a number, boolean or mapping', () => {
    const { tpl, map } = root('cmd: [nc, -z]\n');
    const plainSample = seq(tpl, map, 'cmd').items[0] as never;
    expect(['4750', 'true', 'on', 'a: b', '127.0.0.1', '{{ port }}'].map((value) => quoteLike(plainSample, value))).toEqual([
      '"4750"',
      '"true"',
      '"on"',
      '"a: b"',
      '127.0.0.1',
      '{{ port }}',
    ]);
  });

  it('appends to a one-line flow list and to a multi-line one', () => {
    const one = root('cmd: ["a", "b"]\n');
    expect(apply(one.tpl, appendToSeq(one.tpl, seq(one.tpl, one.map, 'cmd'), ['"c"']))).toBe('cmd: ["a", "b", "c"]\n');
    const multi = root('cmd: [\n  a,\n  b\n]\n');
    expect(apply(multi.tpl, appendToSeq(multi.tpl, seq(multi.tpl, multi.map, 'cmd'), ['c']))).toBe('cmd: [\n  a,\n  b,\n  c\n]\n');
  });

  it('keeps CRLF and adds a line ending when the list ends the file without one', () => {
    const { tpl, map } = root('tmpfs:\r\n  - /tmp');
    expect(apply(tpl, appendToSeq(tpl, seq(tpl, map, 'tmpfs'), ['/run']))).toBe('tmpfs:\r\n  - /tmp\r\n  - /run');
  });

  it('refuses a list built by a Jinja loop', () => {
    const { tpl, map } = root('domains:\n{% for d in ds %}\n  - "{{ d }}"\n{% endfor %}\n  - x\n');
    expect(() => appendToSeq(tpl, seq(tpl, map, 'domains'), ['y'])).toThrow(UnrecognisedShape);
  });
});

describe('insertIntoMap', () => {
  it('inserts after a named key at the mapping column, with nested lines', () => {
    const { tpl, map } = root('svc:\n    image: x\n    read_only: true\n    ports: []\n');
    const svc = mapAt(tpl, map, 'svc')!;
    expect(apply(tpl, insertIntoMap(tpl, svc, ['tmpfs:', '    - /run'], 'read_only'))).toBe(
      'svc:\n    image: x\n    read_only: true\n    tmpfs:\n        - /run\n    ports: []\n',
    );
  });

  it('inserts into a flow mapping', () => {
    const { tpl, map } = root('net: {driver: bridge}\n');
    expect(apply(tpl, insertIntoMap(tpl, mapAt(tpl, map, 'net')!, ['internal: true']))).toBe('net: {driver: bridge, internal: true}\n');
  });
});

describe('removal', () => {
  it('removes a map entry with its nested lines and its own trailing comment, keeping comments around it', () => {
    const { tpl, map } = root('deps:\n  # why we wait\n  a:\n    condition: x   # note\n  b:\n    condition: y\n');
    expect(apply(tpl, removeFromMap(tpl, mapAt(tpl, map, 'deps')!, 'a'))).toBe('deps:\n  # why we wait\n  b:\n    condition: y\n');
  });

  it('removes from flow and block lists', () => {
    const flow = root('deps: [a, b, c]\n');
    expect(apply(flow.tpl, removeFromSeq(flow.tpl, seq(flow.tpl, flow.map, 'deps'), 1))).toBe('deps: [a, c]\n');
    expect(apply(flow.tpl, removeFromSeq(flow.tpl, seq(flow.tpl, flow.map, 'deps'), 2))).toBe('deps: [a, b]\n');
    const block = root('deps:\n  - a\n  - b\n');
    expect(apply(block.tpl, removeFromSeq(block.tpl, seq(block.tpl, block.map, 'deps'), 0))).toBe('deps:\n  - b\n');
  });
});
