/**
 * Values the renderer cannot know without Ansible's controller or the managed host: a lookup
 * (`lookup('env', 'HOME')`), a fact (`ansible_hostname`), `hostvars`, a registered variable,
 * `omit`, a filter whose result is random or host-dependent (`password_hash`). Rendering never
 * fails on them: an `Unknown` stands in, propagates through filters and attribute access, and
 * prints as a sentinel token (`__UNKNOWN_3__`) that survives YAML, shell and Dockerfile parsing
 * unchanged. A caller detects an unknown value with `containsUnknown(value)` (on a parsed value
 * or on rendered text) and says why with `unknownReasons(value)`.
 */

/** `__UNKNOWN_<id>__`: letters, digits and underscores only, so it stays one token in YAML (plain, quoted, flow), shell and Dockerfiles. */
const SENTINEL = /__UNKNOWN_(\d+)__/g;

/** Reasons by id: one id per distinct reason, so the same unknown always prints the same token. */
const reasons: string[] = [];
const idByReason = new Map<string, number>();

export class Unknown {
  readonly id: number;

  /** `reason`: what the value needs and where it comes from (`lookup('env', 'HOME') at group_vars/all.yml:3 needs the controller`). */
  constructor(readonly reason: string) {
    let id = idByReason.get(reason);
    if (id === undefined) {
      id = reasons.length;
      reasons.push(reason);
      idByReason.set(reason, id);
    }
    this.id = id;
  }

  /** The sentinel token: what the value prints as, in a template or through `~`. */
  toString(): string {
    return `__UNKNOWN_${this.id}__`;
  }

  toJSON(): string {
    return this.toString();
  }

  /** An unknown derived from this one (an attribute of it, a filter applied to it): same reason. */
  static from(values: readonly unknown[], fallback: string): Unknown {
    const found = values.flatMap((value) => unknownReasons(value, false));
    return new Unknown(found[0] ?? fallback);
  }
}

export function isUnknown(value: unknown): value is Unknown {
  return value instanceof Unknown;
}

/** True when `value` is unknown, or a string holding an unknown's sentinel, or (deep) a list or mapping holding one. */
export function containsUnknown(value: unknown, deep = true): boolean {
  return unknownReasons(value, deep).length > 0;
}

/** The distinct reasons of every unknown in `value` (an Unknown, rendered text, parsed data). */
export function unknownReasons(value: unknown, deep = true): string[] {
  const found = new Set<string>();
  const visit = (item: unknown, depth: number): void => {
    if (item instanceof Unknown) found.add(item.reason);
    else if (typeof item === 'string') {
      for (const match of item.matchAll(SENTINEL)) {
        const reason = reasons[Number(match[1])];
        if (reason !== undefined) found.add(reason);
      }
    } else if (deep && depth < 64 && Array.isArray(item)) item.forEach((child) => visit(child, depth + 1));
    else if (deep && depth < 64 && item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        visit(key, depth + 1);
        visit(child, depth + 1);
      }
    }
  };
  visit(value, 0);
  return [...found];
}
