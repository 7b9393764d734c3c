// Failed calls still produce a span (the official JS instrumentation exports none): status ERROR,
// `<ErrorType>: <message>`, an exception event, whatever output had streamed, the HTTP status.
import { describe, expect, it } from 'vitest';

import type { Span } from '../../src/record/span.js';
import { chatBody, type RawRequest, rawRequest } from '../support/http.js';
import { fakeAndLlmtap, startLlmtap } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

const servers = fakeAndLlmtap({
  LLMTAP_LOG_LEVEL: 'silent',
  LLMTAP_FLUSH_INTERVAL_MS: '10',
  LLMTAP_HEADERS_TIMEOUT_MS: '300',
});

const call = (behavior: string, body = chatBody({ stream: true, stream_options: { include_usage: true } }), extra: Partial<RawRequest> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-fake-behavior': behavior, ...extra.headers },
  body,
  ...(extra.abortAfterBytes === undefined ? {} : { abortAfterBytes: extra.abortAfterBytes }),
});

async function spanOf(behavior: string, body?: string, extra: Partial<RawRequest> = {}): Promise<{ span: Span; status: number }> {
  const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, call(behavior, body, extra));
  const id = r.headers['x-llmtap-span-id'];
  expect(id, 'x-llmtap-span-id header').toMatch(/^[0-9a-f]{16}$/);
  return { span: await waitForSpan(servers.proxy.dbPath, id as string), status: r.status };
}

function expectError(span: Span, type: string, messagePart: string): void {
  expect(span.statusCode).toBe('ERROR');
  expect(span.statusMessage.startsWith(`${type}: `), span.statusMessage).toBe(true);
  expect(span.statusMessage).toContain(messagePart);
  const exceptions = span.events.filter((e) => e.name === 'exception');
  expect(exceptions).toHaveLength(1);
  expect(exceptions[0]!.attributes).toMatchObject({ 'exception.type': type, 'exception.escaped': true });
  expect(exceptions[0]!.attributes['exception.message']).toContain(messagePart);
  // The request side is always recorded.
  expect(span.attributes['input.value']).toContain('Say hello');
  expect(span.attributes['llm.input_messages.0.message.content']).toBe('Say hello');
}

describe('a span for every failure', () => {
  it('reset mid-stream: the output that had streamed is kept', async () => {
    const { span } = await spanOf('reset-mid-stream');
    expectError(span, 'APIConnectionError', 'upstream connection broke mid-response');
    expect(span.attributes['http.response.status_code']).toBe(200);
    expect(span.attributes['output.value']).toBe('Héllo wörld '); // the events before the reset
  });

  it('timeout before the answer', async () => {
    const { span, status } = await spanOf('stall', chatBody());
    expect(status).toBe(504);
    expectError(span, 'APIConnectionTimeoutError', 'upstream did not answer in time');
    expect(span.attributes['http.response.status_code']).toBe(504);
  });

  it('an error event inside a 200 stream', async () => {
    const { span } = await spanOf('error-event');
    expectError(span, 'APIError', 'The model overloaded mid-stream.');
  });

  it('client abort mid-stream: partial output, a cancellation message', async () => {
    const { span } = await spanOf('', undefined, { headers: { 'x-fake-delay-ms': '60' }, abortAfterBytes: 400 });
    expectError(span, 'APIUserAbortError', 'the client disconnected before the response ended');
    expect((span.attributes['output.value'] as string).length).toBeGreaterThan(0);
    // Usage comes last and never arrived: the counts are estimated from what had streamed.
    expect(span.attributes['llmtap.token_count.source']).toBe('estimate');
    expect(span.attributes['llm.token_count.completion']).toBeGreaterThan(0);
  });

  it('client abort after the usage arrived: the usage is kept', async () => {
    const sse = (o: unknown): string => `data: ${JSON.stringify(o)}\n\n`;
    const content = sse({
      id: 'c',
      object: 'chat.completion.chunk',
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' } }],
    });
    const usage = sse({
      id: 'c',
      object: 'chat.completion.chunk',
      model: 'gpt-4o-mini',
      choices: [],
      usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
    });
    servers.fake.handler = (req, res) => {
      if (req.headers['x-fake-behavior'] !== 'usage-then-hang') return false;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(content);
      setTimeout(() => res.write(usage), 50);
      return true; // and never ends: the client gives up
    };
    try {
      const { span } = await spanOf('usage-then-hang', undefined, { abortAfterBytes: Buffer.byteLength(content + usage) });
      expectError(span, 'APIUserAbortError', 'the client disconnected');
      expect(span.attributes['llm.token_count.total']).toBe(6);
      expect(span.attributes['llmtap.token_count.source']).toBe('upstream');
      expect(span.attributes['output.value']).toBe('Hi');
    } finally {
      servers.fake.handler = undefined;
    }
  });

  it('upstream unreachable', async () => {
    const down = await startLlmtap({ LLMTAP_UPSTREAM_URL: 'http://127.0.0.1:1', LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });
    try {
      const r = await rawRequest(`${down.baseURL}/chat/completions`, call('', chatBody()));
      expect(r.status).toBe(502);
      const span = await waitForSpan(down.dbPath, r.headers['x-llmtap-span-id'] as string);
      expectError(span, 'APIConnectionError', 'upstream unreachable');
    } finally {
      await down.shutdown();
    }
  });
});

describe('failures on the other endpoints', () => {
  const post = (path: string, body: unknown, behavior = '') =>
    rawRequest(`${servers.proxy.baseURL}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fake-behavior': behavior },
      body: JSON.stringify(body),
    });
  const spanFor = async (r: { headers: Record<string, unknown> }): Promise<Span> => waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);

  it('Responses: an error event mid-stream keeps the text assembled from the deltas so far', async () => {
    const span = await spanFor(await post('/responses', { model: 'gpt-4o-mini', input: 'Say hello', stream: true }, 'error-event'));
    expect(span.statusCode).toBe('ERROR');
    expect(span.statusMessage).toBe('APIError: The model overloaded mid-stream.');
    expect(span.attributes['llm.output_messages.0.message.role']).toBe('assistant');
    expect(span.attributes['llm.output_messages.0.message.contents.0.message_content.text']).toBe('Héllo wörld — 你好 👋, ');
    expect(JSON.parse(span.attributes['output.value'] as string)).toMatchObject({ status: 'in_progress', output: [{ type: 'message' }] });
    expect(span.events.map((e) => e.name)).toEqual(['First Token Stream Event', 'exception']);
  });

  it('Responses: a response.failed event', async () => {
    const sse = (o: { type: string; response: unknown }): string => `event: ${o.type}\ndata: ${JSON.stringify(o)}\n\n`;
    servers.fake.handler = (req, res) => {
      if (req.headers['x-fake-behavior'] !== 'response-failed') return false;
      const response = { id: 'resp_f', object: 'response', model: 'gpt-4o-mini-2024-07-18', status: 'in_progress', output: [], usage: null };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse({ type: 'response.created', response }));
      res.end(sse({ type: 'response.failed', response: { ...response, status: 'failed', error: { code: 'server_error', message: 'The model failed.' } } }));
      return true;
    };
    try {
      const span = await spanFor(await post('/responses', { model: 'gpt-4o-mini', input: 'Say hello', stream: true }, 'response-failed'));
      expect(span.statusMessage).toBe('APIError: The model failed.');
      expect(span.attributes['llm.model_name']).toBe('gpt-4o-mini-2024-07-18');
      expect(JSON.parse(span.attributes['output.value'] as string).status).toBe('failed');
    } finally {
      servers.fake.handler = undefined;
    }
  });

  it('legacy completions: an error event mid-stream keeps the text so far', async () => {
    const span = await spanFor(await post('/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'Say hello', stream: true }, 'error-event'));
    expect(span.statusMessage).toBe('APIError: The model overloaded mid-stream.');
    expect(span.attributes['output.value']).toBe('Héllo wörld ');
    expect(span.attributes['llm.choices.0.completion.text']).toBe('Héllo wörld ');
  });
});
