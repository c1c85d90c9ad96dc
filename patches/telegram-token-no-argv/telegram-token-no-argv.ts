/**
 * Bug 6: the openclaw-integrate role sets the Telegram bot token with
 * `docker exec openclaw openclaw config set … "{{ telegram_bot_token }}"`, so the token sits in
 * the argv of processes on the host (and in the container) for anyone running `ps`. Replace the
 * task with one that hands OpenClaw a file (`channels.telegram.tokenFile`): the token travels
 * through a private host temp file and docker exec's stdin, never through a command line.
 */
import { isMap, isScalar, type Node as YamlNode, type YAMLMap } from 'yaml';
import { sourceOf, hasJinja, type ParsedTemplate } from '../../src/toolkit/template-yaml.js';
import type { CheckResult, PatchModule, RepoView, TextEdit } from '../../src/core/types.js';
import { escapeRegExp, locate, unquote } from '../../src/toolkit/text.js';
import { entryLines, insertIntoMap, pairOf, seqAt, where } from '../../src/toolkit/yaml-edit.js';
import { COMPOSE_TEMPLATE_GLOBS, composeDefining, composeFiles, type ComposeFile } from '../../src/model/compose-templates.js';
import { staticRenderer, VARIABLE_GLOBS } from '../../src/model/render/render.js';
import { ROUTE_GLOBS, ROUTE_SCRIPT_GLOBS, secretRoutes } from '../../src/model/secret-routes.js';
import { varDefinitions } from '../../src/model/telegram.js';
import { dockerExecOf, shellCommands, type DockerExec } from '../../src/toolkit/shell.js';
import {
  moduleKey,
  parameterText,
  readTaskFile,
  replaceTaskRun,
  taskCommand,
  tasksOf,
  tasksSeparatedByBlankLines,
  type Task,
  type TaskCommand,
  type TaskFile,
} from '../../src/toolkit/tasks.js';
import { UnrecognisedShape } from '../../src/core/errors.js';

/**
 * Task files of any role or playbook folder: the task that sets the token is found by what it
 * does, whatever the role is called (`openclaw-integrate` in the report, `channels`, `telegram` …).
 */
const TASK_FILE_GLOBS = ['**/tasks/**/*.{yml,yaml}'];
/** Playbooks, whose plays may set the token in their own `tasks:` (not edited here: reported). */
const PLAYBOOK_GLOBS = ['**/playbook*.{yml,yaml}', '**/*.playbook.{yml,yaml}', '**/playbooks/*.{yml,yaml}', '**/site.{yml,yaml}'];
/** Cheap test before parsing a task file: it mentions Telegram's token or channel config. */
const MENTIONS_TELEGRAM = /telegram\w*token|channels\.telegram/i;

/** The file name, on the gateway's data volume, that OpenClaw reads the token from. */
const TOKEN_FILE_NAME = 'telegram-bot-token';
/** The register holding the host temp file; its name must not look like a token variable (here or in verify's check). */
const TEMP_REGISTER = 'telegram_secret_tmp';

/** Config keys that carry the token itself (`token` is the report's key, which OpenClaw does not read; `botToken` is the real one). */
const TOKEN_VALUE_KEY = /channels\.telegram\.(?:accounts\.[^\s.'"]+\.)?(?:token|botToken)(?![A-Za-z0-9_])/;
const TOKEN_FILE_KEY = /channels\.telegram\.(?:accounts\.[^\s.'"]+\.)?tokenFile(?![A-Za-z0-9_])/;
/** Keywords of the token task that still make sense on the block replacing it. */
const CARRIED_KEYWORDS = new Set([
  'when',
  'tags',
  'become',
  'become_user',
  'become_method',
  'become_flags',
  'delegate_to',
  'vars',
  'environment',
  'run_once',
  'check_mode',
  'throttle',
  'any_errors_fatal',
]);
/** Keywords handled explicitly; any other keyword on the token task is a shape this fix will not guess about. */
const HANDLED_KEYWORDS = new Set(['name', 'no_log', 'changed_when', 'notify', 'args']);

// ---- reading commands --------------------------------------------------------------------

/** Variables that hold the token: `telegram_bot_token`, `vault_telegram_bot_token`, … (ending in `token`, so `…_token_file` is not one). */
function isTokenVariable(identifier: string): boolean {
  return /telegram\w*token$/i.test(identifier);
}

/** Token variables referenced inside Jinja in `text`. */
function tokenVariablesIn(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g)) {
    const body = match[1] ?? match[2] ?? '';
    for (const identifier of body.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) if (isTokenVariable(identifier)) found.push(identifier);
  }
  return found;
}

/** True when the text names a token variable anywhere (Jinja or a bare expression such as `when:` / `that:`). */
function mentionsTokenVariable(text: string): boolean {
  return (text.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).some(isTokenVariable);
}

/** True when a command line holds the token: a token variable in its Jinja, or a config key that carries the token. */
function isLeaky(text: string): boolean {
  return tokenVariablesIn(text).length > 0 || TOKEN_VALUE_KEY.test(text);
}

// ---- what the role does today ------------------------------------------------------------

/** A task that puts the token (or the key that holds it) on a command line. */
interface LeakyTask {
  readonly task: Task;
  readonly command: TaskCommand;
}

/** How the token task is built, once recognised: what to replace and what to keep. */
interface TokenSetup {
  /** The run of tasks the new block replaces (one task, or the report's copy / docker cp / sh -c / cleanup run). */
  readonly first: Task;
  readonly last: Task;
  /** The task whose keywords (when, tags, changed_when, notify …) the new tasks inherit. */
  readonly keywordsFrom: Task;
  /** The Jinja expression that yields the token, as written (`{{ telegram_bot_token }}`). */
  readonly tokenExpression: string;
  readonly exec: DockerExec;
  /** 'direct' for the original bug; 'sh-c' for the report's `sh -c '… "$(cat file)"'` pattern. */
  readonly shape: 'direct' | 'sh-c';
}

function noLogOn(task: Task): boolean {
  for (let current: Task | undefined = task; current; current = current.parent) {
    const value = pairOf(current.map, 'no_log')?.value;
    if (value && isScalar(value) && /^(true|yes|on)$/i.test(String(sourceOf(current.file.tpl, value)).replace(/^["']|["']$/g, '')))
      return true;
  }
  return false;
}

function isBlock(task: Task): boolean {
  return ['block', 'rescue', 'always'].some((key) => pairOf(task.map, key) !== undefined);
}

/** Recognises the token task; UnrecognisedShape (with file:line) for any other shape. */
function recogniseSetup(leak: LeakyTask): TokenSetup {
  const { task } = leak;
  const tpl = task.file.tpl;
  const at = where(tpl, task.map);
  const commands = shellCommands(leak.command.text);
  // Only a command that IS docker exec: in `echo … | docker exec …` the token is on echo's line.
  const leaking = commands.find((command) => isLeaky(command.words.map((word) => word.value).join(' '))) ?? commands[0];
  const exec = leaking && dockerExecOf(leaking.words);
  if (!exec) throw new UnrecognisedShape(`the Telegram token is on the command line of a task that is not a 'docker exec' at ${at}`);
  // The replacement stands for the whole task: another command beside the docker exec would be lost.
  if (commands.length > 1) throw new UnrecognisedShape(`the Telegram token task at ${at} runs more than the docker exec that sets it`);
  const [program, verb, set, key, value, ...rest] = exec.command;

  if (program === 'openclaw' && verb === 'config' && set === 'set' && key && TOKEN_VALUE_KEY.test(key) && value && rest.length === 0) {
    if (!/^\{\{[\s\S]*\}\}$/.test(value)) throw new UnrecognisedShape(`the Telegram token value at ${at} is not a single Jinja expression`);
    return { first: task, last: task, keywordsFrom: task, tokenExpression: value, exec, shape: 'direct' };
  }

  // The report's pattern: copy (content) → docker cp → docker exec sh -c '… "$(cat /tmp/x)" …' → file absent.
  const script = program === 'sh' && verb === '-c' ? set : undefined;
  const catPath = script && TOKEN_VALUE_KEY.test(script) ? /"?\$\(cat\s+([^)\s]+)\)"?/.exec(script)?.[1] : undefined;
  if (!catPath) throw new UnrecognisedShape(`the Telegram token is on a command line in a form this fix does not recognise at ${at}`);
  return recogniseReportPattern(task, exec, catPath);
}

function recogniseReportPattern(shTask: Task, exec: DockerExec, catPath: string): TokenSetup {
  const tpl = shTask.file.tpl;
  const siblings = tasksOf(shTask.file).filter((task) => task.seq === shTask.seq);
  /** The host file a `docker cp HOST CONTAINER:<catPath>` of the task copies, if it runs one. */
  const copySource = (task: Task): string | undefined => {
    const text = taskCommand(task)?.text;
    for (const command of text === undefined ? [] : shellCommands(text)) {
      const [docker, cp, source, target] = command.words.map((word) => word.value);
      if (/(^|\/)docker$/.test(docker ?? '') && cp === 'cp' && source !== undefined && target?.endsWith(`:${catPath}`)) return source;
    }
    return undefined;
  };
  const cpTask = siblings.find((task) => copySource(task) !== undefined);
  const hostPath = cpTask ? copySource(cpTask) : undefined;
  const copyTask = siblings.find((task) => {
    const [dest, content] = [parameterText(task, 'dest'), parameterText(task, 'content')];
    return task.shortModule === 'copy' && dest === hostPath && typeof content === 'string' && tokenVariablesIn(content).length > 0;
  });
  if (!cpTask || !copyTask) {
    throw new UnrecognisedShape(
      `the Telegram token is read with "$(cat ${catPath})" at ${where(tpl, shTask.map)}, but the tasks writing and copying that file were not found next to it`,
    );
  }
  const content = String(parameterText(copyTask, 'content')).trim();
  if (!/^\{\{[\s\S]*\}\}$/.test(content))
    throw new UnrecognisedShape(`the Telegram token file's content at ${where(tpl, copyTask.map)} is not a single Jinja expression`);
  const cleanup = siblings.find(
    (task) =>
      task.shortModule === 'file' &&
      (parameterText(task, 'path') ?? parameterText(task, 'dest')) === hostPath &&
      parameterText(task, 'state') === 'absent',
  );
  const run = [copyTask, cpTask, shTask, ...(cleanup ? [cleanup] : [])];
  const indexes = run.map((task) => task.index);
  const [low, high] = [Math.min(...indexes), Math.max(...indexes)];
  if (high - low + 1 !== run.length) {
    throw new UnrecognisedShape(
      `the Telegram token tasks from ${where(tpl, copyTask.map)} are interleaved with other tasks; restructure them by hand`,
    );
  }
  const byIndex = (index: number): Task => run.find((task) => task.index === index) as Task;
  return { first: byIndex(low), last: byIndex(high), keywordsFrom: shTask, tokenExpression: content, exec, shape: 'sh-c' };
}

// ---- the gateway's data volume -----------------------------------------------------------

type StaticRender = ReturnType<typeof staticRenderer>;

/**
 * The Compose service the token's container runs: the one whose container_name is written as
 * the docker exec names it, else the one whose container_name or service name is what the
 * container renders to with the repo's variables (`docker exec {{ gateway_container }}` with
 * `gateway_container: openclaw-gateway` in role vars), else the service `openclaw`.
 */
function gatewayService(repo: RepoView, container: string, render: StaticRender): { compose: ComposeFile; service: YAMLMap } | undefined {
  const written = unquote(container);
  const rendered = render(written);
  const names = [...new Set([written, ...(rendered === undefined ? [] : [rendered])])];
  // A Compose file that does not parse matters here only when it may name the container.
  const namesContainer = new RegExp(`container_name:[ \\t]*(["']?(${names.map(escapeRegExp).join('|')})["']?[ \\t]*(#.*)?$|.*\\{\\{)`, 'm');
  const byContainerName: { compose: ComposeFile; service: YAMLMap }[] = [];
  for (const compose of composeFiles(repo, (text) => namesContainer.test(text))) {
    for (const pair of compose.services.items) {
      if (!isMap(pair.value)) continue;
      const nameNode = pairOf(pair.value, 'container_name')?.value;
      if (!isScalar(nameNode)) continue;
      const asWritten = unquote(sourceOf(compose.tpl, nameNode as YamlNode));
      if (asWritten === written || (rendered !== undefined && render(asWritten) === rendered))
        byContainerName.push({ compose, service: pair.value });
    }
  }
  if (byContainerName.length > 1) {
    throw new UnrecognisedShape(
      `more than one Compose service runs the container '${written}': ${byContainerName.map((found) => where(found.compose.tpl, found.service)).join(', ')}`,
    );
  }
  if (byContainerName[0]) return byContainerName[0];
  for (const name of [...names, 'openclaw']) {
    const compose = /^[\w.-]+$/.test(name) ? composeDefining(repo, name) : undefined;
    const service = compose ? pairOf(compose.services, name)?.value : undefined;
    if (compose && service && isMap(service)) return { compose, service };
  }
  return undefined;
}

/** Where the gateway keeps its state: the target of its writable named-volume mount (`openclaw-data:/home/node/.openclaw`). */
function dataVolumeTarget(repo: RepoView, container: string, execAt: string): string {
  // A broken variable file must not stop a container matched as written: render what can be, name the file otherwise.
  const render = staticRenderer(repo, { unreadableVars: 'unrendered' });
  const found = gatewayService(repo, container, render);
  if (!found) {
    const rendered = /\{\{/.test(container) ? render(unquote(container)) : undefined;
    const resolved = /\{\{/.test(container)
      ? rendered === undefined
        ? ` (which the repo's variables do not resolve${render.unreadable === undefined ? '' : `: ${render.unreadable}`})`
        : ` ('${rendered}' with the repo's variables)`
      : '';
    throw new UnrecognisedShape(
      `no Compose template defines the gateway container '${container}'${resolved} that ${execAt} runs docker exec in, so its data volume (where the token file goes) is unknown`,
    );
  }
  const { tpl } = found.compose;
  const volumes = seqAt(tpl, found.service, 'volumes');
  const targets: string[] = [];
  const unrendered: string[] = [];
  for (const item of volumes?.items ?? []) {
    const node = item as YamlNode;
    if (isScalar(item)) {
      // `"{{ gateway_data_volume }}:/home/node/.openclaw"`: what it renders to with the repo's variables.
      const spec = hasJinja(tpl, node) ? render(unquote(sourceOf(tpl, node))) : String(item.value);
      if (spec === undefined) unrendered.push(unrenderedVolume(repo, tpl, node));
      const [source, target, mode] = (spec ?? '').split(':');
      if (source && target && /^[A-Za-z0-9][\w.-]*$/.test(source) && !(mode ?? '').split(',').includes('ro')) targets.push(target);
    } else if (isMap(item)) {
      if (hasJinja(tpl, node)) continue;
      const read = (key: string): string | undefined => {
        const value = pairOf(item, key)?.value;
        return value && isScalar(value) ? String(value.value) : undefined;
      };
      if (read('type') === 'volume' && read('target') && read('read_only') !== 'true') targets.push(read('target') as string);
    }
  }
  const preferred = targets.find((target) => /\.openclaw\/?$/.test(target)) ?? (targets.length === 1 ? targets[0] : undefined);
  if (!preferred) {
    const why = [...(render.unreadable === undefined ? [] : [render.unreadable]), ...unrendered];
    throw new UnrecognisedShape(
      `the gateway service at ${where(tpl, found.service)} has ${targets.length === 0 ? 'no' : 'more than one'} writable named volume${why.length === 0 ? '' : ` the repo's variables can resolve (${why.join('; ')})`}, so there is no clear place for the token file`,
    );
  }
  return preferred.replace(/\/+$/, '');
}

/** Why a volume entry did not render: where it is, and where the variables it prints are set (the file to look at). */
function unrenderedVolume(repo: RepoView, tpl: ParsedTemplate, node: YamlNode): string {
  const names = [...new Set([...sourceOf(tpl, node).matchAll(/\{\{-?\s*([A-Za-z_]\w*)/g)].map((match) => match[1] as string))];
  const setAt = names.flatMap((name) => {
    const definition = varDefinitions(repo, name).at(-1);
    return definition
      ? [`${name} is set at ${locate(definition.tpl.path, definition.tpl.text, definition.offset)}`]
      : [`${name} is set nowhere the fix reads`];
  });
  return `${where(tpl, node)} does not render${setAt.length > 0 ? `: ${setAt.join(', ')}` : ''}`;
}

// ---- the new tasks -------------------------------------------------------------------------

function keywordLines(task: Task, key: string): string[] {
  const pair = pairOf(task.map, key);
  return pair ? entryLines(task.file.tpl, pair) : [];
}

function newTasks(file: TaskFile, setup: TokenSetup, tokenPath: string): string[] {
  const module = (short: string): string => moduleKey(file, short);
  const from = setup.keywordsFrom;
  const exec = ['docker', 'exec', ...setup.exec.options].join(' ');
  const changed = keywordLines(from, 'changed_when');
  const carried = from.map.items.flatMap((pair) =>
    isScalar(pair.key) && CARRIED_KEYWORDS.has(String(pair.key.value)) ? entryLines(from.file.tpl, pair) : [],
  );
  const blank = tasksSeparatedByBlankLines(from) ? [''] : [];
  const nested = (lines: string[]): string[] => lines.map((line) => (line === '' ? '' : `    ${line}`));
  const tempPath = `{{ ${TEMP_REGISTER}.path }}`;
  return [
    '- name: Install the Telegram bot token as a file the gateway reads',
    ...carried.map((line) => `  ${line}`),
    '  block:',
    ...nested([
      '- name: Create a private temp file for the Telegram bot token',
      `  ${module('tempfile')}:`,
      '    state: file',
      '    suffix: .telegram-token',
      `  register: ${TEMP_REGISTER}`,
      ...blank,
      '- name: Write the Telegram bot token to the temp file',
      `  ${module('copy')}:`,
      `    content: "${setup.tokenExpression}"`,
      `    dest: "${tempPath}"`,
      '    mode: "0600"',
      '  no_log: true',
      ...blank,
      // stdin, not `docker cp`: cp creates the file as root and the gateway runs with cap_drop ALL,
      // so nothing in the container could hand it to the gateway's user; cat creates it as that user.
      "- name: Stream the token into the gateway's data volume (stdin, never argv)",
      `  ${module('shell')}: >`,
      `    ${exec} -i ${setup.exec.container} sh -c`,
      `    'umask 077 && cat > ${tokenPath}'`,
      `    < {{ ${TEMP_REGISTER}.path | quote }}`,
      '  no_log: true',
      ...changed.map((line) => `  ${line}`),
      ...blank,
      '- name: Point the Telegram channel at the token file',
      `  ${module('command')}: ${exec} ${setup.exec.container} openclaw config set channels.telegram.tokenFile ${tokenPath}`,
      ...changed.map((line) => `  ${line}`),
      ...keywordLines(from, 'notify').map((line) => `  ${line}`),
    ]),
    '  rescue:',
    ...nested([
      '- name: Remove the Telegram bot token from the container after a failure',
      `  ${module('command')}: ${exec} ${setup.exec.container} rm -f ${tokenPath}`,
      '  no_log: true',
      ...changed.map((line) => `  ${line}`),
      ...blank,
      '- name: Stop after removing the Telegram bot token',
      `  ${module('fail')}:`,
      `    msg: "Installing the Telegram bot token failed at '{{ ansible_failed_task.name }}'; its copy in the container was removed."`,
    ]),
    '  always:',
    ...nested([
      '- name: Remove the Telegram bot token temp file from the host',
      `  ${module('file')}:`,
      `    path: "${tempPath}"`,
      '    state: absent',
      `  when: ${TEMP_REGISTER}.path is defined`,
    ]),
  ];
}

// ---- the module ------------------------------------------------------------------------------

/** `file:line` of a playbook line that runs a command with the Telegram token, if any. */
function playSettingToken(repo: RepoView): string | undefined {
  for (const path of repo.glob(...PLAYBOOK_GLOBS)) {
    const lines = (repo.read(path) ?? '').split('\n');
    const index = lines.findIndex(
      (line) => /\bdocker\b|config\s+set/.test(line) && (TOKEN_VALUE_KEY.test(line) || tokenVariablesIn(line).length > 0),
    );
    if (index !== -1) return `${path}:${index + 1}`;
  }
  return undefined;
}

/** Notes on other secrets (the gateway token of the harden role) passed with the same `sh -c "$(cat …)"` pattern (not this fix's to change). */
function hardenNotes(repo: RepoView): string[] {
  const notes: string[] = [];
  for (const path of repo.glob(...TASK_FILE_GLOBS)) {
    const text = repo.read(path) ?? '';
    if (!/\bsh\s+-c\b/.test(text) || !/\$\(cat\s/.test(text) || !/config\s+set/.test(text)) continue;
    let file: TaskFile;
    try {
      file = readTaskFile(path, repo.read(path) ?? '');
    } catch {
      continue;
    }
    for (const task of tasksOf(file)) {
      const script = taskCommand(task)?.text ?? '';
      if (mentionsTokenVariable(script) || TOKEN_VALUE_KEY.test(script) || TOKEN_FILE_KEY.test(script)) continue; // the Telegram token: this fix's own
      if (/\bsh\s+-c\b/.test(script) && /\$\(cat\s/.test(script) && /config\s+set/.test(script)) {
        notes.push(
          `${where(file.tpl, task.map)} passes a secret with sh -c '… "$(cat file)"': the value still appears in the argv of the inner ` +
            'openclaw process while it runs (visible to ps on the host). Not changed by this fix (Bug 6 covers the Telegram token); give it the same file-based treatment if OpenClaw offers one for that setting.',
        );
      }
    }
  }
  return notes;
}

export const bug6: PatchModule = {
  id: 'telegram-token-no-argv',
  bug: 6,
  priority: 6,
  scope: 'integrate',
  files: [...TASK_FILE_GLOBS, ...PLAYBOOK_GLOBS, ...COMPOSE_TEMPLATE_GLOBS, ...ROUTE_GLOBS, ...VARIABLE_GLOBS],
  scripts: ROUTE_SCRIPT_GLOBS,
  home: import.meta.url,

  check(repo): CheckResult {
    const inPlay = playSettingToken(repo);
    if (inPlay)
      throw new UnrecognisedShape(
        `the Telegram token is set in a play's own tasks at ${inPlay}; this fix edits role and included task files only`,
      );
    const paths = repo.glob(...TASK_FILE_GLOBS).filter((path) => MENTIONS_TELEGRAM.test(repo.read(path) ?? ''));
    // Every other route to a command line: tasks of any role, role scripts, Compose commands.
    const allRoutes = secretRoutes(
      repo,
      isTokenVariable,
      () => false,
      (text) => TOKEN_VALUE_KEY.test(text),
    );
    const refuseOtherRoutes = (known: readonly string[], notes: readonly string[] = []): void => {
      const routes = allRoutes.filter((route) => !known.includes(route.at));
      if (routes.length === 0) return;
      throw new UnrecognisedShape(
        `the Telegram token reaches a command line at ${routes.map((route) => `${route.at} (${route.how})`).join('; ')}: this fix rewrites only the task that sets it, so it cannot make the token safe`,
        { notes },
      );
    };
    if (paths.length === 0) {
      refuseOtherRoutes([]);
      return { state: 'not-applicable', reason: 'no task file configures a Telegram token' };
    }
    const files = paths.map((path) => readTaskFile(path, repo.read(path) ?? ''));

    const leaks: LeakyTask[] = [];
    const unlogged: Task[] = [];
    const tokenFileTasks: Task[] = [];
    let mentionsToken = false;
    for (const file of files) {
      for (const task of tasksOf(file)) {
        if (isBlock(task)) continue;
        const command = taskCommand(task);
        const source = sourceOf(file.tpl, task.map);
        if (command && TOKEN_FILE_KEY.test(command.text)) tokenFileTasks.push(task);
        if (command && isLeaky(command.text)) leaks.push({ task, command });
        else if (mentionsTokenVariable(source) && !noLogOn(task)) unlogged.push(task);
        if (mentionsTokenVariable(source) || TOKEN_VALUE_KEY.test(source) || TOKEN_FILE_KEY.test(source)) mentionsToken = true;
      }
    }
    const notes = hardenNotes(repo);
    refuseOtherRoutes(
      leaks.map((leak) => where(leak.task.file.tpl, leak.task.map)),
      notes,
    );
    if (!mentionsToken) return { state: 'not-applicable', reason: 'no task configures a Telegram token', notes };

    if (leaks.length === 0 && unlogged.length === 0) {
      const configured = tokenFileTasks[0];
      return {
        state: 'fixed',
        reason: configured
          ? `the Telegram token reaches the gateway as channels.telegram.tokenFile (${where(configured.file.tpl, configured.map)}); no command line carries it`
          : `no task puts the Telegram token on a command line (${paths.join(', ')})`,
        notes,
      };
    }

    const edits: TextEdit[] = [];
    const changes: string[] = [];
    let replaced: TokenSetup | undefined;
    if (leaks.length > 0) {
      const setups = leaks.map(recogniseSetup);
      // The report's pattern spreads one setup over several tasks; anything beyond one setup is not a shape to guess about.
      const distinct = setups.filter((setup, i) => setups.findIndex((other) => other.first === setup.first) === i);
      if (distinct.length > 1) {
        throw new UnrecognisedShape(
          `the Telegram token is set on a command line in more than one place: ${leaks.map((leak) => where(leak.task.file.tpl, leak.task.map)).join(', ')}`,
        );
      }
      const setup = distinct[0] as TokenSetup;
      const from = setup.keywordsFrom;
      for (const pair of from.map.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        if (key !== from.module && !CARRIED_KEYWORDS.has(key) && !HANDLED_KEYWORDS.has(key)) {
          throw new UnrecognisedShape(
            `the Telegram token task at ${where(from.file.tpl, from.map)} uses '${key}', which the replacement cannot carry over safely`,
          );
        }
      }
      const tokenPath = `${dataVolumeTarget(repo, setup.exec.container, where(setup.first.file.tpl, setup.first.map))}/${TOKEN_FILE_NAME}`;
      edits.push(replaceTaskRun(setup.first, setup.last, [newTasks(setup.first.file, setup, tokenPath)]));
      replaced = setup;
      changes.push(
        `${setup.first.file.tpl.path}: replaced ${setup.shape === 'direct' ? 'the task passing the Telegram token on the command line' : 'the report\'s sh -c "$(cat …)" token tasks'} ` +
          `with a block that streams it to ${tokenPath} over docker exec's stdin and sets channels.telegram.tokenFile`,
        `${setup.first.file.tpl.path}: the host temp file is removed in always:, the in-container copy in rescue: when configuring fails`,
      );
    }
    for (const task of unlogged) {
      const inReplacedRun =
        replaced && task.seq === replaced.first.seq && task.index >= replaced.first.index && task.index <= replaced.last.index;
      if (inReplacedRun) continue;
      edits.push(insertIntoMap(task.file.tpl, task.map, ['no_log: true']));
      changes.push(`${where(task.file.tpl, task.map)}: added no_log: true to a task that handles the Telegram token`);
    }
    const first = replaced?.keywordsFrom ?? unlogged[0];
    const leakAt = replaced ? where(replaced.keywordsFrom.file.tpl, replaced.keywordsFrom.map) : '';
    return {
      state: 'needs-fix',
      reason: replaced
        ? replaced.shape === 'direct'
          ? `the Telegram token is on a docker exec command line at ${leakAt}`
          : `the Telegram token still reaches the argv of the inner openclaw process through sh -c "$(cat …)" at ${leakAt}`
        : `a task that handles the Telegram token lacks no_log at ${first ? where(first.file.tpl, first.map) : ''}`,
      edits,
      changes,
      notes: [
        ...(replaced
          ? [
              "The token has been visible in the host's process table (and, without no_log, in Ansible's output): revoke it with @BotFather, store the new one in the vault, and re-run the integrate role.",
              "If an earlier run stored the token in the gateway's config (channels.telegram.token or botToken), remove that entry so the token file is its only copy.",
            ]
          : []),
        ...notes,
      ],
    };
  },
};
