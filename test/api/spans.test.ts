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

  it('filters by project, endpoint and tag, lists oldest first on request, and says what each call was', async () => {
    const tagged = await call({}, { 'x-llmtap-project': 'shop', 'x-llmtap-tags': 'nightly,eval' });
    const stream = await call({ stream: true }, { 'x-llmtap-project': 'shop' });
    const embed = await rawRequest(`${servers.proxy.baseURL}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', 'x-llmtap-project': 'shop' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: ['one', 'two'] }),
    });
    const embedId = embed.headers['x-llmtap-span-id'] as string;
    await waitForSpan(servers.proxy.dbPath, embedId);
    const ids = async (query: string): Promise<string[]> => (await list(query)).body.data.map((s) => s.span_id);
    expect(await ids('project=shop')).toEqual([embedId, stream, tagged]);
    expect(await ids('project=shop&order=asc')).toEqual([tagged, stream, embedId]);
    expect(await ids('project=shop&endpoint=embeddings')).toEqual([embedId]);
    expect(await ids('project=shop&endpoint=chat')).toEqual([stream, tagged]);
    expect(await ids('project=shop&endpoint=other')).toEqual([]);
    expect(await ids('tag=nightly')).toEqual([tagged]);
    // Pages oldest first follow the cursor forwards.
    const first = await list('project=shop&order=asc&limit=2');
    expect((await list(`project=shop&order=asc&limit=2&cursor=${first.body.next_cursor}`)).body.data.map((s) => s.span_id)).toEqual([embedId]);
    const items = (await list('project=shop')).body.data;
    expect(items.map((s) => [s.endpoint, s.stream, s.http_status])).toEqual([
      ['embeddings', false, 200],
      ['chat', true, 200],
      ['chat', false, 200],
    ]);
    expect(items[2]!.tags).toEqual(['nightly', 'eval']);
    expect(items[0]!.output_preview).toBe('2 vectors of 8 dimensions');
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
      ['format=jsonl&limit=5', /limit, cursor and order do not apply/],
      ['order=up', /order must be asc or desc/],
      ['endpoint=images', /endpoint must be one of chat, responses, embeddings, completions, realtime, other/],
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
  // Spans with known users, days, tokens, costs and errors, imported in a window of their own (2002).
  const DAY = 86_400_000_000_000n;
  const base = BigInt(Date.parse('2002-03-04T00:00:00Z')) * 1_000_000n;
  const spans = Array.from({ length: 40 }, (_, i) =>
    sampleSpan({
      spanId: (0x2000000000000000n + BigInt(i)).toString(16),
      startNs: base + BigInt(i % 3) * DAY + BigInt(i) * 60_000_000_000n,
      endNs: base + BigInt(i % 3) * DAY + BigInt(i) * 60_000_000_000n + 1_500_000_000n,
      statusCode: i % 7 === 0 ? 'ERROR' : 'OK',
      attributes: {
        'llm.model_name': i % 2 ? 'model-a' : 'model-b',
        ...(i % 5 === 4 ? {} : { 'user.id': `user-${(i >> 1) % 3}` }),
        'llm.token_count.prompt': 10 + i,
        'llm.token_count.completion': 5 + (i % 4),
        'llm.token_count.total': 15 + i + (i % 4),
        'llm.token_count.prompt_details.cache_read': i % 3,
        'llm.token_count.completion_details.reasoning': i % 2,
        ...(i % 6 === 5 ? {} : { 'llm.cost.total': (i + 1) / 100_000 }),
      },
      events: [],
    }),
  );
  const stats = <T>(query: string) => getJson<T>(`${servers.proxy.url}/api/stats?${query}`);

  interface Group {
    bucket?: string;
    user?: string | null;
    model?: string | null;
    requests: number;
    errors: number;
    tokens: { prompt: number; completion: number; cached: number; reasoning: number };
    cost_usd: number;
  }
  interface Report {
    from: string;
    to: string;
    by: string | null;
    bucket: string | null;
    groups: Group[];
    total: Omit<Group, 'bucket' | 'user' | 'model'>;
  }

  it('by user and day: each group and the totals equal the sums over the spans', async () => {
    await postJsonl(`${servers.proxy.url}/api/spans/import`, spans.map(toPhoenixLine).join('\n'));
    const { status, body } = await stats<Report>('by=user&bucket=day&from=2002-03-04T00:00:00Z&to=2002-03-07T00:00:00Z');
    expect(status).toBe(200);
    expect(body).toMatchObject({ from: '2002-03-04T00:00:00.000Z', to: '2002-03-07T00:00:00.000Z', by: 'user', bucket: 'day' });

    const n = (s: (typeof spans)[number], k: string): number => (s.attributes[k] as number | undefined) ?? 0;
    const sum = (of: typeof spans) => ({
      requests: of.length,
      errors: of.filter((s) => s.statusCode === 'ERROR').length,
      tokens: {
        prompt: of.reduce((t, s) => t + n(s, 'llm.token_count.prompt'), 0),
        completion: of.reduce((t, s) => t + n(s, 'llm.token_count.completion'), 0),
        cached: of.reduce((t, s) => t + n(s, 'llm.token_count.prompt_details.cache_read'), 0),
        reasoning: of.reduce((t, s) => t + n(s, 'llm.token_count.completion_details.reasoning'), 0),
      },
      cost_usd: of.reduce((t, s) => t + n(s, 'llm.cost.total'), 0),
    });
    const { cost_usd: cost, ...total } = sum(spans);
    expect(body.total).toMatchObject(total);
    expect(body.total.cost_usd).toBeCloseTo(cost, 12);
    const dayOf = (ns: bigint): bigint => (ns - base) / DAY;
    expect(body.groups).toHaveLength(new Set(spans.map((s) => `${dayOf(s.startNs)} ${String(s.attributes['user.id'])}`)).size);
    for (const g of body.groups) {
      const day = dayOf(BigInt(Date.parse(g.bucket!)) * 1_000_000n);
      const { cost_usd, ...rest } = sum(spans.filter((s) => dayOf(s.startNs) === day && ((s.attributes['user.id'] as string | undefined) ?? null) === g.user));
      expect(g).toMatchObject(rest);
      expect(g.cost_usd).toBeCloseTo(cost_usd, 12);
    }
    // The days in order, the costliest user first within a day.
    expect(body.groups.map((g) => g.bucket)).toEqual([...body.groups.map((g) => g.bucket!)].sort());
    const firstDay = body.groups.filter((g) => g.bucket === body.groups[0]!.bucket).map((g) => g.cost_usd);
    expect(firstDay.length).toBeGreaterThan(2);
    expect(firstDay).toEqual([...firstDay].sort((a, b) => b - a));

    // The same spend, seen through the span list.
    const listed = await list('since=2002-03-04T00:00:00Z&until=2002-03-07T00:00:00Z&limit=1000');
    expect(listed.body.data.reduce((t, s) => t + (s.cost_usd ?? 0), 0)).toBeCloseTo(body.total.cost_usd, 12);
  });

  it('other groupings, whole hours, and the window spelled since/until', async () => {
    const models = (await stats<Report>('by=model&since=2002-03-04T00:30:00Z&until=2002-03-04T00:45:00Z')).body;
    // 00:30 to 00:45 counts the whole hour 00:00 to 01:00.
    expect(models).toMatchObject({ from: '2002-03-04T00:00:00.000Z', to: '2002-03-04T01:00:00.000Z', by: 'model', bucket: null });
    const first = spans.filter((s) => s.startNs < base + 3_600_000_000_000n);
    expect(models.total.requests).toBe(first.length);
    expect(models.groups.map((g) => g.model).sort()).toEqual(['model-a', 'model-b']);
    const hours = (await stats<Report>('bucket=hour&from=2002-03-04T00:00:00Z&to=2002-03-07T00:00:00Z')).body;
    expect(hours.groups.reduce((t, g) => t + g.requests, 0)).toBe(spans.length);
    expect(hours.groups.every((g) => g.bucket!.endsWith(':00:00.000Z') && !('user' in g))).toBe(true);
  });

  it('filters as the list does, from the rollups or from the spans; ranks a limit; percentiles and first/last times', async () => {
    const window = 'from=2002-03-04T00:00:00Z&to=2002-03-07T00:00:00Z';
    const a = spans.filter((s) => s.attributes['llm.model_name'] === 'model-a');
    const byModel = (await stats<Report & { source: string }>(`model=model-a&bucket=day&${window}`)).body;
    expect(byModel.source).toBe('rollups');
    expect(byModel.total.requests).toBe(a.length);
    // A second filter: the spans are added up, with the same answer for what both can say.
    const errors = a.filter((s) => s.statusCode === 'ERROR');
    const scanned = (await stats<Report & { source: string }>(`model=model-a&status=ERROR&by=user&${window}`)).body;
    expect(scanned.source).toBe('spans');
    expect(scanned.total.requests).toBe(errors.length);
    expect(scanned.groups.reduce((t, g) => t + g.requests, 0)).toBe(errors.length);
    // The two users with the most requests, then the rest.
    type Ranked = Report & { more: boolean; groups: (Group & { first_time: string; last_time: string; latency_ms: { p50: number; p95: number } })[] };
    const top = (await stats<Ranked>(`by=user&sort=requests&limit=2&${window}`)).body;
    const counts = new Map<string | null, number>();
    for (const s of spans)
      counts.set((s.attributes['user.id'] as string | undefined) ?? null, (counts.get((s.attributes['user.id'] as string | undefined) ?? null) ?? 0) + 1);
    expect(top.groups.map((g) => g.requests)).toEqual([...counts.values()].sort((x, y) => y - x).slice(0, 2));
    expect(top.more).toBe(true);
    expect(top.total.requests).toBe(spans.length);
    const g = top.groups[0]!;
    const mine = spans.filter((s) => ((s.attributes['user.id'] as string | undefined) ?? null) === g.user);
    expect(g.first_time).toBe(new Date(Number(mine[0]!.startNs / 1_000_000n)).toISOString());
    expect(g.last_time).toBe(new Date(Number(mine.at(-1)!.startNs / 1_000_000n)).toISOString());
    // Each lasts 1.5 s: every percentile is that bucket's middle, within 9%.
    expect(Math.abs(g.latency_ms.p50 / 1500 - 1)).toBeLessThan(0.09);
    expect(g.latency_ms.p95).toBe(g.latency_ms.p50);
    // Minutes come from the spans: one span a minute here.
    const minutes = (await stats<Report & { source: string }>('bucket=minute&from=2002-03-04T00:00:00Z&to=2002-03-04T00:10:00Z')).body;
    expect(minutes).toMatchObject({ source: 'spans', bucket: 'minute', to: '2002-03-04T00:10:00.000Z' });
    expect(minutes.groups.map((m) => m.bucket)).toEqual(
      spans
        .filter((s) => s.startNs < base + 600_000_000_000n)
        .map((s) => new Date(Number(s.startNs / 1_000_000n)).toISOString().replace(/:\d\d\.\d+Z$/, ':00.000Z')),
    );
  });

  it('lists sessions as the viewer does: the most recently active first, a page at a time, with their first and last calls', async () => {
    // Five sessions of a day of their own (2003): session-k has k + 1 calls, an hour apart, from 4 - k minutes
    // after midnight: the later a session's last call, the earlier its first one. Every third call is tagged.
    const start = BigInt(Date.parse('2003-05-06T00:00:00Z')) * 1_000_000n;
    const calls = Array.from({ length: 5 }, (_, k) =>
      Array.from({ length: k + 1 }, (_, j) => ({ session: `session-${k}`, startNs: start + BigInt(4 - k) * 60_000_000_000n + BigInt(j) * 3_600_000_000_000n })),
    ).flat();
    const imported = calls.map((c, i) =>
      sampleSpan({
        spanId: (0x3000000000000000n + BigInt(i)).toString(16),
        startNs: c.startNs,
        endNs: c.startNs + 1_000_000_000n,
        statusCode: i % 4 === 0 ? 'ERROR' : 'OK',
        attributes: { 'llm.model_name': 'model-s', 'session.id': c.session, 'llm.token_count.prompt': 10, 'tag.tags': i % 3 ? [] : ['sampled'] },
        events: [],
      }),
    );
    await postJsonl(`${servers.proxy.url}/api/spans/import`, imported.map(toPhoenixLine).join('\n'));
    type Sessions = Omit<Report, 'groups'> & { more: boolean; groups: (Group & { session: string; first_time: string; last_time: string })[] };
    const day = 'from=2003-05-06T00:00:00Z&to=2003-05-07T00:00:00Z';
    const iso = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();
    const page1 = (await stats<Sessions>(`by=session&sort=last&limit=2&${day}`)).body;
    const page2 = (await stats<Sessions>(`by=session&sort=last&limit=2&offset=2&${day}`)).body;
    const page3 = (await stats<Sessions>(`by=session&sort=last&limit=2&offset=4&${day}`)).body;
    expect([page1.more, page2.more, page3.more]).toEqual([true, true, false]);
    const listed = [...page1.groups, ...page2.groups, ...page3.groups];
    expect(listed.map((g) => g.session)).toEqual(['session-4', 'session-3', 'session-2', 'session-1', 'session-0']);
    for (const g of listed) {
      const mine = imported.filter((s) => s.attributes['session.id'] === g.session);
      expect(g).toMatchObject({
        requests: mine.length,
        errors: mine.filter((s) => s.statusCode === 'ERROR').length,
        first_time: iso(mine[0]!.startNs),
        last_time: iso(mine.at(-1)!.startNs),
      });
    }
    // The same list under a filter (added up from the spans): the sessions with a tagged call.
    const tagged = (await stats<Sessions>(`by=session&sort=last&limit=50&tag=sampled&${day}`)).body;
    const withTag = imported.filter((s) => (s.attributes['tag.tags'] as string[]).includes('sampled'));
    const last = new Map(withTag.map((s) => [s.attributes['session.id'] as string, s.startNs])); // the calls are in time order per session
    const count = (name: string): number => withTag.filter((s) => s.attributes['session.id'] === name).length;
    expect(tagged.groups.map((g) => [g.session, g.requests, g.last_time])).toEqual(
      [...last].sort(([, a], [, b]) => (a < b ? 1 : -1)).map(([name, ns]) => [name, count(name), iso(ns)]),
    );
    expect(tagged.groups.length).toBeGreaterThan(2);
  });

  it('answers 400 to what it does not understand', async () => {
    for (const [query, message] of [
      ['by=color', 'by must be one of model, user, session, project, endpoint, tag, got "color"'],
      ['bucket=week', 'bucket must be minute, hour or day, got "week"'],
      ['from=2002-03-05T00:00:00Z&to=2002-03-04T00:00:00Z', 'from must be before to'],
      ['from=2002-03-04&since=2002-03-04', 'give "from" or "since", not both'],
      ['limit=3', 'limit applies to the groups of "by"'],
      ['by=user&offset=3', 'offset needs a limit'],
      ['by=user&sort=name', 'sort must be one of cost, requests, errors, tokens, last, got "name"'],
      ['bucket=minute&from=2002-03-04&to=2002-03-06', 'bucket=minute covers at most 24 hours: narrow the window, or use bucket=hour'],
      [
        'cursor=x',
        'unknown parameter "cursor"; known: by, bucket, from, to, since, until, sort, limit, offset, session_id, user_id, model, project, endpoint, tag, status, q',
      ],
    ]) {
      const bad = await stats<ErrorAnswer>(query!);
      expect(bad.status, query).toBe(400);
      expect(bad.body.error.message).toBe(message);
    }
  });
});
