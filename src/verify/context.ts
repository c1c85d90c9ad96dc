/**
 * What every verify check reads: the repo's variables, its role files found by role and
 * content, templates rendered the way Ansible renders them, Ansible task lists, and the
 * `file:line` of a rendered value in its template. Independent of the patch modules: it shares
 * only the renderer and the YAML-with-Jinja parser with them.
 */
import { isModuleKey } from '../toolkit/ansible-task-keywords.js';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { describeError, FileProblem } from '../core/failure.js';
import { MAX_ALIAS_COUNT } from '../toolkit/ansible-yaml.js';
import { scanJinja, TemplateSyntaxError } from '../toolkit/jinja-mask.js';
import {
  ANSIBLE_YAML_TAGS,
  assertVarFilesReadable,
  loadVars,
  RenderError,
  renderParsedYaml,
  renderTemplate,
  renderTemplateDetailed,
  type UnknownUse,
  type Vars,
} from '../model/render/render.js';
import { createRepoView } from '../core/repo-view.js';
import { parseYamlTemplate, YamlTemplateError, type ParsedTemplate } from '../toolkit/template-yaml.js';
import { lineNumberAt } from '../toolkit/text.js';
import type { RepoView } from '../core/types.js';

export type Dict = Record<string, unknown>;

export function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Ansible's reading of a boolean keyword such as `no_log` (its `boolean()`: `true`, `yes`, `"True"`, `t`, 1). */
export function isTrue(value: unknown): boolean {
  if (typeof value === 'string') return ['yes', 'on', 'true', 'y', 't', '1'].includes(value.trim().toLowerCase());
  return value === true || value === 1;
}

/** A rendered YAML template: its parsed data, and the masked parse of the template for line numbers. */
export interface RenderedYaml {
  readonly path: string;
  readonly tpl: ParsedTemplate;
  readonly data: unknown;
}

/** A task (or handler, or block) of an Ansible task file, with the blocks around it. */
export interface Task {
  readonly path: string;
  readonly line: number;
  readonly data: Dict;
  /** The module key as written (`ansible.builtin.command`), undefined for a block. */
  readonly module: string | undefined;
  /** The module's arguments: a free-form string or a mapping. */
  readonly args: unknown;
  /** Which list of its parent it sits in. */
  readonly section: 'tasks' | 'block' | 'rescue' | 'always';
  readonly parent: Task | undefined;
}

/** `ansible.builtin.command` → `command`; `community.docker.docker_image` → `docker_image`. */
export function shortModule(module: string | undefined): string {
  return (module ?? '').replace(/^(ansible\.(builtin|legacy)|community\.docker)\./, '');
}

export class VerifyContext {
  readonly view: RepoView;
  private loadedVars: Vars | undefined;
  private readonly roleVars = new Map<string, Vars>();
  private readonly textCache = new Map<string, string>();
  private readonly usesCache = new Map<string, readonly UnknownUse[]>();
  private readonly yamlCache = new Map<string, RenderedYaml>();
  private readonly taskCache = new Map<string, Task[]>();

  constructor(readonly files: ReadonlyMap<string, string>) {
    this.view = createRepoView(files);
  }

  /** The repo's variables, loaded when a check first renders: one that cannot be loaded stops only the checks that render. */
  get vars(): Vars {
    if (!this.loadedVars) {
      varFilesReadable(this.files); // a variable file that does not parse stops the checks that render
      const vars = loadVars(this.files);
      this.loadedVars = vars;
    }
    return this.loadedVars;
  }

  read(path: string): string {
    return this.files.get(path) ?? '';
  }

  /** The variables a template of `path`'s role sees: its own role's defaults and vars win over other roles' (Ansible's precedence). */
  varsFor(path: string): Vars {
    const role = roleRoot(path);
    if (role === undefined) return this.vars;
    let vars = this.roleVars.get(role);
    if (!vars) {
      varFilesReadable(this.files);
      vars = loadVars(this.files, {}, { forTemplate: path });
      this.roleVars.set(role, vars);
    }
    return vars;
  }

  /** Every file under a role's templates/ or files/, wherever the roles live. */
  roleAssets(role = '*'): string[] {
    return this.view.glob(`**/roles/${role}/templates/**`, `**/roles/${role}/files/**`);
  }

  /**
   * Renders a template file's text; a template that does not render is an error of the repo,
   * named `file:line`. Values only Ansible knows at run time print as Unknown sentinels
   * (containsUnknown); `unknownUses(path)` lists the `if`s and `for`s they decided.
   */
  render(path: string): string {
    let rendered = this.textCache.get(path);
    if (rendered === undefined) {
      try {
        const result = renderTemplateDetailed(this.read(path), this.varsFor(path), { path, files: this.files });
        rendered = result.text;
        this.usesCache.set(path, result.uses);
      } catch (error) {
        if (error instanceof TemplateSyntaxError) throw new FileProblem(path, error.line, error.detail);
        if (error instanceof FileProblem) throw error; // a variable's own problem, named where it is defined
        const described = describeError(error); // the renderer's RenderError names its own file and line
        throw new FileProblem(described.path ?? path, described.line, `cannot render the template: ${described.message}`);
      }
      this.textCache.set(path, rendered);
    }
    return rendered;
  }

  /** Where an unknown value decided an `if` or `for` of a rendered template (empty when nothing did). */
  unknownUses(path: string): readonly UnknownUse[] {
    this.render(path);
    return this.usesCache.get(path) ?? [];
  }

  /** Renders a string from a task (a path, a command); Jinja that needs Ansible's runtime is left as written. */
  renderLoose(text: string, path?: string): string {
    if (!text.includes('{{') && !text.includes('{%')) return text;
    try {
      return renderTemplate(text, path === undefined ? this.vars : this.varsFor(path), { path, files: this.files });
    } catch {
      return text;
    }
  }

  renderYaml(path: string): RenderedYaml {
    let rendered = this.yamlCache.get(path);
    if (!rendered) {
      const tpl = parseYamlTemplate(path, this.read(path));
      let data: unknown;
      try {
        data = renderParsedYaml(tpl, this.varsFor(path), { files: this.files });
      } catch (error) {
        if (error instanceof FileProblem) throw error; // a variable's own problem, named where it is defined
        if (error instanceof RenderError)
          throw new FileProblem(error.path ?? path, error.line, `the template does not render: ${error.detail}`);
        throw new FileProblem(
          path,
          undefined,
          `the rendered template is not valid YAML or does not render: ${describeError(error).message}`,
        );
      }
      rendered = { path, tpl, data };
      this.yamlCache.set(path, rendered);
    }
    return rendered;
  }

  /** Role templates and files that are YAML (by name), rendered. */
  yamlAssets(filter: (text: string, path: string) => boolean): RenderedYaml[] {
    return this.roleAssets()
      .filter((path) => /\.ya?ml(\.j2)?$/.test(path) && filter(this.read(path), path))
      .map((path) => this.renderYaml(path));
  }

  /** Every task of a role's task (or handler) files, flattened, blocks included. */
  roleTasks(role: string, dir: 'tasks' | 'handlers' = 'tasks'): Task[] {
    return this.view.roleFiles(role, `${dir}/**/*.{yml,yaml}`).flatMap((path) => this.taskFile(path));
  }

  /**
   * Tasks of every role's task files. A file that does not parse is passed over when
   * `mayHold(text)` says it cannot hold what the caller looks for (a broken unrelated file is
   * not the caller's problem); otherwise its error, naming `file:line`, stops the caller.
   */
  allTasks(mayHold: (text: string) => boolean): Task[] {
    return this.view.glob('**/roles/*/tasks/**/*.{yml,yaml}').flatMap((path) => {
      try {
        return this.taskFile(path);
      } catch (error) {
        if (error instanceof YamlTemplateError && !mayHold(this.read(path))) return [];
        throw error;
      }
    });
  }

  taskFile(path: string): Task[] {
    let tasks = this.taskCache.get(path);
    if (!tasks) {
      tasks = parseTasks(path, this.read(path));
      this.taskCache.set(path, tasks);
    }
    return tasks;
  }
}

/**
 * Throws a FileProblem naming the first variable file that does not parse (`file:line` and why),
 * which render() and renderYaml() pass on as it is: the check is stopped by that file, not by the
 * template it was rendering.
 */
function varFilesReadable(files: ReadonlyMap<string, string>): void {
  try {
    assertVarFilesReadable(files);
  } catch (error) {
    if (error instanceof RenderError && error.path !== undefined) throw new FileProblem(error.path, error.line, error.detail);
    throw error;
  }
}

/** The role's root directory in the repo (`ansible/roles/maintenance`). */
export function roleRoot(path: string): string | undefined {
  return /^(.*?(?:^|\/)roles\/[^/]+)\//.exec(path)?.[1];
}

/** Parses an Ansible task or handler file (plain YAML: Jinja only inside strings). */
function parseTasks(path: string, text: string): Task[] {
  const doc = parseDocument(text, {
    uniqueKeys: false,
    prettyErrors: false,
    version: '1.1',
    customTags: ANSIBLE_YAML_TAGS,
    logLevel: 'error',
  });
  const error = doc.errors[0];
  if (error) throw new YamlTemplateError(path, lineNumberAt(text, error.pos[0]), `not valid YAML: ${error.message.split('\n')[0]}`);
  const tasks: Task[] = [];
  const walk = (node: unknown, data: unknown, section: Task['section'], parent: Task | undefined): void => {
    if (!isSeq(node) || !Array.isArray(data)) return;
    node.items.forEach((item, index) => {
      const itemData: unknown = data[index];
      if (!isMap(item) || !isDict(itemData)) return;
      const module = Object.keys(itemData).find(isModuleKey);
      const task: Task = {
        path,
        line: lineNumberAt(text, item.range?.[0] ?? 0),
        data: itemData,
        module,
        args: module === undefined ? undefined : itemData[module],
        section,
        parent,
      };
      tasks.push(task);
      for (const key of ['block', 'rescue', 'always'] as const) {
        const child = item.items.find((pair) => isScalar(pair.key) && pair.key.value === key);
        if (child) walk(child.value, itemData[key], key, task);
      }
    });
  };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (caught) {
    // An alias bomb: expanding it would hang the run; the file is what cannot be read.
    throw new FileProblem(path, 1, `aliases expand too far (${caught instanceof Error ? caught.message : String(caught)})`);
  }
  walk(doc.contents, data, 'tasks', undefined);
  return tasks;
}

/** A module argument, from the module's mapping or the task's `args:`. */
export function taskArg(task: Task, key: string): unknown {
  if (isDict(task.args) && key in task.args) return task.args[key];
  const args = task.data.args;
  return isDict(args) ? args[key] : undefined;
}

const SHELL_MODULES = new Set(['command', 'shell', 'raw', 'script']);

/**
 * What a command-running task runs, as text: the free form, `cmd`, or `argv` joined with
 * spaces. `docker_container_exec` counts: its process is visible on the host too.
 */
export function commandOf(task: Task): string | undefined {
  const module = shortModule(task.module);
  if (SHELL_MODULES.has(module)) {
    if (typeof task.args === 'string') return task.args;
    const cmd = taskArg(task, 'cmd') ?? taskArg(task, '_raw_params');
    if (typeof cmd === 'string') return cmd;
    const argv = taskArg(task, 'argv');
    if (Array.isArray(argv)) return argv.map(String).join(' ');
    return undefined;
  }
  if (module === 'docker_container_exec') {
    const command = taskArg(task, 'command');
    if (typeof command === 'string') return command;
    const argv = taskArg(task, 'argv');
    if (Array.isArray(argv)) return argv.map(String).join(' ');
  }
  return undefined;
}

/** `no_log: true` on the task or on a block around it. */
export function hasNoLog(task: Task): boolean {
  for (let current: Task | undefined = task; current; current = current.parent) {
    if ('no_log' in current.data) return isTrue(current.data.no_log);
  }
  return false;
}

/** Every string inside a value (task data), depth first. */
export function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (isDict(value)) return Object.values(value).flatMap(stringsIn);
  return [];
}

/** True when a Jinja expression or statement in `text` uses one of the variables. */
export function jinjaUses(text: string, names: ReadonlySet<string>): boolean {
  let bodies: string[];
  try {
    bodies = scanJinja(text)
      .filter((span) => span.kind !== 'comment')
      .map((span) => span.body);
  } catch (error) {
    if (!(error instanceof TemplateSyntaxError)) throw error;
    bodies = [text]; // Jinja Ansible would refuse: every word counts, so a token there is still seen
  }
  return bodies.some((body) => (body.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).some((identifier) => names.has(identifier)));
}

/**
 * `path:line` of the value at `keys` in a YAML template, or of the deepest ancestor the
 * template has (a list built by a `{% for %}` loop has one item in the template: every
 * rendered index maps to it).
 */
export function locateKeys(tpl: ParsedTemplate, keys: readonly (string | number)[]): string {
  let node: YamlNode | null | undefined = tpl.documents[0]?.contents as YamlNode | null | undefined;
  let offset = node?.range?.[0] ?? 0;
  for (const key of keys) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(key));
      if (!pair) break;
      offset = (pair.key as YamlNode).range?.[0] ?? offset;
      node = pair.value as YamlNode | null;
    } else if (isSeq(node) && typeof key === 'number' && node.items.length > 0) {
      const item = node.items[Math.min(key, node.items.length - 1)] as YamlNode | null;
      offset = item?.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return `${tpl.path}:${lineNumberAt(tpl.text, offset)}`;
}

/**
 * The template line that produced line `renderedLine` of a rendered text file (Dockerfile,
 * shell script). Without block tags lines match one to one; otherwise the template line whose
 * literal text (Jinja removed) fits the rendered line, nearest to it.
 */
export function templateLine(template: string, rendered: string, renderedLine: number): number {
  if (!/\{%|\{#/.test(template)) return renderedLine;
  const templateLines = template.split(/\r?\n/);
  const renderedText = rendered.split('\n')[renderedLine - 1] ?? '';
  let best = renderedLine;
  let bestDistance = Number.POSITIVE_INFINITY;
  templateLines.forEach((line, index) => {
    const parts = line.split(/\{\{[\s\S]*?\}\}/);
    if (/\{%|\{#/.test(line) || parts.join('').trim() === '') return;
    let cursor = 0;
    for (const part of parts) {
      const found = renderedText.indexOf(part, cursor);
      if (found === -1) return;
      cursor = found + part.length;
    }
    const distance = Math.abs(index + 1 - renderedLine);
    if (distance < bestDistance) [best, bestDistance] = [index + 1, distance];
  });
  return best;
}
