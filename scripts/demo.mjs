#!/usr/bin/env node
// Runs openclaw-fix on a throw-away copy of the bundled fixture repo: a dry run (the diff of
// every fix), then --apply, then the fix branch's log. The fixture itself is never touched.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const repo = mkdtempSync(join(tmpdir(), 'openclaw-demo-'));
cpSync(join(root, 'fixtures/deployment-repo'), repo, { recursive: true });
const identity = {
  GIT_AUTHOR_NAME: 'Demo',
  GIT_AUTHOR_EMAIL: 'demo@example.com',
  GIT_COMMITTER_NAME: 'Demo',
  GIT_COMMITTER_EMAIL: 'demo@example.com',
};
const git = (...args) => execFileSync('git', args, { cwd: repo, env: { ...process.env, ...identity }, encoding: 'utf8' });
git('init', '-q', '-b', 'main');
git('add', '-A');
git('commit', '-q', '-m', 'OpenClaw deployment (bundled fixture)');

const cli = (...args) =>
  spawnSync(process.execPath, [join(root, 'bin/openclaw-fix.js'), '--repo', repo, ...args], {
    stdio: 'inherit',
    env: { ...process.env, ...identity },
  }).status;
console.log(`# openclaw-fix on a copy of fixtures/deployment-repo in ${repo}\n\n## dry run\n`);
cli('--dry-run');
console.log('\n## apply\n');
const status = cli('--apply');
console.log('\n## the fix branch\n');
console.log(git('log', '--format=%h %s', 'main..openclaw-fix/deployment-bugs'));
process.exitCode = status ?? 2;
