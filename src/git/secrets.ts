/**
 * Secrets a deployment repo holds in plain text, and the credential shapes that are secrets
 * wherever they appear. Nothing the tool prints — diff lines, reasons, errors, JSON — may carry
 * one: the CLI redacts everything it writes, and a `--format patch` series that would hold one
 * is refused (src/git/patch-series.ts).
 *
 * What counts as a secret (README, "What openclaw-fix treats as a secret"):
 * - every value of a vault file someone did not encrypt (a file with "vault" in its name);
 * - every value under a key one of whose words is key, token, secret, pass, password, passwd,
 *   passphrase, credential(s), private, webhook, dsn, auth or authorization (`OPENAI_KEY`,
 *   `anthropic_key`, `openai: { key: … }`, `smtp_pass`, `webhook_url`, `ssh_private_key: |`),
 *   in the variable and inventory files, nested and block scalars included (each line of a
 *   multi-line value is redacted on its own, as diffs print them line by line);
 * - by shape, in any file: PEM blocks, OpenAI/Anthropic `sk-…` keys, GitHub tokens (`ghp_…`,
 *   `github_pat_…`), Slack tokens, AWS access key ids, Telegram bot tokens, `user:password@` in
 *   URLs, and long high-entropy strings (32+ characters mixing upper case, lower case and digits).
 * Not secrets: values with Jinja in them (`{{ vault_x }}` names a secret, it is not one), values
 * shorter than 8 characters (true, 8080, a role name), and hex digests (image digests, commit
 * ids, checksums: they identify content and are printed by git itself).
 */
import { isMap, isScalar, isSeq, parseAllDocuments, type Node as YamlNode } from 'yaml';

/** Files Ansible reads variables from, inventories, and vault-like files, wherever they live. */
export const SECRET_SOURCE_GLOBS = [
  '**/group_vars/**',
  '**/host_vars/**',
  '**/roles/*/defaults/**',
  '**/roles/*/vars/**',
  '**/inventory/**',
  '**/inventories/**',
  '**/*vault*',
];

const SECRET_WORDS = new Set([
  'key',
  'apikey',
  'token',
  'secret',
  'secrets',
  'pass',
  'passwd',
  'password',
  'passphrase',
  'credential',
  'credentials',
  'private',
  'webhook',
  'dsn',
  'auth',
  'authorization',
]);

/** True when one of the key's words (split at `_`, `-`, `.` and camelCase) is a secret word. */
function isSecretKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  return words.some((word) => SECRET_WORDS.has(word)) || /(api|master|private)_?key/i.test(key);
}

/** Shorter values would redact ordinary words; real secrets are longer. */
const MIN_SECRET_LENGTH = 8;
const ENTRY = /^(\s*)(?:-\s+)?["']?([\w.-]+)["']?\s*[:=]\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^\s#][^#]*?))?\s*(?:#.*)?$/;

/** The pieces of a secret value worth redacting: the whole, and each line of a multi-line one. */
function secretPieces(value: string): string[] {
  if (value.includes('{{') || value.includes('{%')) return [];
  const pieces = [value.trim(), ...value.split(/\r?\n/).map((line) => line.trim())];
  // A digest identifies content, and an environment variable's name (key_env: ANTHROPIC_API_KEY) only names a secret.
  return pieces.filter(
    (piece) => piece.length >= MIN_SECRET_LENGTH && !/^(sha\d+:)?[0-9a-f]+$/i.test(piece) && !/^[A-Z][A-Z0-9_]*$/.test(piece),
  );
}

/**
 * The plain-text secret values of the files (path → text). Read twice: as YAML (nested keys,
 * flow mappings, block scalars) and line by line, since a file that does not parse — and is
 * about to be reported as such — must not leak its secrets either.
 */
export function secretValues(files: ReadonlyMap<string, string>): string[] {
  const secrets = new Set<string>();
  const add = (value: string): void => secretPieces(value).forEach((piece) => secrets.add(piece));
  for (const [path, text] of files) {
    if (text.startsWith('$ANSIBLE_VAULT;')) continue; // encrypted: nothing readable to leak
    const vaultLike = /vault/i.test(path.split('/').pop() ?? '');
    fromYaml(text, vaultLike, add);
    fromLines(text, vaultLike, add);
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

function fromYaml(text: string, vaultLike: boolean, add: (value: string) => void): void {
  let documents;
  try {
    documents = parseAllDocuments(text, { uniqueKeys: false, strict: false, logLevel: 'error' });
  } catch {
    return;
  }
  const walk = (node: unknown, secret: boolean, depth: number): void => {
    if (depth > 64 || !node) return;
    if (isScalar(node)) {
      if (secret && (typeof node.value === 'string' || typeof node.value === 'number')) add(String(node.value));
      return;
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '';
        walk(pair.value, secret || isSecretKey(key), depth + 1);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item, secret, depth + 1);
    }
  };
  for (const document of Array.isArray(documents) ? documents : [documents]) walk(document.contents as YamlNode | null, vaultLike, 0);
}

function fromLines(text: string, vaultLike: boolean, add: (value: string) => void): void {
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const match = ENTRY.exec(lines[index] ?? '');
    if (!match) continue;
    const [, indent = '', key = '', double, single, plain] = match;
    if (!(vaultLike || isSecretKey(key))) continue;
    const value = (double ?? single ?? plain ?? '').trim();
    if (value === '' || /^[|>][-+0-9]*$/.test(value)) {
      // A block scalar (or a nested mapping): every more-indented line below belongs to it.
      for (let next = index + 1; next < lines.length; next++) {
        const line = lines[next] ?? '';
        if (line.trim() !== '' && (/^\s*/.exec(line)?.[0].length ?? 0) <= indent.length) break;
        const nested = ENTRY.exec(line);
        add(nested && !/^[|>]/.test(value) ? (nested[3] ?? nested[4] ?? nested[5] ?? '') : line);
      }
      continue;
    }
    add(value);
  }
}

/** Credential shapes, redacted wherever they appear. */
const SHAPES: readonly RegExp[] = [
  /sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}/g,
  /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  /\b\d{8,10}:AA[A-Za-z0-9_-]{30,}/g,
];
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s/@]+)@/gi;
const LONG_TOKEN = /[A-Za-z0-9+/_=-]{32,}/g;

/** Bits per character: random base64 is near 6, English words and identifiers far lower. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) bits -= (count / text.length) * Math.log2(count / text.length);
  return bits;
}

function looksRandom(token: string): boolean {
  if (/^(sha\d+:)?[0-9a-f]+$/i.test(token)) return false; // a digest or commit id
  // An absolute path of short segments (a temp dir such as /tmp/openclaw-fix-1qmAWh/x) is a path, not a key.
  if (token.startsWith('/') && token.split('/').every((segment) => segment.length < 20)) return false;
  return /[A-Z]/.test(token) && /[a-z]/.test(token) && /[0-9]/.test(token) && entropy(token) >= 4.2;
}

const REDACTED = '<redacted>';

function redactShapes(text: string): string {
  let out = text.replace(
    PEM_BLOCK,
    (_block, label: string, body: string) =>
      `-----BEGIN ${label}-----${body.replace(/[A-Za-z0-9+/=]{16,}/g, REDACTED)}-----END ${label}-----`,
  );
  for (const shape of SHAPES) out = out.replace(shape, REDACTED);
  out = out.replace(URL_PASSWORD, (_match, prefix: string) => `${prefix}${REDACTED}@`);
  return out.replace(LONG_TOKEN, (token) => (looksRandom(token) ? REDACTED : token));
}

/** The ways a secret shows up in printed text: as written, and as JSON escapes it. */
function printedForms(secret: string): Set<string> {
  return new Set([secret, JSON.stringify(secret).slice(1, -1)]);
}

/** The text with every secret (as written, and as JSON would escape it) and every credential shape replaced by `<redacted>`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    for (const form of printedForms(secret)) out = out.split(form).join(REDACTED);
  }
  return redactShapes(out);
}

/** True when `text` holds a secret or a credential shape redactSecrets would replace. */
export function holdsSecret(text: string, secrets: readonly string[]): boolean {
  return secrets.some((secret) => [...printedForms(secret)].some((form) => text.includes(form))) || redactShapes(text) !== text;
}
