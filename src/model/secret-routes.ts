/**
 * Every route by which a secret reaches a command line in the repo, beyond the one task a fix
 * rewrites: a command/shell/raw task or a docker_container_exec in any role, a role script
 * (template or file) whose commands get it as an argument, a Compose service whose command,
 * entrypoint or healthcheck carries it. A fix that makes one route safe is "fixed" only when
 * this finds no other.
 */
import { isMap, isScalar, type YAMLMap } from 'yaml';
import { repoVars } from './render/render.js';
import { locate } from '../toolkit/text.js';
import type { RepoView } from '../core/types.js';
import { pairOf, where } from '../toolkit/yaml-edit.js';
import { composeFiles } from './compose-templates.js';
import { commandWords, isShellScript, SHELL_BUILTINS, shellCommands } from '../toolkit/shell.js';
import { readTaskFile, taskCommand, tasksOf } from '../toolkit/tasks.js';

export const ROUTE_GLOBS = [
  '**/roles/*/tasks/**/*.{yml,yaml}',
  '**/roles/*/templates/**',
  '**/group_vars/**/*.{yml,yaml}',
  '**/roles/*/defaults/main.{yml,yaml}',
];

/**
 * A role's files that matter only as shell scripts (a module's `scripts`): secretRoutes reads no
 * other file there, and a big repo may keep thousands of assets in its roles' `files/`.
 */
export const ROUTE_SCRIPT_GLOBS = ['**/roles/*/files/**'];

export interface SecretRoute {
  readonly at: string;
  readonly how: string;
}

/**
 * The variables holding the secret: names `isSecretName` accepts, and any variable whose value
 * (once templated with the repo's variables) is the same as one of theirs (`tg_token: "{{ vault_telegram_bot_token }}"`).
 */
function secretVariables(repo: RepoView, isSecretName: (name: string) => boolean): Set<string> {
  const vars = repoVars(repo);
  const names = new Set(Object.keys(vars).filter(isSecretName));
  const values = new Set([...names].map((name) => vars[name]).filter((value) => typeof value === 'string' && value !== ''));
  for (const [name, value] of Object.entries(vars)) if (values.has(value)) names.add(name);
  return names;
}

function usesVariable(text: string, names: ReadonlySet<string>, isSecretName: (name: string) => boolean): boolean {
  for (const match of text.matchAll(/\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g)) {
    const body = (match[1] ?? match[2] ?? '').replace(/"[^"]*"|'[^']*'/g, '');
    if ((body.match(/[A-Za-z_]\w*/g) ?? []).some((identifier) => names.has(identifier) || isSecretName(identifier))) return true;
  }
  return false;
}

/**
 * The routes, except in the task files `skip` (the ones the fix itself reads and rewrites).
 * `leaksInCommand` says whether a task's command line carries the secret by other means than a
 * variable (a config key that holds it).
 */
export function secretRoutes(
  repo: RepoView,
  isSecretName: (name: string) => boolean,
  skip: (path: string) => boolean,
  leaksInCommand: (text: string) => boolean = () => false,
): SecretRoute[] {
  const names = secretVariables(repo, isSecretName);
  const uses = (text: string): boolean => usesVariable(text, names, isSecretName);
  const routes: SecretRoute[] = [];
  for (const path of repo.glob('**/roles/*/tasks/**/*.{yml,yaml}')) {
    if (skip(path)) continue;
    let file;
    try {
      file = readTaskFile(path, repo.read(path) ?? '');
    } catch {
      continue; // a task file that does not parse is reported by the fixes that must read it
    }
    for (const task of tasksOf(file)) {
      const command = taskCommand(task)?.text;
      const exec = task.shortModule === 'docker_container_exec' ? pairOf(task.map, task.module ?? '')?.value : undefined;
      const execText = isMap(exec)
        ? ['command', 'argv']
            .map((key) => pairOf(exec, key))
            .filter((pair) => pair !== undefined)
            .map((pair) => file.tpl.text.slice(pair.key.range?.[0] ?? 0, (pair.value as YAMLMap | null)?.range?.[1] ?? 0))
            .join(' ')
        : undefined;
      const text = command ?? execText;
      if (text !== undefined && (uses(text) || leaksInCommand(text)))
        routes.push({ at: where(file.tpl, task.map), how: `${task.shortModule} task '${task.name ?? '?'}' puts it on a command line` });
    }
  }
  for (const path of repo.glob('**/roles/*/templates/**', '**/roles/*/files/**')) {
    const text = repo.read(path) ?? '';
    if (!isShellScript(path, text) || !(uses(text) || /\$/.test(text))) continue;
    // Shell variables the script fills with the secret (TOKEN="{{ telegram_bot_token }}").
    const carriers = new Set<string>();
    const commands = shellCommands(text);
    for (const command of commands) {
      for (const word of command.words) {
        const assignment = /^([A-Za-z_]\w*)=([\s\S]*)$/.exec(word.value);
        if (
          assignment &&
          (uses(assignment[2] ?? '') || [...carriers].some((name) => new RegExp(`\\$\\{?${name}\\b`).test(assignment[2] ?? '')))
        )
          carriers.add(assignment[1]!);
      }
    }
    for (const command of commands) {
      const words = commandWords(command);
      const program = words[0]?.value ?? '';
      if (words.length === 0 || SHELL_BUILTINS.has(program) || /^[A-Za-z_]\w*=/.test(program)) continue;
      const carrying = words
        .slice(1)
        .find(
          (word) =>
            uses(word.source) ||
            leaksInCommand(word.value) ||
            [...carriers].some((name) => new RegExp(`\\$\\{?${name}\\b`).test(word.source)),
        );
      if (carrying) routes.push({ at: locate(path, text, carrying.start), how: `the script passes it to ${program} as an argument` });
    }
  }
  for (const compose of composeFiles(repo)) {
    for (const service of compose.services.items) {
      if (!isMap(service.value) || !isScalar(service.key)) continue;
      // Every entry, in every Jinja branch (`{% if %}healthcheck: …{% else %}healthcheck: …{% endif %}`): each is a route.
      for (const pair of service.value.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        const value = pair.value as YAMLMap | null | undefined;
        if (!['command', 'entrypoint', 'healthcheck'].includes(key) || !value?.range) continue;
        if (uses(compose.tpl.text.slice(value.range[0], value.range[1])))
          routes.push({
            at: where(compose.tpl, pair),
            how: `the ${key} of Compose service ${String(service.key.value)} carries it (a container's argv is in the host's process table)`,
          });
      }
    }
  }
  return routes;
}
