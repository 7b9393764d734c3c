// Nothing lost: spans survive a crash of the proxy once their batch is written, and a storage failure
// never touches traffic.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually } from '../support/eventually.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { chatBody, rawRequest } from '../support/http.js';
import { spawnLlmtap, startLlmtap } from '../support/llmtap.js';
import { barrier, readSpans } from '../support/spans.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

const post = (stream: boolean) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: chatBody(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
});

/** /readyz once it answers `status` (readiness is reported by the storage thread within 250 ms). */
async function readyz(url: string, status: number): Promise<{ checks: Record<string, string> }> {
  const end = Date.now() + 3000;
  for (;;) {
    const r = await rawRequest(`${url}/readyz`);
    if (r.status === status) return JSON.parse(r.body.toString()) as { checks: Record<string, string> };
    if (Date.now() > end) throw new Error(`/readyz stayed ${r.status}: ${r.body.toString()}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

describe('durability', () => {
  it('kill -9 right after a burst: every span committed before it (the burst, then a later call) is in the file', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '100' });
    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => rawRequest(`${llmtap.baseURL}/chat/completions`, post(i % 2 === 0))));
    expect(responses.every((r) => r.status === 200 && r.complete)).toBe(true);
    // Spans are written in the order their exchanges ended: once a later call's span is readable, the
    // burst's batches were committed before it, and a crash must not take them back.
    await barrier(llmtap);
    llmtap.proc.kill('SIGKILL');
    expect(await llmtap.exited).toBe(null);
    const stored = new Set(readSpans(llmtap.dbPath).map((s) => s.spanId));
    const expected = responses.map((r) => r.headers['x-llmtap-span-id'] as string);
    expect(expected.filter((id) => !stored.has(id))).toEqual([]);
  });
});

describe('storage failure never touches traffic', () => {
  it('a locked database: requests flow, errors are logged, /readyz says so; the spans are written once it frees up', async () => {
    const proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '20', LLMTAP_SHUTDOWN_TIMEOUT_MS: '1000' });
    const locker = new Database(proxy.dbPath);
    try {
      locker.exec('BEGIN EXCLUSIVE');
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => rawRequest(`${proxy.baseURL}/chat/completions`, post(i % 2 === 0))));
      expect(results.every((r) => r.status === 200 && r.complete)).toBe(true);
      await eventually(() => proxy.logs.some((l) => l.msg === 'storage write failed: spans kept in memory and retried'), 'the storage failure log line', 3000);
      expect((await readyz(proxy.url, 503)).checks.storage).toMatch(/locked/);
      locker.exec('ROLLBACK');
      const ids = results.map((r) => r.headers['x-llmtap-span-id'] as string);
      await eventually(
        () => {
          const stored = new Set(readSpans(proxy.dbPath).map((s) => s.spanId));
          return ids.every((id) => stored.has(id));
        },
        'every span stored',
        10_000,
      );
      await readyz(proxy.url, 200);
    } finally {
      locker.close();
      await proxy.shutdown();
    }
  });

  it('the database directory deleted: requests flow, /readyz reports it; recreated when possible, queued spans kept', async () => {
    const proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '20', LLMTAP_SHUTDOWN_TIMEOUT_MS: '1000' });
    const dir = dirname(proxy.dbPath);
    try {
      rmSync(dir, { recursive: true });
      writeFileSync(dir, 'a file where the directory was: the database cannot be recreated');
      const r = await rawRequest(`${proxy.baseURL}/chat/completions`, post(true));
      expect(r.status).toBe(200);
      expect(r.complete).toBe(true);
      await eventually(() => proxy.logs.some((l) => l.msg === 'storage write failed: spans kept in memory and retried'), 'the storage failure log line', 3000);
      await readyz(proxy.url, 503);
      rmSync(dir);
      mkdirSync(dir);
      await eventually(
        () => {
          try {
            return readSpans(proxy.dbPath).some((s) => s.spanId === r.headers['x-llmtap-span-id']);
          } catch {
            return false;
          }
        },
        'the span stored in the recreated directory',
        10_000,
      );
      await readyz(proxy.url, 200);
    } finally {
      await proxy.shutdown();
    }
  });
});
