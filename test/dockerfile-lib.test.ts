/**
 * The Dockerfile template reader (src/toolkit/dockerfile.ts): stages, instructions with
 * continuations and offsets into the original text, shell parts, `apk add` lists and the
 * edits built on them.
 */
import { describe, expect, it } from 'vitest';
import {
  addApkPackage,
  findApkAdds,
  insertLinesAfter,
  parseDockerfile,
  removeApkPackage,
  runtimeStage,
  shellParts,
  splitRunAfter,
  wordValues,
} from '../src/toolkit/dockerfile.js';
import { bug1 as bug1Module } from '../patches/egress-tcp-healthcheck/egress-tcp-healthcheck.js';
import { bug3 as bug3Module } from '../patches/egress-plain-http-role/egress-plain-http-role.js';
import { applyEditsToText } from '../src/core/edits.js';
import { planFixes } from '../src/core/engine.js';
import type { TextEdit } from '../src/core/types.js';
import { fixtureFiles } from './helpers.js';
import { loadPatch } from '../src/core/patch-home.js';

const bug1 = loadPatch(bug1Module);
const bug3 = loadPatch(bug3Module);

const FIXTURE_PATH = 'roles/openclaw-config/templates/Dockerfile.smokescreen.j2';
const fixture = (): string => fixtureFiles().get(FIXTURE_PATH)!;

function apply(path: string, text: string, edit: TextEdit): string {
  return applyEditsToText(path, text, [edit]);
}

describe('parseDockerfile', () => {
  it('reads the fixture into two stages with offsets into the original text', () => {
    const text = fixture();
    const df = parseDockerfile(FIXTURE_PATH, text);
    expect(df.stages.map((stage) => [stage.image, stage.name])).toEqual([
      ['golang:{{ smokescreen_go_version }}-alpine', 'builder'],
      ['alpine:{{ smokescreen_alpine_version }}', undefined],
    ]);
    const build = df.stages[0]!;
    const clone = build.instructions.find((instruction) => instruction.logical.includes('git clone'))!;
    expect(clone.lines).toHaveLength(2);
    expect(text.slice(clone.start, clone.end)).toBe(
      'RUN git clone https://github.com/stripe/smokescreen.git . && \\\n    git checkout {{ smokescreen_commit }}',
    );
    // Docker joins continuation lines by dropping the escape and the line end, nothing else.
    expect(clone.logical).toBe('git clone https://github.com/stripe/smokescreen.git . &&     git checkout {{ smokescreen_commit }}');
    expect(shellParts(df, clone).map(wordValues)).toEqual([
      ['git', 'clone', 'https://github.com/stripe/smokescreen.git', '.'],
      ['git', 'checkout', '{{ smokescreen_commit }}'],
    ]);
    const runtime = runtimeStage(df)!;
    expect(runtime.instructions.map((instruction) => instruction.keyword)).toEqual(['RUN', 'COPY', 'USER', 'EXPOSE', 'ENTRYPOINT']);
    expect(runtime.instructions.at(-1)!.execForm).toBe(true);
    // The comment above the RUN is a comment, not part of a stage instruction.
    expect(df.comments.map((line) => line.text)).toContain('# curl is only here for the compose healthcheck');
  });

  it('skips comment lines inside a continuation, keeps CRLF offsets, and treats Jinja-only lines as template lines', () => {
    const text = [
      'FROM alpine:3.21',
      '{% if extra %}',
      'RUN apk add --no-cache \\',
      '    # the CA bundle',
      '    ca-certificates \\',
      '    curl',
      '{% endif %}',
      'USER nobody',
      '',
    ].join('\r\n');
    const df = parseDockerfile('Dockerfile', text);
    const run = df.instructions.find((instruction) => instruction.keyword === 'RUN')!;
    expect(run.lines.map((line) => line.skipped)).toEqual([false, true, false, false]);
    expect(text.slice(run.start, run.end).endsWith('    curl')).toBe(true);
    const [apk] = findApkAdds(df, runtimeStage(df)!);
    expect(apk!.packages.map((word) => word.value)).toEqual(['ca-certificates', 'curl']);
    expect(df.instructions.map((instruction) => instruction.keyword)).toEqual(['FROM', 'RUN', 'USER']);
  });
});

describe('apk add edits', () => {
  it('adds on the same line, or on its own line when the list has one package per line', () => {
    const inline = 'FROM alpine\nRUN apk add --no-cache ca-certificates curl && adduser -D x\n';
    const df = parseDockerfile('D', inline);
    const apk = findApkAdds(df, runtimeStage(df)!)[0]!;
    expect(apply('D', inline, addApkPackage(df, apk, 'netcat-openbsd'))).toBe(
      'FROM alpine\nRUN apk add --no-cache ca-certificates curl netcat-openbsd && adduser -D x\n',
    );
    expect(apply('D', inline, removeApkPackage(df, apk, apk.packages[1]!))).toBe(
      'FROM alpine\nRUN apk add --no-cache ca-certificates && adduser -D x\n',
    );

    const split = 'FROM alpine\nRUN apk add --no-cache \\\n      ca-certificates \\\n      curl \\\n    && adduser -D x\n';
    const df2 = parseDockerfile('D', split);
    const apk2 = findApkAdds(df2, runtimeStage(df2)!)[0]!;
    expect(apply('D', split, addApkPackage(df2, apk2, 'netcat-openbsd'))).toBe(
      'FROM alpine\nRUN apk add --no-cache \\\n      ca-certificates \\\n      curl \\\n      netcat-openbsd \\\n    && adduser -D x\n',
    );
    expect(apply('D', split, removeApkPackage(df2, apk2, apk2.packages[1]!))).toBe(
      'FROM alpine\nRUN apk add --no-cache \\\n      ca-certificates \\\n    && adduser -D x\n',
    );
  });

  it('refuses to remove a package whose name Docker joins across a continuation', () => {
    const joined = 'FROM alpine\nRUN apk add ca-certificates cu\\\nrl\n';
    const df = parseDockerfile('D', joined);
    const apk = findApkAdds(df, runtimeStage(df)!)[0]!;
    expect(apk.packages.map((word) => word.value)).toEqual(['ca-certificates', 'curl']);
    expect(() => removeApkPackage(df, apk, apk.packages[1]!)).toThrow(/package 'curl' at D:2 is split across lines/);
  });

  it('finds apk add after global options and among chained commands', () => {
    const text = 'FROM alpine\nRUN set -eux; apk --no-cache add -t .deps ca-certificates {{ extra_pkg }} | cat\n';
    const df = parseDockerfile('D', text);
    const [apk] = findApkAdds(df, runtimeStage(df)!);
    expect(apk!.partIndex).toBe(1);
    expect(apk!.packages.map((word) => word.source)).toEqual(['ca-certificates', '{{ extra_pkg }}']);
  });
});

describe('RUN splitting and line insertion (used on the build stage)', () => {
  it('splits a chained RUN at a top-level && and inserts lines between', () => {
    const text = fixture();
    const df = parseDockerfile(FIXTURE_PATH, text);
    const clone = df.stages[0]!.instructions.find((instruction) => instruction.logical.includes('git clone'))!;
    const result = apply(FIXTURE_PATH, text, splitRunAfter(df, clone, 0, ['COPY main.go ./main.go']));
    expect(result).toContain(
      'RUN git clone https://github.com/stripe/smokescreen.git .\nCOPY main.go ./main.go\nRUN git checkout {{ smokescreen_commit }}\n',
    );
    const reparsed = parseDockerfile(FIXTURE_PATH, result);
    expect(reparsed.stages[0]!.instructions.map((instruction) => instruction.keyword)).toEqual([
      'RUN',
      'WORKDIR',
      'RUN',
      'COPY',
      'RUN',
      'RUN',
    ]);
  });

  it('refuses to split inside a subshell or at ||', () => {
    const text = 'FROM alpine\nRUN (a && b) || c\n';
    const df = parseDockerfile('D', text);
    const run = df.instructions[1]!;
    expect(() => splitRunAfter(df, run, 0)).toThrow(/cannot be split/);
    expect(() => splitRunAfter(df, run, 1)).toThrow(/cannot be split/);
  });

  it('inserts after the last line of a file without a final newline, in CRLF', () => {
    const text = 'FROM alpine\r\nRUN a && \\\r\n    b';
    const df = parseDockerfile('D', text);
    expect(apply('D', text, insertLinesAfter(df, df.instructions[1]!, ['USER x']))).toBe('FROM alpine\r\nRUN a && \\\r\n    b\r\nUSER x');
  });
});

describe('the Smokescreen Dockerfile, found once for Bugs 1 and 3', () => {
  const GATEWAY = 'roles/openclaw-gateway/templates/Dockerfile.j2';
  const CANARY = 'roles/egress-canary/templates/Dockerfile.smokescreen.j2';

  it('both fixes edit the file that fetches stripe/smokescreen, not one that only mentions it', () => {
    const files = fixtureFiles();
    files.set(
      GATEWAY,
      'FROM node:22-alpine\n# Outbound traffic leaves through the smokescreen egress proxy.\nENV HTTPS_PROXY=http://openclaw-egress:4750\n',
    );
    const plan = planFixes(files, [bug1, bug3]);
    for (const outcome of plan.outcomes) expect(outcome.files.map((file) => file.path)).toContain(FIXTURE_PATH);
    expect(plan.result.get(GATEWAY)).toBe(files.get(GATEWAY));
  });

  it('both refuse two files that fetch it, naming them', () => {
    const files = fixtureFiles();
    files.set(CANARY, fixture());
    for (const outcome of planFixes(files, [bug1, bug3]).outcomes) {
      expect(outcome).toMatchObject({
        state: 'unrecognised',
        reason: `more than one Dockerfile template builds Smokescreen: ${CANARY}, ${FIXTURE_PATH}`,
      });
    }
  });
});
