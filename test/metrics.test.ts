// GET /metrics: Prometheus text that a real parser reads, with counters that move as traffic does.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { routeOf } from '../src/metrics.js';
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

  it('route labels never carry ids', () => {
    expect(routeOf('/v1/chat/completions?x=1')).toBe('/v1/chat/completions');
    expect(routeOf('/v1/files/file-abc/content')).toBe('/v1/files');
    expect(routeOf('/v1/threads/thread_1/runs')).toBe('/v1/threads');
    expect(routeOf('/openai/deployments/my-gpt/chat/completions')).toBe('/openai/deployments/{deployment}/chat/completions');
  });
});
