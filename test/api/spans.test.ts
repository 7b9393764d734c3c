// /api over real sockets: spans recorded through the proxy (fake upstream), then listed, filtered,
// paginated, read whole, grouped by trace, and summed up.
import { describe, expect, it } from 'vitest';

import { toPhoenixLine } from '../../src/phoenix/span-json.js';
import { type ErrorAnswer, getJson, type PhoenixSpan, postJsonl, type SpanList } from '../support/api.js';
import { servedModel } from '../support/fake-openai.js';
import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap } from '../support/llmtap.js';
import { sampleSpan, waitForSpan } from '../support/spans.js';

const servers = fakeAndLlmtap({ LLMTAP_FLUSH_INTERVAL_MS: '10' });

/** Sends one chat completion through the proxy and waits until its span is stored; returns the span id. */
async function call(body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<string> {
  const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers },
    body: chatBody(body),
  });
  const id = r.headers['x-llmtap-span-id'] as string;
  await waitForSpan(servers.proxy.dbPath, id);
  return id;
}

const list = (query = ''): Promise<{ status: number; body: SpanList }> => getJson<SpanList>(`${servers.proxy.url}/api/spans${query ? `?${query}` : ''}`);

describe('GET /api/spans', () => {
  it('lists spans newest first with ids, times, model, tokens and previews of the last input message and of the output', async () => {
    const first = await call({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is the capital of France?' },
      ],
    });
    const long = 'x'.repeat(150) + '👋'.repeat(100);
    const second = await call({ model: 'gpt-4o', messages: [{ role: 'user', content: long }] });
    const { status, body } = await list('limit=2');
    expect(status).toBe(200);
    expect(body.data.map((s) => s.span_id)).toEqual([second, first]);
    const [b, a] = body.data;
    expect(a).toMatchObject({
      span_id: first,
      name: 'OpenAI Chat Completions',
      kind: 'LLM',
      status_code: 'OK',
      model: servedModel('gpt-4o-mini'),
      parent_id: null,
      input_preview: 'What is the capital of France?',
      output_preview: 'Héllo wörld — 你好 👋, this is the fake model.',
    });
    expect(a!.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(a!.start_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/);
    expect(a!.duration_ms).toBeGreaterThan(0);
    expect(a!.total_tokens).toBe(a!.prompt_tokens! + a!.completion_tokens!);
    expect(a!.ttft_ms).toBeNull();
    // 200 characters (code points: an emoji is not cut in half).
    expect(Array.from(b!.input_preview)).toHaveLength(200);
    expect(b!.input_preview).toBe('x'.repeat(150) + '👋'.repeat(50));
    expect(body.last_seq).toBeGreaterThanOrEqual(2);
  });

  it('shows TTFT for streams and a tool call as the output preview', async () => {
    const id = await call({
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: {} } }],
    });
    const { body } = await list('limit=1');
    expect(body.data[0]!.span_id).toBe(id);
    expect(body.data[0]!.ttft_ms).toBeGreaterThan(0);
    expect(body.data[0]!.output_preview).toBe('get_weather({"location":"Paris, France","unit":"celsius","n":0})');
  });

  it('filters by trace, session, user, model, status, text and stored-after', async () => {
    const trace = 'ab'.repeat(16);
    const inTrace = await call({}, { traceparent: `00-${trace}-${'cd'.repeat(8)}-01` });
    const inSession = await call({}, { 'x-llmtap-session-id': 'sess-42', 'x-llmtap-user-id': 'user-7' });
    const otherModel = await call({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Tell me about zanzibar spices' }] });
    const failed = await call({}, { 'x-fake-behavior': 'error-500' });
    const only = async (query: string): Promise<string[]> => {
      const { status, body } = await list(query);
      expect(status, query).toBe(200);
      return body.data.map((s) => s.span_id);
    };
    expect(await only(`trace_id=${trace}`)).toEqual([inTrace]);
    expect(await only(`trace_id=${trace.toUpperCase()}`)).toEqual([inTrace]);
    expect(await only('session_id=sess-42')).toEqual([inSession]);
    expect(await only('user_id=user-7')).toEqual([inSession]);
    expect(await only(`model=${servedModel('gpt-4.1-nano')}`)).toEqual([otherModel]);
    expect(await only('status=ERROR')).toEqual([failed]);
    expect(await only('status=ok')).not.toContain(failed);
    expect(await only('q=zanzibar')).toEqual([otherModel]);
    expect(await only('q=ZANZ')).toEqual([otherModel]); // a word's beginning, any case
    expect(await only('q=za')).toEqual([]); // …from three characters on
    expect(await only('q=zanzibar%20spices')).toEqual([otherModel]);
    expect(await only('q=zanzibar%20nutmeg')).toEqual([]); // every word must match
    const tool = await call({ tools: [{ type: 'function', function: { name: 'get_weather', parameters: {} } }] });
    // The output is searched too: the tool call's arguments name Paris; the other answers do not.
    expect(await only('q=paris')).toContain(tool);
    expect(await only('q=paris')).not.toContain(otherModel);
    const before = (await list('limit=1')).body.last_seq;
    const later = await call();
    expect(await only(`after_seq=${before}`)).toEqual([later]);
    expect(await only(`after_seq=${before}&status=ERROR`)).toEqual([]);
  });

  it('filters by time with since (inclusive) and until (exclusive), in any offset', async () => {
    // Imported spans have chosen times.
    const at = (spanId: string, iso: string): string => {
      const ns = BigInt(Date.parse(iso)) * 1_000_000n;
      return toPhoenixLine(sampleSpan({ spanId, traceId: 'ef'.repeat(16), startNs: ns, endNs: ns + 5_000_000n, events: [] }));
    };
    const lines = [
      at('1000000000000001', '2001-01-01T10:00:00Z'),
      at('1000000000000002', '2001-01-01T11:00:00Z'),
      at('1000000000000003', '2001-01-01T12:00:00Z'),
    ];
    expect((await postJsonl(`${servers.proxy.url}/api/spans/import`, lines.join('\n'))).status).toBe(200);
    const ids = async (query: string): Promise<string[]> => (await list(`trace_id=${'ef'.repeat(16)}&${query}`)).body.data.map((s) => s.span_id);
    expect(await ids('since=2001-01-01T11:00:00Z')).toEqual(['1000000000000003', '1000000000000002']);
    expect(await ids('until=2001-01-01T11:00:00Z')).toEqual(['1000000000000001']);
    expect(await ids('since=2001-01-01T12:30:00%2B02:00&until=2001-01-01T12:00:00Z')).toEqual(['1000000000000002']);
    expect(await ids('since=2001-01-01&until=2001-01-02')).toHaveLength(3);
  });

  it('paginates with a cursor: no duplicates and no gaps while new spans arrive', async () => {
    const session = 'paging';
    const made: string[] = [];
    for (let i = 0; i < 12; i++) made.push(await call({}, { 'x-llmtap-session-id': session }));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { status, body }: { status: number; body: SpanList } = await list(`session_id=${session}&limit=5${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      seen.push(...body.data.map((s) => s.span_id));
      cursor = body.next_cursor;
      // New spans keep arriving between pages.
      if (pages++ < 2) await call({}, { 'x-llmtap-session-id': session });
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...made].reverse());
    expect(pages).toBe(3);
  });

  it('answers 400 with a message for bad parameters', async () => {
    const bad: [string, RegExp][] = [
      ['limit=0', /limit must be an integer from 1 to 1000/],
      ['limit=1001', /limit must be an integer from 1 to 1000/],
      ['limit=ten', /limit/],
      ['since=yesterday', /since must be an ISO-8601 time/],
      ['until=2024-02-30T00:00:00Z', /until must be an ISO-8601 time/],
      ['status=WARN', /status must be OK or ERROR/],
      ['trace_id=xyz', /trace_id must be a hex id/],
      ['cursor=bm9wZQ', /cursor is not one this server gave out/],
      ['after_seq=-1', /after_seq/],
      ['sort=asc', /unknown parameter "sort"/],
      ['model=a&model=b', /given more than once/],
      ['format=csv', /format must be json or jsonl/],
      ['format=jsonl&limit=5', /limit and cursor do not apply/],
    ];
    for (const [query, message] of bad) {
      const r = await getJson<ErrorAnswer>(`${servers.proxy.url}/api/spans?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.headers['content-type']).toMatch(/application\/json/);
      expect(r.body.error.message, query).toMatch(message);
    }
  });
});

describe('GET /api/spans/{span_id} and /api/traces/{trace_id}', () => {
  it('answers the whole span as Phoenix span JSON, and every span of its trace', async () => {
    const trace = '12'.repeat(16);
    const parent = await call({}, { traceparent: `00-${trace}-${'34'.repeat(8)}-01`, 'x-llmtap-metadata': '{"team":"search"}' });
    const child = await call({ stream: true }, { traceparent: `00-${trace}-${parent}-01` });
    const { status, body } = await getJson<PhoenixSpan>(`${servers.proxy.url}/api/spans/${child}`);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual([
      'name',
      'context',
      'span_kind',
      'parent_id',
      'start_time',
      'end_time',
      'status_code',
      'status_message',
      'attributes',
      'events',
      'conversation',
    ]);
    expect(body.context).toEqual({ trace_id: trace, span_id: child });
    expect(body.parent_id).toBe(parent);
    expect(body.events.map((e) => e.name)).toEqual(['First Token Stream Event']);
    const trace_ = await getJson<{ data: PhoenixSpan[] }>(`${servers.proxy.url}/api/traces/${trace}`);
    expect(trace_.status).toBe(200);
    expect(trace_.body.data.map((s) => s.context.span_id)).toEqual([parent, child]);
    expect(trace_.body.data[0]!.attributes.metadata).toEqual({ team: 'search' });
  });

  it('404 for an unknown id, 400 for a malformed one, 404 JSON for an unknown API path', async () => {
    expect((await getJson<ErrorAnswer>(`${servers.proxy.url}/api/spans/${'0'.repeat(15)}1`)).status).toBe(404);
    expect((await getJson<ErrorAnswer>(`${servers.proxy.url}/api/traces/${'0'.repeat(31)}1`)).status).toBe(404);
    const bad = await getJson<ErrorAnswer>(`${servers.proxy.url}/api/spans/not-an-id`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/span_id must be a hex id/);
    const none = await getJson<ErrorAnswer>(`${servers.proxy.url}/api/nothing`);
    expect(none.status).toBe(404);
    expect(none.body.error.message).toMatch(/no route for GET \/api\/nothing/);
  });
});

describe('GET /api/models', () => {
  it('names every model the stored spans carry, in order', async () => {
    const { status, body } = await getJson<{ data: string[] }>(`${servers.proxy.url}/api/models`);
    expect(status).toBe(200);
    expect(body.data).toEqual([...new Set(body.data)].sort());
    expect(body.data).toEqual(expect.arrayContaining([servedModel('gpt-4o-mini'), servedModel('gpt-4o'), servedModel('gpt-4.1-nano')]));
  });
});

describe('GET /api/stats', () => {
  it('per model over a window: counts, token sums, error rate, duration and TTFT percentiles', async () => {
    // Spans with known durations, imported in a window of their own.
    const base = BigInt(Date.parse('2002-03-04T00:00:00Z')) * 1_000_000n;
    const span = (i: number, model: string, ms: number, status: 'OK' | 'ERROR') =>
      toPhoenixLine(
        sampleSpan({
          spanId: (0x2000000000000000n + BigInt(i)).toString(16),
          startNs: base + BigInt(i) * 1_000_000_000n,
          endNs: base + BigInt(i) * 1_000_000_000n + BigInt(ms) * 1_000_000n,
          statusCode: status,
          attributes: {
            'llm.model_name': model,
            'llm.token_count.prompt': 10,
            'llm.token_count.completion': 5,
            'llm.token_count.total': 15,
            'llmtap.time_to_first_token_ms': ms / 10,
          },
          events: [],
        }),
      );
    const lines = [...Array.from({ length: 10 }, (_, i) => span(i, 'model-a', (i + 1) * 100, i === 0 ? 'ERROR' : 'OK')), span(10, 'model-b', 50, 'OK')];
    await postJsonl(`${servers.proxy.url}/api/spans/import`, lines.join('\n'));
    const { status, body } = await getJson<{ since: string; until: string; models: Record<string, unknown>[] }>(
      `${servers.proxy.url}/api/stats?since=2002-03-04T00:00:00Z&until=2002-03-05T00:00:00Z`,
    );
    expect(status).toBe(200);
    expect(body.since).toBe('2002-03-04T00:00:00.000Z');
    expect(body.models).toEqual([
      {
        model: 'model-a',
        spans: 10,
        errors: 1,
        error_rate: 0.1,
        tokens: { prompt: 100, completion: 50, total: 150 },
        duration_ms: { p50: 550, p90: 910, p99: 991 },
        ttft_ms: { p50: 55, p90: 91, p99: 99.1 },
      },
      {
        model: 'model-b',
        spans: 1,
        errors: 0,
        error_rate: 0,
        tokens: { prompt: 10, completion: 5, total: 15 },
        duration_ms: { p50: 50, p90: 50, p99: 50 },
        ttft_ms: { p50: 5, p90: 5, p99: 5 },
      },
    ]);
    const bad = await getJson<ErrorAnswer>(`${servers.proxy.url}/api/stats?since=2002-03-05T00:00:00Z&until=2002-03-04T00:00:00Z`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('since must be before until');
  });
});
