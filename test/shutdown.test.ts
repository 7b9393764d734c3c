// Stopping the real `llmtap` process: kept-alive clients are answered through the drain (never a 502 of
// llmtap's own), an unreachable export target does not hold the stop up, and a second signal stops at once.
import { Agent, request } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually } from './support/eventually.js';
import { type FakeOpenAI, startFakeOpenAI } from './support/fake-openai.js';
import { chatBody, rawRequest } from './support/http.js';
import { spawnLlmtap } from './support/llmtap.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';
import { readSpans } from './support/spans.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

const chat = (baseURL: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  rawRequest(`${baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: chatBody(extra) });

interface Outcome {
  status?: number;
  spanId?: string;
  connection?: string;
  error?: string;
}

/** One chat call on a kept-alive connection of `agent`. */
const keptAlive = (agent: Agent, baseURL: string): Promise<Outcome> =>
  new Promise((resolve) => {
    const req = request(`${baseURL}/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, spanId: res.headers['x-llmtap-span-id'] as string, connection: res.headers.connection }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(chatBody());
  });

describe('stop', () => {
  it('SIGTERM under 200 requests/s on kept-alive connections: no 502, every answered call recorded', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '10' });
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const outcomes: Promise<Outcome>[] = [];
    let exited = false;
    void llmtap.exited.then(() => (exited = true));
    // 200 requests a second until the process is gone.
    const load = (async () => {
      while (!exited) {
        outcomes.push(keptAlive(agent, llmtap.baseURL));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await eventually(async () => (await Promise.all(outcomes.slice(0, 100))).length === 100 && outcomes.length > 100, 'a hundred calls answered');
      llmtap.proc.kill('SIGTERM');
      expect(await llmtap.exited).toBe(0);
      await load;
      const all = await Promise.all(outcomes);
      const statuses = all.filter((o) => o.status !== undefined).map((o) => o.status);
      expect(statuses.filter((s) => s !== 200)).toEqual([]); // never a 502 of llmtap's own making
      // Calls that found the port closed failed to connect: they never reached llmtap.
      for (const o of all) if (o.error) expect(['ECONNREFUSED', 'ECONNRESET', 'socket hang up']).toContain(o.error);
      const stored = new Set(readSpans(llmtap.dbPath).map((s) => s.spanId));
      const answered = all.filter((o) => o.status === 200);
      expect(answered.length).toBeGreaterThan(100);
      expect(answered.filter((o) => !stored.has(o.spanId!))).toEqual([]);
    } finally {
      exited = true;
      agent.destroy();
      llmtap.proc.kill('SIGKILL');
    }
  });

  it('a request sent on a kept-alive connection as the last one in flight ends is answered, and told to close', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // A stream of about a second on the one kept-alive connection; the next call goes the moment it ends.
      const next = new Promise<Outcome>((resolve, reject) => {
        const req = request(`${llmtap.baseURL}/chat/completions`, {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'x-fake-delay-ms': '50' },
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(keptAlive(agent, llmtap.baseURL)));
        });
        req.on('error', reject);
        req.end(chatBody({ stream: true }));
      });
      await eventually(() => fake.requests.some((r) => r.headers['x-fake-delay-ms'] === '50'), 'the stream under way');
      llmtap.proc.kill('SIGTERM');
      const answer = await next;
      expect(answer.status ?? answer.error).not.toBe(502);
      if (answer.status) expect(answer).toMatchObject({ status: 200, connection: 'close' });
      expect(await llmtap.exited).toBe(0);
    } finally {
      agent.destroy();
      llmtap.proc.kill('SIGKILL');
    }
  });

  describe('with an export target that never answers', () => {
    let receiver: OtlpReceiver;
    beforeAll(async () => {
      receiver = await startOtlpReceiver();
      receiver.answer = () => ({ status: 200, delayMs: 20_000 });
    });
    afterAll(() => receiver.stop());

    it('the stop waits for it no longer than LLMTAP_SHUTDOWN_EXPORT_MS (2 s), says so, and keeps the spans in the outbox', async () => {
      const llmtap = await spawnLlmtap({
        LLMTAP_UPSTREAM_URL: fake.url,
        LLMTAP_FLUSH_INTERVAL_MS: '10',
        LLMTAP_EXPORT_INTERVAL_MS: '50',
        PHOENIX_COLLECTOR_ENDPOINT: receiver.url,
      });
      await chat(llmtap.baseURL);
      await chat(llmtap.baseURL);
      await eventually(() => receiver.requests.length > 0, 'an export request, left hanging');
      const t0 = Date.now();
      llmtap.proc.kill('SIGTERM');
      expect(await llmtap.exited).toBe(0);
      const ms = Date.now() - t0;
      console.log(`stop with an export target that never answers: ${ms} ms`);
      expect(ms).toBeLessThan(3000);
      expect(llmtap.output()).toContain('shutdown: sending the spans waiting for export');
      expect(llmtap.output()).toContain('stay in the outbox for the next start');
    });
  });

  it('a second signal stops at once, after writing the spans still queued in memory', async () => {
    // Spans would wait a minute in memory before being written.
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '60000' });
    try {
      const quick = await chat(llmtap.baseURL);
      // A stream of about ten seconds: the first signal waits for it.
      void chat(llmtap.baseURL, { stream: true }, { 'x-fake-delay-ms': '500' }).catch(() => undefined);
      await eventually(() => fake.requests.some((r) => r.headers['x-fake-delay-ms'] === '500'), 'the stream under way');
      llmtap.proc.kill('SIGTERM');
      await eventually(() => llmtap.output().includes('shutting down: finishing the requests in flight'), 'the first signal taken');
      const t0 = Date.now();
      llmtap.proc.kill('SIGTERM');
      expect(await llmtap.exited).toBe(143);
      const ms = Date.now() - t0;
      console.log(`second signal to exit: ${ms} ms`);
      expect(ms).toBeLessThan(1500);
      expect(readSpans(llmtap.dbPath).map((s) => s.spanId)).toContain(quick.headers['x-llmtap-span-id']);
    } finally {
      llmtap.proc.kill('SIGKILL');
    }
  });
});
