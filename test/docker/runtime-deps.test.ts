// The image's runtime-stage assumption, checked without Docker: the built output runs from a directory
// holding only dist/, package.json and what `npm ci --omit=dev` installs — no source file, no
// devDependency — and records what it proxies.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ROOT } from '../support/deploy-files.js';
import { type FakeOpenAI, REPLY, startFakeOpenAI } from '../support/fake-openai.js';
import { chatBody, rawRequest } from '../support/http.js';
import { spawnLlmtap } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

const ADDON = join('build', 'Release', 'better_sqlite3.node');
let fake: FakeOpenAI;
let dir: string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  dir = mkdtempSync(join(tmpdir(), 'llmtap-runtime-'));
  for (const path of ['dist', 'package.json', 'package-lock.json']) cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  // --ignore-scripts: compiling better-sqlite3 again takes a minute on a 2-core machine and proves
  // nothing new here (the image build compiles it; scripts/docker-smoke.sh runs that). The addon this
  // checkout compiled, from the same lockfile, is copied in instead.
  await promisify(execFile)('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, timeout: 150_000 });
  const betterSqlite = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
  cpSync(join(betterSqlite, ADDON), join(dir, 'node_modules', 'better-sqlite3', ADDON));
}, 180_000);
afterAll(() => fake.close());

describe('runtime with production dependencies only', () => {
  it('has no devDependency and no source file', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: object; devDependencies: object };
    for (const name of Object.keys(pkg.devDependencies)) expect(existsSync(join(dir, 'node_modules', name)), name).toBe(false);
    for (const name of Object.keys(pkg.dependencies)) expect(existsSync(join(dir, 'node_modules', name)), name).toBe(true);
    expect(existsSync(join(dir, 'src'))).toBe(false);
    expect(existsSync(join(dir, 'dist', 'cli.js'))).toBe(true);
  });

  it('starts from there, proxies a call and records it, and stops cleanly on SIGTERM', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '10' }, [], dir);
    try {
      expect((await rawRequest(`${llmtap.url}/healthz`)).status).toBe(200);
      const r = await rawRequest(`${llmtap.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chatBody({ stream: true }),
      });
      expect(r.status).toBe(200);
      const span = await waitForSpan(llmtap.dbPath, r.headers['x-llmtap-span-id'] as string);
      expect(span.statusCode).toBe('OK');
      expect(span.attributes['output.value']).toBe(REPLY);
      expect((await rawRequest(`${llmtap.url}/readyz`)).status).toBe(200);
    } finally {
      llmtap.proc.kill('SIGTERM');
    }
    expect(await llmtap.exited).toBe(0);
  });
});
