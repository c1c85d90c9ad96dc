/**
 * Bug 8: on a first run the config role's templates notify handlers that restart compose
 * services before the deploy role has created any container, and `docker compose restart`
 * of a service without a container aborts the play. Every such handler first checks that the
 * service has a container and acts only then; a failing restart of an existing one still fails.
 */
import { isScalar, type Node as YamlNode, type Pair } from 'yaml';
import { columnAt, eolOf, indentStepOf, lineEndAt } from '../../src/toolkit/text.js';
import type { CheckResult, PatchModule, TextEdit } from '../../src/core/types.js';
import { endOfNodeLines, pairOf, removeFromMap, where } from '../../src/toolkit/yaml-edit.js';
import { readTaskFile, taskCommand, tasksOf, type Task, type TaskCommand } from '../../src/toolkit/tasks.js';
import { commandWords, shellCommands, type ShellCommand, type ShellWord } from '../../src/toolkit/shell.js';
import { UnrecognisedShape } from '../../src/core/errors.js';

/**
 * Handler files of every role (and of playbook folders), at any depth: the handlers that act on
 * containers are found by their commands, whatever the role is called (`openclaw-config` in the
 * report). A handler of any role can be notified before the stack's containers exist.
 */
const HANDLER_GLOBS = ['**/handlers/**/*.{yml,yaml}'];

/** Compose subcommands that need the service's container to exist already. */
const ACTS_ON_CONTAINER = new Set(['restart', 'stop', 'start', 'kill', 'pause', 'unpause', 'exec']);
/** Global `docker compose` options that take a value (`-f file`, `--project-name x`). */
const COMPOSE_GLOBAL_VALUE_OPTIONS = new Set([
  '-f',
  '--file',
  '-p',
  '--project-name',
  '--env-file',
  '--profile',
  '--project-directory',
  '--ansi',
  '--progress',
  '--parallel',
]);
/** Subcommand options that take a value (`restart -t 10`, `exec -u root svc`, `kill -s SIGHUP`). */
const SUBCOMMAND_VALUE_OPTIONS = new Set([
  '-t',
  '--timeout',
  '--time',
  '-s',
  '--signal',
  '-u',
  '--user',
  '-w',
  '--workdir',
  '-e',
  '--env',
  '--index',
  '--env-file',
]);

/** One command of a handler that acts on existing containers. */
interface ContainerAction {
  readonly verb: string;
  /** `docker compose -f x.yml` (the words before the verb), or `docker` for a plain docker command. */
  readonly prefix: string;
  readonly compose: boolean;
  /** Service (compose) or container (plain docker) names as written; empty for "every service". */
  readonly targets: readonly string[];
}

function optionEnd(words: readonly ShellWord[], from: number, valueOptions: ReadonlySet<string>): number {
  let i = from;
  while (i < words.length && (words[i]?.value ?? '').startsWith('-')) {
    const value = words[i]?.value ?? '';
    i += !value.includes('=') && valueOptions.has(value) ? 2 : 1;
  }
  return i;
}

/** What a simple command does to containers, if it is a compose or docker command that needs one to exist. */
function containerAction(text: string, command: ShellCommand): ContainerAction | 'existence-check' | undefined {
  const words = commandWords(command);
  const first = words[0]?.value;
  let verbAt: number;
  let compose: boolean;
  if (first === 'docker-compose' || (first === 'docker' && words[1]?.value === 'compose')) {
    compose = true;
    verbAt = optionEnd(words, first === 'docker' ? 2 : 1, COMPOSE_GLOBAL_VALUE_OPTIONS);
  } else if (first === 'docker') {
    compose = false;
    verbAt = words[1]?.value === 'container' ? 2 : 1;
  } else return undefined;
  const verb = words[verbAt]?.value ?? '';
  if (verb === 'ps' || verb === 'ls' || verb === 'inspect') return 'existence-check';
  if (!ACTS_ON_CONTAINER.has(verb)) return undefined;
  const start = optionEnd(words, verbAt + 1, SUBCOMMAND_VALUE_OPTIONS);
  const rest = words.slice(start).map((word) => word.source);
  // exec runs a command in ONE service's container: only the first word after the options is a service.
  const targets = verb === 'exec' ? rest.slice(0, 1) : rest;
  if (!compose && targets.length === 0) return undefined;
  const prefix = text.slice((words[0] as ShellWord).start, (words[verbAt] as ShellWord).start).trimEnd();
  return { verb, prefix, compose, targets };
}

/** True for `failed_when: false` and `ignore_errors: true`: they hide a failing restart of an existing container too. */
function hidingKeys(task: Task): string[] {
  const falsy = /^(false|no|False|FALSE|No|NO|off)$/;
  const truthy = /^(true|yes|True|TRUE|Yes|YES|on)$/;
  const source = (key: string): string | undefined => {
    const pair = pairOf(task.map, key);
    return pair && isScalar(pair.value) ? String(pair.value.source ?? pair.value.value) : undefined;
  };
  return [
    ...(falsy.test(source('failed_when') ?? '') ? ['failed_when'] : []),
    ...(truthy.test(source('ignore_errors') ?? '') ? ['ignore_errors'] : []),
  ];
}

interface HandlerFinding {
  readonly task: Task;
  readonly command: TaskCommand;
  readonly actions: readonly ContainerAction[];
  readonly guarded: boolean;
  readonly hiding: readonly string[];
}

function analyse(task: Task, existenceRegisters: ReadonlySet<string>): HandlerFinding | undefined {
  if (task.shortModule !== 'command' && task.shortModule !== 'shell') return undefined;
  const command = taskCommand(task);
  if (!command) {
    throw new UnrecognisedShape(`handler '${task.name ?? '?'}' at ${where(task.file.tpl, task.map)} runs a command I cannot read`);
  }
  const actions: ContainerAction[] = [];
  let checkedBefore = false;
  for (const simple of shellCommands(command.text)) {
    const action = containerAction(command.text, simple);
    if (action === 'existence-check') {
      if (actions.length === 0) checkedBefore = true;
    } else if (action) actions.push(action);
  }
  if (actions.length === 0) return undefined;
  const when = pairOf(task.map, 'when');
  const whenSource = when?.value ? task.file.tpl.text.slice(when.value.range?.[0] ?? 0, when.value.range?.[1] ?? 0) : '';
  const guardedByWhen = [...existenceRegisters].some((name) => new RegExp(`\\b${name}\\b`).test(whenSource));
  return { task, command, actions, guarded: checkedBefore || guardedByWhen, hiding: hidingKeys(task) };
}

/** Variables registered by tasks of the file that only look containers up (`docker compose ps`, `docker inspect`). */
function existenceRegistersOf(tasks: readonly Task[]): Set<string> {
  const names = new Set<string>();
  for (const task of tasks) {
    const register = pairOf(task.map, 'register')?.value;
    if (!isScalar(register) || (task.shortModule !== 'command' && task.shortModule !== 'shell')) continue;
    const command = taskCommand(task);
    if (!command) continue;
    const kinds = shellCommands(command.text).map((simple) => containerAction(command.text, simple));
    if (kinds.includes('existence-check') && !kinds.some((kind) => typeof kind === 'object')) names.add(String(register.value));
  }
  return names;
}

/** The shell lines of the guarded handler: look the containers up, act only when there are some. */
function guardedScript(finding: HandlerFinding): string[] {
  const first = finding.actions[0] as ContainerAction;
  if (finding.actions.some((action) => action.prefix !== first.prefix || action.compose !== first.compose)) {
    throw new UnrecognisedShape(
      `handler '${finding.task.name ?? '?'}' at ${where(finding.task.file.tpl, finding.task.map)} runs docker commands with different options`,
    );
  }
  const targets = [...new Set(finding.actions.flatMap((action) => action.targets))];
  if (/<</.test(finding.command.text)) {
    throw new UnrecognisedShape(
      `handler '${finding.task.name ?? '?'}' at ${where(finding.task.file.tpl, finding.task.map)} uses a here-document`,
    );
  }
  // A plain docker target goes into a single-quoted --filter, where the shell would no longer expand it.
  const expanded = first.compose ? undefined : targets.find((target) => /[$`]/.test(target.replace(/\{\{[\s\S]*?\}\}/g, '')));
  if (expanded !== undefined) {
    throw new UnrecognisedShape(
      `handler '${finding.task.name ?? '?'}' at ${where(finding.task.file.tpl, finding.task.map)} names its container by the shell expansion ${expanded}, which cannot be resolved statically`,
    );
  }
  const lookup = first.compose
    ? `${first.prefix} ps --all --quiet${targets.map((target) => ` ${target}`).join('')}`
    : `docker ps --all --quiet${targets.map((target) => ` --filter 'name=^${target.replace(/^['"]|['"]$/g, '')}$'`).join('')}`;
  const verbs = [...new Set(finding.actions.map((action) => action.verb))].join('/');
  const body = finding.command.text.replace(/\s+$/, '').split(/\r?\n/);
  return [
    `# No container yet on a first run (the deploy role creates it): nothing to ${verbs}.`,
    `existing="$(${lookup})" || exit 1`,
    'if [ -n "$existing" ]; then',
    ...body.map((line) => (line.trim() === '' ? '' : `  ${line}`)),
    'fi',
  ];
}

function fixHandler(finding: HandlerFinding): { edits: TextEdit[]; change: string } {
  const { task, command } = finding;
  const { tpl } = task.file;
  const eol = eolOf(tpl.text);
  const step = indentStepOf(tpl.text);
  const edits: TextEdit[] = finding.hiding.map((key) => removeFromMap(tpl, task.map, key));
  const what =
    finding.hiding.length > 0
      ? `dropped ${finding.hiding.map((key) => `${key}: ${key === 'failed_when' ? 'false' : 'true'}`).join(', ')}`
      : '';
  if (finding.guarded) return { edits, change: `${tpl.path}: handler '${task.name ?? '?'}': ${what}` };

  // An argv word becomes shell text here; a quote in it (maybe inside Jinja) needs quoting this fix does not write.
  const quoted = command.argv?.find((word) => word.includes("'"));
  if (quoted !== undefined)
    throw new UnrecognisedShape(
      `handler '${task.name ?? '?'}' at ${where(tpl, task.map)}: argv word ${JSON.stringify(quoted)} needs shell quoting I do not write`,
    );
  const script = guardedScript(finding);
  const shellKey = `${task.module?.slice(0, task.module.length - (task.shortModule?.length ?? 0)) ?? ''}shell`;
  const blockAt = (column: number): string => script.map((line) => (line === '' ? '' : ' '.repeat(column + step) + line)).join(eol) + eol;
  const columnOf = (node: YamlNode): number => columnAt(tpl.text, node.range?.[0] ?? 0);

  // A comment after a one-line command stays, on the block scalar's header line.
  const holderValue = command.holder.value;
  const afterValue = holderValue?.range ? tpl.text.slice(holderValue.range[1], lineEndAt(tpl.text, holderValue.range[1])) : '';
  const header = `|${/^\s+#/.test(afterValue) && !tpl.text.slice(holderValue?.range?.[0] ?? 0, holderValue?.range?.[1] ?? 0).includes('\n') ? `  ${afterValue.trim()}` : ''}`;
  const replaceToLineEnd = (start: number, pair: Pair, key: string, column: number): TextEdit => {
    const end = endOfNodeLines(tpl, pair);
    const text = `${key}: ${header}${eol}${blockAt(column)}`;
    // A handler at the end of a file without a final newline keeps it that way.
    return { path: tpl.path, start, end, text: end === tpl.text.length && !tpl.text.endsWith('\n') ? text.slice(0, -eol.length) : text };
  };

  const moduleKey = command.modulePair.key;
  if (command.form === 'free') {
    edits.push(replaceToLineEnd(moduleKey.range?.[0] ?? 0, command.modulePair, shellKey, columnOf(moduleKey)));
  } else {
    if (task.shortModule !== 'shell') {
      const [start, end] = moduleKey.range ?? [0, 0];
      edits.push({ path: tpl.path, start, end, text: shellKey });
    }
    const holderKey = command.holder.key;
    edits.push(replaceToLineEnd(holderKey.range?.[0] ?? 0, command.holder, 'cmd', columnOf(holderKey)));
  }
  const verbs = [...new Set(finding.actions.map((action) => action.verb))].join('/');
  return {
    edits,
    change: `${tpl.path}: handler '${task.name ?? '?'}' ${verbs}s only a container that exists${what ? `; ${what}` : ''}`,
  };
}

export const bug8: PatchModule = {
  id: 'handlers-first-run-safe',
  bug: 8,
  priority: 8,
  scope: 'handlers',
  files: HANDLER_GLOBS,
  home: import.meta.url,

  check(repo): CheckResult {
    const all = repo.glob(...HANDLER_GLOBS);
    if (all.length === 0) return { state: 'not-applicable', reason: 'the repo has no handlers file' };
    // Only files that may run docker (or a command) are parsed: a broken handlers file of an unrelated role is not this fix's to read.
    const paths = all.filter((path) => /\bdocker\b|docker-compose|\b(command|shell)\s*:/.test(repo.read(path) ?? ''));
    const edits: TextEdit[] = [];
    const changes: string[] = [];
    const problems: string[] = [];
    let checked = 0;
    for (const path of paths) {
      const file = readTaskFile(path, repo.read(path) ?? '');
      const tasks = tasksOf(file);
      const registers = existenceRegistersOf(tasks);
      for (const task of tasks) {
        const finding = analyse(task, registers);
        if (!finding) continue;
        checked++;
        if (finding.guarded && finding.hiding.length === 0) continue;
        const fix = fixHandler(finding);
        edits.push(...fix.edits);
        changes.push(fix.change);
        problems.push(
          finding.guarded
            ? `handler '${task.name ?? '?'}' at ${where(file.tpl, task.map)} hides every failure with ${finding.hiding.join(', ')}`
            : `handler '${task.name ?? '?'}' at ${where(file.tpl, task.map)} ${finding.actions[0]?.verb}s a container that does not exist on a first run${finding.hiding.length > 0 ? ` (and ${finding.hiding.join(', ')} hides every failure)` : ''}`,
        );
      }
    }
    if (edits.length === 0) {
      return {
        state: 'fixed',
        reason:
          checked === 0
            ? 'no handler acts on an existing container'
            : `all ${checked} handlers that act on containers check that the container exists (${paths.join(', ')})`,
      };
    }
    return {
      state: 'needs-fix',
      reason: problems.length > 1 ? `${problems[0]}; ${problems.length - 1} more` : (problems[0] ?? ''),
      edits,
      changes,
    };
  },
};
