// LLMTAP_STREAM_USAGE=auto (the default): the real openai client streams without asking for usage; the
// span gets the upstream's exact counts and their cost, and the client's bytes are those it gets with
// llmtap `off` (byte for byte, from a fake that serializes chunks as OpenAI does). An upstream that refuses
// the option gets the client's own request, once per model.
import { calcPrice } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { REPLY } from '../support/fake-openai.js';
import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap, type InProcess, logLine, startLlmtap } from '../support/llmtap.js';
import { scrape } from '../support/prometheus.js';
import { waitForSpan } from '../support/spans.js';

const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'warn', LLMTAP_FLUSH_INTERVAL_MS: '10', LLMTAP_PROVIDER: 'openai' });
let off: InProcess;
beforeAll(async () => {
  off = await startLlmtap({ LLMTAP_UPSTREAM_URL: servers.fake.url, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10', LLMTAP_STREAM_USAGE: 'off' });
});
afterAll(() => off.shutdown());

/** The openai client, keeping the raw bytes of each response it reads. */
function client(baseURL: string, headers: Record<string, string> = {}): { openai: OpenAI; bodies: Buffer[] } {
  const bodies: Buffer[] = [];
  const openai = new OpenAI({
    apiKey: 'sk-test-usage',
    baseURL,
    maxRetries: 0,
    defaultHeaders: headers,
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      bodies.push(Buffer.from(await res.clone().arrayBuffer()));
      return res;
    },
  });
  return { openai, bodies };
}

async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

type Call = (c: OpenAI) => Promise<{ spanId: string; chunks: unknown[] }>;

const chat =
  (params: Omit<OpenAI.Chat.ChatCompletionCreateParamsStreaming, 'stream'>): Call =>
  async (c) => {
    const { data, response } = await c.chat.completions.create({ ...params, stream: true }).withResponse();
    return { spanId: response.headers.get('x-llmtap-span-id')!, chunks: await drain(data) };
  };

const legacy =
  (params: Omit<OpenAI.CompletionCreateParamsStreaming, 'stream'>): Call =>
  async (c) => {
    const { data, response } = await c.completions.create({ ...params, stream: true }).withResponse();
    return { spanId: response.headers.get('x-llmtap-span-id')!, chunks: await drain(data) };
  };

const WEATHER = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const CLOCK = { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

describe('auto: streams get exact usage, clients get the bytes they would have had', () => {
  const cases: [string, Call][] = [
    ['a chat stream', chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] })],
    [
      'parallel tool calls (usage before choices)',
      chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather and time?' }], tools: [WEATHER, CLOCK] }),
    ],
    ['two choices', chat({ model: 'gpt-4o-mini', n: 2, messages: [{ role: 'user', content: 'Two answers' }] })],
    ['a legacy completions stream', legacy({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hello' })],
  ];

  for (const [name, call] of cases) {
    it(name, async () => {
      const before = servers.fake.requests.length;
      const auto = client(servers.proxy.baseURL);
      const plain = client(off.baseURL);
      const a = await call(auto.openai);
      const b = await call(plain.openai);
      expect(a.chunks).toEqual(b.chunks);
      expect(auto.bodies[0]!.toString()).toBe(plain.bodies[0]!.toString());
      expect(auto.bodies[0]!.includes('"usage":null')).toBe(false);

      const [injected, untouched] = servers.fake.requests.slice(before);
      const sent = JSON.parse(injected!.body.toString()) as Record<string, unknown>;
      expect(sent.stream_options).toEqual({ include_usage: true });
      expect(untouched!.body.toString()).toBe(injected!.body.toString().replace('"stream_options":{"include_usage":true},', ''));

      // The usage the upstream sent (the fake's counts), and its price.
      const usage = (
        await rawRequest(`${servers.fake.url}${new URL(injected!.url, 'http://x').pathname}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: injected!.body,
        })
      ).body
        .toString()
        .split('\n\n')
        .map((e) => (e.startsWith('data: {') ? (JSON.parse(e.slice(6)) as { usage?: Record<string, number> | null }) : {}))
        .find((e) => e.usage)!.usage!;
      const span = await waitForSpan(servers.proxy.dbPath, a.spanId);
      expect(span.attributes['llm.token_count.prompt']).toBe(usage.prompt_tokens);
      expect(span.attributes['llm.token_count.completion']).toBe(usage.completion_tokens);
      expect(span.attributes['llm.token_count.total']).toBe(usage.total_tokens);
      expect(span.attributes['llmtap.token_count.source']).toBe('upstream');
      const model = span.attributes['llm.model_name'] as string;
      const details = usage as unknown as { prompt_tokens_details?: { cached_tokens: number }; completion_tokens_details?: { reasoning_tokens: number } };
      const price = calcPrice(
        {
          input_tokens: usage.prompt_tokens,
          output_tokens: usage.completion_tokens,
          cache_read_tokens: details.prompt_tokens_details?.cached_tokens,
          output_reasoning_tokens: details.completion_tokens_details?.reasoning_tokens,
        },
        model,
        { providerId: 'openai', timestamp: new Date(Number(span.startNs / 1_000_000n)) },
      );
      expect(price).not.toBeNull();
      expect(span.attributes['llm.cost.total']).toBe(price!.total_price);

      // Without the option, the same call is estimated.
      const estimated = await waitForSpan(off.dbPath, b.spanId);
      expect(estimated.attributes['llmtap.token_count.source']).toBe('estimate');
      expect(estimated.attributes['llm.token_count.completion']).toBeGreaterThan(0);
    });
  }
});

describe('auto: an upstream that refuses stream_options', () => {
  const refusing = { 'x-fake-behavior': 'no-stream-options' };

  it('answers the client from its own request, and is not asked again for that model', async () => {
    const metrics = await scrape(servers.proxy.url);
    const before = servers.fake.requests.length;
    const body = chatBody({ model: 'gpt-4.1-mini', stream: true });
    const post = { method: 'POST', headers: { 'content-type': 'application/json', ...refusing }, body };

    const first = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post);
    expect(first.status).toBe(200);
    const direct = await rawRequest(`${servers.fake.url}/v1/chat/completions`, post);
    expect(first.body.toString()).toBe(direct.body.toString());
    const [refused, resent] = servers.fake.requests.slice(before);
    expect(JSON.parse(refused!.body.toString()).stream_options).toEqual({ include_usage: true });
    expect(resent!.body.toString()).toBe(body);

    const second = servers.fake.requests.length;
    const again = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post);
    expect(again.body.toString()).toBe(direct.body.toString());
    expect(servers.fake.requests.length - second).toBe(1);
    expect(servers.fake.requests[second]!.body.toString()).toBe(body);

    for (const r of [first, again]) {
      const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
      expect(span.statusCode).toBe('OK');
      expect(span.attributes['output.value']).toBe(REPLY);
      expect(span.attributes['llmtap.token_count.source']).toBe('estimate');
      expect(span.attributes['llm.token_count.prompt']).toBeGreaterThan(0);
      expect(span.attributes['llm.token_count.completion']).toBeGreaterThan(0);
    }
    const line = await logLine(servers.proxy, (l) => l.model === 'gpt-4.1-mini' && String(l.msg).includes('refused stream_options'));
    expect(line.level).toBe(40);
    expect(servers.proxy.logs.filter((l) => String(l.msg).includes('refused stream_options'))).toHaveLength(1);
    expect((await scrape(servers.proxy.url)).value('llmtap_stream_usage_refused_total') - metrics.value('llmtap_stream_usage_refused_total')).toBe(1);

    // Other models are still asked.
    const other = servers.fake.requests.length;
    await rawRequest(`${servers.proxy.baseURL}/chat/completions`, { ...post, body: chatBody({ model: 'gpt-4o', stream: true }) });
    expect(servers.fake.requests.length - other).toBe(2);
  });

  it('passes any other error of an injected request to the client unchanged, once', async () => {
    const before = servers.fake.requests.length;
    const post = { method: 'POST', headers: { 'content-type': 'application/json', 'x-fake-behavior': 'error-429' }, body: chatBody({ stream: true }) };
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post);
    const direct = await rawRequest(`${servers.fake.url}/v1/chat/completions`, post);
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.body.toString()).toBe(direct.body.toString());
    expect(servers.fake.requests.length - before).toBe(2); // llmtap's and the direct one
  });
});
