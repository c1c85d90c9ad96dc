/**
 * Bug 9: the maintenance role's scripts `docker run` images that nothing pulls during the
 * deployment, so a nightly job fails when the image is not cached and the registry is out of
 * reach. Find the images the scripts actually run and pre-pull exactly those in the role's tasks.
 */
import { isMap, isScalar } from 'yaml';
import { assertJinjaSyntax } from '../../src/core/failure.js';
import { parseYamlTemplate, type ParsedTemplate } from '../../src/toolkit/template-yaml.js';
import { locate } from '../../src/toolkit/text.js';
import type { CheckResult, PatchModule, RepoView, TextEdit } from '../../src/core/types.js';
import { appendToSeq, insertIntoMap, pairOf, seqAt, where } from '../../src/toolkit/yaml-edit.js';
import { commandWordValues, dockerRuns, isShellScript, resolveShellWord, shellCommands, shellVariables } from '../../src/toolkit/shell.js';
import {
  insertTasksAfter,
  moduleKey,
  moduleParameters,
  parameterText,
  readTaskFile,
  taskCommand,
  tasksOf,
  valueAsWritten,
  type Task,
  type TaskFile,
} from '../../src/toolkit/tasks.js';
import { roleDirContaining } from '../../src/model/roles.js';
import { UnrecognisedShape } from '../../src/core/errors.js';

/**
 * Scripts of any role (the report's `maintenance`, or `backup`, `ops` …): shell scripts by name
 * at any depth, and any file right in a role's `templates/` or `files/` (a script installed as
 * `/usr/local/bin/openclaw-backup` often has no extension; its shebang tells).
 */
const SCRIPT_GLOBS = [
  '**/roles/*/{templates,files}/**/*.{sh,bash}',
  '**/roles/*/{templates,files}/**/*.{sh,bash}.j2',
  '**/roles/*/templates/*',
  '**/roles/*/files/*',
];
const TASK_GLOBS = ['**/tasks/**/*.{yml,yaml}'];
/** A task file that schedules something: a cron job or a systemd timer. */
const SCHEDULES = /\bcron\b|\.timer\b|systemd_timer|OnCalendar/;
const REQUIREMENTS_GLOBS = [
  'requirements.{yml,yaml}',
  'collections/requirements.{yml,yaml}',
  '*/requirements.{yml,yaml}',
  '*/collections/requirements.{yml,yaml}',
];
const COLLECTION = 'community.docker';

/** An image a script runs, as the pre-pull task must name it (`alpine:3.21`, `{{ backup_image }}`). */
interface ScriptImage {
  readonly name: string;
  readonly script: string;
  readonly at: string;
}

/** Jinja written alike compares alike: `{{backup_image}}` and `{{ backup_image }}`. */
function jinjaNormalised(name: string): string {
  return name.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, '{{ $1 }}');
}

/** The name Docker resolves an image reference to, for comparing literal references. */
export function canonicalImage(reference: string): string {
  let name = jinjaNormalised(reference.trim());
  if (name.includes('{{')) return name;
  name = name.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '');
  if (!name.includes('/')) name = `library/${name}`;
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  if (!lastSegment.includes(':') && !name.includes('@')) name += ':latest';
  return name;
}

/** The installed name of a script: its file name without `.j2`. */
function scriptName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.j2$/, '');
}

/**
 * True when the script runs later, unattended: its role schedules something (a cron job, a
 * systemd timer), or a task file that schedules something names it. A script the deployment runs
 * while it deploys has the registry at hand; a nightly job may not.
 */
function isScheduled(repo: RepoView, path: string): boolean {
  const role = roleDirContaining(path);
  const name = scriptName(path);
  return repo.glob(...TASK_GLOBS).some((tasks) => {
    const text = repo.read(tasks) ?? '';
    return SCHEDULES.test(text) && ((role !== undefined && tasks.startsWith(`${role}/`)) || text.includes(name));
  });
}

/** The images every scheduled shell script `docker run`s, in order of first use. */
function scriptImages(repo: RepoView): ScriptImage[] {
  const images: ScriptImage[] = [];
  for (const path of repo.glob(...SCRIPT_GLOBS)) {
    const text = repo.read(path) ?? '';
    if (!isShellScript(path, text) || !/\bdocker\b/.test(text) || !isScheduled(repo, path)) continue;
    // A template Ansible cannot render (unbalanced Jinja) runs nothing: its shell is not read as if it would.
    if (path.endsWith('.j2')) assertJinjaSyntax(path, text);
    const variables = shellVariables(text);
    for (const run of dockerRuns(text)) {
      const at = locate(path, text, run.command.start);
      // No image, or an option or a Jinja statement where the image should be: not a guess.
      if (!run.image || run.image.value.startsWith('-') || run.image.value.includes('{%'))
        throw new UnrecognisedShape(`docker run at ${at} names no image I can find`);
      // Single quotes keep `$` literal; otherwise the shell expands it, and the pull must name what it expands to.
      const literal = /'[^']*\$/.test(run.image.source);
      const resolved = literal ? { value: run.image.value } : resolveShellWord(run.image.value, variables, run.image.start);
      if ('unresolved' in resolved)
        throw new UnrecognisedShape(`the image at ${at} cannot be known without running the script: ${resolved.unresolved}`);
      const name = jinjaNormalised(resolved.value);
      if (!images.some((image) => canonicalImage(image.name) === canonicalImage(name))) images.push({ name, script: path, at });
    }
  }
  return images;
}

/** The literal items of a task's loop (Jinja as written), or undefined when the loop is not a literal list of names. */
function loopItems(file: TaskFile, task: Task): string[] | undefined {
  for (const key of ['loop', 'with_items', 'with_list']) {
    const pair = pairOf(task.map, key);
    if (!pair) continue;
    const items = valueAsWritten(file.tpl, pair);
    return Array.isArray(items) && items.every((item) => item !== null && typeof item !== 'object') ? items.map(String) : undefined;
  }
  return [];
}

/** Every image the role's tasks already pull: docker_image with source: pull, docker_image_pull, `docker pull`. */
function pulledImages(files: readonly TaskFile[]): Set<string> {
  const pulled = new Set<string>();
  for (const file of files) {
    for (const task of tasksOf(file)) {
      const names: string[] = [];
      if ((task.shortModule === 'docker_image' || task.shortModule === 'docker_image_pull') && moduleParameters(task)) {
        if (task.shortModule === 'docker_image' && parameterText(task, 'source') !== 'pull') continue;
        const name = parameterText(task, 'name');
        const tag = parameterText(task, 'tag');
        if (name !== undefined) names.push(tag !== undefined && !name.includes(':') ? `${name}:${tag}` : name);
      } else if (task.shortModule === 'command' || task.shortModule === 'shell') {
        const text = taskCommand(task)?.text;
        for (const command of text === undefined ? [] : shellCommands(text)) {
          const words = commandWordValues(command);
          const at = words[1] === 'image' ? 2 : 1;
          if (words[0] === 'docker' && words[at] === 'pull')
            names.push(
              ...words
                .slice(at + 1)
                .filter((word) => !word.startsWith('-'))
                .slice(0, 1),
            );
        }
      }
      const items = loopItems(file, task);
      for (const name of names) {
        if (/\{\{\s*item\s*\}\}/.test(name) && items)
          for (const item of items) pulled.add(canonicalImage(name.replace(/\{\{\s*item\s*\}\}/, item)));
        else pulled.add(canonicalImage(name));
      }
    }
  }
  return pulled;
}

/** The task that installs a script (template/copy whose src is the script), where the pull goes beside. */
function installTask(files: readonly TaskFile[], scriptPath: string): Task | undefined {
  const relative = /\/(templates|files)\/(.+)$/.exec(scriptPath)?.[2] ?? scriptPath;
  for (const file of files) {
    for (const task of tasksOf(file)) {
      if (task.shortModule !== 'template' && task.shortModule !== 'copy') continue;
      const freeForm = task.module === undefined ? undefined : pairOf(task.map, task.module)?.value;
      const src = moduleParameters(task)
        ? parameterText(task, 'src')
        : isScalar(freeForm)
          ? /(?:^|\s)src=(\S+)/.exec(String(freeForm.value))?.[1]
          : undefined;
      if (src !== undefined && (src === relative || src.endsWith(`/${relative}`))) return task;
    }
  }
  return undefined;
}

const needsQuotes = (value: string): boolean => /^[\s"'{[&*!|>%@`#,?:-]|: | #|\{\{/.test(value) || /:$/.test(value);
const yamlString = (value: string, always = false): string => (always || needsQuotes(value) ? JSON.stringify(value) : value);

function pullTaskLines(file: TaskFile, image: ScriptImage): string[] {
  return [
    `- name: ${yamlString(`Pull ${image.name} for ${scriptName(image.script)}`)}`,
    `  ${moduleKey(file, 'docker_image', COLLECTION)}:`,
    `    name: ${yamlString(image.name, true)}`,
    '    source: pull',
  ];
}

/** requirements.yml must list community.docker for the docker_image module. */
function requirementsEdit(repo: RepoView): { edits: TextEdit[]; notes: string[]; changes: string[] } {
  const path = repo.glob(...REQUIREMENTS_GLOBS)[0];
  if (path === undefined)
    return {
      edits: [],
      notes: [
        `No requirements.yml found: install the ${COLLECTION} collection (ansible-galaxy collection install ${COLLECTION}) for the image pre-pull.`,
      ],
      changes: [],
    };
  const text = repo.read(path) ?? '';
  if (new RegExp(`(^|[\\s"'-])${COLLECTION.replace('.', '\\.')}(["'\\s]|$)`, 'm').test(text)) return { edits: [], notes: [], changes: [] };
  const tpl: ParsedTemplate = parseYamlTemplate(path, text);
  const root = tpl.documents[0]?.contents;
  if (!isMap(root))
    return { edits: [], notes: [`${path} is not in the collections format: add ${COLLECTION} to it for the image pre-pull.`], changes: [] };
  const collections = seqAt(tpl, root, 'collections');
  const change = `${path}: lists ${COLLECTION}, which provides docker_image`;
  if (!collections) return { edits: [insertIntoMap(tpl, root, ['collections:', `  - name: ${COLLECTION}`])], notes: [], changes: [change] };
  const mapItems = collections.items.some((item) => isMap(item));
  return { edits: [appendToSeq(tpl, collections, [mapItems ? `name: ${COLLECTION}` : COLLECTION])], notes: [], changes: [change] };
}

export const bug9: PatchModule = {
  id: 'backup-images-prepulled',
  bug: 9,
  priority: 9,
  scope: 'maintenance',
  files: [...TASK_GLOBS, ...REQUIREMENTS_GLOBS],
  // Read only as shell scripts (scriptImages skips any other file): a role's files/ may hold thousands of assets.
  scripts: SCRIPT_GLOBS,
  home: import.meta.url,

  check(repo): CheckResult {
    const images = scriptImages(repo);
    if (images.length === 0) return { state: 'not-applicable', reason: 'no scheduled script (cron job, systemd timer) runs docker run' };
    // Parsed: the task files that pull images, and those that install or schedule the scripts (not every task file of the repo).
    const scripts = [...new Set(images.map((image) => image.script))];
    const roles = scripts
      .map((script) => roleDirContaining(script))
      .filter((role): role is string => role !== undefined)
      .map((role) => `${role}/`);
    const taskPaths = repo.glob(...TASK_GLOBS).filter((path) => {
      const text = repo.read(path) ?? '';
      return (
        roles.some((role) => path.startsWith(role)) ||
        /docker_image|docker\s+(image\s+)?pull/.test(text) ||
        scripts.some((script) => text.includes(scriptName(script)))
      );
    });
    if (taskPaths.length === 0)
      throw new UnrecognisedShape(`scripts docker run ${images[0]?.name} (${images[0]?.at}) but no tasks file installs them`);
    const files = taskPaths.map((path) => readTaskFile(path, repo.read(path) ?? ''));
    const pulled = pulledImages(files);
    const missing = images.filter((image) => !pulled.has(canonicalImage(image.name)));

    const requirements = requirementsEdit(repo);
    if (missing.length === 0 && requirements.edits.length === 0) {
      return {
        state: 'fixed',
        reason: `the deployment pre-pulls every image its scheduled scripts run (${images.map((image) => image.name).join(', ')})`,
        notes: requirements.notes,
      };
    }

    const edits: TextEdit[] = [...requirements.edits];
    const changes: string[] = [];
    const notes = [...requirements.notes];
    const byAnchor = new Map<Task, ScriptImage[]>();
    for (const image of missing) {
      let anchor = installTask(files, image.script);
      if (!anchor) {
        const role = roleDirContaining(image.script);
        const roleFiles = files.filter((file) => role !== undefined && file.tpl.path.startsWith(`${role}/`));
        const main = roleFiles.find((file) => /\/tasks\/main\.ya?ml$/.test(file.tpl.path)) ?? roleFiles[0];
        anchor = main
          ? tasksOf(main)
              .filter((task) => task.parent === undefined)
              .at(-1)
          : undefined;
        if (!anchor) throw new UnrecognisedShape(`no task of the role of ${image.script} to put the pull of ${image.name} beside`);
        notes.push(`No task installs ${image.script}; the pull of ${image.name} went at the end of ${anchor.file.tpl.path}.`);
      }
      byAnchor.set(anchor, [...(byAnchor.get(anchor) ?? []), image]);
    }
    for (const [anchor, anchored] of byAnchor) {
      edits.push(
        insertTasksAfter(
          anchor,
          anchored.map((image) => pullTaskLines(anchor.file, image)),
        ),
      );
      for (const image of anchored)
        changes.push(
          `${anchor.file.tpl.path}: pulls ${image.name} (run by ${image.script}) after '${anchor.name ?? 'the task that installs it'}' (${where(anchor.file.tpl, anchor.map)})`,
        );
    }
    changes.push(...requirements.changes);
    const first = missing[0];
    return {
      state: 'needs-fix',
      reason: first
        ? `${first.at} runs ${first.name}, which the deployment never pulls${missing.length > 1 ? ` (and ${missing.length - 1} more image${missing.length > 2 ? 's' : ''})` : ''}`
        : `requirements lack ${COLLECTION}`,
      edits,
      changes,
      notes,
    };
  },
};
