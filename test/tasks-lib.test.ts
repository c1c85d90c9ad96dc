/** The task-file helpers insert and replace whole tasks in the file's own style. */
import { describe, expect, it } from 'vitest';
import { fqcnStyle, insertTasksAfter, moduleKey, readTaskFile, replaceTaskRun, taskCommand, tasksOf } from '../src/toolkit/tasks.js';
import { shellCommands } from '../src/toolkit/shell.js';
import { applyEditsToText } from '../src/core/edits.js';
import { parseYamlTemplate } from '../src/toolkit/template-yaml.js';

const NEW_TASK = [
  '- name: Pull image',
  '  community.docker.docker_image:',
  '    name: alpine',
  '    source: pull',
  '  loop:',
  '    - a',
  '  block:',
  '    - name: inner',
  '      ansible.builtin.copy:',
  '        content: |',
  '          line one',
  '            indented',
  '        dest: /x',
];

function apply(path: string, text: string, edit: { path: string; start: number; end: number; text: string }): string {
  const result = applyEditsToText(path, text, [edit]);
  parseYamlTemplate(path, result); // still parses
  return result;
}

describe('tasksOf', () => {
  it('finds tasks inside blocks with their module in either naming style', () => {
    const file = readTaskFile(
      't.yml',
      '- name: a\n  command: x\n- name: b\n  when: y\n  block:\n    - name: c\n      ansible.builtin.shell: z\n  always:\n    - name: d\n      ansible.builtin.file: {path: p, state: absent}\n',
    );
    expect(tasksOf(file).map((task) => [task.name, task.shortModule, task.section, task.parent?.name])).toEqual([
      ['a', 'command', 'tasks', undefined],
      ['b', undefined, 'tasks', undefined],
      ['c', 'shell', 'block', 'b'],
      ['d', 'file', 'always', 'b'],
    ]);
    expect(fqcnStyle(file)).toBe(true);
    expect(moduleKey(readTaskFile('t.yml', '- command: x\n- copy: {}\n'), 'copy')).toBe('copy');
  });
});

describe('inserting tasks', () => {
  it('converts a 2-space task to a 4-space file at the anchor column, blank line separated', () => {
    const text =
      '---\n-   name: first\n    block:\n        - name: a\n          command: x\n\n        - name: b\n          command: y\n# end\n';
    const file = readTaskFile('t.yml', text);
    const a = tasksOf(file).find((task) => task.name === 'a')!;
    const result = apply('t.yml', text, insertTasksAfter(a, [NEW_TASK]));
    expect(result).toBe(
      '---\n-   name: first\n    block:\n        - name: a\n          command: x\n\n' +
        '        - name: Pull image\n          community.docker.docker_image:\n              name: alpine\n              source: pull\n          loop:\n              - a\n          block:\n              - name: inner\n                ansible.builtin.copy:\n                    content: |\n                        line one\n                          indented\n                    dest: /x\n' +
        '\n        - name: b\n          command: y\n# end\n',
    );
  });

  it('keeps CRLF, and replaces a task at the end of a file without final newline', () => {
    const text = '- name: a\r\n  command: x\r\n# about b\r\n- name: b\r\n  command: y';
    const file = readTaskFile('t.yml', text);
    const [a, b] = tasksOf(file);
    expect(apply('t.yml', text, replaceTaskRun(b!, b!, [['- name: n', '  command: z']]))).toBe(
      '- name: a\r\n  command: x\r\n# about b\r\n- name: n\r\n  command: z',
    );
    expect(apply('t.yml', text, insertTasksAfter(b!, [['- name: n', '  command: z']]))).toBe(text + '\r\n- name: n\r\n  command: z\r\n');
    expect(a?.name).toBe('a');
  });

  it('handles a task whose dash line carries a comment and keeps that comment when replacing it', () => {
    const text = '- name: a\n  command: x\n- # why b runs\n  name: b\n  command: y\n';
    const file = readTaskFile('t.yml', text);
    const [a, b] = tasksOf(file);
    expect(apply('t.yml', text, insertTasksAfter(a!, [['- name: n', '  command: z']]))).toBe(
      '- name: a\n  command: x\n- name: n\n  command: z\n- # why b runs\n  name: b\n  command: y\n',
    );
    expect(apply('t.yml', text, replaceTaskRun(b!, b!, [['- name: n', '  command: z']]))).toBe(
      '- name: a\n  command: x\n# why b runs\n- name: n\n  command: z\n',
    );
  });
});

describe('taskCommand', () => {
  it('reads every form Ansible accepts as the words the shell gets: free form (folded), cmd and argv, under the module or args', () => {
    const text = [
      '- ansible.builtin.command: >',
      '    docker exec openclaw openclaw config set',
      '    k "{{ value }}"',
      '- shell:',
      '    cmd: "docker compose restart \\"{{ svc }}\\""',
      '- command:',
      '  args:',
      '    argv: [docker, run, "it\'s here", "{{ image }}"]',
      '- ansible.builtin.copy: {dest: /x}',
      '- ansible.builtin.command:',
      '    chdir: /opt',
    ].join('\n');
    const commands = tasksOf(readTaskFile('t.yml', text)).map(taskCommand);
    const words = commands.map((command) => command && shellCommands(command.text).map((simple) => simple.words.map((word) => word.value)));
    expect(commands.map((command) => command?.form)).toEqual(['free', 'cmd', 'argv', undefined, undefined]);
    expect(words).toEqual([
      [['docker', 'exec', 'openclaw', 'openclaw', 'config', 'set', 'k', '{{ value }}']],
      [['docker', 'compose', 'restart', '{{ svc }}']],
      [['docker', 'run', "it's here", '{{ image }}']],
      undefined,
      undefined,
    ]);
    expect(commands[2]?.argv).toEqual(['docker', 'run', "it's here", '{{ image }}']);
    expect(commands[2]?.holder.key.value).toBe('argv');
  });
});
