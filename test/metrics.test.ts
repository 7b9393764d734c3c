// GET /metrics: Prometheus text that a real parser reads, with counters that move as traffic does.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Metrics, MODEL_LABELS_MAX, routeLabel, statusLabel } from '../src/metrics.js';
import { getJson } from './support/api.js';
import { eventually } from './support/eventually.js';
import { chatBody, rawRequest } from './support/http.js';
import { fakeAndLlmtap, startLlmtap } from './support/llmtap.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';
import { scrape } from './support/prometheus.js';

let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.stop());
const servers = fakeAndLlmtap(() => ({
  LLMTAP_LOG_LEVEL: 'silent',
  LLMTAP_FLUSH_INTERVAL_MS: '10',
  LLMTAP_EXPORT_INTERVAL_MS: '50',
  LLMTAP_PROVIDER: 'openai',
  PHOENIX_COLLECTOR_ENDPOINT: receiver.url,
}));

const chat = (extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  rawRequest(`${servers.proxy.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: chatBody(extra),
  });

describe('/metrics', () => {
  it('counts requests, durations, TTFT, tokens, cost, spans and export', async () => {
    const before = await scrape(servers.proxy.url);
    const model = 'gpt-4o-mini-2024-07-18';
    const ids = [(await chat()).headers['x-llmtap-span-id'] as string];
    ids.push((await chat({ stream: true, stream_options: { include_usage: true } })).headers['x-llmtap-span-id'] as string);
    await chat({}, { 'x-fake-behavior': 'error-429' });
    await rawRequest(`${servers.proxy.baseURL}/models`);
    await rawRequest(`${servers.proxy.baseURL}/files/file-abc123/content`);
    await eventually(
      async () => (await scrape(servers.proxy.url)).value('llmtap_export_spans_sent_total') >= before.value('llmtap_export_spans_sent_total') + 3,
      'three spans exported',
    );
    const after = await scrape(servers.proxy.url);
    const delta = (name: string, labels?: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    const observed = (name: string, labels?: Record<string, string>) => after.count(name, labels) - before.count(name, labels);

    expect(delta('llmtap_requests_total', { route: '/v1/chat/completions', status: '200', model })).toBe(2);
    expect(delta('llmtap_requests_total', { route: '/v1/chat/completions', status: '429' })).toBe(1);
    expect(delta('llmtap_requests_total', { route: '/v1/models', status: '200', model: '' })).toBe(1);
    expect(delta('llmtap_requests_total', { route: '/v1/files', status: '404' })).toBe(1);
    expect(observed('llmtap_request_duration_seconds', { route: '/v1/chat/completions' })).toBe(3);
    expect(observed('llmtap_time_to_first_token_seconds', { model })).toBe(1);
    for (const type of ['prompt', 'completion']) expect(delta('llmtap_tokens_total', { model, type })).toBeGreaterThan(0);
    // The fake reports 3 cached and 2 reasoning tokens per call.
    expect(delta('llmtap_tokens_total', { model, type: 'cached' })).toBe(6);
    expect(delta('llmtap_tokens_total', { model, type: 'reasoning' })).toBe(4);
    const spans = await Promise.all(ids.map((id) => getJson<{ attributes: { llm: { cost: { total: number } } } }>(`${servers.proxy.url}/api/spans/${id}`)));
    expect(delta('llmtap_cost_usd_total', { model })).toBeCloseTo(
      spans.reduce((sum, s) => sum + s.body.attributes.llm.cost.total, 0),
      15,
    );
    expect(delta('llmtap_spans_recorded_total')).toBe(3);
    expect(delta('llmtap_spans_stored_total')).toBe(3);
    expect(delta('llmtap_export_spans_sent_total')).toBe(3);
    expect(after.value('llmtap_export_backlog_spans')).toBe(0);
    expect(after.value('llmtap_export_oldest_unexported_age_seconds')).toBe(0);
    expect(after.families.some((f) => f.name === 'llmtap_process_resident_memory_bytes')).toBe(true);
  });

  it('counts storage errors and dropped spans while the database is locked', async () => {
    const small = await startLlmtap({
      LLMTAP_UPSTREAM_URL: servers.fake.url,
      LLMTAP_LOG_LEVEL: 'silent',
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      LLMTAP_WRITE_QUEUE_MAX: '2',
    });
    const locker = new Database(small.dbPath);
    try {
      locker.exec('BEGIN EXCLUSIVE');
      for (let i = 0; i < 5; i++) {
        await rawRequest(`${small.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() });
      }
      await eventually(async () => (await scrape(small.url)).value('llmtap_storage_errors_total') > 0, 'a storage error counted');
      const m = await scrape(small.url);
      expect(m.value('llmtap_storage_errors_total')).toBeGreaterThan(0);
      expect(m.value('llmtap_spans_dropped_total')).toBe(3);
      expect(m.value('llmtap_write_queue_spans')).toBe(2);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
      await small.shutdown();
    }
  });

  it('counts every garbage collection, also those Node reports together', async () => {
    const m = new Metrics({ processMetrics: true });
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collections = async (): Promise<number> => {
      const { values } = (await m.registry.getSingleMetric('llmtap_nodejs_gc_duration_seconds')!.get()) as { values: { metricName?: string; value: number }[] };
      return values.filter((v) => v.metricName === 'llmtap_nodejs_gc_duration_seconds_count').reduce((n, v) => n + v.value, 0);
    };
    const before = await collections();
    // Five collections in one turn of the event loop: Node reports them to observers in one list.
    for (let i = 0; i < 5; i++) gc();
    await eventually(async () => (await collections()) >= before + 5, 'five collections counted');
  });

  it('route labels never carry ids', () => {
    expect(routeLabel('/v1/chat/completions?x=1')).toBe('/v1/chat/completions');
    expect(routeLabel('/v1/files/file-abc/content')).toBe('/v1/files');
    expect(routeLabel('/v1/threads/thread_1/runs')).toBe('/v1/threads');
    expect(routeLabel('/v1/vector_stores/vs_1/files')).toBe('/v1/vector_stores');
    expect(routeLabel('/v1/realtime?model=gpt-realtime')).toBe('/v1/realtime');
    expect(routeLabel('/openai/deployments/my-gpt/chat/completions')).toBe('/openai/deployments/{deployment}/chat/completions');
    expect(routeLabel('/openai/v1/responses')).toBe('/openai/v1/responses');
    expect(routeLabel('/openai/responses/resp_1')).toBe('/openai/responses');
  });
});

describe('labels come from bounded sets', () => {
  it('a path that is no known endpoint is `other`', () => {
    for (const path of ['/v1/x1', '/v1/chat/x1', '/v1/', '/openai/deployments/d/x1', '/elsewhere']) expect(routeLabel(path), path).toBe('other');
  });

  it('common statuses as they are, others by class', () => {
    expect([200, 429, 504, 0].map(statusLabel)).toEqual(['200', '429', '504', '0']);
    expect([299, 302, 418, 599, 999].map(statusLabel)).toEqual(['2xx', '3xx', '4xx', '5xx', '9xx']);
  });

  it('models: only upstream-confirmed ones, at most MODEL_LABELS_MAX of them', () => {
    const m = new Metrics({ processMetrics: false });
    expect(m.modelLabel('from-a-request-body', 404)).toBe('other');
    expect(m.modelLabel('gpt-4o-mini', 200)).toBe('gpt-4o-mini');
    expect(m.modelLabel('gpt-4o-mini', 429)).toBe('gpt-4o-mini'); // confirmed earlier
    expect(m.modelLabel(undefined, 200)).toBe('');
    const labels = new Set(Array.from({ length: 10_000 }, (_, i) => m.modelLabel(`echoed-${i}`, 200)));
    expect(labels.size).toBe(MODEL_LABELS_MAX); // MODEL_LABELS_MAX - 1 echoed names, then `other`
    expect(labels.has('other')).toBe(true);
    expect(m.modelLabel('gpt-4o-mini', 200)).toBe('gpt-4o-mini');
  });

  it('10,000 unique paths and 10,000 unique models add no series to /metrics', async () => {
    const url = servers.proxy.url;
    // As OpenAI does, the upstream refuses a model it does not serve.
    servers.fake.handler = (_req, res, body) => {
      if (!body.toString().includes('"attack-')) return false;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"The model does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}');
      return true;
    };
    const pool = new Pool(url, { connections: 32 });
    const attack = async (n: number, from: number): Promise<void> => {
      const one = async (i: number): Promise<void> => {
        const path = i % 2 === 0 ? `/v1/x${i}` : '/v1/chat/completions';
        const body = i % 2 === 0 ? undefined : chatBody({ model: `attack-${i}` });
        const r = await pool.request({ path, method: body ? 'POST' : 'GET', headers: { 'content-type': 'application/json' }, body });
        await r.body.dump();
      };
      for (let i = from; i < from + n; i += 64) await Promise.all(Array.from({ length: Math.min(64, from + n - i) }, (_, k) => one(i + k)));
    };
    const series = async (): Promise<number> => (await scrape(url)).families.find((f) => f.name === 'llmtap_requests_total')!.metrics.length;
    const others = async (): Promise<number> => (await scrape(url)).value('llmtap_requests_total', { model: 'other' });
    try {
      const base = await others();
      await attack(2, 0); // one of each: their series (route `other`, model `other`) exist from now on
      await eventually(async () => (await others()) === base + 1, 'the first attack counted');
      const before = await series();
      await attack(20_000, 2);
      await eventually(async () => (await others()) === base + 10_001, 'every attack counted', 30_000);
      expect((await scrape(url)).value('llmtap_requests_total', { route: 'other', status: '404' })).toBeGreaterThanOrEqual(10_001);
      expect(await series()).toBe(before);
      expect(before).toBeLessThan(200);
    } finally {
      servers.fake.handler = undefined;
      await pool.close();
    }
  }, 120_000);
});
