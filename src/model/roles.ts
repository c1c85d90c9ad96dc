import { UnrecognisedShape } from '../core/errors.js';
/** Where a file sits in an Ansible role, for the modules that add files or defaults beside it. */

/** The folders of a role's layout that the modules' globs look into (`**\/roles/*\/<folder>/…`). */
const ROLE_FOLDER = /^((?:.*\/)?roles\/[^/]+)\/(?:tasks|handlers|templates|files|defaults|vars|meta)\//;

/**
 * The directory of the role that owns `path` (`…/roles/<name>`, no trailing slash): the
 * `roles/<name>` right above a role folder, as a `**\/roles/*\/templates/…` glob matches it.
 * Undefined when the path is not inside a role.
 */
export function roleDirContaining(path: string): string | undefined {
  return ROLE_FOLDER.exec(path)?.[1];
}

/** The directory of the role that owns `path` (see roleDirContaining); UnrecognisedShape when the path is not inside a role. */
export function roleDirOf(path: string): string {
  const dir = roleDirContaining(path);
  if (dir === undefined) throw new UnrecognisedShape(`${path} is not inside an Ansible role`);
  return dir;
}
