/**
 * Bug 2: give the read-only egress container a `/run` tmpfs and point Smokescreen's stats
 * socket explicitly at a directory that exists, on a tmpfs the container user can write.
 *
 * The report's story behind it (a default socket directory on the read-only root, "exit
 * code 0") does not hold at v0.0.4 — see `departsFromReport` — but the change is sound
 * hardening and the issue asks for it, so it is made in the Compose file's own style.
 */
import { isScalar, isSeq, type Node as YamlNode, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { scalarSource, sourceOf, type ParsedTemplate } from '../../src/toolkit/template-yaml.js';
import { columnAt, lineStartAt } from '../../src/toolkit/text.js';
import type { CheckResult, PatchModule, TextEdit } from '../../src/core/types.js';
import { appendToSeq, indentUnit, insertIntoMap, pairOf, quoteLike, replaceNode, where } from '../../src/toolkit/yaml-edit.js';
import {
  COMPOSE_TEMPLATE_GLOBS,
  commandFlag,
  serviceCommand,
  serviceToCheck,
  stackServiceName,
} from '../../src/model/compose-templates.js';
import { UnrecognisedShape } from '../../src/core/errors.js';

const EGRESS = 'openclaw-egress';
const STATS_SOCKET_FLAG = 'stats-socket-dir';
/** The docker-proxy service's `/run` mount in the same file uses 8M; a socket needs almost nothing. */
const RUN_TMPFS_ENTRY = '/run:size=8M';
/** Preferred socket directories, best first: each must be a tmpfs mount point (see details). */
const SOCKET_DIR_PREFERENCE = ['/run', '/tmp'];

interface TmpfsMount {
  /** Mount point, normalised without a trailing slash; undefined when Jinja decides it. */
  readonly path: string | undefined;
  /** Whether a non-root container user can create files at the mount point. */
  readonly writable: boolean;
  readonly node: Scalar;
}

function normaliseDir(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

/**
 * A Compose short-syntax tmpfs entry, `/run:size=8M,mode=1777`. Docker creates a tmpfs with
 * mode 1777 unless `mode=` says otherwise, so only an explicit mode without the others' write
 * bit keeps the (non-root) `smokescreen` user out.
 */
function readTmpfsEntry(tpl: ParsedTemplate, node: Scalar): TmpfsMount {
  const text = scalarSource(tpl, node);
  const colon = text.indexOf(':');
  const path = colon === -1 ? text : text.slice(0, colon);
  const options = colon === -1 ? '' : text.slice(colon + 1);
  const mode = /(?:^|,)mode=([0-7]+)/.exec(options)?.[1];
  const writable = mode === undefined || (Number.parseInt(mode, 8) & 0o002) !== 0;
  return { path: /\{[{%]/.test(path) ? undefined : normaliseDir(path.trim()), writable, node };
}

interface TmpfsState {
  readonly mounts: readonly TmpfsMount[];
  /** The edit that adds `/run`, when it is missing. */
  readonly edit: TextEdit | undefined;
}

/** Column offset of a block list's dashes under their key, as the service's other lists use it. */
function blockListOffset(tpl: ParsedTemplate, service: YAMLMap): number {
  for (const pair of service.items) {
    const value = pair.value as YamlNode | null;
    const first = isSeq(value) && !value.flow ? (value.items[0] as YamlNode | undefined) : undefined;
    if (!first?.range || !isScalar(pair.key) || !pair.key.range) continue;
    const lineStart = lineStartAt(tpl.text, first.range[0]);
    const dash = tpl.text.indexOf('-', lineStart);
    return columnAt(tpl.text, dash) - columnAt(tpl.text, pair.key.range[0]);
  }
  return indentUnit(tpl).length;
}

function tmpfsState(tpl: ParsedTemplate, service: YAMLMap): TmpfsState {
  const pair = pairOf(service, 'tmpfs');
  const value = pair?.value;
  if (!pair || value === null || value === undefined) {
    // No tmpfs at all: add the key with `/run`, as a block list in the service's style.
    const lines = service.flow
      ? [`tmpfs: [${RUN_TMPFS_ENTRY}]`]
      : ['tmpfs:', `${' '.repeat(blockListOffset(tpl, service))}- ${RUN_TMPFS_ENTRY}`];
    return { mounts: [], edit: insertIntoMap(tpl, service, lines, pairOf(service, 'read_only') ? 'read_only' : undefined) };
  }
  if (isScalar(value)) {
    // `tmpfs: /tmp:size=16M` — Compose also takes a single string; it becomes a flow list of two.
    if (value.type !== 'PLAIN' && value.type !== 'QUOTE_DOUBLE' && value.type !== 'QUOTE_SINGLE') {
      throw new UnrecognisedShape(`tmpfs of ${EGRESS} at ${where(tpl, value)} is a block scalar`);
    }
    const mount = readTmpfsEntry(tpl, value);
    if (mount.path === '/run') return { mounts: [mount], edit: undefined };
    const source = sourceOf(tpl, value);
    if (source.includes('\n')) throw new UnrecognisedShape(`tmpfs of ${EGRESS} at ${where(tpl, value)} is a multi-line string`);
    return { mounts: [mount], edit: replaceNode(tpl, value, `[${source}, ${quoteLike(value, RUN_TMPFS_ENTRY)}]`) };
  }
  if (!isSeq(value)) throw new UnrecognisedShape(`tmpfs of ${EGRESS} at ${where(tpl, pair)} is neither a list nor a string`);
  const mounts = value.items.map((item) => {
    if (!isScalar(item)) throw new UnrecognisedShape(`tmpfs entry at ${where(tpl, item as YamlNode)} is not a string`);
    return readTmpfsEntry(tpl, item);
  });
  if (mounts.some((mount) => mount.path === '/run')) return { mounts, edit: undefined };
  const unknown = mounts.find((mount) => mount.path === undefined);
  if (unknown)
    throw new UnrecognisedShape(`tmpfs entry at ${where(tpl, unknown.node)} is computed by Jinja; cannot tell whether it mounts /run`);
  const sample = mounts.find((mount) => mount.path === '/tmp')?.node ?? (value.items.at(-1) as Scalar | undefined);
  return { mounts, edit: appendToSeq(tpl, value as YAMLSeq, [quoteLike(sample, RUN_TMPFS_ENTRY)]) };
}

export const bug2: PatchModule = {
  id: 'egress-writable-run',
  bug: 2,
  priority: 1,
  scope: 'egress',
  files: COMPOSE_TEMPLATE_GLOBS,
  home: import.meta.url,

  check(repo): CheckResult {
    const EGRESS = stackServiceName(repo, 'egress');
    const found = serviceToCheck(repo, EGRESS, ['tmpfs', 'read_only', 'command']);
    if (!found) return { state: 'not-applicable', reason: `no Compose template defines ${EGRESS}` };
    const { tpl, pair: servicePair, service: egress } = found;

    const tmpfs = tmpfsState(tpl, egress);
    const runAdded = tmpfs.edit !== undefined;
    // The mounts as they will be once `/run` is there: the socket directory is judged against them.
    const mounts = runAdded ? [...tmpfs.mounts, { path: '/run', writable: true }] : tmpfs.mounts;
    const writableMountPoints = new Set(mounts.filter((mount) => mount.writable && mount.path).map((mount) => mount.path!));
    const target = SOCKET_DIR_PREFERENCE.find((dir) => writableMountPoints.has(dir));

    const command = serviceCommand(tpl, egress);
    if (!command) throw new UnrecognisedShape(`${EGRESS} at ${where(tpl, servicePair)} has no command to add --${STATS_SOCKET_FLAG} to`);
    const flag = commandFlag(command, STATS_SOCKET_FLAG);
    let flagEdit: TextEdit | undefined;
    let flagChange: string | undefined;
    if (flag) {
      const at = where(tpl, flag.flag.node);
      if (flag.value === undefined) throw new UnrecognisedShape(`--${STATS_SOCKET_FLAG} at ${at} has no value`);
      if (/\{[{%]/.test(flag.value))
        throw new UnrecognisedShape(`--${STATS_SOCKET_FLAG} at ${at} is set by Jinja; cannot tell where it points`);
      if (!writableMountPoints.has(normaliseDir(flag.value))) {
        if (!target)
          throw new UnrecognisedShape(
            `no tmpfs of ${EGRESS} (${tpl.path}) is writable by the container user for --${STATS_SOCKET_FLAG} at ${at}`,
          );
        flagEdit = { path: tpl.path, start: flag.valueStart, end: flag.valueEnd, text: target };
        flagChange = `${tpl.path}: pointed --${STATS_SOCKET_FLAG} of ${EGRESS} from ${flag.value} (not a writable tmpfs mount point) to ${target}`;
      }
    } else {
      if (!target) throw new UnrecognisedShape(`no tmpfs of ${EGRESS} at ${where(tpl, servicePair)} is writable by the container user`);
      const argument = `--${STATS_SOCKET_FLAG}=${target}`;
      if (command.form === 'list') {
        flagEdit = appendToSeq(tpl, command.node as YAMLSeq, [quoteLike(command.args.at(-1)?.node, argument)]);
      } else {
        const last = command.args.at(-1);
        if (!last) throw new UnrecognisedShape(`command of ${EGRESS} at ${where(tpl, command.node)} is empty`);
        flagEdit = { path: tpl.path, start: last.end, end: last.end, text: ` ${argument}` };
      }
      flagChange = `${tpl.path}: added ${argument} to the command of ${EGRESS}`;
    }

    const readOnly = pairOf(egress, 'read_only');
    const readOnlyNote = isScalar(readOnly?.value) && readOnly.value.value === true ? 'read_only: true kept' : 'read_only is not true';
    if (!tmpfs.edit && !flagEdit) {
      return {
        state: 'fixed',
        reason: `${EGRESS} has a /run tmpfs and its stats socket on a tmpfs mount point (${where(tpl, flag!.flag.node)}); ${readOnlyNote}`,
      };
    }
    const edits = [tmpfs.edit, flagEdit].filter((edit): edit is TextEdit => edit !== undefined);
    const changes = [runAdded ? `${tpl.path}: added a ${RUN_TMPFS_ENTRY} tmpfs to ${EGRESS}` : undefined, flagChange].filter(
      (change): change is string => change !== undefined,
    );
    const missing = [
      runAdded ? 'no /run tmpfs' : undefined,
      flagEdit ? (flag ? `--${STATS_SOCKET_FLAG} not on a writable tmpfs mount point` : `no --${STATS_SOCKET_FLAG}`) : undefined,
    ].filter(Boolean);
    return {
      state: 'needs-fix',
      reason: `${EGRESS} at ${where(tpl, servicePair)}: ${missing.join(', ')} (${readOnlyNote})`,
      edits,
      changes,
    };
  },
};
