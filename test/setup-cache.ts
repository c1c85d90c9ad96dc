/**
 * Every test file gets its own empty user cache directory, so the Go proof cache
 * (src/verify/go-check.ts) of one test run, or of the developer's own runs, never decides a result.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'openclaw-fix-test-cache-'));
