/**
 * The egress proxy's properties: it can start on a read-only root (bug 2), its health probe
 * works (bug 1), plain-HTTP clients get through (bug 3), and its ACL loads (extra).
 */
import { basename, dirname } from 'node:path';
import { checkSmokescreenEntrypoint } from './go-check.js';
import {
  isDict,
  isTrue,
  locateKeys,
  roleRoot,
  shortModule,
  taskArg,
  templateLine,
  type Dict,
  type Task,
  type VerifyContext,
} from './context.js';
import {
  copyArgs,
  installedPackages,
  parseDockerfile,
  resolveIn,
  runCommands,
  stagesOf,
  type Instruction,
  type Stage,
} from './dockerfile.js';
import { failed, failedOr, notApplicable, notChecked, ok, type Outcome } from './outcome.js';
import { programOf, splitCommands, type SimpleCommand } from './shell.js';
import { commandWords, EGRESS_PORT_DEFAULT, flagValue, serviceOf, whereInService, type Stack } from './stack.js';

const NO_EGRESS = 'no Compose template defines the egress proxy';

/** Mount points on tmpfs: `tmpfs:` (list or string) and `volumes:` entries of type tmpfs. */
function tmpfsMounts(service: Dict): string[] {
  const tmpfs = service.tmpfs;
  const entries = Array.isArray(tmpfs) ? tmpfs.map(String) : typeof tmpfs === 'string' ? [tmpfs] : [];
  const mounts = entries.map((entry) => entry.split(':')[0] ?? '');
  if (Array.isArray(service.volumes)) {
    for (const volume of service.volumes)
      if (isDict(volume) && volume.type === 'tmpfs' && typeof volume.target === 'string') mounts.push(volume.target);
  }
  return mounts.map((mount) => mount.replace(/\/+$/, '') || '/');
}

const under = (path: string, mount: string): boolean => path === mount || path.startsWith(mount === '/' ? '/' : `${mount}/`);

export function checkWritableRun(stack: Stack | undefined): Outcome {
  if (!stack?.egress) return notApplicable(NO_EGRESS);
  const { base, egress } = stack;
  const service = serviceOf(base, egress);
  const problems: string[] = [];
  if (!isTrue(service.read_only)) problems.push(`the egress service is not read_only (${whereInService(base, egress, 'read_only')})`);
  const mounts = tmpfsMounts(service);
  for (const required of ['/tmp', '/run']) {
    if (!mounts.includes(required))
      problems.push(`${required} is not on a tmpfs in the egress service (${whereInService(base, egress, 'tmpfs')})`);
  }
  const words = commandWords(service.command);
  const socketDir = flagValue(words, '--stats-socket-dir');
  if (socketDir !== undefined) {
    const index = words.findIndex((word) => word.startsWith('--stats-socket-dir'));
    const dir = socketDir.replace(/\/+$/, '') || '/';
    if (!dir.startsWith('/') || !mounts.some((mount) => under(dir, mount))) {
      problems.push(
        `--stats-socket-dir=${socketDir} is not under a tmpfs mount (${mounts.join(', ') || 'none'}) (${whereInService(base, egress, 'command', index)})`,
      );
    }
  }
  return failedOr(problems, ok(`egress is read_only with /tmp and /run on tmpfs${socketDir ? `, stats socket in ${socketDir}` : ''}`));
}

/** The healthcheck as one probe command, or why it is not one. */
function probeCommand(test: unknown): { command?: SimpleCommand; after: readonly SimpleCommand[]; problem?: string } {
  let commands: SimpleCommand[];
  if (typeof test === 'string') commands = splitCommands(test);
  else if (Array.isArray(test)) {
    const [kind, ...rest] = test.map(String);
    if (kind === 'NONE') return { after: [], problem: 'the healthcheck is disabled (NONE)' };
    if (kind === 'CMD' && /(^|\/)(ba|da)?sh$/.test(rest[0] ?? '') && rest[1] === '-c') commands = splitCommands(rest[2] ?? '');
    else if (kind === 'CMD') commands = [{ words: rest, start: 0, operator: '' }];
    else if (kind === 'CMD-SHELL') commands = splitCommands(rest.join(' '));
    else return { after: [], problem: `the healthcheck test starts with '${kind ?? ''}', not CMD or CMD-SHELL` };
  } else return { after: [], problem: 'the healthcheck has no test' };
  const index = commands.findIndex((command) => ['nc', 'netcat', 'ncat'].includes(programOf(command).name));
  if (index === -1)
    return {
      after: [],
      problem: `the healthcheck does not probe with nc (it runs ${commands.map((c) => programOf(c).name).join(', ') || 'nothing'})`,
    };
  return { command: commands[index], after: commands.slice(index) };
}

const NC_VALUE_FLAGS = new Set(['w', 'i', 'p', 's', 'T', 'V', 'X', 'x', 'O', 'I', 'M', 'm', 'q']);

/** `nc -z -w N host port`: the zero-I/O flag, the timeout and the positional arguments. */
function ncOptions(args: readonly string[]): { zero: boolean; timeout: string | undefined; positional: string[] } {
  let zero = false;
  let timeout: string | undefined;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j] ?? '';
      if (flag === 'z') zero = true;
      else if (NC_VALUE_FLAGS.has(flag)) {
        const value = arg.slice(j + 1) || args[++i];
        if (flag === 'w') timeout = value;
        break;
      }
    }
  }
  return { zero, timeout, positional };
}

/** True when what follows the probe can turn its failure into success (`|| true`, `; exit 0`). */
function masksFailure(after: readonly SimpleCommand[]): boolean {
  for (let i = 0; i + 1 < after.length; i++) {
    const operator = after[i]?.operator;
    const next = after[i + 1];
    if (!next) break;
    const { name, args } = programOf(next);
    if (operator === '||' && (name === 'exit' ? (args[0] ?? '0') === '0' : name !== 'false')) return true;
    if (operator === ';' || operator === '\n') return true;
  }
  return false;
}

export function checkTcpHealthcheck(ctx: VerifyContext, stack: Stack | undefined): Outcome {
  if (!stack?.egress) return notApplicable(NO_EGRESS);
  const { base, egress } = stack;
  const service = serviceOf(base, egress);
  const port = Number(flagValue(commandWords(service.command), '--listen-port') ?? EGRESS_PORT_DEFAULT);
  const problems: string[] = [];
  const healthcheck = isDict(service.healthcheck) ? service.healthcheck : undefined;
  const at = whereInService(base, egress, 'healthcheck', 'test');
  if (!healthcheck)
    problems.push(`the egress service has no healthcheck, so service_healthy never holds (${whereInService(base, egress)})`);
  else if (isTrue(healthcheck.disable))
    problems.push(`the egress healthcheck is disabled (${whereInService(base, egress, 'healthcheck', 'disable')})`);
  else {
    if (/\/healthcheck\b/.test(JSON.stringify(healthcheck.test)))
      problems.push(`the healthcheck requests /healthcheck, which Smokescreen v0.0.4 answers with HTTP 500 (${at})`);
    const probe = probeCommand(healthcheck.test);
    if (probe.problem) {
      if (problems.length === 0) problems.push(`${probe.problem} (${at})`);
    } else if (probe.command) {
      const options = ncOptions(programOf(probe.command).args);
      if (!options.zero) problems.push(`the nc probe lacks -z, so it waits for data instead of testing the port (${at})`);
      if (options.timeout === undefined || !/^[1-9]\d*$/.test(options.timeout))
        problems.push(`the nc probe has no timeout (-w N), so a hung connect hangs the check (${at})`);
      const probedPort = options.positional[1];
      if (probedPort !== String(port))
        problems.push(`the nc probe tests port ${probedPort ?? '(none)'}, not the listen port ${port} (${at})`);
      if (masksFailure(probe.after)) problems.push(`the healthcheck turns a failed probe into success (${at})`);
    }
  }
  const dockerfile = smokescreenDockerfile(ctx);
  if (!dockerfile) {
    if (isDict(service.build) || typeof service.build === 'string')
      problems.push(`the egress service is built, but no role has a Smokescreen Dockerfile`);
    else if (problems.length === 0)
      return notChecked(`healthcheck ok; the egress image is not built here, so whether it has nc is not checked`);
  } else {
    const runtime = dockerfile.stages.at(-1);
    const installs = runtime?.instructions
      .filter((instruction) => instruction.keyword === 'RUN')
      .some((instruction) => installedPackages(instruction).includes('netcat-openbsd'));
    if (runtime && !installs) {
      problems.push(
        `the runtime stage (FROM ${runtime.from.args}) does not install netcat-openbsd, which the nc probe needs (${dockerfile.where(runtime.from)})`,
      );
    }
  }
  return failedOr(problems, ok(`healthcheck is a timeout-bounded TCP probe of port ${port}; the runtime image installs netcat-openbsd`));
}

interface RenderedDockerfile {
  readonly path: string;
  readonly stages: readonly Stage[];
  /** `file:line` in the template of an instruction of the rendered text. */
  where(instruction: Instruction): string;
}

/** The role file that builds Smokescreen: a Dockerfile (template or file) that mentions it, rendered and read. */
function smokescreenDockerfile(ctx: VerifyContext): RenderedDockerfile | undefined {
  const candidates = ctx
    .roleAssets()
    .filter((path) => /dockerfile/i.test(basename(path)) && /smokescreen/i.test(ctx.read(path)))
    .sort((a, b) => Number(/smokescreen/i.test(basename(b))) - Number(/smokescreen/i.test(basename(a))) || a.localeCompare(b));
  const path = candidates[0];
  if (!path) return undefined;
  const rendered = ctx.render(path);
  return {
    path,
    stages: stagesOf(parseDockerfile(rendered)),
    where: (instruction) => `${path}:${templateLine(ctx.read(path), rendered, instruction.line)}`,
  };
}

/** A template/copy task's rendered destination file (a `dest` ending in `/` takes the source's name). */
function deployedPath(ctx: VerifyContext, task: Task): { src: string; dest: string } | undefined {
  const src = taskArg(task, 'src');
  const dest = taskArg(task, 'dest');
  if (typeof src !== 'string' || typeof dest !== 'string') return undefined;
  const renderedSrc = ctx.renderLoose(src);
  let renderedDest = ctx.renderLoose(dest);
  if (renderedDest.endsWith('/')) renderedDest += basename(renderedSrc).replace(/\.j2$/, '');
  return { src: renderedSrc, dest: renderedDest };
}

const DEPLOY_MODULES = new Set(['template', 'copy']);

/** The repo file a template/copy task reads: role-relative under templates/ or files/. */
function sourceFile(ctx: VerifyContext, task: Task, src: string): string | undefined {
  const root = roleRoot(task.path);
  if (!root) return undefined;
  const folder = shortModule(task.module) === 'template' ? 'templates' : 'files';
  const relative = src.replace(/^\{\{\s*role_path\s*\}\}\//, '').replace(new RegExp(`^${folder}/`), '');
  const candidates = [`${root}/${folder}/${relative}`, `${root}/${relative}`];
  return candidates.find((path) => ctx.files.has(path));
}

interface BuildStep {
  readonly kind: 'checkout' | 'build' | 'copy';
  readonly instruction: Instruction;
  readonly index: number;
  /** For a copy: its source, and the absolute path it writes. */
  readonly source?: string;
  readonly target?: string;
}

export async function checkPlainHttpRole(ctx: VerifyContext, goCheck: boolean, goCache = true): Promise<Outcome> {
  const dockerfile = smokescreenDockerfile(ctx);
  if (!dockerfile) return notApplicable('no role has a Smokescreen Dockerfile');
  const builder = dockerfile.stages.find((stage) =>
    stage.instructions.some((instruction) => instruction.keyword === 'RUN' && runCommands(instruction).some(isGoBuild)),
  );
  if (!builder) return notApplicable(`${dockerfile.path} does not build Smokescreen from source (no go build)`);

  // The build stage as an ordered list of steps, commands inside a RUN in their order.
  const steps: BuildStep[] = [];
  let workdir = '/';
  let buildDir = '/';
  builder.instructions.forEach((instruction, index) => {
    if (instruction.keyword === 'WORKDIR') workdir = resolveIn(workdir, instruction.args.trim());
    if (instruction.keyword === 'RUN') {
      // A `cd` moves the commands after it in the same RUN only; the next RUN starts in WORKDIR.
      let shellDir = workdir;
      for (const command of runCommands(instruction)) {
        const { name, args } = programOf(command);
        const cdTo = args.filter((arg) => arg !== '-P' && arg !== '-L' && arg !== '--');
        if (name === 'cd' && cdTo.length === 1 && !/[$`~]/.test(cdTo[0] ?? '') && cdTo[0] !== '-')
          shellDir = resolveIn(shellDir, cdTo[0] ?? '');
        else if (name === 'cd') shellDir = '(unknown: a cd the shell alone resolves)';
        if (isCheckout(command)) steps.push({ kind: 'checkout', instruction, index });
        if (isGoBuild(command)) {
          steps.push({ kind: 'build', instruction, index });
          buildDir = shellDir;
        }
      }
    }
    if (instruction.keyword === 'COPY' || instruction.keyword === 'ADD') {
      const copy = copyArgs(instruction);
      if (!copy || copy.from !== undefined) return;
      const source = copy.sources[0] ?? '';
      const target = /\/$|^\.$/.test(copy.dest)
        ? resolveIn(resolveIn(workdir, copy.dest), basename(source))
        : resolveIn(workdir, copy.dest);
      if (basename(target) === 'main.go') steps.push({ kind: 'copy', instruction, index, source, target });
    }
  });
  const lastCheckout = steps.filter((step) => step.kind === 'checkout').at(-1);
  const copies = steps.filter((step) => step.kind === 'copy');
  const firstBuild = steps.find((step) => step.kind === 'build');
  const at = (step: BuildStep | undefined): string => (step ? dockerfile.where(step.instruction) : dockerfile.path);
  if (copies.length === 0) {
    return failed(
      `the Dockerfile builds upstream's main.go, whose role function requires TLS: nothing is copied over main.go before go build (${at(firstBuild)})`,
    );
  }
  const copy = copies.find(
    (step) =>
      (!lastCheckout || step.index > lastCheckout.index) && steps.some((other) => other.kind === 'build' && other.index > step.index),
  );
  if (!copy) {
    const early = lastCheckout && copies.every((step) => step.index < lastCheckout.index);
    return failed(
      early
        ? `main.go is copied (${at(copies[0])}) before git checkout (${at(lastCheckout)}) restores upstream's file`
        : `main.go is copied (${at(copies[0])}) after go build (${at(firstBuild)}), so the build does not use it`,
    );
  }
  const problems: string[] = [];
  if (copy.target !== resolveIn(buildDir, 'main.go'))
    problems.push(`main.go is copied to ${copy.target ?? '?'}, but go build runs in ${buildDir} (${at(copy)})`);

  // A task must put the copied file into the build context, next to the Dockerfile.
  const source = copy.source ?? '';
  // A task file that does not parse stops this check only when it may deploy the file or the Dockerfile.
  const named = [basename(source), basename(dockerfile.path).replace(/\.j2$/, '')].filter(Boolean);
  const deploys = ctx
    .allTasks((text) => named.some((name) => text.includes(name)))
    .filter((task) => DEPLOY_MODULES.has(shortModule(task.module)))
    .flatMap((task) => {
      const deployed = deployedPath(ctx, task);
      return deployed ? [{ task, ...deployed }] : [];
    });
  const dockerfileDest = deploys.find((deploy) => basename(deploy.src) === basename(dockerfile.path))?.dest;
  const contextDir = dockerfileDest ? dirname(dockerfileDest) : undefined;
  const deploy = deploys.find(
    (candidate) =>
      basename(candidate.dest) === basename(source) &&
      (contextDir === undefined || dirname(candidate.dest) === resolveIn(contextDir, dirname(source))),
  );
  if (!deploy) {
    problems.push(
      `no task deploys ${source} into the build context${contextDir ? ` (${contextDir}/)` : ''}, so COPY ${source} fails (${at(copy)})`,
    );
    return failed(problems.join('; '));
  }
  const deployTask = deploy.task;
  const file = sourceFile(ctx, deployTask, deploy.src);
  if (!file) {
    problems.push(`the task at ${deployTask.path}:${deployTask.line} deploys ${deploy.src}, which is not in the repo`);
    return failed(problems.join('; '));
  }
  if (problems.length > 0) return failed(problems.join('; '));

  const summary = `${dockerfile.path} copies ${source} over main.go between git checkout and go build; ${deployTask.path}:${deployTask.line} deploys ${file}`;
  if (!goCheck) return notChecked(`${summary}; the Go entrypoint was not compiled (Go check off)`);
  const goSource = shortModule(deployTask.module) === 'template' ? ctx.render(file) : ctx.read(file);
  const result = await checkSmokescreenEntrypoint(goSource, { cache: goCache });
  if (result.status === 'go-missing') return notChecked(`${summary}; the entrypoint was not compiled: ${result.detail}`);
  if (result.status !== 'ok') return failed(`${file}: ${result.status}: ${result.detail.split('\n').slice(0, 3).join(' ')}`);
  return ok(`${summary}; it compiles against v0.0.4's API and lets plain-HTTP clients through (${result.detail})`);
}

function gitSubcommand(command: SimpleCommand): string | undefined {
  const { name, args } = programOf(command);
  if (name !== 'git') return undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '-C' || arg === '-c') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

const isCheckout = (command: SimpleCommand): boolean => ['checkout', 'clone', 'switch', 'reset'].includes(gitSubcommand(command) ?? '');
const isGoBuild = (command: SimpleCommand): boolean => {
  const { name, args } = programOf(command);
  return name === 'go' && args.includes('build');
};

/** The rendered Smokescreen ACL: a role YAML template with a `default` rule or `version: v1` and allowed_domains. */
export function checkAclServices(ctx: VerifyContext): Outcome {
  const acls = ctx.yamlAssets((text, path) => /allowed_domains/.test(text) && (/acl/i.test(basename(path)) || /^version\s*:/m.test(text)));
  if (acls.length === 0) return notApplicable('no role template is a Smokescreen ACL');
  const problems: string[] = [];
  for (const acl of acls) {
    const data = acl.data;
    const services = isDict(data) ? data.services : undefined;
    if (services !== undefined && services !== null && !Array.isArray(services)) {
      problems.push(
        `services renders as a ${isDict(services) ? 'mapping' : typeof services}, which Smokescreen v0.0.4 cannot load (it exits 1): it must be a list (${locateKeys(acl.tpl, ['services'])})`,
      );
    }
  }
  return failedOr(problems, ok(`the ACL's services is a list or absent (${acls.map((acl) => acl.path).join(', ')})`));
}
