import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * The tool's cache: `$XDG_CACHE_HOME/openclaw-fix`, or `~/.cache/openclaw-fix` (XDG Base
 * Directory: a relative XDG_CACHE_HOME is ignored). It holds the Go proof of the Smokescreen
 * entrypoint and V8's code cache of the CLI; deleting it at any time changes no result.
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache'), 'openclaw-fix');
}
