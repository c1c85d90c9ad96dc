/**
 * The two errors the tool raises on purpose, and what each one stops.
 *
 * - `UserError`: a problem of the repository as a whole, of its environment or of the command
 *   line (not a git repository, a dirty work tree, a lock another run holds, git failing): the
 *   run stops with its message as one line and exit 2 (`userMessageOf`, used by src/cli.ts).
 * - `UnrecognisedShape`: a file, or a value in it, that a reader cannot read safely (a shape a
 *   fix does not know, YAML or Jinja that does not parse, a template or a variable that does not
 *   render, a value only Ansible knows at run time). It stops only the fix or the verify check
 *   that needed it, as that fix's `unrecognised` with `reasonOf` as its reason
 *   (src/core/failure.ts); every other fix still runs.
 *
 * Readers throw subclasses that say where (`path`, `line`) and what they could not do (`doing`:
 * parse, read or render); every exception of neither kind is a defect of the tool.
 */

/** A problem of the repository or of the run (not of one file a fix reads): one line, exit 2. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** What a reader could not do with a file: the reason starts with it (`cannot parse x.yml:3: …`). */
export type ReaderStep = 'parse' | 'read' | 'render';

export interface ShapeOptions {
  /** Advice that comes with the fix's `unrecognised` (printed with it, and in --json). */
  readonly notes?: readonly string[];
}

/**
 * A shape a fix cannot handle safely: the fix says `unrecognised` with this message, which names
 * `file:line` and why, and makes no edit. Thrown by patch modules and by every reader under them.
 */
export class UnrecognisedShape extends Error {
  readonly notes: readonly string[];

  constructor(message: string, options: ShapeOptions = {}) {
    super(message);
    this.name = 'UnrecognisedShape';
    this.notes = options.notes ?? [];
  }

  /** The fix's reason; `reading` is the file the fix read last, for an error that cannot name its own. */
  reasonWhileReading(reading: string | undefined): string {
    void reading;
    return this.message;
  }
}

/**
 * A file a reader could not parse, read or render: the file (or none, when the reader does not
 * know it: the one being read is named then), the line when known, and what is wrong there.
 */
export class FileShapeError extends UnrecognisedShape {
  constructor(
    readonly path: string | undefined,
    readonly line: number | undefined,
    readonly detail: string,
    readonly doing: ReaderStep,
    message = `${path ?? 'file'}${line === undefined ? '' : `:${line}`}: ${detail}`,
  ) {
    super(message);
    this.name = 'FileShapeError';
  }

  override reasonWhileReading(reading: string | undefined): string {
    const path = this.path ?? reading;
    const at = path ? `${path}${this.line ? `:${this.line}` : ''}` : 'a file';
    return `cannot ${this.doing} ${at}: ${this.detail}`;
  }
}

/** The message an error that ends the run prints, when it is meant for the user; undefined for a defect of the tool. */
export function userMessageOf(error: unknown): string | undefined {
  return error instanceof UserError || error instanceof UnrecognisedShape ? error.message : undefined;
}
