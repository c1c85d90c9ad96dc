/**
 * What a run leaves behind when it ends, whichever way it ends: temporary directories are
 * removed and child processes (go build, the built entrypoint, git talking to a remote) are
 * killed on a normal return, on an error, and on SIGINT/SIGTERM. `process.exit` skips every
 * `finally`, so the removal hangs on the process's 'exit' event, which it does not skip.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tempDirs = new Set<string>();
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of children) killGroup(child);
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** A new private directory under $TMPDIR, removed by `removeTempDir` or, at the latest, when the process exits. */
export function makeTempDir(prefix: string): string {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/**
 * Kills `child` and everything it started (it must have been spawned `detached`, so that it
 * leads its own process group) when it outlives its caller: a timeout, an interruption.
 */
export function trackChild(child: ChildProcess): () => void {
  installExitHook();
  children.add(child);
  return () => {
    killGroup(child);
    children.delete(child);
  };
}

/** SIGKILL to the child's process group (a program it started too), ignoring one that is gone. */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

type InterruptHook = (signal: NodeJS.Signals) => string | undefined;
const interruptHooks: InterruptHook[] = [];

/**
 * Registers what must happen before the process exits on SIGINT/SIGTERM (remove a lock) and
 * what to tell the user then; returns the function that unregisters it.
 */
export function onInterrupt(hook: InterruptHook): () => void {
  interruptHooks.push(hook);
  return () => {
    const index = interruptHooks.indexOf(hook);
    if (index !== -1) interruptHooks.splice(index, 1);
  };
}

/**
 * For the CLI's lifetime: SIGINT or SIGTERM runs the interrupt hooks (newest first), prints one
 * line, and exits 2 — the 'exit' event then removes the temporary directories and kills the
 * children. Returns the function that removes the handlers again.
 */
export function handleInterrupts(write: (line: string) => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    let said: string | undefined;
    for (const hook of [...interruptHooks].reverse()) {
      try {
        said ??= hook(signal);
      } catch {
        // best effort: a failing hook must not keep the others from running
      }
    }
    write(`openclaw-fix: interrupted by ${signal}; ${said ?? 'nothing was written'}\n`);
    process.exit(2);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
