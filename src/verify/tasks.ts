/**
 * Properties of the Ansible tasks: the Telegram token never on a command line (bug 6), the
 * config role's restart handlers safe on a first run (bug 8), and every image the maintenance
 * scripts run pulled at deploy time (bug 9).
 */
import { basename } from 'node:path';
import { escapeRegExp, lineNumberAt } from '../toolkit/text.js';
import {
  commandOf,
  hasNoLog,
  isDict,
  isTrue,
  jinjaUses,
  locateKeys,
  shortModule,
  stringsIn,
  taskArg,
  templateLine,
  type Task,
  type VerifyContext,
} from './context.js';
import { failedOr, notApplicable, ok, type Outcome } from './outcome.js';
import { programOf, splitCommands, substitutedFiles, type SimpleCommand } from './shell.js';
import { SHELL_BUILTINS } from '../toolkit/shell.js';
import type { Stack } from './stack.js';

const at = (task: Task): string => `${task.path}:${task.line}`;
const label = (task: Task): string => (typeof task.data.name === 'string' ? `'${task.data.name}'` : `the ${task.module ?? 'block'} task`);

/** A task's own fields, without the tasks nested in its block/rescue/always. */
function ownStrings(task: Task): string[] {
  return Object.entries(task.data)
    .filter(([key]) => !['block', 'rescue', 'always'].includes(key))
    .flatMap(([, value]) => stringsIn(value));
}

// ---- bug 6 ------------------------------------------------------------------------------

const TOKEN_NAME = /^\w*(telegram\w*token|tg_\w*token)\w*$/i;

/**
 * OpenClaw config keys whose value is the token itself (`botToken`, and the report's `token`):
 * a command that sets one has the token among its arguments, whatever fills the value
 * (`"$(cat /run/secrets/tg)"`, a shell variable read from a file), where no variable name or
 * rendered value shows it. `tokenFile` is the safe key.
 */
const TOKEN_VALUE_KEY = /channels\.telegram\.(?:accounts\.[^\s.'"]+\.)?(?:token|botToken)(?![A-Za-z0-9_])/;

/**
 * The variables that hold the Telegram token: names that say so (`telegram_bot_token`,
 * `vault_telegram_bot_token`) and any variable whose value resolves to the same secret.
 */
function tokenVariables(ctx: VerifyContext, tasks: readonly Task[]): Set<string> {
  const names = new Set<string>();
  for (const name of Object.keys(ctx.vars)) if (TOKEN_NAME.test(name)) names.add(name);
  for (const text of tasks.flatMap(ownStrings))
    for (const identifier of text.match(/[A-Za-z_]\w*/g) ?? []) if (TOKEN_NAME.test(identifier)) names.add(identifier);
  const secrets = new Set([...names].map((name) => ctx.vars[name]).filter((value) => typeof value === 'string' && value !== ''));
  for (const [name, value] of Object.entries(ctx.vars)) if (secrets.has(value)) names.add(name);
  return names;
}

/** `{{ tmp.path }}` → `{{tmp.path}}`: Jinja written with other spacing compares equal, and stays one shell word. */
function compactJinja(text: string): string {
  return text.replace(/\{\{[\s\S]*?\}\}/g, (jinja) => jinja.replace(/\s+/g, ''));
}

/**
 * True when two paths from tasks name the same file: the same Jinja source (a registered
 * `{{ tmp.path }}` only exists at run time), or the same non-empty rendering.
 */
function samePath(ctx: VerifyContext, a: string, b: string): boolean {
  const source = (text: string): string => compactJinja(text).trim();
  if (source(a) === source(b) && source(a) !== '') return true;
  const rendered = ctx.renderLoose(a);
  return rendered !== '' && rendered === ctx.renderLoose(b);
}

/** `rm` or `file: state=absent` of `path` (as written in the task that wrote it). */
function removes(ctx: VerifyContext, task: Task, path: string): boolean {
  const module = shortModule(task.module);
  if (module === 'file') {
    const target = taskArg(task, 'path') ?? taskArg(task, 'dest') ?? taskArg(task, 'name');
    const state = taskArg(task, 'state') ?? (typeof task.args === 'string' && /\bstate=absent\b/.test(task.args) ? 'absent' : undefined);
    const freeForm = typeof task.args === 'string' ? /\b(?:path|dest|name)=(\S+)/.exec(task.args)?.[1] : undefined;
    return state === 'absent' && samePath(ctx, String(target ?? freeForm ?? ''), path);
  }
  const command = commandOf(task);
  if (!command) return false;
  return splitCommands(compactJinja(command)).some((simple) => {
    const { name, args } = programOf(simple);
    return name === 'rm' && args.some((arg) => samePath(ctx, arg, path));
  });
}

/** True when a block around the task (the task inside its block: or rescue:) removes `path` in its always:. */
function removedInAlways(ctx: VerifyContext, task: Task, all: readonly Task[]): boolean {
  for (let current: Task = task; current.parent; current = current.parent) {
    const block = current.parent;
    if (current.section === 'always') continue;
    if (all.some((other) => other.parent === block && other.section === 'always' && removes(ctx, other, writtenPath(task)))) return true;
  }
  return false;
}

/** The `dest` a task writes, as written (Jinja and all). */
function writtenPath(writer: Task): string {
  return String(taskArg(writer, 'dest') ?? '');
}

/** `docker cp SRC CONTAINER:PATH` → PATH when SRC is one of `sources`. */
function containerCopies(ctx: VerifyContext, tasks: readonly Task[], sources: ReadonlySet<string>): string[] {
  const targets: string[] = [];
  for (const task of tasks) {
    const command = commandOf(task);
    if (!command) continue;
    for (const simple of splitCommands(ctx.renderLoose(command))) {
      const { name, args } = programOf(simple);
      const words = args[0] === 'container' ? args.slice(1) : args;
      if (name !== 'docker' || words[0] !== 'cp') continue;
      const [source, target] = words.slice(1).filter((word) => !word.startsWith('-'));
      if (source && target && sources.has(source) && target.includes(':')) targets.push(target.slice(target.indexOf(':') + 1));
    }
  }
  return targets;
}

/**
 * Routes outside the role's own tasks by which the rendered token reaches a command line: a
 * role script that passes it (or a shell variable holding it, or sets a key that holds it) to
 * a program, a Compose service whose command, entrypoint or healthcheck carries it.
 */
function tokenInOtherCommandLines(ctx: VerifyContext, names: ReadonlySet<string>): string[] {
  const values = [...names]
    .map((name) => ctx.vars[name])
    .filter((value): value is string => typeof value === 'string' && value.length >= 8);
  const carries = (text: string): boolean => values.some((value) => text.includes(value)) || TOKEN_VALUE_KEY.test(text);
  const problems: string[] = [];
  for (const path of ctx.roleAssets()) {
    const source = ctx.read(path);
    if (!/\.(sh|bash)(\.j2)?$/.test(path) && !/^#!\S*(\/|env\s+)(ba|da|z|k)?sh\b/.test(source)) continue;
    let rendered: string;
    try {
      rendered = path.endsWith('.j2') ? ctx.render(path) : source;
    } catch {
      continue;
    }
    if (!carries(rendered)) continue;
    const holders = new Set<string>();
    for (const command of splitCommands(rendered)) {
      for (const word of command.words) {
        const assignment = /^([A-Za-z_]\w*)=(.*)$/s.exec(word);
        if (
          assignment &&
          (carries(assignment[2] ?? '') || [...holders].some((name) => new RegExp(`\\$\\{?${name}\\b`).test(assignment[2] ?? '')))
        )
          holders.add(assignment[1] ?? '');
      }
      const { name, args } = programOf(command);
      if (name === '' || SHELL_BUILTINS.has(name)) continue;
      if (args.some((arg) => carries(arg) || [...holders].some((holder) => new RegExp(`\\$\\{?${holder}\\b`).test(arg)))) {
        problems.push(
          `the script ${path} passes the Telegram token to ${name} as an argument, visible in the host's process table (${path}:${templateLine(source, rendered, lineNumberAt(rendered, command.start))})`,
        );
      }
    }
  }
  for (const file of ctx.yamlAssets((content) => /^services\s*:/m.test(content))) {
    const services = isDict(file.data) && isDict(file.data.services) ? file.data.services : {};
    for (const [service, definition] of Object.entries(services)) {
      if (!isDict(definition)) continue;
      for (const key of ['command', 'entrypoint', 'healthcheck']) {
        if (definition[key] !== undefined && carries(JSON.stringify(definition[key]))) {
          problems.push(
            `the ${key} of Compose service ${service} carries the Telegram token, visible in the host's process table (${locateKeys(file.tpl, ['services', service, key])})`,
          );
        }
      }
    }
  }
  return problems;
}

/**
 * Tasks of every role's task (or handler) files whose text matches `mentions`, whatever the role
 * is called: the role names of the report are not how a repo has to name its roles, and a file
 * that does not mention the thing is not parsed (a broken unrelated file is not this check's).
 */
function tasksMentioning(ctx: VerifyContext, mentions: RegExp, dir: 'tasks' | 'handlers' = 'tasks', inRoles?: readonly string[]): Task[] {
  return ctx.view
    .glob(`**/roles/*/${dir}/**/*.{yml,yaml}`)
    .filter((path) => (inRoles === undefined || inRoles.some((role) => path.startsWith(role))) && mentions.test(ctx.read(path)))
    .flatMap((path) => ctx.taskFile(path));
}

export function checkTelegramToken(ctx: VerifyContext): Outcome {
  const tasks = tasksMentioning(ctx, /telegram\w*token|channels\.telegram/i);
  // Every role's tasks: a task file that does not parse stops this check only when it may use the token.
  const everyTask = ctx.allTasks(() => false);
  const names = tokenVariables(ctx, everyTask);
  ctx.allTasks((text) => (text.match(/[A-Za-z_]\w*/g) ?? []).some((identifier) => TOKEN_NAME.test(identifier) || names.has(identifier)));
  const elsewhere = tokenInOtherCommandLines(ctx, names);
  const problems: string[] = [];
  const reported = new Set<Task>();
  // A command in any role that puts the token on its command line: by a variable, or by setting a key that holds it.
  for (const task of everyTask) {
    const command = commandOf(task);
    if (command && jinjaUses(command, names)) {
      problems.push(`${label(task)} puts the Telegram token on a command line, visible in the host's process table (${at(task)})`);
      reported.add(task);
    }
  }
  problems.push(...elsewhere);
  /** Tasks not reported otherwise that set a key holding the token on their command line (from a file, a shell variable). */
  const keySetters = (): string[] =>
    everyTask.flatMap((task) => {
      const key = reported.has(task) ? undefined : TOKEN_VALUE_KEY.exec(commandOf(task) ?? '')?.[0];
      return key
        ? [`${label(task)} sets ${key} on a command line, so the token is in that process's argv whatever fills the value (${at(task)})`]
        : [];
    });
  const touching = tasks.filter((task) => ownStrings(task).some((text) => jinjaUses(text, names)));
  if (touching.length === 0) {
    problems.push(...keySetters());
    if (problems.length > 0) return failedOr(problems, ok(''));
    return notApplicable(tasks.length === 0 ? 'no role task mentions a Telegram token' : 'no role task uses a Telegram token variable');
  }
  for (const task of touching)
    if (!hasNoLog(task)) problems.push(`${label(task)} uses the Telegram token without no_log: true (${at(task)})`);

  // Files the token is written to on the host: removed in an always: whatever happens.
  const writers = touching.filter(
    (task) => ['copy', 'template'].includes(shortModule(task.module)) && jinjaUses(String(taskArg(task, 'content') ?? ''), names),
  );
  for (const writer of writers) {
    if (!removedInAlways(ctx, writer, tasks))
      problems.push(
        `the host file ${writtenPath(writer)} that ${label(writer)} writes the token to is not removed in an always: section of a block around it (${at(writer)})`,
      );
  }
  // `sh -c '… "$(cat token-file)"'` puts the token into the inner process's argv.
  const hostFiles = writers.map(writtenPath);
  const tokenFiles = [...hostFiles, ...containerCopies(ctx, tasks, new Set(hostFiles.map((file) => ctx.renderLoose(file))))];
  const tokenBasenames = new Set(tokenFiles.map((file) => basename(ctx.renderLoose(file))).filter(Boolean));
  for (const task of tasks) {
    const command = commandOf(task);
    if (!command || reported.has(task)) continue;
    const candidates = [...substitutedFiles(compactJinja(command)), ...substitutedFiles(ctx.renderLoose(command))];
    const substituted = candidates.find(
      (file) => tokenFiles.some((tokenFile) => samePath(ctx, file, tokenFile)) || tokenBasenames.has(basename(file)),
    );
    if (substituted) {
      problems.push(
        `${label(task)} substitutes the token file ${substituted} into a command's arguments with $(cat …), so the token is in that process's argv (${at(task)})`,
      );
      reported.add(task);
    }
  }
  problems.push(...keySetters());
  return failedOr(
    problems,
    ok(
      `no command line carries the Telegram token; ${touching.length} task(s) that use it have no_log${writers.length ? '; its host file is removed in always:' : ''}`,
    ),
  );
}

// ---- bug 8 ------------------------------------------------------------------------------

/** The services (or containers) a command restarts; undefined when it restarts nothing; [] for "all". */
function restarted(command: SimpleCommand): string[] | undefined {
  const { name, args } = programOf(command);
  let rest: readonly string[];
  if (name === 'docker' && args[0] === 'compose') rest = args.slice(1);
  else if (name === 'docker-compose') rest = args;
  else if (name === 'docker' && (args[0] === 'restart' || (args[0] === 'container' && args[1] === 'restart')))
    rest = args.slice(args[0] === 'container' ? 1 : 0);
  else return undefined;
  const at = rest.indexOf('restart');
  if (at === -1) return undefined;
  const targets: string[] = [];
  for (let i = at + 1; i < rest.length; i++) {
    const word = rest[i] ?? '';
    if (word === '-t' || word === '--timeout') i++;
    else if (!word.startsWith('-')) targets.push(word);
  }
  return targets;
}

/** A command that asks whether a container exists or runs: docker ps / inspect / compose ps. */
function isExistenceCheck(command: SimpleCommand): boolean {
  const text = command.words.join(' ');
  if (/\$\(\s*docker[ -]/.test(text)) return /\b(ps|inspect|ls)\b/.test(text);
  const { name, args } = programOf(command);
  const words = name === 'docker' && args[0] === 'container' ? args.slice(1) : args;
  if (name === 'docker') return ['ps', 'inspect', 'ls'].includes(words[0] ?? '') || (words[0] === 'compose' && words.includes('ps'));
  if (name === 'docker-compose') return words.includes('ps');
  return false;
}

const SHELL_SYNTAX = /(^|\s)(if|then|fi)(\s|;|$)|&&|\|\||[|;`]|\$\(/;

function mentions(commands: readonly SimpleCommand[], names: readonly string[]): boolean {
  const text = commands.map((command) => command.words.join(' ')).join(' ');
  return names.some((name) => new RegExp(`(^|[^\\w-])${escapeRegExp(name)}($|[^\\w-])`).test(text));
}

export function checkHandlersFirstRun(ctx: VerifyContext, stack: Stack | undefined): Outcome {
  const handlers = tasksMentioning(ctx, /\bdocker\b|docker-compose/, 'handlers');
  const containerOf = (service: string): string | undefined => {
    const definition = stack?.base.services[service];
    return isDict(definition) && typeof definition.container_name === 'string' ? definition.container_name : undefined;
  };
  // The tasks of the roles those handlers belong to (their registered lookups), not every role's.
  const handlerRoles = [
    ...new Set(
      handlers.map((handler) => /^(.*\/)?roles\/[^/]+\//.exec(handler.path)?.[0]).filter((role): role is string => role !== undefined),
    ),
  ];
  const roleTasks = [...handlers, ...tasksMentioning(ctx, /\bdocker\b|docker-compose/, 'tasks', handlerRoles)];
  const problems: string[] = [];
  let restarters = 0;
  for (const handler of handlers) {
    const raw = commandOf(handler);
    if (!raw) continue;
    const script = ctx.renderLoose(raw);
    const commands = splitCommands(script);
    const index = commands.findIndex((command) => restarted(command) !== undefined);
    if (index === -1) continue;
    restarters++;
    const restart = commands[index] as SimpleCommand;
    const targets = restarted(restart) ?? [];
    const names = [...targets, ...targets.map(containerOf).filter((name): name is string => name !== undefined)];
    const what = `handler ${label(handler)} (${at(handler)})`;
    if (handler.data.failed_when === false || String(handler.data.failed_when).trim().toLowerCase() === 'false') {
      problems.push(`${what} uses failed_when: false, which also hides a real restart failure; check that the container exists first`);
      continue;
    }
    if (isTrue(handler.data.ignore_errors)) {
      problems.push(`${what} uses ignore_errors, which also hides a real restart failure; check that the container exists first`);
      continue;
    }
    if (shortModule(handler.module) === 'command' && SHELL_SYNTAX.test(raw)) {
      problems.push(`${what} uses shell syntax with the command module, which runs no shell`);
      continue;
    }
    const next = commands[index + 1];
    if (
      restart.operator === '||' &&
      next &&
      (['true', ':'].includes(programOf(next).name) || (programOf(next).name === 'exit' && (programOf(next).args[0] ?? '0') === '0'))
    ) {
      problems.push(`${what} turns a failed restart into success`);
      continue;
    }
    // In the script: an existence check that names the service, and the restart conditional on it.
    const before = commands.slice(0, index);
    const checkAt = before.findIndex(isExistenceCheck);
    const conditional = restart.words[0] === 'then' || commands[index - 1]?.operator === '&&';
    if (checkAt !== -1 && conditional && mentions(before.slice(checkAt), names)) continue;
    // Or a `when:` on a result registered by an existence check (docker ps, docker_container_info).
    const when = stringsIn(handler.data.when).join(' ');
    const guarded = roleTasks.some((task) => {
      const register = task.data.register;
      if (typeof register !== 'string' || !new RegExp(`\\b${register}\\b`).test(when)) return false;
      if (shortModule(task.module) === 'docker_container_info') return names.includes(ctx.renderLoose(String(taskArg(task, 'name') ?? '')));
      const command = commandOf(task);
      const checks = command ? splitCommands(ctx.renderLoose(command)) : [];
      return checks.some(isExistenceCheck) && mentions(checks, names);
    });
    if (!guarded)
      problems.push(
        `${what} restarts ${targets.join(', ') || 'every service'} without checking that the container exists, so it fails on a first run`,
      );
  }
  if (restarters === 0) return notApplicable('no handler restarts a Compose service');
  return failedOr(problems, ok(`${restarters} restart handler(s) check that the container exists first`));
}

// ---- bug 9 ------------------------------------------------------------------------------

const RUN_BOOLEAN_LONG = new Set([
  'rm',
  'detach',
  'interactive',
  'tty',
  'init',
  'privileged',
  'read-only',
  'publish-all',
  'no-healthcheck',
  'oom-kill-disable',
  'quiet',
  'sig-proxy',
]);
const RUN_BOOLEAN_SHORT = new Set(['d', 'i', 't', 'P', 'q']);

/** The image of a `docker run` / `docker container run`, undefined for another command. */
function runImage(command: SimpleCommand): string | undefined {
  const { name, args } = programOf(command);
  if (name !== 'docker') return undefined;
  const words = args[0] === 'container' ? args.slice(1) : args;
  if (words[0] !== 'run') return undefined;
  for (let i = 1; i < words.length; i++) {
    const word = words[i] ?? '';
    if (word.startsWith('--')) {
      if (!word.includes('=') && !RUN_BOOLEAN_LONG.has(word.slice(2))) i++;
    } else if (word.startsWith('-') && word.length > 1) {
      const letters = [...word.slice(1)];
      if (!letters.every((letter) => RUN_BOOLEAN_SHORT.has(letter)) && word.length === 2) i++;
    } else return word;
  }
  return undefined;
}

/** `alpine` → `docker.io/library/alpine:latest`, so differently written references compare equal. */
function normaliseImage(reference: string): string {
  let ref = reference.trim();
  const lastSlash = ref.lastIndexOf('/');
  if (!ref.includes('@') && !ref.slice(lastSlash + 1).includes(':')) ref += ':latest';
  const first = ref.split('/')[0] ?? '';
  if (!ref.includes('/') || !(first.includes('.') || first.includes(':') || first === 'localhost'))
    ref = `docker.io/${ref.includes('/') ? ref : `library/${ref}`}`;
  return ref;
}

/**
 * `NAME=value` (optionally after export/readonly) whose value is literal once earlier constants
 * (`$REGISTRY/x`) are put in, as [NAME, value]. `${NAME:-default}` is the constant when the script
 * set one before, else its default unless the script sourced a file that might set it:
 * `BACKUP_IMAGE="${BACKUP_IMAGE:-alpine:3.21}"` is alpine:3.21.
 */
function constantAssignment(
  command: SimpleCommand,
  constants: ReadonlyMap<string, string>,
  sourcesFiles: boolean,
): [string, string] | undefined {
  const words = ['export', 'readonly'].includes(command.words[0] ?? '') ? command.words.slice(1) : command.words;
  const match = words.length === 1 ? /^([A-Za-z_]\w*)=(.*)$/.exec(words[0] ?? '') : null;
  if (!match) return undefined;
  const value = (match[2] ?? '')
    .replace(/\$\{([A-Za-z_]\w*)(:?)[-=]([^}$`]*)\}/g, (whole, name: string, colon: string, fallback: string) => {
      const set = constants.get(name);
      if (set !== undefined && !(colon === ':' && set === '')) return set;
      return set === undefined && sourcesFiles ? whole : fallback;
    })
    .replace(/\$\{?([A-Za-z_]\w*)\}?/g, (whole, name: string) => constants.get(name) ?? whole);
  if (/[$`]/.test(value)) return undefined;
  return [match[1] ?? '', value];
}

export function checkImagesPrepulled(ctx: VerifyContext): Outcome {
  // Scripts that run unattended, later (a cron job or systemd timer of their role, or one naming them): at deploy time the registry is at hand.
  const scheduling = ctx.view
    .glob('**/roles/*/tasks/**/*.{yml,yaml}')
    .filter((path) => /\bcron\b|\.timer\b|systemd_timer|OnCalendar/.test(ctx.read(path)));
  const scheduled = (script: string): boolean => {
    const role = /^(.*\/)?roles\/[^/]+\//.exec(script)?.[0];
    const name = script.slice(script.lastIndexOf('/') + 1).replace(/\.j2$/, '');
    return scheduling.some((path) => (role !== undefined && path.startsWith(role)) || ctx.read(path).includes(name));
  };
  const scripts = ctx
    .roleAssets()
    .filter((path) => !/\.ya?ml(\.j2)?$/.test(path) && /docker\s+(container\s+)?run\b/.test(ctx.read(path)) && scheduled(path));
  if (scripts.length === 0) return notApplicable('no scheduled script runs a container');
  const pulled = new Map<string, Task>();
  // `docker pull IMAGE` (or `docker image pull`) in a command or shell task pre-pulls as well as the module does.
  for (const task of tasksMentioning(ctx, /docker\s+(image\s+)?pull\b/)) {
    const command = commandOf(task);
    for (const pull of command === undefined ? [] : splitCommands(ctx.renderLoose(command))) {
      const { name, args } = programOf(pull);
      const words = args[0] === 'image' ? args.slice(1) : args;
      if (name !== 'docker' || words[0] !== 'pull') continue;
      const image = words.slice(1).find((word) => !word.startsWith('-'));
      if (image !== undefined && !/[$`]/.test(image)) pulled.set(normaliseImage(image), task);
    }
  }
  for (const task of tasksMentioning(ctx, /docker_image/)) {
    if (shortModule(task.module) !== 'docker_image') continue;
    const name = ctx.renderLoose(String(taskArg(task, 'name') ?? ''));
    const tag = taskArg(task, 'tag');
    const reference =
      tag !== undefined && !name.slice(name.lastIndexOf('/') + 1).includes(':') ? `${name}:${ctx.renderLoose(String(tag))}` : name;
    if (ctx.renderLoose(String(taskArg(task, 'source') ?? '')) === 'pull') pulled.set(normaliseImage(reference), task);
  }
  const problems: string[] = [];
  const images = new Set<string>();
  const missing = new Map<string, string[]>();
  for (const script of scripts) {
    const rendered = script.endsWith('.j2') ? ctx.render(script) : ctx.read(script);
    const constants = new Map<string, string>(); // IMAGE="alpine:3.21" set by the script itself
    let sourcesFiles = false;
    for (const command of splitCommands(rendered)) {
      if (['source', '.', 'eval'].includes(command.words[0] ?? '')) sourcesFiles = true;
      const assignment = constantAssignment(command, constants, sourcesFiles);
      if (assignment) constants.set(assignment[0], assignment[1]);
      const written = runImage(command);
      if (written === undefined) continue;
      const reference = /^\$\{?([A-Za-z_]\w*)\}?$/.exec(written);
      // ${IMAGE:-alpine:3.21}: the default, when the script neither sets IMAGE nor sources a file that might.
      const withDefault = /^\$\{([A-Za-z_]\w*):?[-=]([^}$`]*)\}$/.exec(written);
      const image =
        (reference && constants.get(reference[1] ?? '')) ??
        (withDefault ? (constants.get(withDefault[1] ?? '') ?? (sourcesFiles ? undefined : withDefault[2])) : undefined) ??
        written;
      const where = `${script}:${templateLine(ctx.read(script), rendered, lineNumberAt(rendered, command.start))}`;
      if (image.includes('$')) {
        problems.push(`docker run uses the image ${image}, a shell variable verify cannot resolve (${where})`);
        continue;
      }
      images.add(image);
      if (!pulled.has(normaliseImage(image))) missing.set(image, [...(missing.get(image) ?? []), where]);
    }
  }
  for (const [image, runs] of missing) {
    problems.push(
      `${image} (docker run at ${runs.join(', ')}) is not pre-pulled by a community.docker.docker_image task with source: pull or a \`docker pull\` command`,
    );
  }
  return failedOr(problems, ok(`every image the role scripts run (${[...images].join(', ')}) is pulled at deploy time`));
}
