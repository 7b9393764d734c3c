// One memory budget for everything held per exchange (LLMTAP_CAPTURE_MEMORY_BYTES): the accounting on
// its own, then the attacks at small scale against the real process — many large streams at once, and
// large uploads — whose RSS must stay under the budget plus 150 MB while every byte still reaches its
// destination.
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../src/config.js';
import { MemoryBudget } from '../src/memory-budget.js';
import { Capture } from '../src/record/capture.js';
import { eventually } from './support/eventually.js';
import { type FakeOpenAI, startFakeOpenAI } from './support/fake-openai.js';
import { chatBody, rawRequest } from './support/http.js';
import { type InProcess, spawnLlmtap, startLlmtap } from './support/llmtap.js';
import { scrape } from './support/prometheus.js';
import { readSpans, waitForSpan } from './support/spans.js';

const MB = 1024 * 1024;

describe('the budget', () => {
  it('takes what fits, gives back, and what was handed to the storage thread comes back when it is lost', () => {
    const budget = new MemoryBudget(100);
    expect(budget.take(60)).toBe(true);
    expect(budget.take(50)).toBe(false);
    expect(budget.held).toBe(60);
    budget.handOver(60);
    const storage = new MemoryBudget(0, budget.shared); // the storage thread's view of the same counters
    storage.given(20);
    expect(budget.held).toBe(40);
    budget.reclaimHanded();
    expect(budget.held).toBe(0);
  });

  it('a capture stops where the budget is spent, marked truncated, and keeps what fit; a captured byte costs two', () => {
    const budget = new MemoryBudget(3 * 2 * 8192);
    const hold = budget.hold();
    const capture = new Capture(10 * MB, hold);
    for (let i = 0; i < 10; i++) capture.add(Buffer.alloc(5000, i), BigInt(i));
    const sealed = capture.seal();
    expect(sealed.truncated).toBe(true);
    // Blocks of 8 KiB, then 8 KiB (doubling from what is held): the third would not fit.
    expect(sealed.blocks.map((b) => b.length)).toEqual([8192, 8192]);
    expect(sealed.size).toBe(2 * 8192);
    const bytes = Buffer.concat(sealed.blocks);
    expect(bytes.subarray(0, 5000).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(5000, 10_000).every((b) => b === 1)).toBe(true);
    expect(budget.held).toBe(2 * 2 * 8192);
    expect(hold.detach()).toBe(2 * 2 * 8192);
    hold.release();
    expect(budget.held).toBe(2 * 2 * 8192); // detached: it travels with the exchange
  });

  it('a capture past its limit keeps the limit exactly, in blocks that double up to 1 MiB', () => {
    const budget = new MemoryBudget(64 * MB);
    const capture = new Capture(3 * MB + 5, budget.hold());
    for (let i = 0; i < 100; i++) capture.add(Buffer.alloc(40_000, i), BigInt(i));
    const sealed = capture.seal();
    expect(sealed.truncated).toBe(true);
    expect(sealed.size).toBe(3 * MB + 5);
    expect(sealed.blocks.map((b) => b.length)).toEqual([8192, 8192, 16_384, 32_768, 65_536, 131_072, 262_144, 524_288, MB, MB, 5]);
    expect(
      Buffer.concat(sealed.blocks)
        .subarray(40_000 * 78, 40_000 * 79)
        .every((b) => b === 78),
    ).toBe(true);
    expect(sealed.lengths.reduce((a, b) => a + b)).toBe(3 * MB + 5);
  });

  it('defaults to 128 MiB, sized for a 512 MiB container', () => {
    expect(loadConfig({}).captureMemoryBytes).toBe(128 * MB);
  });
});

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

/** RSS of a process now, and its peak so far, in MB. */
const rssMb = (pid: number, field: 'VmRSS' | 'VmHWM'): number =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('under attack, the real process', () => {
  // The budget bounds what recording holds; the proxy itself needs memory to carry the same streams
  // (V8 collects the socket buffers of 480 MB of traffic in its own time). So the same load runs first
  // unrecorded, then one recorded stream warms up what recording loads once; the recorded run must stay
  // within the budget plus 150 MB of that warmed-up process.
  it('40 concurrent 12 MB streams stay under the budget plus 150 MB; clients get every byte; spans record what fit', async () => {
    const perStream = 12 * MB;
    const event = Buffer.from(
      `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: 'x'.repeat(4000) }, finish_reason: null }] })}\n\n`,
    );
    const events = Math.ceil(perStream / event.length);
    const total = events * event.length + 'data: [DONE]\n\n'.length;
    fake.handler = async (req, res) => {
      if (req.headers['x-fake-behavior'] !== 'big-chat-stream') return false;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < events && !res.destroyed; i++) if (!res.write(event)) await new Promise((r) => res.once('drain', r));
      res.end('data: [DONE]\n\n');
      return true;
    };
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '50' });
    const pid = llmtap.proc.pid!;
    const budgetMb = loadConfig({}).captureMemoryBytes / MB;
    const streams = (headers: Record<string, string>, count = 40): Promise<{ received: number; spanId: string }[]> =>
      Promise.all(
        Array.from(
          { length: count },
          () =>
            new Promise<{ received: number; spanId: string }>((resolve, reject) => {
              const req = request(
                `${llmtap.baseURL}/chat/completions`,
                { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'x-fake-behavior': 'big-chat-stream', ...headers } },
                (res) => {
                  let received = 0;
                  res.on('data', (c: Buffer) => (received += c.length));
                  res.on('end', () => resolve({ received, spanId: res.headers['x-llmtap-span-id'] as string }));
                },
              );
              req.on('error', reject);
              req.end(chatBody({ stream: true }));
            }),
        ),
      );
    try {
      const idle = rssMb(pid, 'VmRSS');
      expect((await streams({ 'x-llmtap-record': 'off' })).map((s) => s.received)).toEqual(Array.from({ length: 40 }, () => total));
      // One recorded stream warms up what recording loads once (the tokenizer's tables for its estimate).
      await streams({}, 1);
      await eventually(() => readSpans(llmtap.dbPath).length === 1, 'the warm-up span stored', 60_000);
      const warm = rssMb(pid, 'VmRSS');
      const recorded = await streams({});
      expect(recorded.map((s) => s.received)).toEqual(Array.from({ length: 40 }, () => total));
      await eventually(() => readSpans(llmtap.dbPath).length === 41, 'forty spans stored', 60_000);
      // Every byte held was given back once the spans were written.
      await eventually(async () => (await scrape(llmtap.url)).value('llmtap_capture_memory_bytes') === 0, 'the budget given back', 10_000);
      const peak = rssMb(pid, 'VmHWM');
      console.log(
        `40 streams × 12 MB: RSS ${Math.round(idle)} MB idle, ${Math.round(warm)} MB warmed up, peak ${Math.round(peak)} MB recorded (budget ${budgetMb} MB)`,
      );
      const spans = readSpans(llmtap.dbPath).filter((s) => recorded.some((r) => r.spanId === s.spanId));
      expect(spans).toHaveLength(40);
      // Each span has what fit of its stream: a start of it, or nothing once the budget was spent.
      expect(spans.every((s) => s.attributes['llmtap.output.truncated'] === true)).toBe(true);
      expect(spans.every((s) => /^x*$/.test(String(s.attributes['output.value'] ?? '')))).toBe(true);
      expect(spans.filter((s) => String(s.attributes['output.value'] ?? '').length > 0).length).toBeGreaterThan(0);
      expect(peak - warm).toBeLessThan(budgetMb + 150);
    } finally {
      fake.handler = undefined;
      llmtap.proc.kill('SIGTERM');
      await llmtap.exited;
    }
  }, 120_000);

  it('8 concurrent 60 MB uploads stay under the budget plus 150 MB, and reach the upstream whole', async () => {
    // An upstream that counts what it receives and keeps none of it.
    const received: number[] = [];
    const sink = createServer((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        received.push(n);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"id":"file-1","object":"file"}');
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}` });
    const pid = llmtap.proc.pid!;
    const budgetMb = loadConfig({}).captureMemoryBytes / MB;
    const idle = rssMb(pid, 'VmRSS');
    const size = 60 * MB;
    const piece = Buffer.alloc(MB, 'u');
    try {
      const statuses = await Promise.all(
        Array.from(
          { length: 8 },
          () =>
            new Promise<number>((resolve, reject) => {
              const req = request(`${llmtap.baseURL}/files`, { method: 'POST', agent: false, headers: { 'content-length': size } }, (res) => {
                res.resume();
                res.on('end', () => resolve(res.statusCode!));
              });
              req.on('error', reject);
              const write = (left: number): void => {
                while (left > 0) {
                  left -= piece.length;
                  if (!req.write(piece)) return void req.once('drain', () => write(left));
                }
                req.end();
              };
              write(size);
            }),
        ),
      );
      expect(statuses).toEqual(Array.from({ length: 8 }, () => 200));
      expect(received).toEqual(Array.from({ length: 8 }, () => size));
      const peak = rssMb(pid, 'VmHWM');
      console.log(`8 uploads × 60 MB: RSS ${Math.round(idle)} MB idle, peak ${Math.round(peak)} MB (budget ${budgetMb} MB)`);
      expect(peak - idle).toBeLessThan(budgetMb + 150);
    } finally {
      llmtap.proc.kill('SIGTERM');
      await llmtap.exited;
      sink.close();
    }
  }, 120_000);
});

describe('a request body beyond the budget', () => {
  let proxy: InProcess;
  beforeAll(async () => {
    proxy = await startLlmtap({
      LLMTAP_UPSTREAM_URL: fake.url,
      LLMTAP_LOG_LEVEL: 'silent',
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      LLMTAP_CAPTURE_MEMORY_BYTES: String(MB),
    });
  });
  afterAll(() => proxy.shutdown());

  it('is forwarded whole, streaming, and recorded up to what fit, marked truncated', async () => {
    const before = fake.requests.length;
    const body = chatBody({ padding: 'p'.repeat(3 * MB) });
    const r = await rawRequest(`${proxy.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status).toBe(200); // the fake answers the whole body it parsed
    expect(fake.requests[before]!.body.toString()).toBe(body);
    const span = await waitForSpan(proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['llmtap.input.truncated']).toBe(true);
    const recorded = span.attributes['input.value'] as string;
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.length).toBeLessThanOrEqual(MB);
    expect(body.startsWith(recorded)).toBe(true);
  });

  it('a streamed body past LLMTAP_MAX_BODY_BYTES (sent chunked, no length) still gets 413', async () => {
    // An upstream that reads the upload and answers only at its end (it never gets there).
    const sink = createServer((req, res) => {
      req.on('error', () => {});
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const small = await startLlmtap({
      LLMTAP_UPSTREAM_URL: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
      LLMTAP_LOG_LEVEL: 'silent',
      LLMTAP_CAPTURE_MAX_BYTES: '1024',
      LLMTAP_MAX_BODY_BYTES: '100000',
    });
    try {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${small.baseURL}/files`, { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        for (let i = 0; i < 20; i++) req.write(Buffer.alloc(10_000, 'z'));
        req.end();
      });
      expect(r.status).toBe(413);
      expect(JSON.parse(r.body).error.code).toBe('request_too_large');
    } finally {
      await small.shutdown();
      sink.close();
    }
  });
});
