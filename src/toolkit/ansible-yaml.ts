/**
 * The YAML tags Ansible's loader defines, so that reading a repo's YAML prints no
 * `YAMLWarning: The tag !vault is unavailable` on stderr: `!unsafe` (a string Jinja never
 * templates) and `!vault` / `!vault-encrypted` (an inline encrypted value). `!!binary` and the
 * other YAML 1.1 tags come with the `yaml` library's 1.1 schema.
 */
import type { ScalarTag } from 'yaml';

/** An `!unsafe` string: Ansible never templates it, whatever Jinja it looks like. */
export class UnsafeText {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** An inline `!vault` value: a secret only `ansible-vault` can read. */
export class VaultText {
  constructor(readonly ciphertext: string) {}
  toString(): string {
    return this.ciphertext;
  }
}

/** For parsers that only read structure (tasks, templates): the tags resolve to their text, without a warning. */
export const ANSIBLE_YAML_TAGS: ScalarTag[] = [
  { tag: '!unsafe', resolve: (text: string) => text },
  { tag: '!vault', resolve: (text: string) => text },
  { tag: '!vault-encrypted', resolve: (text: string) => text },
];

/** For variable files: the values keep what they are, UnsafeText and VaultText, until loadVars turns them into values. */
export const ANSIBLE_VAR_TAGS: ScalarTag[] = [
  { tag: '!unsafe', resolve: (text: string) => new UnsafeText(text) as never },
  { tag: '!vault', resolve: (text: string) => new VaultText(text) as never },
  { tag: '!vault-encrypted', resolve: (text: string) => new VaultText(text) as never },
];

/**
 * Aliases one YAML file may expand to when read as data (the yaml library's guard against alias
 * bombs, whose default is 100; 0 or -1 would let a billion-laughs file hang the run).
 */
export const MAX_ALIAS_COUNT = 10_000;
