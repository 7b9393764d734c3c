// Recording from the wire: whatever shape the bytes arrive in, the span holds the exchange exactly.
import { gzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { REPLY } from '../support/fake-openai.js';
import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap, type InProcess, startLlmtap } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });

const post = (body: string, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body,
});

describe('streams assembled from the wire', () => {
  for (const behavior of ['split-event', 'split-utf8', 'ping']) {
    it(`the assembled text is exact (${behavior})`, async () => {
      const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody({ stream: true }), { 'x-fake-behavior': behavior }));
      const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
      expect(span.statusCode).toBe('OK');
      expect(span.attributes['output.value']).toBe(REPLY);
      expect(span.attributes['llm.output_messages.0.message.content']).toBe(REPLY);
      expect(span.attributes['llm.finish_reason']).toBe('stop');
    });
  }

  it('an answer of tool calls only: output.value is the assembled message as JSON, the one a non-streamed call returns', async () => {
    const tools = ['get_weather', 'get_time'].map((name) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } }));
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody({ stream: true, tools })));
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['output.mime_type']).toBe('application/json');
    const whole = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody({ tools })));
    const { message } = (JSON.parse(whole.body.toString()) as { choices: { message: { role: string; tool_calls: unknown[] } }[] }).choices[0]!;
    expect(message.tool_calls).toHaveLength(2);
    expect(JSON.parse(span.attributes['output.value'] as string)).toEqual({ role: message.role, content: null, tool_calls: message.tool_calls });
    // The text of an answer that has some stays plain text.
    const text = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody({ stream: true })));
    const textSpan = await waitForSpan(servers.proxy.dbPath, text.headers['x-llmtap-span-id'] as string);
    expect(textSpan.attributes['output.mime_type']).toBe('text/plain');
  });

  it('the first-token event is when the first content reached the client, within the span', async () => {
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody({ stream: true }), { 'x-fake-delay-ms': '30' }));
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    const first = span.events.find((e) => e.name === 'First Token Stream Event')!;
    // The role-only chunk came first, 30 ms before the first content chunk.
    const ttft = Number(first.timeNs - span.startNs) / 1e6;
    expect(ttft).toBeGreaterThanOrEqual(25);
    expect(first.timeNs).toBeLessThan(span.endNs);
    expect(span.attributes['llmtap.time_to_first_token_ms']).toBeCloseTo(ttft, 3);
    expect(Number(span.endNs - span.startNs) / 1e6).toBeGreaterThan(200);
  });

  it('a compressed JSON response is recorded decoded, and the client gets it compressed', async () => {
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody(), { 'x-fake-behavior': 'gzip', 'accept-encoding': 'gzip' }));
    expect(r.headers['content-encoding']).toBe('gzip');
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['llm.output_messages.0.message.content']).toBe(REPLY);
    expect(span.attributes['llm.token_count.total']).toBeGreaterThan(0);
  });
});

describe('bounded capture', () => {
  let small: InProcess;
  beforeAll(async () => {
    small = await startLlmtap({
      LLMTAP_UPSTREAM_URL: servers.fake.url,
      LLMTAP_LOG_LEVEL: 'silent',
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      LLMTAP_CAPTURE_MAX_BYTES: '1500',
    });
  });
  afterAll(() => small.shutdown());

  it('a stream past the limit: the span has what fit and says it was truncated; the client got everything', async () => {
    const r = await rawRequest(`${small.baseURL}/chat/completions`, post(chatBody({ stream: true })));
    expect(r.body.toString()).toContain('[DONE]');
    const span = await waitForSpan(small.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['llmtap.output.truncated']).toBe(true);
    const text = span.attributes['output.value'] as string;
    expect(text.length).toBeGreaterThan(0);
    expect(REPLY.startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(REPLY.length);
  });

  it('a compressed answer larger than the limit once decoded: the text that fit, marked truncated', async () => {
    const text = JSON.stringify({
      id: 'c',
      object: 'chat.completion',
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'y'.repeat(100_000) } }],
    });
    const compressed = gzipSync(text);
    expect(compressed.length).toBeLessThan(1500); // the capture holds all of it; decoded, it is far larger
    servers.fake.handler = (req, res) => {
      if (req.headers['x-fake-behavior'] !== 'big-gzip') return false;
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(compressed);
      return true;
    };
    try {
      const r = await rawRequest(`${small.baseURL}/chat/completions`, post(chatBody(), { 'x-fake-behavior': 'big-gzip', 'accept-encoding': 'gzip' }));
      expect(r.body.equals(compressed)).toBe(true);
      const span = await waitForSpan(small.dbPath, r.headers['x-llmtap-span-id'] as string);
      expect(span.attributes['llmtap.output.truncated']).toBe(true);
      expect(span.attributes['output.value']).toBe(text.slice(0, 1500));
    } finally {
      servers.fake.handler = undefined;
    }
  });

  it('a request past the limit: its text up to the limit, marked truncated; forwarded whole', async () => {
    const before = servers.fake.requests.length;
    const body = chatBody({ padding: 'x'.repeat(3000) });
    const r = await rawRequest(`${small.baseURL}/chat/completions`, post(body));
    expect(servers.fake.requests[before]!.body.toString()).toBe(body);
    const span = await waitForSpan(small.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['llmtap.input.truncated']).toBe(true);
    expect(span.attributes['input.value']).toBe(body.slice(0, 1500));
    expect(span.attributes['input.mime_type']).toBe('text/plain');
  });
});

describe('LLMTAP_STREAM_USAGE=inject', () => {
  let inject: InProcess;
  beforeAll(async () => {
    inject = await startLlmtap({
      LLMTAP_UPSTREAM_URL: servers.fake.url,
      LLMTAP_LOG_LEVEL: 'silent',
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      LLMTAP_STREAM_USAGE: 'inject',
    });
  });
  afterAll(() => inject.shutdown());

  it('asks upstream for usage, gives the client the bytes it would have had without, records exact counts', async () => {
    const before = servers.fake.requests.length;
    const body = chatBody({ stream: true });
    const r = await rawRequest(`${inject.baseURL}/chat/completions`, post(body, { 'x-fake-behavior': 'split-event' }));
    const sent = JSON.parse(servers.fake.requests[before]!.body.toString());
    expect(sent.stream_options).toEqual({ include_usage: true });
    const direct = await rawRequest(`${servers.fake.url}/v1/chat/completions`, post(body));
    expect(r.body.toString()).toBe(direct.body.toString());
    const span = await waitForSpan(inject.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['llm.token_count.total']).toBeGreaterThan(0);
    expect(span.attributes['output.value']).toBe(REPLY);
  });

  it('legacy completions streams get their counts the same way', async () => {
    const before = servers.fake.requests.length;
    const body = JSON.stringify({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hello', stream: true });
    const r = await rawRequest(`${inject.baseURL}/completions`, post(body));
    expect(JSON.parse(servers.fake.requests[before]!.body.toString()).stream_options).toEqual({ include_usage: true });
    expect(r.body.toString()).toBe((await rawRequest(`${servers.fake.url}/v1/completions`, post(body))).body.toString());
    const span = await waitForSpan(inject.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['llm.token_count.total']).toBeGreaterThan(0);
    expect(span.attributes['output.value']).toBe(REPLY);
  });

  it('leaves the Responses API, whose streams always end with their usage, untouched', async () => {
    const before = servers.fake.requests.length;
    const body = JSON.stringify({ model: 'gpt-4o-mini', input: 'Say hello', stream: true });
    const r = await rawRequest(`${inject.baseURL}/responses`, post(body));
    expect(servers.fake.requests[before]!.body.toString()).toBe(body);
    const span = await waitForSpan(inject.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['llm.token_count.total']).toBeGreaterThan(0);
  });

  it('leaves a stream that asked for usage itself, and non-streaming calls, untouched', async () => {
    const before = servers.fake.requests.length;
    const body = chatBody({ stream: true, stream_options: { include_usage: true } });
    const r = await rawRequest(`${inject.baseURL}/chat/completions`, post(body));
    expect(servers.fake.requests[before]!.body.toString()).toBe(body);
    expect(r.body.toString()).toContain('"choices":[]');
    const plain = chatBody();
    await rawRequest(`${inject.baseURL}/chat/completions`, post(plain));
    expect(servers.fake.requests[before + 1]!.body.toString()).toBe(plain);
  });
});

describe('what is not recorded', () => {
  it('other endpoints are forwarded without a span', async () => {
    const r = await rawRequest(`${servers.proxy.baseURL}/models`);
    expect(r.status).toBe(200);
    expect(r.headers['x-llmtap-span-id']).toBeUndefined();
  });
});
