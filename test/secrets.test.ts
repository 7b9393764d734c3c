// Nothing leaked: the API key used for calls appears nowhere llmtap writes — database, logs, spans.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FakeOpenAI, startFakeOpenAI } from './support/fake-openai.js';
import { chatBody, rawRequest } from './support/http.js';
import { spawnLlmtap } from './support/llmtap.js';
import { barrier, readSpans } from './support/spans.js';

const KEY = 'sk-proj-SECRETKEY1234567890abcdef';
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

describe('secrets', () => {
  it('the API key is in no database file, no log line (at trace level) and no stored span', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_LOG_LEVEL: 'trace', LLMTAP_FLUSH_INTERVAL_MS: '10' });
    const client = new OpenAI({ apiKey: KEY, baseURL: llmtap.baseURL, maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const _ of stream);
    await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-fake-behavior': 'error-500' } })
      .catch(() => undefined);
    // Azure-style key header (on the OpenAI path and on Azure's), and a key in a malformed request.
    await rawRequest(`${llmtap.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'api-key': KEY, 'content-type': 'application/json' },
      body: chatBody(),
    });
    await rawRequest(`${llmtap.url}/openai/deployments/prod-chat/chat/completions?api-version=2024-10-21`, {
      method: 'POST',
      headers: { 'api-key': KEY, 'content-type': 'application/json' },
      body: chatBody(),
    });
    await rawRequest(`${llmtap.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: '{broken' });
    // The upstream did get the key: the test would be meaningless otherwise.
    expect(fake.requests.some((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
    expect(fake.requests.some((r) => r.url.startsWith('/openai/') && r.headers['api-key'] === KEY)).toBe(true);

    await barrier(llmtap);
    const spans = readSpans(llmtap.dbPath);
    expect(spans.length).toBe(6 + 1);
    for (const span of spans) expect(JSON.stringify(span, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(KEY);
    // The database, its WAL and shared-memory files, while running and after shutdown's checkpoint.
    const dir = dirname(llmtap.dbPath);
    const grepFiles = (): void => {
      const files = readdirSync(dir);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) expect(readFileSync(join(dir, f)).includes(KEY), f).toBe(false);
    };
    grepFiles();
    llmtap.proc.kill('SIGTERM');
    expect(await llmtap.exited).toBe(0);
    grepFiles();
    expect(llmtap.output()).toContain('"msg":"request"');
    expect(llmtap.output()).not.toContain(KEY);
    expect(llmtap.output()).not.toContain('SECRETKEY');
  });
});
