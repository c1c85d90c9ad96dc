/**
 * Bug 1: the egress healthcheck asks Smokescreen for `/healthcheck`, which the CLI never
 * serves (HTTP 500, so `curl -sf` fails and the container never turns healthy). Probe the
 * listen port over TCP with a bounded `nc -z -w`, and install `netcat-openbsd` in the runtime
 * stage of the Smokescreen image; drop `curl` there when nothing else in the image uses it.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode, type YAMLMap } from 'yaml';
import { jinjaStatementIn, scalarSource, sourceOf, type ParsedTemplate } from '../../src/toolkit/template-yaml.js';
import { columnAt, eolOf, escapeRegExp } from '../../src/toolkit/text.js';
import type { CheckResult, PatchModule, RepoView, TextEdit } from '../../src/core/types.js';
import { pairOf, quoteLike, replaceNode, where } from '../../src/toolkit/yaml-edit.js';
import {
  COMPOSE_TEMPLATE_GLOBS,
  commandFlag,
  commandLineWords,
  serviceCommand,
  serviceToCheck,
  stackServiceName,
  type ServiceCommand,
} from '../../src/model/compose-templates.js';
import {
  addApkPackage,
  DOCKERFILE_GLOBS,
  findApkAdds,
  isPackage,
  removeApkPackage,
  runtimeStage,
  shellParts,
  smokescreenDockerfile,
  whereIn,
  type ApkAdd,
  type DockerStage,
  type ParsedDockerfile,
} from '../../src/toolkit/dockerfile.js';
import type { ShellWord } from '../../src/toolkit/shell.js';
import { UnrecognisedShape } from '../../src/core/errors.js';

const EGRESS = 'openclaw-egress';
const NETCAT = 'netcat-openbsd';
const CURL = 'curl';
/** Smokescreen's default `--listen-port`. */
const DEFAULT_LISTEN_PORT = '4750';
/** Upper bound of the connect timeout; a local connect answers in milliseconds or not at all. */
const MAX_CONNECT_SECONDS = 3;
/** Files that may run curl inside the egress container (`docker exec openclaw-egress curl …`). */
const SCRIPT_GLOBS = [
  '**/tasks/**/*.{yml,yaml}',
  '**/handlers/**/*.{yml,yaml}',
  '**/templates/**/*.sh.j2',
  '**/files/**/*.sh',
  '**/*.playbook.{yml,yaml}',
  '**/playbook*.{yml,yaml}',
  '**/playbooks/**/*.{yml,yaml}',
  '**/site.{yml,yaml}',
];

// ---------------------------------------------------------------------------------------------
// The probe

interface NcProbe {
  readonly host: string;
  readonly port: string;
  /** `-w` seconds, undefined when unbounded. */
  readonly timeout: number | undefined;
}

/** OpenBSD nc options that take an argument. */
const NC_OPTIONS_WITH_ARGUMENT = new Set('IiMmOPpqsTVWwXx'.split(''));

/** Reads `nc -z [-w N] host port` (any flag order, combined flags); undefined for anything else. */
function parseNcProbe(argv: readonly string[]): NcProbe | undefined {
  const program = argv[0]?.split('/').at(-1);
  if (program !== 'nc' && program !== 'netcat') return undefined;
  let zero = false;
  let timeout: number | undefined;
  const positional: string[] = [];
  for (let index = 1; index < argv.length; index++) {
    const arg = argv[index]!;
    if (!arg.startsWith('-') || arg.length < 2) {
      positional.push(arg);
      continue;
    }
    for (let k = 1; k < arg.length; k++) {
      const option = arg[k]!;
      if (option === 'z') zero = true;
      if (NC_OPTIONS_WITH_ARGUMENT.has(option)) {
        const value = k + 1 < arg.length ? arg.slice(k + 1) : argv[++index];
        if (option === 'w') timeout = /^\d+$/.test(value ?? '') ? Number(value) : undefined;
        break;
      }
    }
  }
  if (!zero || positional.length !== 2) return undefined;
  return { host: positional[0]!, port: positional[1]!, timeout };
}

/**
 * Reads a CMD-SHELL string as a single nc probe, optionally followed by `|| exit 1`. A probe
 * that ends in `|| exit 0` or `|| true` always succeeds (the report's first snippet does): it
 * is reported as such and never accepted.
 */
function parseShellProbe(command: string): { probe: NcProbe | undefined; alwaysSucceeds: boolean } {
  const alwaysSucceeds = /(\|\||;)\s*(exit\s+0|true|:)\s*$/.test(command);
  const stripped = command.replace(/\s*\|\|\s*exit\s+1\s*$/, '').replace(/^\s*exec\s+/, '');
  if (/[|&;`$<>()]/.test(stripped.replace(/\{\{.*?\}\}/g, ''))) return { probe: undefined, alwaysSucceeds };
  return { probe: parseNcProbe(commandLineWords(stripped).map(({ word }) => word)), alwaysSucceeds };
}

/** Seconds of a Compose duration (`5s`, `1m30s`, `500ms`); undefined when unreadable. */
function durationSeconds(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text.trim()) return undefined;
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 0.000001, ns: 0.000000001 };
  return parts.reduce((sum, part) => sum + Number(part[1]) * unit[part[2]!]!, 0);
}

/** True when `value` written plain reads back as that same string in flow and block lists (not a number, bool, Jinja or indicator); YAML 1.1 booleans are refused too. */
/** A YAML scalar for a flow or block list item, quoted like `sample` where YAML allows it. */
function quoteItem(sample: YamlNode | null | undefined, value: string): string {
  // Compose wants strings in a healthcheck test: a Jinja value beside plain items still gets quotes.
  return isScalar(sample) && !(sample.type === 'PLAIN' && value.includes('{{')) ? quoteLike(sample, value) : JSON.stringify(value);
}

interface ListenAddress {
  readonly host: string;
  readonly port: string;
}

function listenAddress(command: ServiceCommand | undefined): ListenAddress {
  const port = command ? commandFlag(command, 'listen-port')?.value : undefined;
  const ip = command ? commandFlag(command, 'listen-ip')?.value : undefined;
  // Bound to every address (or unset): probe the loopback; bound to one address: probe that one.
  const host = ip === undefined || ip === '' || ip === '0.0.0.0' || ip === '::' || ip === '[::]' ? '127.0.0.1' : ip;
  return { host, port: port ?? DEFAULT_LISTEN_PORT };
}

function acceptableHosts(listen: ListenAddress): string[] {
  return listen.host === '127.0.0.1' ? ['127.0.0.1', 'localhost', '::1'] : [listen.host];
}

interface HealthcheckFinding {
  readonly ok: boolean;
  readonly reason: string;
  readonly edit: TextEdit | undefined;
  readonly change: string | undefined;
}

function checkHealthcheck(
  tpl: ParsedTemplate,
  healthcheck: YAMLMap,
  listen: ListenAddress,
): HealthcheckFinding | { notApplicable: string } {
  const testPair = pairOf(healthcheck, 'test');
  const disabled = pairOf(healthcheck, 'disable')?.value;
  if (isScalar(disabled) && disabled.value === true)
    return { notApplicable: `the healthcheck of ${EGRESS} is disabled (${where(tpl, healthcheck)})` };
  const test = testPair?.value;
  if (!testPair || !test) return { notApplicable: `the healthcheck of ${EGRESS} at ${where(tpl, healthcheck)} has no test` };
  const at = where(tpl, test);
  const timeoutNode = pairOf(healthcheck, 'timeout')?.value;
  const checkTimeout = isScalar(timeoutNode) ? durationSeconds(scalarSource(tpl, timeoutNode)) : 30; // Compose's default
  const seconds = Math.max(1, Math.min(MAX_CONNECT_SECONDS, Math.floor((checkTimeout ?? 30) - 1)));
  const argv = ['nc', '-z', '-w', String(seconds), listen.host, listen.port];
  const shell = argv.join(' ');
  const hosts = acceptableHosts(listen);
  const good = (probe: NcProbe | undefined): boolean =>
    probe !== undefined && probe.timeout !== undefined && probe.timeout > 0 && hosts.includes(probe.host) && probe.port === listen.port;
  const describe = (probe: NcProbe | undefined, alwaysSucceeds = false): string => {
    if (alwaysSucceeds) return 'always succeeds (it ends in a success exit)';
    if (!probe) return 'is not a TCP probe';
    if (probe.timeout === undefined) return 'is a TCP probe without a -w timeout';
    return `probes ${probe.host}:${probe.port}, not the listen address ${listen.host}:${listen.port}`;
  };
  const target = `\`${shell}\``;
  const [testStart, testEnd] = test.range ?? [0, 0];
  const hasBlock = jinjaStatementIn(tpl, testStart, testEnd) !== undefined;
  // A probe Jinja computes (`test: "{{ egress_probe }}"`, or inside `{% if %}`) is the user's
  // decision: refuse rather than overwrite it. Jinja in an argument (a port) is fine.
  const refuseComputed = (commandLine: string): void => {
    if (hasBlock || /^\s*\{\{/.test(commandLine))
      throw new UnrecognisedShape(
        `the healthcheck test of ${EGRESS} at ${at} is computed by Jinja and is not a bounded TCP probe on ${listen.host}:${listen.port}`,
      );
  };

  if (isScalar(test)) {
    // `test: "…"` is the shell form (as CMD-SHELL).
    if (test.type === 'BLOCK_FOLDED' || test.type === 'BLOCK_LITERAL')
      throw new UnrecognisedShape(`healthcheck test of ${EGRESS} at ${at} is a block scalar`);
    const { probe, alwaysSucceeds } = parseShellProbe(scalarSource(tpl, test));
    if (good(probe) && !alwaysSucceeds)
      return { ok: true, reason: `the healthcheck is a bounded TCP probe (${at})`, edit: undefined, change: undefined };
    refuseComputed(scalarSource(tpl, test));
    return {
      ok: false,
      reason: `the healthcheck at ${at} ${describe(probe, alwaysSucceeds)}`,
      edit: replaceNode(tpl, test, quoteItem(test, shell)),
      change: `${tpl.path}: the healthcheck of ${EGRESS} is now ${target}`,
    };
  }
  if (!isSeq(test)) throw new UnrecognisedShape(`healthcheck test of ${EGRESS} at ${at} is neither a list nor a string`);
  const items = test.items.map((item) => {
    if (!isScalar(item)) throw new UnrecognisedShape(`healthcheck test item at ${where(tpl, item as YamlNode)} is not a string`);
    return item;
  });
  const kind = items[0] ? scalarSource(tpl, items[0]) : '';
  if (kind === 'NONE') return { notApplicable: `the healthcheck of ${EGRESS} is disabled (${at})` };
  if (kind === 'CMD-SHELL') {
    const command = items[1];
    if (!command || items.length !== 2)
      throw new UnrecognisedShape(`CMD-SHELL healthcheck at ${at} does not have exactly one command string`);
    const { probe, alwaysSucceeds } = parseShellProbe(scalarSource(tpl, command));
    if (good(probe) && !alwaysSucceeds)
      return { ok: true, reason: `the healthcheck is a bounded TCP probe (${at})`, edit: undefined, change: undefined };
    refuseComputed(scalarSource(tpl, command));
    return {
      ok: false,
      reason: `the healthcheck at ${at} ${describe(probe, alwaysSucceeds)}`,
      edit: replaceNode(tpl, command, quoteItem(command, shell)),
      change: `${tpl.path}: the healthcheck of ${EGRESS} is now ${target}`,
    };
  }
  if (kind !== 'CMD') throw new UnrecognisedShape(`healthcheck test at ${at} starts with '${kind}', not CMD, CMD-SHELL or NONE`);
  const probe = parseNcProbe(items.slice(1).map((item) => scalarSource(tpl, item)));
  if (good(probe)) return { ok: true, reason: `the healthcheck is a bounded TCP probe (${at})`, edit: undefined, change: undefined };
  refuseComputed(items[1] ? scalarSource(tpl, items[1]) : '');
  const newItems = ['CMD', ...argv].map((value) => quoteItem(items[0], value));
  let text: string;
  if (test.flow) {
    text = `[${newItems.join(', ')}]`;
  } else {
    const [start, end] = test.range ?? [0, 0];
    // Rewriting a block list wholesale would drop comments between its items: refuse instead.
    if (/(^|\s)#/.test(tpl.masked.slice(start, end).replace(/"[^"]*"|'[^']*'/g, '')))
      throw new UnrecognisedShape(`healthcheck test list at ${at} has comments between its items`);
    const indent = ' '.repeat(columnAt(tpl.text, start));
    text = newItems.map((item) => `- ${item}`).join(eolOf(tpl.text) + indent);
  }
  return {
    ok: false,
    reason: `the healthcheck at ${at} ${describe(probe)}`,
    edit: replaceNode(tpl, test, text),
    change: `${tpl.path}: the healthcheck of ${EGRESS} is now ${target}`,
  };
}

// ---------------------------------------------------------------------------------------------
// The image

const CURL_WORD = /(^|[^A-Za-z0-9_-])curl([^A-Za-z0-9_-]|$)/;

/** Where, besides the `apk add` lists (`apks`) that install it, the image or the deployment runs curl in the egress container. */
function curlUses(
  df: ParsedDockerfile,
  stage: DockerStage,
  apks: readonly ApkAdd[],
  repo: RepoView,
  egressNames: readonly string[],
  egressSources: readonly string[],
): string[] {
  const uses: string[] = [];
  // In `apk add … curl` curl is a package name, not a use.
  const apkAddStarts = new Set(apks.map((apk) => apk.part.start));
  for (const instruction of stage.instructions) {
    if (!['RUN', 'CMD', 'ENTRYPOINT', 'HEALTHCHECK'].includes(instruction.keyword)) continue;
    if (instruction.keyword !== 'RUN' || instruction.execForm || instruction.heredoc) {
      if (CURL_WORD.test(instruction.logical)) uses.push(`${instruction.keyword} at ${whereIn(df, instruction.start)}`);
      continue;
    }
    for (const part of shellParts(df, instruction)) {
      if (!apkAddStarts.has(part.start) && part.words.some((word) => CURL_WORD.test(word.value)))
        uses.push(`RUN at ${whereIn(df, part.start)}`);
    }
  }
  for (const source of egressSources) if (CURL_WORD.test(source)) uses.push(`the ${EGRESS} service's command or entrypoint`);
  const names = egressNames.map(escapeRegExp).join('|');
  const execInEgress = new RegExp(`\\bexec\\b.*\\b(${names})\\b.*\\bcurl\\b`);
  for (const path of repo.glob(...SCRIPT_GLOBS)) {
    (repo.read(path) ?? '').split('\n').forEach((line, index) => {
      if (!line.trim().startsWith('#') && execInEgress.test(line)) uses.push(`${path}:${index + 1}`);
    });
  }
  return uses;
}

/** The comment lines directly above an instruction (no blank line between). */
function commentBlockAbove(df: ParsedDockerfile, lineStart: number): { start: number; end: number; text: string }[] {
  const block = [];
  let cursor = lineStart;
  for (const comment of [...df.comments].reverse()) {
    if (comment.next !== cursor) continue;
    block.unshift(comment);
    cursor = comment.start;
  }
  return block;
}

interface ImageFinding {
  readonly edits: readonly TextEdit[];
  readonly changes: readonly string[];
  readonly problems: readonly string[];
  readonly notes: readonly string[];
  readonly reason: string;
}

function checkImage(df: ParsedDockerfile, repo: RepoView, egressNames: readonly string[], egressSources: readonly string[]): ImageFinding {
  const stage = runtimeStage(df);
  if (!stage) throw new UnrecognisedShape(`${df.path} has no FROM`);
  const stageAt = whereIn(df, stage.from.start);
  const apks = findApkAdds(df, stage).filter((apk) => apk.packages.length > 0);
  const netcat = apks.flatMap((apk) => apk.packages.filter((word) => isPackage(word, NETCAT)));
  const curls = apks.flatMap((apk) => apk.packages.filter((word) => isPackage(word, CURL)).map((word) => ({ apk, word })));
  const uses = curls.length > 0 ? curlUses(df, stage, apks, repo, egressNames, egressSources) : [];

  const edits: TextEdit[] = [];
  const changes: string[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  const refuseJinja = (apk: ApkAdd): void => {
    if (apk.instruction.hasJinjaStatement)
      throw new UnrecognisedShape(`the apk add at ${whereIn(df, apk.part.start)} contains a Jinja block`);
  };

  // curl goes when nothing uses it and it can go without leaving an empty `apk add`.
  const needNetcat = netcat.length === 0;
  const dropCurl =
    curls.length > 0 && uses.length === 0 && curls.every(({ apk }, index) => apk.packages.length > 1 || (needNetcat && index === 0));
  if (curls.length > 0 && uses.length > 0)
    notes.push(`curl stays in the runtime stage of ${df.path}: it is still used by ${uses.join(', ')}`);

  if (needNetcat) {
    if (apks.length === 0)
      throw new UnrecognisedShape(`the runtime stage at ${stageAt} installs nothing with 'apk add'; cannot add ${NETCAT}`);
    problems.push(`${NETCAT} is not installed in the runtime stage at ${stageAt}`);
  }
  if (dropCurl) problems.push(`curl is installed at ${whereIn(df, curls[0]!.word.start)} but nothing uses it`);

  const replaced = new Set<ShellWord>();
  if (needNetcat) {
    const host = curls[0]?.apk ?? apks[0]!;
    refuseJinja(host);
    if (dropCurl) {
      // Swap curl for netcat in place: one word, the list's own layout.
      const word = curls[0]!.word;
      edits.push({ path: df.path, start: word.start, end: word.end, text: NETCAT });
      replaced.add(word);
      changes.push(`${df.path}: the runtime stage installs ${NETCAT} instead of curl`);
    } else {
      edits.push(addApkPackage(df, host, NETCAT));
      changes.push(`${df.path}: the runtime stage installs ${NETCAT}`);
    }
  }
  if (dropCurl) {
    for (const { apk, word } of curls) {
      if (replaced.has(word)) continue;
      refuseJinja(apk);
      edits.push(removeApkPackage(df, apk, word));
    }
    if (!needNetcat) changes.push(`${df.path}: curl removed from the runtime stage (nothing uses it)`);
    // A comment right above that says curl is there for the healthcheck is now stale: the
    // healthcheck runs nc, so it names nc. Any other comment mentioning curl is kept as written.
    for (const { apk } of curls.slice(0, 1)) {
      for (const comment of commentBlockAbove(df, apk.instruction.lineStart)) {
        if (!/healthcheck/i.test(comment.text)) continue;
        const match = CURL_WORD.exec(comment.text);
        if (!match) continue;
        const start = comment.start + match.index + match[1]!.length;
        edits.push({ path: df.path, start, end: start + CURL.length, text: NETCAT });
        changes.push(`${df.path}: the comment above the apk add now names ${NETCAT}, which is what the healthcheck uses`);
      }
    }
  }
  const reason =
    problems.length > 0
      ? problems.join('; ')
      : `${NETCAT} is installed in the runtime stage at ${stageAt}${curls.length > 0 ? ' (curl kept: still used)' : ''}`;
  return { edits, changes, problems, notes, reason };
}

// ---------------------------------------------------------------------------------------------

export const bug1: PatchModule = {
  id: 'egress-tcp-healthcheck',
  bug: 1,
  priority: 2,
  scope: 'egress',
  files: [...COMPOSE_TEMPLATE_GLOBS, ...DOCKERFILE_GLOBS, ...SCRIPT_GLOBS],
  home: import.meta.url,

  check(repo): CheckResult {
    const EGRESS = stackServiceName(repo, 'egress');
    const found = serviceToCheck(repo, EGRESS, ['healthcheck', 'command', 'container_name']);
    if (!found) return { state: 'not-applicable', reason: `no Compose template defines ${EGRESS}` };
    const { tpl, pair: servicePair, service: egress } = found;
    const healthcheckPair = pairOf(egress, 'healthcheck');
    if (!healthcheckPair || !healthcheckPair.value)
      return { state: 'not-applicable', reason: `${EGRESS} has no healthcheck (${where(tpl, servicePair)})` };
    if (!isMap(healthcheckPair.value))
      throw new UnrecognisedShape(`healthcheck of ${EGRESS} at ${where(tpl, healthcheckPair)} is not a mapping`);
    const command = serviceCommand(tpl, egress);
    const listen = listenAddress(command);

    const health = checkHealthcheck(tpl, healthcheckPair.value, listen);
    if ('notApplicable' in health) return { state: 'not-applicable', reason: health.notApplicable };

    const containerName = pairOf(egress, 'container_name')?.value;
    const egressNames = [EGRESS, ...(isScalar(containerName) ? [String(containerName.value)] : [])];
    const egressSources = ['command', 'entrypoint']
      .map((key) => pairOf(egress, key)?.value)
      .filter((node): node is YamlNode => node !== undefined && node !== null)
      .map((node) => sourceOf(tpl, node));
    const df = smokescreenDockerfile(repo);
    const image = df
      ? checkImage(df, repo, egressNames, egressSources)
      : {
          edits: [],
          changes: [],
          problems: [],
          notes: [`no Dockerfile template that builds Smokescreen was found: make sure the ${EGRESS} image provides nc`],
          reason: 'no Smokescreen Dockerfile template',
        };

    const edits = [...(health.edit ? [health.edit] : []), ...image.edits];
    if (edits.length === 0) {
      return { state: 'fixed', reason: `${health.reason}; ${image.reason}`, notes: image.notes };
    }
    const problems = [...(health.ok ? [] : [health.reason]), ...image.problems];
    return {
      state: 'needs-fix',
      reason: problems.join('; '),
      edits,
      changes: [...(health.change ? [health.change] : []), ...image.changes],
      notes: image.notes,
    };
  },
};
