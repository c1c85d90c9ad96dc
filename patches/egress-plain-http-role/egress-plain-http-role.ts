/**
 * Bug 3: Smokescreen v0.0.4's own main.go takes a client's ACL role from its TLS client
 * certificate and refuses (HTTP 407) every client without one, which is every OpenClaw service:
 * they reach the proxy over plain HTTP. Ship a replacement entrypoint as a role file, deploy it
 * next to the Dockerfile, and copy it over main.go between `git checkout` and `go build`.
 */
import { posix } from 'node:path';
import { isScalar, type Node as YamlNode, type YAMLMap } from 'yaml';
import { sourceOf } from '../../src/toolkit/template-yaml.js';
import type { CheckResult, PatchModule, RepoView, TextEdit } from '../../src/core/types.js';
import { entryLines, pairOf, where } from '../../src/toolkit/yaml-edit.js';
import {
  DOCKERFILE_GLOBS,
  insertLinesAfter,
  insertLinesBefore,
  shellParts,
  smokescreenDockerfile,
  splitRunAfter,
  whereIn,
  type DockerInstruction,
  type DockerStage,
  type ParsedDockerfile,
  type ShellPart,
} from '../../src/toolkit/dockerfile.js';
import { roleDirOf } from '../../src/model/roles.js';
import { commandWordValues } from '../../src/toolkit/shell.js';
import { insertTasksAfter, moduleKey, moduleParameters, parameterText, readTaskFile, tasksOf, type Task } from '../../src/toolkit/tasks.js';
import { UnrecognisedShape } from '../../src/core/errors.js';
import { unquote } from '../../src/toolkit/text.js';

/**
 * File name of the entrypoint in the role's files/ and in the image's build context, and of the
 * asset beside this module that is written there: upstream Smokescreen v0.0.4's main.go with one
 * line added (`AllowMissingRole`), so upstream's own switch decides the plain-HTTP case and
 * everything else (flags, logging, serving) stays as upstream built it.
 */
export const ENTRYPOINT_FILE_NAME = 'smokescreen-main.go';

// ---------------------------------------------------------------------------------------------
// Screening an entrypoint's text (a module cannot compile Go; src/verify/go-check.ts does, in verify)

function withoutComments(source: string): string {
  // Good enough for screening: an entrypoint holds no string literal with "//" or "/*".
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

/**
 * The known defects of an entrypoint, one clause each; empty when none is recognised:
 * StartWithConfig's (absent) result used as a value, which does not compile on v0.0.4; a role
 * function that refuses clients without TLS; the client certificate ignored; the nil config of
 * --help/--version dereferenced; upstream's JSON logging dropped.
 */
export function entrypointDefects(source: string): string[] {
  const code = withoutComments(source).replace(/\r\n/g, '\n');
  const defects: string[] = [];
  if (!/^\s*package\s+main\b/m.test(code)) defects.push('it is not a `package main` file');
  if (!/\bsmokescreen\.StartWithConfig\s*\(/.test(code)) defects.push('it never calls smokescreen.StartWithConfig');
  const callUsedAsValue =
    /(?:[:=]|\breturn)\s*smokescreen\.StartWithConfig\s*\(|smokescreen\.StartWithConfig\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*(?:[!=]=|[,)])/;
  if (callUsedAsValue.test(code))
    defects.push('it uses the result of smokescreen.StartWithConfig, which returns nothing on v0.0.4, so it does not compile');
  const allowsMissingRole = /\.AllowMissingRole\s*=\s*true\b/.test(code);
  const refusesWithoutTls = /\.TLS\s*==\s*nil[^}]*?return\s+"[^"]*"\s*,\s*(?!nil\b)[\w.]+/.test(code);
  if (refusesWithoutTls && !allowsMissingRole) {
    defects.push(
      'its role function returns an error for clients without TLS and AllowMissingRole is not set, so plain-HTTP clients get HTTP 407',
    );
  }
  if (!/\bPeerCertificates\b|\bVerifiedChains\b/.test(code))
    defects.push('it ignores the client certificate, so clients that present one lose their role');
  const configVariable = /\b(\w+)\s*,\s*\w+\s*:?=\s*cmd\.NewConfiguration\s*\(/.exec(code)?.[1];
  if (configVariable && !new RegExp(`\\b${configVariable}\\s*[!=]=\\s*nil\\b|\\bnil\\s*[!=]=\\s*${configVariable}\\b`).test(code)) {
    defects.push(`it dereferences the nil config cmd.NewConfiguration returns for --help/--version (${configVariable})`);
  }
  if (!/\blogrus\.JSONFormatter\b/.test(code) || !/\bsmokescreen\.Log2LogrusWriter\b/.test(code)) {
    defects.push("it drops upstream's JSON logging (logrus.JSONFormatter, the standard log routed through smokescreen.Log2LogrusWriter)");
  }
  return defects;
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile's build stage

const TASK_FILE_GLOB = 'tasks/**/*.{yml,yaml}';
const ENTRYPOINT_GLOBS = ['**/files/**/*.go', '**/templates/**/*.go', '**/templates/**/*.go.j2'];

/** `go build` flags whose value is the next word when not written `-flag=value`. */
const GO_BUILD_FLAGS_WITH_VALUE = new Set([
  '-o',
  '-ldflags',
  '-gcflags',
  '-asmflags',
  '-tags',
  '-mod',
  '-p',
  '-buildmode',
  '-compiler',
  '-gccgoflags',
  '-installsuffix',
  '-pkgdir',
  '-modfile',
  '-overlay',
  '-pgo',
  '-C',
]);

interface CommandAt {
  readonly instruction: DockerInstruction;
  readonly parts: readonly ShellPart[];
  readonly partIndex: number;
}

interface BuildStage {
  readonly df: ParsedDockerfile;
  readonly stage: DockerStage;
  /** The `go build` of the repository root. */
  readonly build: CommandAt;
  /** The last git command before it: after it, the checkout's main.go is in place. */
  readonly lastGit: CommandAt;
  /** The WORKDIR in effect at the build's RUN, as written. */
  readonly workdir: string;
  /** The directory `go build` runs in: the WORKDIR, moved by a literal `cd` earlier in the same RUN. */
  readonly buildDir: string;
}

function isGoBuild(part: ShellPart): boolean {
  const words = commandWordValues(part);
  return words[0] === 'go' && words[1] === 'build';
}

/** The package arguments of `go build` (flags and their values skipped). */
function goBuildPackages(part: ShellPart): string[] {
  const words = commandWordValues(part).slice(2);
  const packages: string[] = [];
  for (let index = 0; index < words.length; index++) {
    const word = words[index]!;
    if (word.startsWith('-')) {
      if (!word.includes('=') && GO_BUILD_FLAGS_WITH_VALUE.has(word.replace(/^--/, '-'))) index++;
      continue;
    }
    packages.push(word);
  }
  return packages;
}

/** WORKDIR in effect at each instruction of the stage (absolute, as written; `/` before any). */
function workdirAt(stage: DockerStage, target: DockerInstruction): string {
  let dir = '/';
  for (const instruction of stage.instructions) {
    if (instruction === target) break;
    if (instruction.keyword === 'WORKDIR') {
      const value = unquote(instruction.logical.trim());
      dir = value.startsWith('/') || value.startsWith('{{') ? value : posix.join(dir, value);
    }
  }
  return dir;
}

function analyseBuildStage(df: ParsedDockerfile): BuildStage {
  const builds: CommandAt[] = [];
  let found: { stage: DockerStage; build: CommandAt } | undefined;
  for (const stage of df.stages) {
    for (const instruction of stage.instructions) {
      if (instruction.keyword !== 'RUN') continue;
      if (instruction.execForm || instruction.heredoc) {
        if (/\bgo\s+build\b/.test(instruction.logical)) {
          throw new UnrecognisedShape(
            `the RUN with go build at ${whereIn(df, instruction.start)} is in ${instruction.heredoc ? 'heredoc' : 'exec'} form; cannot place the entrypoint before it`,
          );
        }
        continue;
      }
      const parts = shellParts(df, instruction);
      parts.forEach((part, partIndex) => {
        if (!isGoBuild(part)) return;
        const build = { instruction, parts, partIndex };
        builds.push(build);
        found = { stage, build };
      });
    }
  }
  if (!found)
    throw new UnrecognisedShape(
      `${df.path} builds Smokescreen without a 'go build' command (RUN ... go build); cannot replace its main.go`,
    );
  if (builds.length > 1) {
    throw new UnrecognisedShape(
      `${df.path} runs go build more than once (${builds.map((b) => whereIn(df, b.parts[b.partIndex]!.start)).join(', ')}); cannot tell which builds Smokescreen`,
    );
  }
  const { stage, build } = found;
  const buildPart = build.parts[build.partIndex]!;
  const buildAt = whereIn(df, buildPart.start);
  const packages = goBuildPackages(buildPart);
  if (packages.some((pkg) => pkg !== '.' && pkg !== './')) {
    throw new UnrecognisedShape(
      `go build at ${buildAt} builds ${packages.join(' ')}, not the repository root whose main.go is the entrypoint`,
    );
  }
  const workdir = workdirAt(stage, build.instruction);
  const buildDir = directoryAfterCds(df, build, workdir);
  let lastGit: CommandAt | undefined;
  for (const instruction of stage.instructions) {
    if (instruction.keyword !== 'RUN' || instruction.execForm || instruction.heredoc) continue;
    const parts = instruction === build.instruction ? build.parts : shellParts(df, instruction);
    const limit = instruction === build.instruction ? build.partIndex : parts.length;
    for (let partIndex = 0; partIndex < limit; partIndex++) {
      if (commandWordValues(parts[partIndex]!)[0] === 'git') lastGit = { instruction, parts, partIndex };
    }
    if (instruction === build.instruction) break;
  }
  if (!lastGit)
    throw new UnrecognisedShape(
      `no git clone/checkout precedes go build at ${buildAt} in its stage; cannot tell where the checkout's main.go is`,
    );
  return { df, stage, build, lastGit, workdir, buildDir };
}

/**
 * The directory `go build` runs in: the WORKDIR, moved by each `cd <literal path>` that runs
 * before it in the same RUN (`RUN git clone … /src && cd /src && go build .`). A `cd` the
 * shell alone can resolve (a variable, `-`, `~`, no argument, a Jinja expression), one inside a
 * subshell or not followed by `&&`/`;`, or a `pushd`, makes the fix unrecognised: main.go
 * would be written somewhere the build may not read.
 */
function directoryAfterCds(df: ParsedDockerfile, build: CommandAt, workdir: string): string {
  const buildAt = whereIn(df, build.parts[build.partIndex]!.start);
  let dir = workdir;
  for (const part of build.parts.slice(0, build.partIndex)) {
    const words = commandWordValues(part);
    if (words[0] === 'pushd' || words[0] === 'popd')
      throw new UnrecognisedShape(`go build at ${buildAt} runs after a '${words[0]}' in the same RUN; cannot tell where main.go is`);
    if (words[0] !== 'cd') continue;
    const cdAt = whereIn(df, part.start);
    const target = words.slice(1).filter((word) => word !== '-P' && word !== '-L' && word !== '--');
    if (part.depth !== 0 || (part.separator?.op !== '&&' && part.separator?.op !== ';')) {
      throw new UnrecognisedShape(
        `the 'cd' at ${cdAt} is not a plain step of the RUN before go build (in a subshell, or not followed by '&&'); cannot tell where main.go is`,
      );
    }
    const path = target[0];
    if (target.length !== 1 || path === undefined || !/^[\w./@+,:-]+$/.test(path) || path === '-' || path.startsWith('~')) {
      throw new UnrecognisedShape(
        `go build at ${buildAt} runs after 'cd ${target.join(' ')}' (${cdAt}), which is not a literal path; cannot tell where main.go is`,
      );
    }
    if (!path.startsWith('/') && /\{\{/.test(dir))
      throw new UnrecognisedShape(
        `the 'cd ${path}' at ${cdAt} is relative to a WORKDIR set by Jinja (${dir}); cannot tell where main.go is`,
      );
    dir = path.startsWith('/') ? posix.normalize(path) : posix.join(dir, path);
  }
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

interface CopyOverMain {
  readonly instruction: DockerInstruction;
  /** The build-context file copied over main.go. */
  readonly source: string;
}

/** The COPY/ADD of the stage that writes `<buildDir>/main.go`, if any. */
function copyOverMain(site: BuildStage): CopyOverMain | undefined {
  const { df, stage, buildDir } = site;
  const target = posix.join(buildDir, 'main.go');
  for (const instruction of stage.instructions) {
    if (instruction.keyword !== 'COPY' && instruction.keyword !== 'ADD') continue;
    let args: string[];
    if (instruction.execForm) {
      try {
        args = JSON.parse(instruction.logical) as string[];
      } catch {
        throw new UnrecognisedShape(`${instruction.keyword} at ${whereIn(df, instruction.start)} is not valid JSON`);
      }
    } else {
      args = shellParts(df, instruction).flatMap((part) => part.words.map((word) => word.value));
    }
    if (args.some((arg) => arg.startsWith('--from='))) continue;
    const paths = args.filter((arg) => !arg.startsWith('--'));
    const dest = paths.at(-1);
    const sources = paths.slice(0, -1);
    if (dest === undefined || sources.length === 0) continue;
    const base = workdirAt(stage, instruction);
    const destDir = dest.endsWith('/') || dest === '.' || sources.length > 1;
    const resolvedDest = dest.startsWith('/') ? dest : posix.join(base, dest);
    const writes = sources.map((source) => (destDir ? posix.join(resolvedDest, posix.basename(source)) : posix.normalize(resolvedDest)));
    const index = writes.indexOf(target);
    if (index === -1) continue;
    if (sources.length > 1)
      throw new UnrecognisedShape(
        `${instruction.keyword} at ${whereIn(df, instruction.start)} copies several files, one of them over main.go`,
      );
    return { instruction, source: sources[index]! };
  }
  return undefined;
}

function instructionIndex(site: BuildStage, instruction: DockerInstruction): number {
  return site.df.instructions.indexOf(instruction);
}

/** True when the COPY lands after the last git command and before go build (in another instruction than both). */
function copyInOrder(site: BuildStage, copy: DockerInstruction): boolean {
  const at = instructionIndex(site, copy);
  return at > instructionIndex(site, site.lastGit.instruction) && at < instructionIndex(site, site.build.instruction);
}

/** The edit that puts `COPY <source> main.go` between the checkout and the build. */
function placeCopy(site: BuildStage, source: string): { edit: TextEdit; split: boolean } {
  const { df, build, lastGit, workdir, buildDir } = site;
  const runKeyword = df.text.slice(build.instruction.start, build.instruction.argsStart).trim();
  // COPY resolves against WORKDIR, not the shell's `cd`: name main.go by its full path then.
  const movedByCd = buildDir !== workdir;
  const copyLine = `${runKeyword === runKeyword.toLowerCase() ? 'copy' : 'COPY'} ${source} ${movedByCd ? posix.join(buildDir, 'main.go') : 'main.go'}`;
  if (lastGit.instruction === build.instruction) {
    // A new RUN starts in WORKDIR again: it repeats the `cd` so go build runs where it did.
    return {
      edit: splitRunAfter(df, build.instruction, build.partIndex - 1, [copyLine], movedByCd ? `cd ${buildDir} && ` : ''),
      split: true,
    };
  }
  // Right after the checkout, unless a WORKDIR between them moves where `main.go` resolves.
  const between = df.instructions.slice(instructionIndex(site, lastGit.instruction) + 1, instructionIndex(site, build.instruction));
  if (between.some((instruction) => instruction.keyword === 'WORKDIR'))
    return { edit: insertLinesBefore(df, build.instruction, [copyLine]), split: false };
  return { edit: insertLinesAfter(df, lastGit.instruction, [copyLine]), split: false };
}

// ---------------------------------------------------------------------------------------------
// The tasks that deploy the Dockerfile and the entrypoint

interface ModuleArgs {
  readonly task: Task;
  readonly args: YAMLMap;
}

/**
 * Every copy/template task of the role, with its arguments as a mapping. A task that passes
 * free-form `src=… dest=…` text cannot be read safely: when it names one of `names`,
 * UnrecognisedShape; otherwise it is not one of ours and is skipped.
 */
function fileTasks(repo: RepoView, roleDir: string, names: readonly string[]): ModuleArgs[] {
  const found: ModuleArgs[] = [];
  for (const path of repo.glob(`${roleDir}${TASK_FILE_GLOB}`)) {
    const file = readTaskFile(path, repo.read(path) ?? '');
    for (const task of tasksOf(file)) {
      if (task.shortModule !== 'template' && task.shortModule !== 'copy') continue;
      const args = moduleParameters(task);
      if (args) {
        found.push({ task, args });
        continue;
      }
      const value = task.module === undefined ? undefined : pairOf(task.map, task.module)?.value;
      const raw = isScalar(value) ? sourceOf(task.file.tpl, value as YamlNode) : '';
      if (names.some((name) => raw.includes(name))) {
        throw new UnrecognisedShape(
          `the task at ${where(task.file.tpl, task.map)} passes its arguments as key=value text; cannot read it safely`,
        );
      }
    }
  }
  return found;
}

function srcBase(entry: ModuleArgs): string | undefined {
  const src = parameterText(entry.task, 'src');
  return src === undefined ? undefined : posix.basename(src);
}

/** The new task that copies the entrypoint into the build context, modelled on the Dockerfile task. */
function deployTaskLines(dockerfileTask: ModuleArgs, fileName: string): string[] {
  const { task, args } = dockerfileTask;
  const destPair = pairOf(args, 'dest');
  const destNode = destPair?.value;
  if (!destPair || !isScalar(destNode))
    throw new UnrecognisedShape(`the Dockerfile task at ${where(task.file.tpl, task.map)} has no plain dest`);
  const raw = sourceOf(task.file.tpl, destNode as YamlNode);
  const quote = /^["']/.test(raw) ? raw[0]! : '';
  const inner = unquote(raw);
  const slash = inner.lastIndexOf('/');
  const slashOffset = (destNode as YamlNode).range![0] + quote.length + slash;
  const inJinja = task.file.tpl.jinja.some((span) => span.start <= slashOffset && slashOffset < span.end);
  if (slash === -1 || inJinja)
    throw new UnrecognisedShape(
      `cannot tell the build directory from the Dockerfile task's dest ${raw} at ${where(task.file.tpl, destPair)}`,
    );
  const dest = `${quote}${inner.slice(0, slash + 1)}${fileName}${quote}`;
  const lines = [`- name: Copy Smokescreen entrypoint`, `  ${moduleKey(task.file, 'copy')}:`, `    src: ${fileName}`, `    dest: ${dest}`];
  for (const key of ['owner', 'group', 'mode']) {
    const pair = pairOf(args, key);
    if (pair) lines.push(...entryLines(task.file.tpl, pair, 4));
  }
  for (const key of ['notify', 'when', 'become', 'tags']) {
    const pair = pairOf(task.map, key);
    if (pair) lines.push(...entryLines(task.file.tpl, pair, 2));
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------

export const bug3: PatchModule = {
  id: 'egress-plain-http-role',
  bug: 3,
  priority: 3,
  scope: 'egress',
  files: [...DOCKERFILE_GLOBS, `**/roles/*/${TASK_FILE_GLOB}`, ...ENTRYPOINT_GLOBS],
  home: import.meta.url,
  assets: [ENTRYPOINT_FILE_NAME],

  check(repo, assets): CheckResult {
    const df = smokescreenDockerfile(repo);
    // An image from a registry has no main.go to replace.
    if (!df || !/\bgo\s+build\b/.test(df.text))
      return { state: 'not-applicable', reason: 'no Dockerfile template builds Smokescreen from source' };
    const site = analyseBuildStage(df);
    const roleDir = `${roleDirOf(df.path)}/`;
    const existingCopy = copyOverMain(site);
    const fileName = existingCopy ? posix.basename(existingCopy.source) : ENTRYPOINT_FILE_NAME;

    const tasks = fileTasks(repo, roleDir, [posix.basename(df.path), fileName]);
    const dockerfileTask = tasks.find((entry) => srcBase(entry) === posix.basename(df.path));
    const deployTask = tasks.find((entry) => {
      const src = srcBase(entry);
      const dest = parameterText(entry.task, 'dest');
      return src === fileName || src === `${fileName}.j2` || (dest !== undefined && posix.basename(dest) === fileName);
    });

    const edits: TextEdit[] = [];
    const changes: string[] = [];
    const notes: string[] = [];
    const problems: string[] = [];

    // 1. The entrypoint file in the role.
    const entrypoint = assets.text(ENTRYPOINT_FILE_NAME);
    let roleFile: string | undefined;
    if (deployTask) {
      const src = parameterText(deployTask.task, 'src') ?? '';
      const base = deployTask.task.shortModule === 'template' ? 'templates/' : 'files/';
      if (src === '' || src.startsWith('/') || src.includes('{{')) {
        throw new UnrecognisedShape(
          `the task at ${where(deployTask.task.file.tpl, deployTask.task.map)} deploys the entrypoint from '${src}', not from a file of the role`,
        );
      }
      roleFile = posix.join(roleDir, base, src);
      if (repo.read(roleFile) === undefined)
        throw new UnrecognisedShape(
          `the task at ${where(deployTask.task.file.tpl, deployTask.task.map)} deploys ${roleFile}, which is not in the repository`,
        );
    } else {
      roleFile = [`files/${fileName}`, `templates/${fileName}`, `templates/${fileName}.j2`]
        .map((rel) => roleDir + rel)
        .find((path) => repo.read(path) !== undefined);
    }
    if (roleFile !== undefined) {
      const text = repo.read(roleFile) ?? '';
      const defects = entrypointDefects(text);
      if (defects.length > 0) {
        problems.push(`the custom entrypoint ${roleFile} is broken: ${defects.join('; ')}`);
        edits.push({ path: roleFile, start: 0, end: text.length, text: entrypoint });
        changes.push(
          `${roleFile}: replaced the entrypoint with upstream's main.go plus AllowMissingRole (${defects.length} defect${defects.length > 1 ? 's' : ''} fixed)`,
        );
      }
    } else {
      if (fileName !== ENTRYPOINT_FILE_NAME) {
        throw new UnrecognisedShape(
          `${whereIn(df, existingCopy!.instruction.start)} copies ${existingCopy!.source} over main.go, but no file of ${roleDir} provides it`,
        );
      }
      roleFile = `${roleDir}files/${ENTRYPOINT_FILE_NAME}`;
      problems.push(
        `the image builds upstream's main.go, which refuses clients without a TLS certificate (go build at ${whereIn(df, site.build.parts[site.build.partIndex]!.start)})`,
      );
      edits.push({ path: roleFile, start: 0, end: 0, text: entrypoint });
      changes.push(`${roleFile}: new entrypoint, upstream's main.go plus AllowMissingRole, so plain-HTTP clients get the ACL default rule`);
    }

    // 2. The task that deploys it into the build context.
    if (!deployTask) {
      if (!dockerfileTask)
        throw new UnrecognisedShape(
          `no copy/template task in ${roleDir}tasks deploys ${posix.basename(df.path)}; cannot tell where the build context is`,
        );
      if (posix.dirname(roleFile) !== posix.join(roleDir, 'files')) {
        throw new UnrecognisedShape(`the entrypoint ${roleFile} is not directly under ${roleDir}files/ and no task deploys it`);
      }
      problems.push(
        `no task deploys ${fileName} into the build context (next to ${where(dockerfileTask.task.file.tpl, dockerfileTask.task.map)})`,
      );
      edits.push(insertTasksAfter(dockerfileTask.task, [deployTaskLines(dockerfileTask, fileName)]));
      changes.push(`${dockerfileTask.task.file.tpl.path}: new task copies ${fileName} next to the Dockerfile, notifying the same handler`);
    } else if (!pairOf(deployTask.task.map, 'notify')) {
      notes.push(
        `the task at ${where(deployTask.task.file.tpl, deployTask.task.map)} deploys the entrypoint but notifies no handler: a change to it does not rebuild the image`,
      );
    }

    // 3. The COPY over main.go, between the checkout and the build.
    if (!existingCopy) {
      const { edit, split } = placeCopy(site, fileName);
      problems.push(`${df.path} does not copy the entrypoint over main.go`);
      edits.push(edit);
      changes.push(
        `${df.path}: COPY ${fileName} over main.go after the checkout and before go build${split ? ' (the chained RUN is split there)' : ''}`,
      );
    } else if (!copyInOrder(site, existingCopy.instruction)) {
      const { instruction } = existingCopy;
      problems.push(
        `${whereIn(df, instruction.start)} copies the entrypoint over main.go ${instructionIndex(site, instruction) < instructionIndex(site, site.lastGit.instruction) ? 'before the checkout' : 'after go build'}, where it has no effect`,
      );
      edits.push({ path: df.path, start: instruction.lineStart, end: instruction.next, text: '' });
      edits.push(placeCopy(site, existingCopy.source).edit);
      changes.push(`${df.path}: moved the COPY of ${existingCopy.source} between the checkout and go build`);
    }

    if (edits.length === 0) {
      return {
        state: 'fixed',
        reason: `${roleFile} is copied over main.go at ${whereIn(df, existingCopy!.instruction.start)}, between the checkout and go build, and deployed by ${where(deployTask!.task.file.tpl, deployTask!.task.map)}`,
        ...(notes.length > 0 ? { notes } : {}),
      };
    }
    return { state: 'needs-fix', reason: problems.join('; '), edits, changes, ...(notes.length > 0 ? { notes } : {}) };
  },
};
