/**
 * Bug 1: the egress proxy is probed with a bounded TCP check (`nc -z -w`) its image can run.
 * Every case runs with Bug 2 (the egress fixes together, as the tool applies them), is planned
 * twice, and is proved on the RENDERED Compose file and Dockerfile (test/egress-rendered.ts).
 */
import { expect } from 'vitest';
import { bug2 } from '../egress-writable-run/egress-writable-run.js';
import { COMPOSE, DOCKERFILE, expectEgressStartsHealthy, renderEgress } from '../../test/egress-rendered.js';
import { edit, fixture, PatchTester, type InvalidCase } from '../../test/patch-tester.js';
import { bug1 } from './egress-tcp-healthcheck.js';

const startsHealthy = (after: ReadonlyMap<string, string>): void => void expectEgressStartsHealthy(after);
const HEALTHCHECK_TEST = '      test: ["CMD", "curl", "-sf", "http://localhost:4750/healthcheck"]\n';
const TCP_PROBE = '      test: ["CMD", "nc", "-z", "-w", "2", "localhost", "4750"]\n';
const APK_LINE = 'RUN apk add --no-cache ca-certificates curl && adduser -D -H smokescreen\n';
const at = (path: string, line: number | string): RegExp => new RegExp(`${path.replace(/\./g, '\\.')}:${line}`);

/** The healthcheck written another way keeps its form: [name, test as written, test after the fix]. */
const FORMS: [string, string, string][] = [
  ['a plain string', '      test: curl -sf http://localhost:4750/healthcheck\n', '      test: nc -z -w 3 127.0.0.1 4750\n'],
  [
    'CMD-SHELL',
    '      test: ["CMD-SHELL", "curl -sf http://localhost:4750/healthcheck || exit 1"]\n',
    '      test: ["CMD-SHELL", "nc -z -w 3 127.0.0.1 4750"]\n',
  ],
  [
    'a block CMD list with plain items',
    '      test:\n        - CMD\n        - curl\n        - -sf\n        - http://localhost:4750/healthcheck\n',
    '      test:\n        - CMD\n        - nc\n        - -z\n        - -w\n        - "3"\n        - 127.0.0.1\n        - "4750"\n',
  ],
];

new PatchTester({ with: [bug2] }).run(bug1, {
  valid: [
    {
      name: 'a bounded TCP probe with netcat in the image',
      files: () => fixture(edit(COMPOSE, HEALTHCHECK_TEST, TCP_PROBE), edit(DOCKERFILE, ' curl && adduser', ' netcat-openbsd && adduser')),
    },
  ],
  invalid: [
    {
      name: 'the fixture: nc probe in the Compose file, netcat for curl in the image, the comment above it follows',
      files: () => fixture(),
      output: {
        [COMPOSE]: (text) => expect(text).toContain('      test: ["CMD", "nc", "-z", "-w", "3", "127.0.0.1", "4750"]\n'),
        [DOCKERFILE]: (text) =>
          expect(text).toContain(
            '# netcat-openbsd is only here for the compose healthcheck\nRUN apk add --no-cache ca-certificates netcat-openbsd && adduser -D -H smokescreen\n',
          ),
      },
      prove: (after, before) => {
        expect(() => expectEgressStartsHealthy(before)).toThrow();
        expect(expectEgressStartsHealthy(after).runtimePackages).not.toContain('curl');
      },
    },
    ...FORMS.map(([name, test, expected]): InvalidCase => ({
      name: `a test written as ${name} keeps its form`,
      files: () => fixture(edit(COMPOSE, HEALTHCHECK_TEST, test)),
      output: { [COMPOSE]: (text) => expect(text).toContain(expected), [DOCKERFILE]: /netcat-openbsd/ },
      prove: startsHealthy,
    })),
    {
      name: "the report's always-successful snippet is replaced, and the reason says why",
      files: () =>
        fixture(
          edit(
            COMPOSE,
            HEALTHCHECK_TEST,
            `      test: ["CMD-SHELL", "wget --no-verbose --tries=1 --spider http://localhost:4750/ 2>&1 | grep -q 'connected' || curl -so /dev/null -w '' http://localhost:4750/ 2>&1 && exit 0 || exit 0"]\n`,
          ),
        ),
      reason: /always succeeds/,
      output: { [COMPOSE]: /"CMD-SHELL", "nc -z -w 3 127\.0\.0\.1 4750"/, [DOCKERFILE]: /netcat-openbsd/ },
      prove: startsHealthy,
    },
    {
      name: 'a bounded TCP probe without netcat in the image: only the Dockerfile changes',
      files: () => fixture(edit(COMPOSE, HEALTHCHECK_TEST, TCP_PROBE)),
      output: { [DOCKERFILE]: /netcat-openbsd/ },
      prove: (after) => expect(renderEgress(after).runtimePackages).toContain('netcat-openbsd'),
    },
    {
      name: 'an unbounded nc probe (no -w) is replaced',
      files: () => fixture(edit(COMPOSE, HEALTHCHECK_TEST, '      test: ["CMD-SHELL", "nc -z localhost 4750"]\n')),
      reason: /without a -w timeout/,
      output: { [COMPOSE]: /"nc -z -w 3 127\.0\.0\.1 4750"/, [DOCKERFILE]: /netcat-openbsd/ },
      prove: startsHealthy,
    },
    {
      name: 'a one-per-line apk list gets netcat on its own line; curl stays when another RUN uses it, and its comment too',
      files: () =>
        fixture(
          edit(
            DOCKERFILE,
            APK_LINE,
            'RUN apk add --no-cache \\\n        ca-certificates \\\n        curl \\\n    && adduser -D -H smokescreen\nRUN curl --version\n',
          ),
        ),
      output: {
        [COMPOSE]: /"nc", "-z"/,
        [DOCKERFILE]: (text) => {
          expect(text).toContain('        curl \\\n        netcat-openbsd \\\n    && adduser -D -H smokescreen\n');
          // The comment is about curl, which stays: its bytes stay too.
          expect(text).toContain('# curl is only here for the compose healthcheck\n');
        },
      },
      notes: [/curl stays .*RUN at .*Dockerfile\.smokescreen\.j2:19/],
      prove: (after) => expect(expectEgressStartsHealthy(after).runtimePackages).toContain('curl'),
    },
    {
      name: 'an apk add chained after other commands drops unused curl there',
      files: () =>
        fixture(edit(DOCKERFILE, APK_LINE, 'RUN set -eux; adduser -D -H smokescreen && apk --no-cache add ca-certificates curl\n')),
      output: {
        [COMPOSE]: /"nc", "-z"/,
        [DOCKERFILE]: (text) =>
          expect(text).toContain('RUN set -eux; adduser -D -H smokescreen && apk --no-cache add ca-certificates netcat-openbsd\n'),
      },
      prove: (after) => expect(expectEgressStartsHealthy(after).runtimePackages).not.toContain('curl'),
    },
    {
      name: 'a probe computed by Jinja is refused, naming file:line',
      state: 'unrecognised',
      files: () => fixture(edit(COMPOSE, HEALTHCHECK_TEST, '      test: "{{ egress_healthcheck }}"\n')),
      reason: at(COMPOSE, 137),
    },
    {
      name: 'a runtime stage without apk is refused, naming file:line',
      state: 'unrecognised',
      files: () =>
        fixture(
          edit(DOCKERFILE, 'FROM alpine:{{ smokescreen_alpine_version }}\n', 'FROM gcr.io/distroless/static\n'),
          edit(DOCKERFILE, /# curl.*\nRUN apk.*\n/, ''),
        ),
      reason: at(DOCKERFILE, 13),
    },
  ],
});
