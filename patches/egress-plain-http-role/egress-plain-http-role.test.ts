/**
 * Bug 3: the Smokescreen entrypoint the fix writes is compiled with the Go toolchain against
 * the stand-in of v0.0.4's API (test/go-standin) and run, so the stand-in replays the proxy's
 * role decision; the report's own snippet must fail that same check. Then the module: its
 * states, and the rendered Dockerfile and task file it leaves.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, posix } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { bug3 as bug3Module, ENTRYPOINT_FILE_NAME, entrypointDefects } from './egress-plain-http-role.js';
import { parseDockerfile, shellParts, wordValues } from '../../src/toolkit/dockerfile.js';
import { planFixes, runCheck } from '../../src/core/engine.js';
import { checkSmokescreenEntrypoint, sandboxEnvironment } from '../../src/verify/go-check.js';
import { loadVars, renderTemplate } from '../../src/model/render/render.js';
import {
  ansiblePlaybook,
  fixtureFiles,
  PROJECT_ROOT,
  REPORT_BUG3_ENTRYPOINT,
  tempDir,
  UPSTREAM_SMOKESCREEN_MAIN,
  writeFileMakingDirs,
} from '../../test/helpers.js';
import { CHILD_PROCESS_TIMEOUT, SLOW_TEST } from '../../test/budgets.js';
import { assetText, loadPatch } from '../../src/core/patch-home.js';
import { verifyRepo } from '../../src/verify/index.js';

const bug3 = loadPatch(bug3Module);
const SMOKESCREEN_ENTRYPOINT_GO = assetText(bug3Module, ENTRYPOINT_FILE_NAME);

const ROLE = 'roles/openclaw-config';
const DOCKERFILE = `${ROLE}/templates/Dockerfile.smokescreen.j2`;
const TASKS = `${ROLE}/tasks/main.yml`;
const ENTRYPOINT = `${ROLE}/files/${ENTRYPOINT_FILE_NAME}`;

// A host whose temporary directory is mounted noexec: the built entrypoint cannot be started.
const noexec = vi.hoisted(() => ({ on: false }));
vi.mock('node:child_process', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:child_process')>();
  // /dev/null is not executable: spawning it fails with EACCES, as a noexec mount does.
  const spawn = (file: string, ...rest: unknown[]): unknown =>
    (actual.spawn as (...args: unknown[]) => unknown)(noexec.on && file.endsWith('smokescreen-bin') ? '/dev/null' : file, ...rest);
  return { ...actual, spawn, default: { ...actual, spawn } };
});

function fixedFiles(files = fixtureFiles()): ReadonlyMap<string, string> {
  return planFixes(files, [bug3]).result;
}

describe('the Go toolchain', () => {
  it('is installed: the entrypoint tests need it and must not be skipped without it', () => {
    // Fails (does not skip) on a machine without Debian's golang-go; .ci/run installs it.
    expect(() => execFileSync('go', ['version'], { encoding: 'utf8' })).not.toThrow();
  });

  it('reports go-missing (not a pass) when the toolchain cannot be found', async () => {
    const path = process.env.PATH;
    process.env.PATH = tempDir('openclaw-fix-empty-path-');
    try {
      expect(await checkSmokescreenEntrypoint(SMOKESCREEN_ENTRYPOINT_GO)).toMatchObject({ status: 'go-missing' });
    } finally {
      process.env.PATH = path;
    }
  });

  it(
    'reports go-missing (not a broken entrypoint) when the built program cannot be executed',
    async () => {
      noexec.on = true;
      try {
        expect(await checkSmokescreenEntrypoint(SMOKESCREEN_ENTRYPOINT_GO, { cache: false })).toMatchObject({
          status: 'go-missing',
          detail: expect.stringContaining('cannot execute the built entrypoint'),
        });
      } finally {
        noexec.on = false;
      }
    },
    SLOW_TEST,
  );
});

describe('the entrypoint is a real Go file beside the module', () => {
  it(
    'is what gofmt prints and passes go vet, compiled against the Smokescreen v0.0.4 stand-in',
    () => {
      const asset = fileURLToPath(new URL(`./${ENTRYPOINT_FILE_NAME}`, import.meta.url));
      expect(readFileSync(asset, 'utf8')).toBe(SMOKESCREEN_ENTRYPOINT_GO);
      expect(execFileSync('gofmt', ['-l', asset], { encoding: 'utf8' })).toBe('');
      const module = join(tempDir(), 'smokescreen');
      cpSync(join(PROJECT_ROOT, 'test', 'go-standin'), module, { recursive: true });
      writeFileSync(join(module, 'main.go'), SMOKESCREEN_ENTRYPOINT_GO);
      // Vetted as verify's Go check builds it (src/verify/go-check.ts: CGO_ENABLED=0 as the
      // Dockerfile builds it, vendored, offline) and in its environment, whose build cache the
      // test run's global setup filled: vet reads the compiled dependencies instead of compiling
      // them again in an empty default cache (~15 CPU-s).
      const vet = spawnSync('go', ['vet', '-trimpath', '.'], {
        cwd: module,
        encoding: 'utf8',
        env: sandboxEnvironment(tempDir()),
        timeout: CHILD_PROCESS_TIMEOUT,
      });
      expect(vet.status, `${vet.stdout}${vet.stderr}`).toBe(0);
    },
    SLOW_TEST,
  );
});

describe('the entrypoint against the Smokescreen v0.0.4 stand-in', () => {
  it("compiles, gives a plain-HTTP client a role without refusal and keeps a certificate client's role", async () => {
    const written = fixedFiles().get(ENTRYPOINT);
    expect(written).toBe(SMOKESCREEN_ENTRYPOINT_GO);
    const result = await checkSmokescreenEntrypoint(written!);
    expect(result).toEqual({ status: 'ok', detail: expect.stringContaining('client with certificate CN=svc: role "svc"') });
    expect(result.detail).toContain('plain-HTTP client: the empty role (ACL default rule), after a missing-role error');
  });

  it("regression: the report's snippet does not compile against v0.0.4's API", async () => {
    const result = await checkSmokescreenEntrypoint(REPORT_BUG3_ENTRYPOINT);
    expect(result.status).toBe('compile-error');
    expect(result.detail).toContain('smokescreen.StartWithConfig(conf, nil) (no value) used as value');
    expect(entrypointDefects(REPORT_BUG3_ENTRYPOINT).join('\n')).toContain('does not compile');
  });

  it("detects an entrypoint that compiles but still requires TLS (upstream's main.go)", async () => {
    const result = await checkSmokescreenEntrypoint(UPSTREAM_SMOKESCREEN_MAIN);
    expect(result.status).toBe('refuses-plain-http');
    expect(result.detail).toContain('refused with HTTP 407');
    expect(entrypointDefects(UPSTREAM_SMOKESCREEN_MAIN)).toEqual([expect.stringContaining('plain-HTTP clients get HTTP 407')]);
  });

  it('accepts the other documented way: ("", nil) for clients without a certificate', async () => {
    const emptyRole = SMOKESCREEN_ENTRYPOINT_GO.replace(
      'return "", smokescreen.MissingRoleError("no TLS: plain-HTTP client")',
      'return "", nil',
    ).replace('\tconf.AllowMissingRole = true\n', '');
    expect(emptyRole).not.toMatch(/AllowMissingRole\s*=/);
    expect(await checkSmokescreenEntrypoint(emptyRole)).toMatchObject({ status: 'ok' });
    expect(entrypointDefects(emptyRole)).toEqual([]);
  });

  it('detects a certificate client losing its role, and a nil config dereferenced on --help', async () => {
    // The report's snippet made to compile: every client, certificate or not, gets "default".
    const compiles = REPORT_BUG3_ENTRYPOINT.replace(
      /if err := (smokescreen\.StartWithConfig\(conf, nil\)); err != nil \{\n\s*panic\(err\)\n\s*\}/,
      '$1',
    );
    expect(await checkSmokescreenEntrypoint(compiles)).toMatchObject({
      status: 'loses-cert-role',
      detail: expect.stringContaining('role "default"'),
    });

    const noNilCheck = SMOKESCREEN_ENTRYPOINT_GO.replace(/\tif conf == nil \{[\s\S]*?\n\t\}\n/, '');
    expect(noNilCheck).not.toContain('conf == nil');
    expect(await checkSmokescreenEntrypoint(noNilCheck)).toMatchObject({
      status: 'mishandles-help',
      detail: expect.stringContaining('--help'),
    });
    expect(entrypointDefects(noNilCheck)).toEqual([expect.stringContaining('nil config')]);
  });
});

// ---------------------------------------------------------------------------------------------

interface RenderedBuild {
  /** Instruction keywords with their arguments, in order, for the build stage. */
  readonly steps: readonly string[];
  readonly checkout: number;
  readonly copy: number;
  readonly build: number;
}

/** Renders the Dockerfile with the repo's variables, as Ansible would, and locates checkout, COPY and build. */
function renderedBuild(files: ReadonlyMap<string, string>, path = DOCKERFILE): RenderedBuild {
  const rendered = renderTemplate(files.get(path)!, loadVars(files));
  const df = parseDockerfile('Dockerfile', rendered);
  const stage = df.stages[0]!;
  const steps: string[] = [];
  for (const instruction of stage.instructions) {
    if (instruction.keyword === 'RUN') for (const part of shellParts(df, instruction)) steps.push(`RUN ${wordValues(part).join(' ')}`);
    else steps.push(`${instruction.keyword} ${instruction.logical.trim()}`);
  }
  return {
    steps,
    checkout: steps.findIndex((step) => step.startsWith('RUN git checkout v0.0.4')),
    copy: steps.indexOf(`COPY ${ENTRYPOINT_FILE_NAME} main.go`),
    build: steps.findIndex((step) => /^RUN CGO_ENABLED=0 go build /.test(step)),
  };
}

const ORIGINAL_BUILD = 'RUN CGO_ENABLED=0 go build -ldflags=-s -w -X main.VersionID=v0.0.4 -o /smokescreen .';

function withDockerfile(text: string, files = fixtureFiles()): Map<string, string> {
  files.set(DOCKERFILE, text);
  return files;
}

const CHAINED = (original: string): string =>
  original.replace(
    /RUN git clone (.*) && \\\n    git checkout (.*)\nRUN (CGO_ENABLED=0 go build .*)\n/,
    'RUN git clone $1 && \\\n    git checkout $2 && \\\n    $3\n',
  );

/** The fixture's clone, checkout and build as one RUN that clones into a directory and `cd`s into it. */
const WITH_CD = (original: string, dir: string): string =>
  original.replace(
    /RUN git clone (\S+) \. && \\\n    git checkout (.*)\nRUN (.*)\n/,
    `RUN git clone $1 /src/smokescreen && \\\n    cd ${dir} && git checkout $2 && \\\n    $3\n`,
  );

describe('bug 3 module', () => {
  it('needs a fix on the fixture and is fixed after its edits (engine convergence)', () => {
    expect(runCheck(bug3, fixtureFiles())).toMatchObject({ state: 'needs-fix', reason: expect.stringContaining(`${DOCKERFILE}:10`) });
    const plan = planFixes(fixtureFiles(), [bug3]);
    expect(plan.outcomes[0]!.files.map((change) => change.path)).toEqual([ENTRYPOINT, TASKS, DOCKERFILE].sort());
    expect(runCheck(bug3, plan.result)).toMatchObject({ state: 'fixed' });
  });

  it('copies the entrypoint after the checkout and before the build, build flags untouched (rendered)', () => {
    const before = renderedBuild(fixtureFiles());
    expect(before.copy).toBe(-1);
    const after = renderedBuild(fixedFiles());
    expect(after.checkout).toBeGreaterThan(-1);
    expect(after.copy).toBe(after.checkout + 1);
    expect(after.build).toBe(after.copy + 1);
    expect(after.steps[after.build]).toBe(ORIGINAL_BUILD);
    expect(after.steps.filter((step) => step !== after.steps[after.copy])).toEqual(before.steps);
  });

  it('splits a RUN that chains clone, checkout and build, keeping every flag', () => {
    const chained = CHAINED(fixtureFiles().get(DOCKERFILE)!);
    expect(chained).toContain('git checkout {{ smokescreen_commit }} && \\\n    CGO_ENABLED=0 go build');
    const files = fixedFiles(withDockerfile(chained));
    const after = renderedBuild(files);
    expect([after.checkout, after.copy, after.build].every((index) => index >= 0)).toBe(true);
    expect(after.copy).toBe(after.checkout + 1);
    expect(after.build).toBe(after.copy + 1);
    expect(after.steps[after.build]).toBe(ORIGINAL_BUILD);
    // Split at the `&&`: the build is its own RUN now, on the COPY's next line.
    expect(files.get(DOCKERFILE)).toContain(
      `    git checkout {{ smokescreen_commit }}\nCOPY ${ENTRYPOINT_FILE_NAME} main.go\nRUN CGO_ENABLED=0 go build -ldflags="-s -w -X main.VersionID={{ smokescreen_commit }}" -o /smokescreen .\n`,
    );
  });

  it('deploys the file next to the Dockerfile, with the same handler, tags and directory', () => {
    const files = fixedFiles();
    const tasks = parseYaml(files.get(TASKS)!) as Record<string, unknown>[];
    const dockerfileIndex = tasks.findIndex((task) => task.name === 'Render Smokescreen Dockerfile');
    const dockerfileTask = tasks[dockerfileIndex]!;
    const deploy = tasks[dockerfileIndex + 1]!;
    expect(Object.keys(deploy).sort()).toEqual(['ansible.builtin.copy', 'name', 'notify', 'tags']);
    expect(deploy).toMatchObject({ notify: dockerfileTask.notify, tags: dockerfileTask.tags });
    const copy = deploy['ansible.builtin.copy'] as Record<string, string>;
    expect(copy.src).toBe(ENTRYPOINT_FILE_NAME);
    expect(files.get(posix.join(ROLE, 'files', copy.src!))).toBe(SMOKESCREEN_ENTRYPOINT_GO);
    const vars = loadVars(files);
    const dockerfileDest = renderTemplate((dockerfileTask['ansible.builtin.template'] as Record<string, string>).dest!, vars);
    expect(renderTemplate(copy.dest!, vars)).toBe(posix.join(posix.dirname(dockerfileDest), ENTRYPOINT_FILE_NAME));
  });

  it(
    'runs under real Ansible: the entrypoint lands beside the Dockerfile and the rebuild handler fires',
    () => {
      const files = fixedFiles();
      const work = tempDir('openclaw-fix-bug3-ansible-');
      const role = join(work, 'roles', 'openclaw-config');
      // The role's two egress build tasks as the fix leaves them; the handler only reports.
      const tasks = (parseYaml(files.get(TASKS)!) as Record<string, unknown>[]).filter((task) =>
        /Smokescreen (Dockerfile|entrypoint)/.test(String(task.name)),
      );
      expect(tasks.map((task) => task.name)).toEqual(['Render Smokescreen Dockerfile', 'Copy Smokescreen entrypoint']);
      writeFileMakingDirs(join(role, 'tasks', 'main.yml'), stringifyYaml(tasks));
      writeFileMakingDirs(join(role, 'handlers', 'main.yml'), '- name: rebuild egress\n  ansible.builtin.debug:\n    msg: rebuild\n');
      writeFileMakingDirs(join(role, 'templates', 'Dockerfile.smokescreen.j2'), files.get(DOCKERFILE)!);
      writeFileMakingDirs(join(role, 'files', ENTRYPOINT_FILE_NAME), files.get(ENTRYPOINT)!);
      const base = join(work, 'deploy');
      mkdirSync(join(base, 'build', 'smokescreen'), { recursive: true });
      writeFileMakingDirs(join(work, 'vars.json'), JSON.stringify({ ...loadVars(files), openclaw_base_dir: base }));
      writeFileMakingDirs(
        join(work, 'play.yml'),
        '- hosts: localhost\n  connection: local\n  gather_facts: false\n  vars_files: [vars.json]\n  roles: [openclaw-config]\n',
      );
      const run = ansiblePlaybook(work, ['-i', 'localhost,', 'play.yml'], { defaults: [`roles_path = ${join(work, 'roles')}`] });
      expect(run.error, "ansible-playbook must be installed (Debian's ansible package)").toBeUndefined();
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(readFileSync(join(base, 'build', 'smokescreen', ENTRYPOINT_FILE_NAME), 'utf8')).toBe(SMOKESCREEN_ENTRYPOINT_GO);
      expect(readFileSync(join(base, 'build', 'smokescreen', 'Dockerfile'), 'utf8')).toContain(`COPY ${ENTRYPOINT_FILE_NAME} main.go`);
      expect(run.stdout).toContain('RUNNING HANDLER [openclaw-config : rebuild egress]');
    },
    SLOW_TEST,
  );

  it(
    'follows a 4-space task file and roles under ansible/',
    () => {
      const files = new Map<string, string>();
      for (const [path, text] of fixtureFiles()) {
        const fourSpaces =
          path === TASKS
            ? text.replace(/^( *)(- )?/gm, (_, indent: string, dash = '') => ' '.repeat(indent.length * 2) + (dash ? '-   ' : ''))
            : text;
        files.set(`ansible/${path}`, fourSpaces);
      }
      expect(files.get(`ansible/${TASKS}`)).toContain(
        '-   name: Render Smokescreen Dockerfile\n    ansible.builtin.template:\n        src: Dockerfile.smokescreen.j2\n',
      );
      const plan = planFixes(files, [bug3]);
      expect(plan.outcomes[0]!.state).toBe('needs-fix');
      expect(plan.result.get(`ansible/${ENTRYPOINT}`)).toBe(SMOKESCREEN_ENTRYPOINT_GO);
      expect(plan.result.get(`ansible/${TASKS}`)).toContain(
        '-   name: Copy Smokescreen entrypoint\n    ansible.builtin.copy:\n        src: smokescreen-main.go\n        dest: "{{ openclaw_base_dir }}/build/smokescreen/smokescreen-main.go"\n        mode: "0644"\n    notify: rebuild egress\n    tags: [config, egress]\n',
      );
      expect(renderedBuild(plan.result, `ansible/${DOCKERFILE}`).copy).toBeGreaterThan(-1);
    },
    SLOW_TEST,
  );

  it("repairs a custom entrypoint that does not compile (the report's), keeping its name, task and COPY", () => {
    const files = fixtureFiles();
    files.set(`${ROLE}/files/main.go`, REPORT_BUG3_ENTRYPOINT);
    files.set(DOCKERFILE, files.get(DOCKERFILE)!.replace('\nRUN CGO_ENABLED=0', '\nCOPY main.go .\nRUN CGO_ENABLED=0'));
    files.set(
      TASKS,
      files
        .get(TASKS)!
        .replace(
          '- name: Render Smokescreen ACL',
          '- name: Deploy custom main.go\n  ansible.builtin.copy:\n    src: main.go\n    dest: "{{ openclaw_base_dir }}/build/smokescreen/main.go"\n    mode: "0644"\n  notify: rebuild egress\n\n- name: Render Smokescreen ACL',
        ),
    );
    const check = runCheck(bug3, files);
    expect(check).toMatchObject({ state: 'needs-fix', reason: expect.stringContaining(`${ROLE}/files/main.go is broken`) });
    expect(check.edits!.map((edit) => edit.path)).toEqual([`${ROLE}/files/main.go`]);
    const result = planFixes(files, [bug3]).result;
    expect(result.get(`${ROLE}/files/main.go`)).toBe(SMOKESCREEN_ENTRYPOINT_GO);
    expect(runCheck(bug3, result)).toMatchObject({ state: 'fixed', reason: expect.stringContaining(`${DOCKERFILE}:10`) });
  });

  it('repairs a custom entrypoint that still requires TLS, and moves a COPY that comes before the checkout', () => {
    const files = fixtureFiles();
    files.set(ENTRYPOINT, UPSTREAM_SMOKESCREEN_MAIN);
    files.set(DOCKERFILE, files.get(DOCKERFILE)!.replace('WORKDIR /src\n', `WORKDIR /src\nCOPY ${ENTRYPOINT_FILE_NAME} ./main.go\n`));
    const check = runCheck(bug3, files);
    expect(check.state).toBe('needs-fix');
    expect(check.reason).toContain('plain-HTTP clients get HTTP 407');
    expect(check.reason).toContain(`${DOCKERFILE}:8 copies the entrypoint over main.go before the checkout`);
    const result = planFixes(files, [bug3]).result;
    expect(result.get(ENTRYPOINT)).toBe(SMOKESCREEN_ENTRYPOINT_GO);
    const after = renderedBuild(result);
    expect(after.steps.filter((step) => step.startsWith('COPY'))).toEqual([`COPY ${ENTRYPOINT_FILE_NAME} main.go`]);
    expect(after.copy).toBe(after.checkout + 1);
  });

  it('keeps CRLF line endings and a lowercase keyword style', () => {
    const lower = fixtureFiles()
      .get(DOCKERFILE)!
      .replace(/^(RUN|WORKDIR|FROM|COPY)\b/gm, (keyword) => keyword.toLowerCase())
      .replace(/\n/g, '\r\n');
    const result = fixedFiles(withDockerfile(lower)).get(DOCKERFILE)!;
    expect(result).toContain(`    git checkout {{ smokescreen_commit }}\r\ncopy ${ENTRYPOINT_FILE_NAME} main.go\r\nrun CGO_ENABLED=0`);
    expect(result.match(/(?<!\r)\n/g)).toBeNull();
  });

  it('follows a `cd` to a literal path in a chained RUN: main.go is written where go build runs, and verify agrees', async () => {
    const files = withDockerfile(WITH_CD(fixtureFiles().get(DOCKERFILE)!, '/src/smokescreen'));
    const plan = planFixes(files, [bug3]);
    expect(plan.outcomes[0]!.state).toBe('needs-fix');
    // COPY resolves against WORKDIR (/src), not the shell's cd: the full path. The new RUN starts in WORKDIR again, so it repeats the cd.
    expect(plan.result.get(DOCKERFILE)).toContain(
      `RUN git clone https://github.com/stripe/smokescreen.git /src/smokescreen && \\\n    cd /src/smokescreen && git checkout {{ smokescreen_commit }}\nCOPY ${ENTRYPOINT_FILE_NAME} /src/smokescreen/main.go\nRUN cd /src/smokescreen && CGO_ENABLED=0 go build -ldflags="-s -w -X main.VersionID={{ smokescreen_commit }}" -o /smokescreen .\n`,
    );
    expect(runCheck(bug3, plan.result)).toMatchObject({ state: 'fixed' });
    const verified = await verifyRepo(plan.result, { goCheck: false });
    expect(verified.checks.find((check) => check.id === bug3.id)).toMatchObject({
      status: 'not-checked',
      message: expect.stringContaining('copies smokescreen-main.go over main.go between git checkout and go build'),
    });

    // A relative cd resolves against WORKDIR; verify holds a COPY to the WORKDIR's main.go (not where the build runs) as failed.
    const relative = planFixes(withDockerfile(WITH_CD(fixtureFiles().get(DOCKERFILE)!, 'smokescreen')), [bug3]).result;
    expect(relative.get(DOCKERFILE)).toContain(
      `COPY ${ENTRYPOINT_FILE_NAME} /src/smokescreen/main.go\nRUN cd /src/smokescreen && CGO_ENABLED=0`,
    );
    const misplaced = new Map(plan.result).set(DOCKERFILE, plan.result.get(DOCKERFILE)!.replace('/src/smokescreen/main.go', 'main.go'));
    const failing = await verifyRepo(misplaced, { goCheck: false });
    expect(failing.checks.find((check) => check.id === bug3.id)).toMatchObject({
      status: 'failed',
      message: expect.stringContaining('main.go is copied to /src/main.go, but go build runs in /src/smokescreen'),
    });
  });

  it('refuses shapes it cannot place the COPY in, naming file:line', () => {
    const withVariableCd = WITH_CD(fixtureFiles().get(DOCKERFILE)!, '"$SRC_DIR"');
    expect(runCheck(bug3, withDockerfile(withVariableCd))).toEqual({
      state: 'unrecognised',
      reason: `go build at ${DOCKERFILE}:10 runs after 'cd $SRC_DIR' (${DOCKERFILE}:9), which is not a literal path; cannot tell where main.go is`,
    });

    const semicolon = CHAINED(fixtureFiles().get(DOCKERFILE)!).replace(
      'git checkout {{ smokescreen_commit }} && \\',
      'git checkout {{ smokescreen_commit }}; \\',
    );
    expect(runCheck(bug3, withDockerfile(semicolon))).toMatchObject({
      state: 'unrecognised',
      reason: expect.stringContaining(`RUN at ${DOCKERFILE}:8 cannot be split there`),
    });

    const subPackage = fixtureFiles().get(DOCKERFILE)!.replace('-o /smokescreen .', '-o /smokescreen ./cmd/smokescreen');
    expect(runCheck(bug3, withDockerfile(subPackage))).toMatchObject({
      state: 'unrecognised',
      reason: expect.stringMatching(new RegExp(`^go build at ${DOCKERFILE}:10 builds \\./cmd/smokescreen`)),
    });
  });

  it('is not applicable when no Dockerfile builds Smokescreen from source', () => {
    const files = fixtureFiles();
    files.delete(DOCKERFILE);
    expect(runCheck(bug3, files).state).toBe('not-applicable');
  });
});
