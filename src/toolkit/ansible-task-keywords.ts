/**
 * Ansible's task keywords: every other key of a task is its module (or a legacy
 * `local_action`/`action`), `with_*` loops aside. Shared by the patch modules' task reader
 * (src/toolkit/tasks.ts) and the deployment model (src/model/compose-deploy.ts).
 */
export const TASK_KEYWORDS: ReadonlySet<string> = new Set([
  'name',
  'when',
  'tags',
  'register',
  'notify',
  'listen',
  'loop',
  'loop_control',
  'args',
  'vars',
  'environment',
  'become',
  'become_user',
  'become_method',
  'become_flags',
  'changed_when',
  'failed_when',
  'ignore_errors',
  'ignore_unreachable',
  'no_log',
  'delegate_to',
  'delegate_facts',
  'run_once',
  'retries',
  'delay',
  'until',
  'block',
  'rescue',
  'always',
  'check_mode',
  'diff',
  'any_errors_fatal',
  'timeout',
  'throttle',
  'collections',
  'module_defaults',
  'debugger',
  'connection',
  'port',
  'remote_user',
  'async',
  'poll',
  'max_fail_percentage',
]);

/** True when `key` of a task names its module rather than a keyword or a `with_*` loop. */
export function isModuleKey(key: string): boolean {
  return !TASK_KEYWORDS.has(key) && !key.startsWith('with_');
}
