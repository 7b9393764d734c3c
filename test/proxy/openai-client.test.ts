// The real `openai` client cannot tell llmtap from the API: same results, and the upstream receives
// the same request bytes and headers as when the client calls it directly.
import OpenAI, { APIError, RateLimitError } from 'openai';
import { describe, expect, it } from 'vitest';

import { type ReceivedRequest } from '../support/fake-openai.js';
import { fakeAndLlmtap } from '../support/llmtap.js';

const client = (baseURL: string): OpenAI => new OpenAI({ apiKey: 'sk-test-compare', baseURL, maxRetries: 0, organization: 'org-test', project: 'proj-test' });

const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'silent' });

// Hop-by-hop headers belong to each connection; llmtap sets `traceparent` to name its span (the
// recording tests check it); everything else must arrive unchanged.
const CONNECTION_SCOPED = new Set(['connection', 'keep-alive', 'host', 'traceparent']);
function endToEndHeaders(r: ReceivedRequest): string[][] {
  const pairs: string[][] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]!.toLowerCase();
    if (!CONNECTION_SCOPED.has(name)) pairs.push([name, r.rawHeaders[i + 1]!]);
  }
  return pairs.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Runs the same call directly and through llmtap; returns both results and both upstream requests. */
async function both<T>(call: (c: OpenAI) => Promise<T>): Promise<{ direct: T; proxied: T; upstream: [ReceivedRequest, ReceivedRequest] }> {
  const before = servers.fake.requests.length;
  const direct = await call(client(`${servers.fake.url}/v1`));
  const proxied = await call(client(servers.proxy.baseURL));
  const [a, b] = servers.fake.requests.slice(before);
  return { direct, proxied, upstream: [a!, b!] };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe('the openai client through llmtap', () => {
  it('non-streaming chat completion', async () => {
    const r = await both((c) => c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }], temperature: 0.2 }));
    expect(r.proxied).toEqual(r.direct);
    expect(r.proxied.choices[0]!.message.content).toContain('Héllo');
    expect(r.upstream[1].body.equals(r.upstream[0].body)).toBe(true);
    expect(endToEndHeaders(r.upstream[1])).toEqual(endToEndHeaders(r.upstream[0]));
    const headers = r.upstream[1].headers;
    expect(headers.authorization).toBe('Bearer sk-test-compare');
    expect(headers['openai-organization']).toBe('org-test');
    expect(headers['openai-project']).toBe('proj-test');
  });

  it('streaming chat completion with usage', async () => {
    const r = await both(async (c) =>
      collect(
        await c.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'Say hello' }],
          stream: true,
          stream_options: { include_usage: true },
        }),
      ),
    );
    expect(r.proxied).toEqual(r.direct);
    expect(r.proxied.map((c) => c.choices[0]?.delta.content ?? '').join('')).toContain('👋');
    expect(r.proxied.at(-1)!.usage?.total_tokens).toBeGreaterThan(0);
    expect(r.upstream[1].body.equals(r.upstream[0].body)).toBe(true);
    expect(endToEndHeaders(r.upstream[1])).toEqual(endToEndHeaders(r.upstream[0]));
  });

  it('streaming tool calls', async () => {
    const tool = (name: string) => ({
      type: 'function' as const,
      function: { name, parameters: { type: 'object', properties: { location: { type: 'string' } } } },
    });
    const r = await both(async (c) =>
      collect(
        await c.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'Weather in Paris?' }],
          tools: [tool('get_weather'), tool('get_time')],
          stream: true,
        }),
      ),
    );
    expect(r.proxied).toEqual(r.direct);
    const names = r.proxied.flatMap((c) => c.choices[0]?.delta.tool_calls?.map((t) => t.function?.name) ?? []).filter(Boolean);
    expect(names).toEqual(['get_weather', 'get_time']);
  });

  it('models.list', async () => {
    const r = await both(async (c) => (await c.models.list()).data);
    expect(r.proxied).toEqual(r.direct);
    expect(r.proxied.map((m) => m.id)).toContain('gpt-4o-mini');
    expect(r.upstream[1].method).toBe('GET');
    expect(endToEndHeaders(r.upstream[1])).toEqual(endToEndHeaders(r.upstream[0]));
  });

  it('embeddings.create', async () => {
    const r = await both((c) => c.embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two words'] }));
    expect(r.proxied).toEqual(r.direct);
    expect(r.proxied.data).toHaveLength(2);
    expect(r.upstream[1].body.equals(r.upstream[0].body)).toBe(true);
  });

  it('an upstream error reaches the client as the same API error', async () => {
    const call = (c: OpenAI) =>
      c.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-fake-behavior': 'error-429' } })
        .catch((e: unknown) => e as APIError);
    const r = await both(call);
    expect(r.proxied).toBeInstanceOf(RateLimitError);
    expect((r.proxied as APIError).message).toBe((r.direct as APIError).message);
    expect((r.proxied as APIError).headers?.get('retry-after')).toBe('1');
  });
});
