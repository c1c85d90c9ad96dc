/**
 * Which role brings up which Compose files, in which order: the deployment as the playbook runs
 * it. Read from the playbooks (plays in order; `pre_tasks`, `roles`, `tasks`, `post_tasks`;
 * `import_playbook`), the roles' task files (`include_tasks`/`import_tasks`,
 * `include_role`/`import_role` followed), the `template`/`copy` tasks (which role template
 * becomes which file on the host) and the tasks that run Compose: `docker compose … up`
 * (`command`/`shell`, `-f`/`--file`, `-p`, `--project-directory`, `chdir`, `cd … &&`) and
 * `community.docker.docker_compose_v2`/`docker_compose` (`project_src`, `files`, `project_name`).
 *
 * Shared by bug 4 (src/… is the engine's side, so the patch module and verify read the same
 * deployment) and verify's network check: both then merge the files of each `up` as Compose
 * does (src/model/compose-model.ts) on a host where the earlier `up`s already ran.
 *
 * Only what can be read statically is claimed: an `up` whose `-f` list is computed at run time
 * (a loop over a `set_fact` list) is `resolved: false`, and the consumers then check every
 * combination of the base file with one overlay, as a first run each.
 */
import { isMap, isScalar, isSeq, parseDocument, type YAMLSeq } from 'yaml';
import { YamlTemplateError } from '../toolkit/template-yaml.js';
import { ParseMemo } from '../core/parse-cache.js';
import { MAX_ALIAS_COUNT } from '../toolkit/ansible-yaml.js';
import { escapeRegExp, lineNumberAt } from '../toolkit/text.js';
import type { RepoView } from '../core/types.js';
import { isModuleKey } from '../toolkit/ansible-task-keywords.js';

/** Playbooks: YAML at the repository root, one folder down (`ansible/site.yml`, `playbooks/x.yml`) or two. */
export const PLAYBOOK_GLOBS = ['*.{yml,yaml}', '*/*.{yml,yaml}', '*/playbooks/*.{yml,yaml}'];
/** Role task files (where Compose is run and templates are written). */
export const DEPLOY_TASK_GLOBS = ['**/roles/*/tasks/**/*.{yml,yaml}'];

export interface ComposeUp {
  /** The role whose tasks run it (undefined for a play's own tasks). */
  readonly role: string | undefined;
  /** `file:line` of the task. */
  readonly at: string;
  /** The files as the command names them (`-f` arguments, rendered), in order. */
  readonly files: readonly string[];
  /** The role template each file is rendered from (same order), undefined where no task of the play writes it. */
  readonly templates: readonly (string | undefined)[];
  /** False when the file list is computed at run time (a loop over a fact): `files` is then unknown. */
  readonly resolved: boolean;
  readonly projectName: string | undefined;
  readonly projectDirectory: string | undefined;
}

export interface Deployment {
  /** Every Compose `up` the play runs, in the order it runs them. */
  readonly ups: readonly ComposeUp[];
  /** True when the order comes from a playbook; false when no playbook names the roles (path order then). */
  readonly ordered: boolean;
  /** What could not be read (a task file that does not parse), with `file:line`. */
  readonly unreadable: readonly string[];
  /** The same files, with their text: deploymentBlocker decides which of them the model needs. */
  readonly unreadableFiles: readonly UnreadableFile[];
}

/** A playbook or task file on the deployment's path that does not parse. */
export interface UnreadableFile {
  readonly path: string;
  readonly line: number;
  /** Why, in the YAML parser's words. */
  readonly detail: string;
  readonly kind: 'playbook' | 'tasks';
  readonly text: string;
}

/** Renders a string from a task with the repo's variables; undefined when it cannot be rendered statically. */
export type StaticRender = (text: string) => string | undefined;

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function moduleOf(task: Dict): string | undefined {
  return Object.keys(task).find((key) => isModuleKey(key));
}

function shortName(module: string): string {
  return module.slice(module.lastIndexOf('.') + 1);
}

function argOf(task: Dict, module: string, key: string): unknown {
  const args = task[module];
  if (isDict(args) && key in args) return args[key];
  return isDict(task.args) ? task.args[key] : undefined;
}

/** The free-form or `cmd`/`argv` command of a command/shell task. */
function commandText(task: Dict, module: string): string | undefined {
  const value = task[module];
  if (typeof value === 'string') return value;
  const cmd = argOf(task, module, 'cmd');
  if (typeof cmd === 'string') return cmd;
  const argv = argOf(task, module, 'argv');
  return Array.isArray(argv) ? argv.map(String).join(' ') : undefined;
}

/** Line (1-based) of each item of a parsed task list, and the lists nested in its blocks. */
interface TaskList {
  readonly path: string;
  readonly text: string;
  readonly node: YAMLSeq | undefined;
}

function lineOfItem(list: TaskList, index: number): number {
  const item = list.node?.items[index] as { range?: [number, number, number] } | undefined;
  return lineNumberAt(list.text, item?.range?.[0] ?? 0);
}

function nestedList(list: TaskList, index: number, key: string): TaskList {
  const item = list.node?.items[index];
  const pair = isMap(item) ? item.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
  return { ...list, node: isSeq(pair?.value) ? pair.value : undefined };
}

const JINJA_WORDS = new Set([
  'for',
  'in',
  'if',
  'else',
  'elif',
  'endfor',
  'endif',
  'not',
  'and',
  'or',
  'is',
  'defined',
  'undefined',
  'true',
  'false',
  'none',
  'True',
  'False',
  'None',
  'loop',
  'item',
  'set',
  'endset',
]);

/**
 * True when the Jinja in `text` uses only variables the repo defines (`known`): a name set at
 * run time (`set_fact`, `register`) renders as empty with the static renderer, which would drop
 * `-f` files silently.
 */
function usesOnlyKnownVariables(text: string, known: (name: string) => boolean): boolean {
  const bodies = [...text.matchAll(/\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g)].map((match) => match[1] ?? match[2] ?? '');
  const local = new Set<string>();
  for (const body of bodies)
    for (const match of body.matchAll(/\bfor\s+([\w\s,]+?)\s+in\b/g)) for (const name of (match[1] ?? '').split(/[\s,]+/)) local.add(name);
  for (const body of bodies) {
    const withoutStrings = body.replace(/"[^"]*"|'[^']*'/g, '""');
    for (const match of withoutStrings.matchAll(/(^|[^\w.|])\s*([A-Za-z_]\w*)/g)) {
      const name = match[2] ?? '';
      if (JINJA_WORDS.has(name) || local.has(name)) continue;
      if (!known(name)) return false;
    }
  }
  return true;
}

/** Shell words of a command line (quotes removed; enough for a `docker compose` invocation). */
function shellWords(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/(?:"[^"]*"|'[^']*'|\\.|[^\s"'\\;&|])+|[;&|]+/g)) {
    words.push(
      match[0].replace(
        /"([^"]*)"|'([^']*)'|\\(.)/g,
        (_, a: string | undefined, b: string | undefined, c: string | undefined) => a ?? b ?? c ?? '',
      ),
    );
  }
  return words;
}

interface ParsedUp {
  readonly files: string[];
  readonly projectName: string | undefined;
  readonly projectDirectory: string | undefined;
}

/** The `docker compose … up` (or `docker-compose … up`) in a shell command line, with its options. */
function composeUpIn(command: string): ParsedUp | undefined {
  const words = shellWords(command);
  let cd: string | undefined;
  for (let i = 0; i < words.length; i++) {
    if (words[i] === 'cd' && words[i + 1]) cd = words[i + 1];
    let at: number;
    if (words[i] === 'docker' && words[i + 1] === 'compose') at = i + 2;
    else if (/(^|\/)docker-compose$/.test(words[i] ?? '')) at = i + 1;
    else continue;
    const files: string[] = [];
    let projectName: string | undefined;
    let projectDirectory: string | undefined;
    let j = at;
    for (; j < words.length; j++) {
      const word = words[j] ?? '';
      const option = /^(-f|--file|-p|--project-name|--project-directory)(?:=(.*))?$/.exec(word);
      if (option) {
        const value = option[2] ?? words[++j] ?? '';
        if (option[1] === '-f' || option[1] === '--file') files.push(value);
        else if (option[1] === '--project-directory') projectDirectory = value;
        else projectName = value;
        continue;
      }
      const joined = /^-f(.+)$/.exec(word);
      if (joined) {
        files.push(joined[1] ?? '');
        continue;
      }
      if (word.startsWith('-')) continue; // --ansi never, --env-file x (its value is not a subcommand below)
      break;
    }
    if (words[j] === 'up') return { files, projectName, projectDirectory: projectDirectory ?? cd };
    i = j;
  }
  return undefined;
}

const DEFAULT_COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

function basename(path: string): string {
  return path.replace(/\/+$/, '').split('/').pop() ?? path;
}

function joinPath(directory: string | undefined, file: string): string {
  if (file.startsWith('/') || directory === undefined) return file;
  return `${directory.replace(/\/+$/, '')}/${file.replace(/^\.\//, '')}`;
}

interface Written {
  readonly template: string;
  readonly dest: string;
}

export type TaskListRead = { readonly items: unknown[]; readonly list: TaskList } | { readonly line: number; readonly detail: string };

/**
 * Parse once (src/core/parse-cache.ts): every check that reads the deployment (bug 4's check and
 * its re-check, verify) walks the same playbooks and task files, each through its own view, so
 * the same texts came to the parser once per reader. Keyed by path and content, so a file an
 * edit changed is parsed again; the items and nodes are shared and only read, never changed.
 */
export const parsedTaskLists = new ParseMemo<TaskListRead>(8 * 1024 * 1024);

/** The items of a playbook or task file (shared: read them, never change them), or why it cannot be read. */
export function readTaskList(path: string, text: string): TaskListRead {
  return parsedTaskLists.get(path, text, readTaskListUncached);
}

/** A playbook's or task file's items and node, or why it cannot be read (the line and the parser's words). */
function readTaskListUncached(path: string, text: string): TaskListRead {
  const doc = parseDocument(text, { uniqueKeys: false, version: '1.1', prettyErrors: false, logLevel: 'error' });
  const error = doc.errors[0];
  if (error) return { line: lineNumberAt(text, error.pos[0]), detail: error.message.split('\n')[0] ?? '' };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (caught) {
    // An alias bomb: expanding it would hang the run. The file is unreadable, named like a parse error.
    return { line: 1, detail: `aliases expand too far (${caught instanceof Error ? caught.message : String(caught)})` };
  }
  return { items: Array.isArray(data) ? data : [], list: { path, text, node: isSeq(doc.contents) ? doc.contents : undefined } };
}

/** Reads the deployment: see the module comment. */
export function composeDeployment(view: RepoView, render: StaticRender, known: (name: string) => boolean): Deployment {
  const unreadable: UnreadableFile[] = [];
  const written: Written[] = [];
  const ups: Array<Omit<ComposeUp, 'templates'>> = [];
  const visitedRoles = new Set<string>();

  const roleDir = (name: string): string | undefined => {
    const candidates = view.glob(`**/roles/${name}/tasks/main.{yml,yaml}`);
    return candidates[0]?.replace(/\/tasks\/main\.ya?ml$/, '');
  };

  const readList = (path: string, kind: UnreadableFile['kind']): { items: unknown[]; list: TaskList } | undefined => {
    const text = view.read(path);
    if (text === undefined) return undefined;
    const read = readTaskList(path, text);
    if ('detail' in read) {
      if (!unreadable.some((file) => file.path === path)) unreadable.push({ path, line: read.line, detail: read.detail, kind, text });
      return undefined;
    }
    return read;
  };

  const staticText = (value: unknown): string | undefined => {
    if (typeof value !== 'string') return undefined;
    if (!value.includes('{{') && !value.includes('{%')) return value;
    if (!usesOnlyKnownVariables(value, known)) return undefined;
    const rendered = render(value);
    return rendered === undefined || rendered.includes('{{') || rendered.includes('{%') ? undefined : rendered;
  };

  const runTasks = (tasks: unknown[], list: TaskList, role: string | undefined, dir: string | undefined, depth: number): void => {
    if (depth > 8) return;
    tasks.forEach((task, index) => {
      if (!isDict(task)) return;
      const at = `${list.path}:${lineOfItem(list, index)}`;
      for (const nested of ['block', 'rescue', 'always']) {
        if (Array.isArray(task[nested])) runTasks(task[nested] as unknown[], nestedList(list, index, nested), role, dir, depth + 1);
      }
      const module = moduleOf(task);
      if (!module) return;
      const short = shortName(module);
      if (short === 'include_role' || short === 'import_role') {
        const name = argOf(task, module, 'name');
        if (typeof name === 'string') runRole(name, depth + 1);
        return;
      }
      if ((short === 'include_tasks' || short === 'import_tasks' || short === 'include') && dir) {
        const file = typeof task[module] === 'string' ? task[module] : argOf(task, module, 'file');
        const name = staticText(file);
        if (name) {
          const included = `${dir}/tasks/${name}`;
          const read = readList(included, 'tasks');
          if (read) runTasks(read.items, read.list, role, dir, depth + 1);
        }
        return;
      }
      if ((short === 'template' || short === 'copy') && dir) {
        const src = staticText(argOf(task, module, 'src'));
        const dest = staticText(argOf(task, module, 'dest'));
        if (src && dest) {
          const folder = short === 'template' ? 'templates' : 'files';
          const template = src.startsWith('/') ? src.replace(/^\/+/, '') : `${dir}/${folder}/${src}`;
          if (view.read(template) !== undefined)
            written.push({ template, dest: dest.endsWith('/') ? `${dest}${basename(src).replace(/\.j2$/, '')}` : dest });
        }
        return;
      }
      if (short === 'command' || short === 'shell') {
        const raw = commandText(task, module);
        if (raw === undefined || !/docker[ -]compose/.test(raw)) return;
        const text = staticText(raw);
        // Unresolved, the command still says whether it is an `up`: without the loops that build its file list.
        const parsed = composeUpIn(
          text ?? raw.replace(/\{%-?\s*for\b[\s\S]*?\{%-?\s*endfor\s*-?%\}/g, ' ').replace(/\{%[\s\S]*?%\}|\{\{[\s\S]*?\}\}/g, ' '),
        );
        if (!parsed) return;
        const chdir = staticText(argOf(task, module, 'chdir'));
        const resolved = text !== undefined;
        ups.push({
          role,
          at,
          files: resolved ? parsed.files : [],
          resolved,
          projectName: parsed.projectName,
          projectDirectory: parsed.projectDirectory ? joinPath(chdir, parsed.projectDirectory) : chdir,
        });
        return;
      }
      if (short === 'docker_compose_v2' || short === 'docker_compose') {
        const state = staticText(argOf(task, module, 'state')) ?? 'present';
        if (state !== 'present' && state !== 'restarted') return;
        const filesArg = argOf(task, module, 'files');
        const files = Array.isArray(filesArg) ? filesArg.map(staticText) : filesArg === undefined ? [] : [staticText(filesArg)];
        const projectSrc = staticText(argOf(task, module, 'project_src'));
        const resolved =
          files.every((file): file is string => file !== undefined) &&
          (projectSrc !== undefined || argOf(task, module, 'project_src') === undefined);
        ups.push({
          role,
          at,
          files: resolved ? (files as string[]) : [],
          resolved,
          projectName: staticText(argOf(task, module, 'project_name')),
          projectDirectory: projectSrc,
        });
      }
    });
  };

  const runRole = (entry: unknown, depth: number): void => {
    const name = typeof entry === 'string' ? entry : isDict(entry) ? (entry.role ?? entry.name) : undefined;
    if (typeof name !== 'string' || depth > 8) return;
    const dir = roleDir(name);
    if (!dir) return;
    visitedRoles.add(dir);
    const main = view.glob(`${dir}/tasks/main.{yml,yaml}`)[0];
    const read = main ? readList(main, 'tasks') : undefined;
    if (read) runTasks(read.items, read.list, name, dir, depth);
  };

  const runPlaybook = (path: string, depth: number): void => {
    const read = readList(path, 'playbook');
    if (!read || depth > 4) return;
    read.items.forEach((play, playIndex) => {
      if (!isDict(play)) return;
      const imported = play.import_playbook ?? play['ansible.builtin.import_playbook'];
      if (typeof imported === 'string') {
        const target = joinPath(path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : undefined, imported);
        if (view.read(target) !== undefined) runPlaybook(target, depth + 1);
        return;
      }
      if (!('hosts' in play)) return;
      for (const section of ['pre_tasks', 'roles', 'tasks', 'post_tasks']) {
        const entries = play[section];
        if (!Array.isArray(entries)) continue;
        if (section === 'roles') for (const role of entries) runRole(role, 0);
        else runTasks(entries, nestedList(read.list, playIndex, section), undefined, undefined, 0);
      }
    });
  };

  const playbooks = view
    .glob(...PLAYBOOK_GLOBS)
    .filter(
      (path) =>
        !/(^|\/)(roles|group_vars|host_vars|inventory|inventories|vars|defaults)\//.test(path) &&
        /^\s*-?\s*(hosts|import_playbook|ansible\.builtin\.import_playbook)\s*:/m.test(view.read(path) ?? ''),
    );
  // A playbook another one imports is run through it, not on its own.
  const imported = new Set(
    playbooks.flatMap((path) =>
      [...(view.read(path) ?? '').matchAll(/import_playbook\s*:\s*["']?([^"'\s#]+)/g)].map((m) => basename(m[1] ?? '')),
    ),
  );
  for (const path of playbooks.filter((p) => !imported.has(basename(p)))) runPlaybook(path, 0);
  const ordered = visitedRoles.size > 0;
  // Roles no playbook names still deploy something (another playbook, a CI job): read them after, in path order.
  for (const main of view.glob('**/roles/*/tasks/main.{yml,yaml}')) {
    const dir = main.replace(/\/tasks\/main\.ya?ml$/, '');
    if (!visitedRoles.has(dir)) runRole(basename(dir), 0);
  }

  const templateFor = (file: string, directory: string | undefined): string | undefined => {
    const full = joinPath(directory, file);
    const exact = written.filter((w) => w.dest === full);
    const byName = exact.length > 0 ? exact : written.filter((w) => basename(w.dest) === basename(file));
    return byName.at(-1)?.template;
  };
  const withTemplates = ups.map((up): ComposeUp => {
    let files = up.files;
    if (up.resolved && files.length === 0) {
      // No -f: Compose reads the first default file in the project directory (and its override).
      const found = DEFAULT_COMPOSE_FILES.find((name) => templateFor(name, up.projectDirectory) !== undefined);
      files = found
        ? [found, ...['docker-compose.override.yml', 'compose.override.yaml'].filter((name) => templateFor(name, up.projectDirectory))]
        : [];
    }
    return { ...up, files, templates: files.map((file) => templateFor(file, up.projectDirectory)) };
  });
  return {
    ups: withTemplates,
    ordered,
    unreadable: unreadable.map((file) => `${file.path}:${file.line}: not valid YAML (${file.detail})`),
    unreadableFiles: unreadable,
  };
}

/** Text that may bring Compose files up: a Compose module, or `docker compose`/`docker-compose` with an `up` in the same task. */
const COMPOSE_UP = /\bdocker_compose(_v2)?\b|docker[- ]compose\b(?:(?!\n\s*-\s)[^;&|#])*?\bup\b/;

/**
 * The first unreadable file the deployment model needs, as the error that names it, or
 * undefined when every broken file is clearly beside the point. Without such a file the model
 * would be a guess (an `up` missing, roles in the wrong order), so a caller must stop, naming it.
 * A task file is passed over when its text holds no `docker compose … up` or Compose module, names none of
 * `composeTemplates` and includes no other tasks or role; a playbook, when it names none of the
 * roles that write or bring up those templates and imports no other playbook.
 */
export function deploymentBlocker(deployment: Deployment, composeTemplates: readonly string[]): YamlTemplateError | undefined {
  const names = composeTemplates.map((path) => basename(path).replace(/\.j2$/, ''));
  const roles = new Set(
    [...deployment.ups.map((up) => up.role), ...composeTemplates.map((path) => /(?:^|\/)roles\/([^/]+)\//.exec(path)?.[1])].filter(
      (role): role is string => role !== undefined,
    ),
  );
  const mayMatter = (file: UnreadableFile): boolean => {
    if (COMPOSE_UP.test(file.text) || names.some((name) => file.text.includes(name))) return true;
    if (file.kind === 'tasks') return /\b(include|import)_(tasks|role)\b|^\s*-?\s*(ansible\.builtin\.)?include\s*:/m.test(file.text);
    return (
      /\bimport_playbook\b/.test(file.text) ||
      [...roles].some((role) => new RegExp(`(^|[^\\w-])${escapeRegExp(role)}($|[^\\w-])`).test(file.text))
    );
  };
  const blocking = deployment.unreadableFiles.find(mayMatter);
  if (!blocking) return undefined;
  const what = blocking.kind === 'playbook' ? 'it says which roles run, in which order' : 'it may bring up Compose files';
  return new YamlTemplateError(
    blocking.path,
    blocking.line,
    `not valid YAML: ${blocking.detail} (${what}, so which role brings up which Compose files cannot be read without it)`,
  );
}

/** One `docker compose up` of a scenario: the templates it merges, in `-f` order. */
export interface DeployStep {
  readonly templates: readonly string[];
  /** How to name it in a message: the task, or "the base file with <overlay>" for a combination. */
  readonly label: string;
  /** One of the base-with-one-overlay combinations checked where the file list is not known statically. */
  readonly combination: boolean;
  readonly projectName: string | undefined;
  readonly projectDirectory: string | undefined;
}

/**
 * The sequences of `up`s to check, each on a fresh host: the deployment's own sequence when
 * every `up` that brings up Compose templates is read statically; otherwise (or when the play
 * runs none we can read) the base file alone and with each overlay, as a first run each.
 */
export function deployScenarios(
  deployment: Deployment,
  base: string,
  overlays: readonly string[],
  defaultDirectory: string | undefined,
): DeployStep[][] {
  const composeTemplates = new Set([base, ...overlays]);
  const relevant = deployment.ups.filter((up) => !up.resolved || up.templates.some((t) => t !== undefined && composeTemplates.has(t)));
  const combinations = (directory: string | undefined, projectName: string | undefined): DeployStep[] => [
    { templates: [base], label: 'the base file alone', combination: true, projectName, projectDirectory: directory },
    ...overlays.map((overlay) => ({
      templates: [base, overlay],
      label: `+ ${overlay}`,
      combination: true,
      projectName,
      projectDirectory: directory,
    })),
  ];
  if (relevant.length === 0) return combinations(defaultDirectory, undefined).map((step) => [step]);
  const fixed = relevant.map((up): DeployStep | undefined => {
    if (!up.resolved) return undefined;
    const templates = up.templates.filter((t): t is string => t !== undefined && composeTemplates.has(t));
    const names = up.files.map((file) => `-f ${file}`).join(' ');
    return {
      templates,
      label: `\`docker compose ${names} up\` (${up.at})`,
      combination: false,
      projectName: up.projectName,
      projectDirectory: up.projectDirectory ?? defaultDirectory,
    };
  });
  const open = relevant.findIndex((up) => !up.resolved);
  if (open === -1) return [fixed.filter((step): step is DeployStep => step !== undefined && step.templates.length > 0)];
  const up = relevant[open]!;
  // A run-time file list: one scenario per combination it may take, the rest of the play as read.
  return combinations(up.projectDirectory ?? defaultDirectory, up.projectName).map((choice) =>
    fixed
      .map((step, index) => (index === open ? choice : step))
      .filter((step): step is DeployStep => step !== undefined && step.templates.length > 0),
  );
}
