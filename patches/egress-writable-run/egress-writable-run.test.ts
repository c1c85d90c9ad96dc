/**
 * Bug 2: the read-only egress proxy gets a /run tmpfs and an explicit --stats-socket-dir on it.
 * Every case runs with Bug 1 (the egress fixes together, as the tool applies them), is planned
 * twice, and is proved on the RENDERED Compose file and Dockerfile (test/egress-rendered.ts).
 */
import { expect } from 'vitest';
import { bug1 } from '../egress-tcp-healthcheck/egress-tcp-healthcheck.js';
import { COMPOSE, DOCKERFILE, expectEgressStartsHealthy, flagValue, renderEgress } from '../../test/egress-rendered.js';
import { edit, fixture, PatchTester, type FileEdit } from '../../test/patch-tester.js';
import { bug2 } from './egress-writable-run.js';

const startsHealthy = (after: ReadonlyMap<string, string>): void => void expectEgressStartsHealthy(after);
const RUN_TMPFS: FileEdit = edit(
  COMPOSE,
  '      - /tmp:size=16M\n    command:',
  '      - /tmp:size=16M\n      - /run:size=8M\n    command:',
);
const everyLine =
  (change: (text: string) => string): FileEdit =>
  (files) =>
    new Map(files).set(COMPOSE, change(files.get(COMPOSE)!));

new PatchTester({ with: [bug1] }).run(bug2, {
  valid: [
    {
      name: 'the flag in its two-argument spelling on a tmpfs mount point',
      files: () =>
        fixture(
          RUN_TMPFS,
          edit(
            COMPOSE,
            '      - "--listen-ip=0.0.0.0"\n',
            '      - "--listen-ip=0.0.0.0"\n      - "--stats-socket-dir"\n      - "/tmp/"\n',
          ),
        ),
    },
  ],
  invalid: [
    {
      name: "the fixture: /run and the flag added in the lists' own style; the rendered proxy starts and is probed over TCP",
      files: () => fixture(),
      reason: new RegExp(`${COMPOSE.replace(/\./g, '\\.')}:108`),
      output: {
        [COMPOSE]: (text) => {
          // The style of the lists the fix extended: block, double-quoted command items, plain tmpfs items.
          expect(text).toContain('    tmpfs:\n      - /tmp:size=16M\n      - /run:size=8M\n    command:\n');
          expect(text).toContain('      - "--deny-range=192.168.0.0/16"\n      - "--stats-socket-dir=/run"\n    volumes:');
        },
      },
      prove: (after, before) => {
        expect(() => expectEgressStartsHealthy(before)).toThrow();
        const rendered = expectEgressStartsHealthy(after);
        expect(flagValue(rendered.command, 'stats-socket-dir')).toBe('/run');
        // curl served only the old healthcheck (Bug 1): it is gone from the image, and the comment above names nc.
        expect(rendered.runtimePackages).not.toContain('curl');
        expect(after.get(DOCKERFILE)).toContain(
          '# netcat-openbsd is only here for the compose healthcheck\nRUN apk add --no-cache ca-certificates netcat-openbsd && adduser -D -H smokescreen\n',
        );
        expect(after.get(COMPOSE)).toContain('      test: ["CMD", "nc", "-z", "-w", "3", "127.0.0.1", "4750"]\n');
      },
    },
    {
      name: 'a 4-space indentation',
      files: () => fixture(everyLine((text) => text.replace(/^( +)/gm, (spaces) => spaces + spaces))),
      output: {
        [COMPOSE]: (text) => {
          expect(text).toContain('        tmpfs:\n            - /tmp:size=16M\n            - /run:size=8M\n');
          expect(text).toContain('            - "--stats-socket-dir=/run"\n        volumes:');
        },
      },
      prove: startsHealthy,
    },
    {
      name: 'flow lists with unquoted items; the probe follows --listen-port',
      files: () =>
        fixture(
          edit(COMPOSE, 'tmpfs:\n      - /tmp:size=16M\n    command:', 'tmpfs: [/tmp:size=16M]\n    command:'),
          edit(
            COMPOSE,
            /command:\n( +- .*\n)+/,
            'command: [--egress-acl-file=/etc/smokescreen/acl.yaml, --listen-ip=0.0.0.0, --listen-port=4800, --deny-range=10.0.0.0/8]\n',
          ),
        ),
      output: {
        [COMPOSE]: (text) => {
          expect(text).toContain('tmpfs: [/tmp:size=16M, /run:size=8M]\n');
          expect(text).toContain('--deny-range=10.0.0.0/8, --stats-socket-dir=/run]\n');
        },
      },
      prove: (after) => expect(expectEgressStartsHealthy(after).probe.at(-1)).toBe('4800'),
    },
    {
      name: 'tmpfs and command written as single strings',
      files: () =>
        fixture(
          edit(COMPOSE, 'tmpfs:\n      - /tmp:size=16M\n    command:', 'tmpfs: /tmp:size=16M\n    command:'),
          edit(COMPOSE, /command:\n( +- .*\n)+/, 'command: "--egress-acl-file=/etc/smokescreen/acl.yaml --listen-ip=0.0.0.0"\n'),
        ),
      output: {
        [COMPOSE]: (text) => {
          expect(text).toContain('tmpfs: [/tmp:size=16M, /run:size=8M]\n');
          expect(text).toContain('command: "--egress-acl-file=/etc/smokescreen/acl.yaml --listen-ip=0.0.0.0 --stats-socket-dir=/run"\n');
        },
      },
      prove: startsHealthy,
    },
    {
      name: 'a half-applied fix: /run present, the flag missing',
      files: () => fixture(RUN_TMPFS),
      reason: /^(?!.*no \/run tmpfs).*no --stats-socket-dir/,
      // docker-proxy's /run, and egress's once (not duplicated)
      output: { [COMPOSE]: (text) => expect(text.match(/\/run:size=8M/g)).toHaveLength(2) },
      prove: startsHealthy,
    },
    {
      name: 'a socket directory on the read-only root is corrected in place',
      files: () =>
        fixture(
          edit(
            COMPOSE,
            '      - "--listen-ip=0.0.0.0"\n',
            '      - "--listen-ip=0.0.0.0"\n      - "--stats-socket-dir=/var/run/smokescreen"\n',
          ),
        ),
      output: {
        [COMPOSE]: (text) => {
          expect(text).toContain('      - "--stats-socket-dir=/run"\n      - "--deny-range=10.0.0.0/8"\n');
          expect(text.match(/stats-socket-dir/g)).toHaveLength(1);
        },
      },
      prove: startsHealthy,
    },
    {
      name: "no tmpfs at all: a list is added after read_only, in the service's list style",
      files: () => fixture(edit(COMPOSE, '    tmpfs:\n      - /tmp:size=16M\n    command:', '    command:')),
      output: { [COMPOSE]: (text) => expect(text).toContain('    read_only: true\n    tmpfs:\n      - /run:size=8M\n    command:\n') },
      prove: (after) => {
        const rendered = renderEgress(after);
        expect(rendered.tmpfsMounts).toEqual(['/run']);
        expect(flagValue(rendered.command, 'stats-socket-dir')).toBe('/run');
      },
    },
    {
      name: "CRLF line endings (with Bug 1's Dockerfile)",
      files: () =>
        fixture(
          ...[COMPOSE, DOCKERFILE].map(
            (path): FileEdit =>
              (files) =>
                new Map(files).set(path, files.get(path)!.replace(/\n/g, '\r\n')),
          ),
        ),
      output: { [COMPOSE]: (text) => expect(text.replace(/\r\n/g, '')).not.toContain('\n') },
      prove: (after) => {
        expect(after.get(DOCKERFILE)!.replace(/\r\n/g, '')).not.toContain('\n');
        expectEgressStartsHealthy(after);
      },
    },
    {
      name: 'the role templates under ansible/',
      files: () => new Map([...fixture()].map(([path, text]) => [`ansible/${path}`, text])),
      output: { [`ansible/${COMPOSE}`]: /--stats-socket-dir=\/run/ },
      prove: startsHealthy,
    },
    {
      name: 'a tmpfs list built by a Jinja loop is refused, naming file:line',
      state: 'unrecognised',
      files: () =>
        fixture(
          edit(
            COMPOSE,
            '    tmpfs:\n      - /tmp:size=16M\n    command:',
            '    tmpfs:\n{% for mount in egress_tmpfs %}\n      - {{ mount }}\n{% endfor %}\n    command:',
          ),
        ),
      reason: new RegExp(`${COMPOSE.replace(/\./g, '\\.')}:\\d+`),
    },
  ],
});
