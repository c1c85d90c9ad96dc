/**
 * Secret values a deployment repo holds in plain text: every value of a vault file someone did
 * not encrypt, and the values of secret-looking keys in variable files. Nothing the tool
 * prints — diff context lines, reasons, errors, JSON — may carry one: the CLI redacts them.
 */

/** Files Ansible reads variables from, and vault-like files, wherever the inventory lives. */
export const SECRET_SOURCE_GLOBS = ['**/group_vars/**', '**/host_vars/**', '**/roles/*/defaults/**', '**/roles/*/vars/**', '**/*vault*'];

const SECRET_KEY = /(token|secret|passw(or)?d|passphrase|api_?key|master_?key|private_?key|credential)/i;
/** Shorter values would redact ordinary words; real secrets are longer. */
const MIN_SECRET_LENGTH = 8;
const ENTRY = /^\s*(?:-\s+)?([\w.-]+)\s*[:=]\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^\s#][^#]*?))\s*(?:#.*)?$/;

/**
 * Line by line, not with a YAML parser: a file that does not parse (and is about to be
 * reported as such) must not leak its secrets either.
 */
export function secretValues(files: ReadonlyMap<string, string>): string[] {
  const secrets = new Set<string>();
  for (const [path, text] of files) {
    if (text.startsWith('$ANSIBLE_VAULT;')) continue; // encrypted: nothing readable to leak
    const vaultLike = /vault/i.test(path.split('/').pop() ?? '');
    for (const line of text.split(/\r?\n/)) {
      const match = ENTRY.exec(line);
      if (!match) continue;
      const [, key = '', double, single, plain] = match;
      const value = (double ?? single ?? plain ?? '').trim();
      if (!(vaultLike || SECRET_KEY.test(key)) || value.length < MIN_SECRET_LENGTH || value.includes('{{')) continue;
      secrets.add(value);
    }
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** The ways a secret shows up in printed text: as written, and as JSON escapes it. */
function printedForms(secret: string): Set<string> {
  return new Set([secret, JSON.stringify(secret).slice(1, -1)]);
}

/** The text with every secret (as written, and as JSON would escape it) replaced by `<redacted>`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    for (const form of printedForms(secret)) out = out.split(form).join('<redacted>');
  }
  return out;
}

/** True when `text` holds a secret in a form redactSecrets would replace. */
export function holdsSecret(text: string, secrets: readonly string[]): boolean {
  return secrets.some((secret) => [...printedForms(secret)].some((form) => text.includes(form)));
}
