// What reaches an OTLP receiver, decoded with the official proto definitions: the resource, the
// span's ids, times, status, events and every attribute with its type, gzip, the headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { OtlpEncoder } from '../../src/export/otlp.js';
import type { Span } from '../../src/record/span.js';
import { VERSION } from '../../src/version.js';
import { exportJsonl } from '../support/api.js';
import { eventually } from '../support/eventually.js';
import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap } from '../support/llmtap.js';
import { decodeExport, type OtlpReceiver, plain, type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver.js';
import { sampleSpan, waitForSpan } from '../support/spans.js';

let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.stop());
const servers = fakeAndLlmtap(() => ({
  LLMTAP_FLUSH_INTERVAL_MS: '10',
  LLMTAP_EXPORT_INTERVAL_MS: '300',
  PHOENIX_COLLECTOR_ENDPOINT: receiver.url,
  PHOENIX_API_KEY: 'px-secret-key',
  PHOENIX_CLIENT_HEADERS: 'x-extra=a%20b',
  OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test,team=ml',
  LLMTAP_PROVIDER: 'openai',
}));

function received(spanIds: string[]): Promise<ReceivedSpan[]> {
  return eventually(
    () => {
      const found = spanIds.map((id) => receiver.accepted().find((s) => s.spanId === id));
      return found.every(Boolean) && (found as ReceivedSpan[]);
    },
    `exporting spans ${spanIds.join(', ')}`,
  );
}

/** The stored span and the exported one are the same span. */
function expectSameSpan(got: ReceivedSpan, stored: Span): void {
  expect(got.traceId).toBe(stored.traceId);
  expect(got.spanId).toBe(stored.spanId);
  expect(got.parentSpanId).toBe(stored.parentSpanId ?? '');
  expect(got.traceState).toBe(stored.traceState ?? '');
  expect(got.name).toBe(stored.name);
  expect(got.kind).toBe(1); // SPAN_KIND_INTERNAL, as the OpenInference instrumentations set it
  expect(got.startNs).toBe(stored.startNs);
  expect(got.endNs).toBe(stored.endNs);
  expect(got.status).toEqual({ code: { UNSET: 0, OK: 1, ERROR: 2 }[stored.statusCode], message: stored.statusMessage });
  expect(plain(got.attributes)).toEqual(stored.attributes);
  expect(got.events.map((e) => ({ name: e.name, timeNs: e.timeNs, attributes: plain(e.attributes) }))).toEqual(stored.events);
  expect(got.scope).toEqual({ name: 'llmtap', version: VERSION });
}

const post = (headers: Record<string, string>, body: string) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('OTLP export', () => {
  it('delivers each span exactly as stored, one resource per project, gzip protobuf with the configured headers', async () => {
    const [stream, failed, other] = await Promise.all([
      rawRequest(
        `${servers.proxy.baseURL}/chat/completions`,
        post(
          {
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            tracestate: 'v=1',
            'x-llmtap-tags': 'a,b',
            'x-llmtap-metadata': '{"k":1}',
            'x-llmtap-session-id': 's1',
          },
          chatBody({ stream: true, stream_options: { include_usage: true } }),
        ),
      ),
      rawRequest(`${servers.proxy.baseURL}/chat/completions`, post({ 'x-fake-behavior': 'error-429' }, chatBody())),
      rawRequest(`${servers.proxy.baseURL}/chat/completions`, post({ 'x-llmtap-project': 'checkout' }, chatBody())),
    ]);
    const ids = [stream, failed, other].map((r) => r.headers['x-llmtap-span-id'] as string);
    const got = await received(ids);
    const stored = await Promise.all(ids.map((id) => waitForSpan(servers.proxy.dbPath, id)));
    got.forEach((g, i) => expectSameSpan(g, stored[i]!));

    // Attribute types as OTLP carries them.
    const s = got[0]!.attributes;
    expect(s['llm.token_count.total']!.type).toBe('int');
    expect(s['llmtap.time_to_first_token_ms']!.type).toBe('double');
    expect(s['tag.tags']).toEqual({
      type: 'array',
      value: [
        { type: 'string', value: 'a' },
        { type: 'string', value: 'b' },
      ],
    });
    expect(s.metadata).toEqual({ type: 'string', value: '{"k":1}' });
    expect(s['openinference.span.kind']).toEqual({ type: 'string', value: 'LLM' });
    expect(got[0]!.events[0]!.name).toBe('First Token Stream Event');
    const exception = got[1]!.events.find((e) => e.name === 'exception')!;
    expect(exception.attributes['exception.escaped']).toEqual({ type: 'bool', value: true });
    expect(exception.attributes['exception.type']).toEqual({ type: 'string', value: 'RateLimitError' });
    expect(got[1]!.status.code).toBe(2);

    // Resources: the project, the service, OTEL_RESOURCE_ATTRIBUTES.
    expect(plain(got[0]!.resource)).toEqual({
      'service.name': 'llmtap',
      'openinference.project.name': 'default',
      'deployment.environment': 'test',
      team: 'ml',
    });
    expect(plain(got[2]!.resource)['openinference.project.name']).toBe('checkout');
    // Spans are grouped: one ResourceSpans per project in each request.
    for (const r of receiver.requests) {
      expect(r.resources).toBe(new Set(r.spans.map((x) => x.resource['openinference.project.name']!.value)).size);
    }

    // The wire.
    for (const r of receiver.requests) {
      expect(r.headers['content-type']).toBe('application/x-protobuf');
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.headers.authorization).toBe('Bearer px-secret-key');
      expect(r.headers['x-extra']).toBe('a b');
    }
  });

  it('a long chat keeps every attribute (no 128-attribute SDK limit)', async () => {
    const messages = Array.from({ length: 120 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}` }));
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post({}, JSON.stringify({ model: 'gpt-4o-mini', messages })));
    const id = r.headers['x-llmtap-span-id'] as string;
    const [got] = await received([id]);
    const stored = await waitForSpan(servers.proxy.dbPath, id);
    expect(Object.keys(stored.attributes).length).toBeGreaterThan(240);
    expect(Object.keys(got!.attributes).length).toBe(Object.keys(stored.attributes).length);
    expect(got!.attributes['llm.input_messages.119.message.content']).toEqual({ type: 'string', value: 'message 119' });
  });

  it('costs and estimated counts travel as attributes, over OTLP and in the JSONL export', async () => {
    // The client leaves mid-stream: no usage arrives, the counts are estimated, and priced.
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, {
      ...post({ 'x-fake-delay-ms': '100' }, chatBody({ stream: true })),
      abortAfterBytes: 700,
    });
    const id = r.headers['x-llmtap-span-id'] as string;
    const [got] = await received([id]);
    expectSameSpan(got!, await waitForSpan(servers.proxy.dbPath, id));
    const a = got!.attributes;
    expect(a['llmtap.token_count.source']).toEqual({ type: 'string', value: 'estimate' });
    expect(a['llm.token_count.completion']!.type).toBe('int');
    expect(a['llm.token_count.completion']!.value).toBeGreaterThan(0);
    expect(a['llm.cost.total']!.type).toBe('double');
    expect(a['llm.cost.total']!.value).toBeGreaterThan(0);

    const line = JSON.parse((await exportJsonl(servers.proxy.url)).split('\n').find((l) => l.includes(id))!) as {
      attributes: { llm: { cost: Record<string, number>; token_count: Record<string, number> }; llmtap: { token_count: { source: string } } };
    };
    expect(line.attributes.llm.cost.total).toBe(a['llm.cost.total']!.value);
    expect(line.attributes.llm.cost.prompt).toBe(a['llm.cost.prompt']!.value);
    expect(line.attributes.llm.token_count.completion).toBe(a['llm.token_count.completion']!.value);
    expect(line.attributes.llmtap.token_count.source).toBe('estimate');
  });

  it('says where it exports at start-up, and the API key never reaches the logs', () => {
    const started = servers.proxy.logs.find((l) => l.msg === 'exporting spans over OTLP')!;
    expect(started.target).toEqual({ url: `${receiver.url}/v1/traces`, headers: expect.arrayContaining(['authorization', 'x-extra']) as unknown });
    expect(servers.proxy.logs.length).toBeGreaterThan(3);
    expect(JSON.stringify(servers.proxy.logs)).not.toContain('px-secret-key');
  });
});

describe('resources', () => {
  const encoder = (): OtlpEncoder => new OtlpEncoder({ serviceName: 'llmtap', attributes: {}, scope: { name: 'llmtap', version: VERSION } });
  const project = (p: Uint8Array): unknown[] => decodeExport(Buffer.from(p)).spans.map((s) => plain(s.resource)['openinference.project.name']);

  it('one per project in a request, whatever the cache holds', () => {
    const e = encoder();
    const decoded = decodeExport(
      Buffer.from(
        e.encode([
          sampleSpan({ project: 'a' }),
          sampleSpan({ spanId: '00000000000000b2', project: 'b' }),
          sampleSpan({ spanId: '00000000000000b3', project: 'a' }),
        ]),
      ),
    );
    expect(decoded.resources).toBe(2);
  });

  it('the cache of them is bounded: 5,000 projects (from a request header each) keep at most 1,000', () => {
    const e = encoder();
    for (let i = 0; i < 5000; i++) expect(project(e.encode([sampleSpan({ project: `p${i}` })]))).toEqual([`p${i}`]);
    expect(e.cachedProjects).toBe(1000);
    // The least recently used went; one used again is made again, the same.
    expect(project(e.encode([sampleSpan({ project: 'p0' })]))).toEqual(['p0']);
    expect(e.cachedProjects).toBe(1000);
  });
});
