// assembleSpan, the pure heart of recording: a captured exchange in, a span out. Whole spans are pinned
// with inline snapshots, one per endpoint and per kind of ending, so any change to what is recorded
// shows up here as a readable diff. (The end-to-end files prove the same spans come from real traffic.)
import { describe, expect, it } from 'vitest';

import { loadConfig, maskSettings } from '../../src/config.js';
import { MemoryBudget } from '../../src/memory-budget.js';
import type { ExchangeResult } from '../../src/proxy/exchange.js';
import { type AssembleOptions, assembleSpan } from '../../src/record/assemble.js';
import { Capture, type CapturedExchange } from '../../src/record/capture.js';
import type { RequestContext } from '../../src/record/context.js';
import { Pricing } from '../../src/record/cost.js';

const START = 1_700_000_000_000_000_000n;
const MS = 1_000_000n;

const options: AssembleOptions = {
  providers: { upstream: 'openai', azure: 'azure' },
  project: 'default',
  captureMaxBytes: 1 << 20,
  mask: maskSettings(loadConfig({})),
  prices: {},
};
const pricing = new Pricing({});

const ctx = (over: Partial<RequestContext> = {}): RequestContext => ({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: '01',
  record: true,
  ignored: [],
  ...over,
});

interface Exchange {
  url?: string;
  method?: string;
  request?: unknown;
  /** Response chunks, each written 10 ms after the previous one. */
  response?: string[];
  contentType?: string;
  result?: Partial<ExchangeResult>;
  context?: Partial<RequestContext>;
}

function captured({
  url = '/v1/chat/completions',
  method = 'POST',
  request,
  response = [],
  contentType = 'application/json',
  result,
  context,
}: Exchange): CapturedExchange {
  const body = Buffer.from(request === undefined ? '' : JSON.stringify(request));
  const capture = new Capture(options.captureMaxBytes, new MemoryBudget(1 << 30).hold());
  response.forEach((chunk, i) => capture.add(Buffer.from(chunk), START + BigInt(100 + 10 * i) * MS));
  return {
    method,
    url,
    ctx: ctx(context),
    requestBody: new Uint8Array(body),
    requestBytes: body.length,
    heldBytes: 0,
    result: {
      method,
      path: url,
      startNs: START,
      headersNs: START + 50n * MS,
      endNs: START + 500n * MS,
      status: 200,
      bytesIn: body.length,
      bytesOut: response.join('').length,
      outcome: 'ok',
      ...result,
    },
    contentType,
    response: capture.seal(),
  };
}

const sse = (events: unknown[]): string[] => [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), 'data: [DONE]\n\n'];
const chunk = (delta: unknown, extra: object = {}): object => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, delta, finish_reason: null }],
  ...extra,
});

const chatRequest = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hello' },
  ],
  temperature: 0,
};

describe('assembleSpan', () => {
  it('chat completion', () => {
    const response = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, prompt_tokens_details: { cached_tokens: 0 } },
    };
    const span = assembleSpan(
      captured({ request: { ...chatRequest, user: 'u-1' }, response: [JSON.stringify(response)], context: { sessionId: 's-1', tags: ['a'] } }),
      options,
      pricing,
    );
    expect(span).toMatchInlineSnapshot(`
      {
        "attributes": {
          "http.response.status_code": 200,
          "input.mime_type": "application/json",
          "input.value": "{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],"temperature":0,"user":"u-1"}",
          "llm.cost.completion": 0.0000018,
          "llm.cost.completion_details.output": 0.0000018,
          "llm.cost.prompt": 0.0000018,
          "llm.cost.prompt_details.input": 0.0000018,
          "llm.cost.total": 0.0000036,
          "llm.finish_reason": "stop",
          "llm.input_messages.0.message.content": "Be brief.",
          "llm.input_messages.0.message.role": "system",
          "llm.input_messages.1.message.content": "Hello",
          "llm.input_messages.1.message.role": "user",
          "llm.invocation_parameters": "{"model":"gpt-4o-mini","temperature":0,"user":"u-1"}",
          "llm.model_name": "gpt-4o-mini-2024-07-18",
          "llm.output_messages.0.message.content": "Hi!",
          "llm.output_messages.0.message.role": "assistant",
          "llm.provider": "openai",
          "llm.system": "openai",
          "llm.token_count.completion": 3,
          "llm.token_count.prompt": 12,
          "llm.token_count.prompt_details.cache_read": 0,
          "llm.token_count.total": 15,
          "llmtap.token_count.source": "upstream",
          "openinference.span.kind": "LLM",
          "output.mime_type": "application/json",
          "output.value": "{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":0}}}",
          "session.id": "s-1",
          "tag.tags": [
            "a",
          ],
          "user.id": "u-1",
        },
        "endNs": 1700000000500000000n,
        "events": [],
        "kind": "LLM",
        "name": "OpenAI Chat Completions",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "OK",
        "statusMessage": "",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
  });

  it('chat stream with a tool call, the first token and the usage chunk', () => {
    const events = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      { ...chunk({}), choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      { ...chunk({}), choices: [], usage: { prompt_tokens: 20, completion_tokens: 7, total_tokens: 27 } },
    ];
    const span = assembleSpan(
      captured({ request: { ...chatRequest, stream: true }, response: sse(events), contentType: 'text/event-stream' }),
      options,
      pricing,
    );
    expect(span).toMatchInlineSnapshot(`
      {
        "attributes": {
          "http.response.status_code": 200,
          "input.mime_type": "application/json",
          "input.value": "{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],"temperature":0,"stream":true}",
          "llm.cost.completion": 0.0000042000000000000004,
          "llm.cost.completion_details.output": 0.0000042000000000000004,
          "llm.cost.prompt": 0.000003,
          "llm.cost.prompt_details.input": 0.000003,
          "llm.cost.total": 0.0000072000000000000005,
          "llm.finish_reason": "tool_calls",
          "llm.input_messages.0.message.content": "Be brief.",
          "llm.input_messages.0.message.role": "system",
          "llm.input_messages.1.message.content": "Hello",
          "llm.input_messages.1.message.role": "user",
          "llm.invocation_parameters": "{"model":"gpt-4o-mini","temperature":0,"stream":true}",
          "llm.model_name": "gpt-4o-mini-2024-07-18",
          "llm.output_messages.0.message.content": "",
          "llm.output_messages.0.message.role": "assistant",
          "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{"city":"Paris"}",
          "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
          "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_1",
          "llm.provider": "openai",
          "llm.system": "openai",
          "llm.token_count.completion": 7,
          "llm.token_count.prompt": 20,
          "llm.token_count.total": 27,
          "llmtap.time_to_first_token_ms": 110,
          "llmtap.token_count.source": "upstream",
          "openinference.span.kind": "LLM",
          "output.mime_type": "application/json",
          "output.value": "{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]}",
        },
        "endNs": 1700000000500000000n,
        "events": [
          {
            "attributes": {},
            "name": "First Token Stream Event",
            "timeNs": 1700000000110000000n,
          },
        ],
        "kind": "LLM",
        "name": "OpenAI Chat Completions",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "OK",
        "statusMessage": "",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
  });

  it('responses API', () => {
    const response = {
      id: 'resp_1',
      object: 'response',
      model: 'gpt-4.1-mini-2025-04-14',
      status: 'completed',
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Bonjour' }] }],
      usage: {
        input_tokens: 9,
        output_tokens: 2,
        total_tokens: 11,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 0 },
      },
    };
    const span = assembleSpan(
      captured({ url: '/v1/responses', request: { model: 'gpt-4.1-mini', instructions: 'Translate.', input: 'Hello' }, response: [JSON.stringify(response)] }),
      options,
      pricing,
    );
    expect(span).toMatchInlineSnapshot(`
      {
        "attributes": {
          "http.response.status_code": 200,
          "input.mime_type": "application/json",
          "input.value": "{"model":"gpt-4.1-mini","instructions":"Translate.","input":"Hello"}",
          "llm.cost.completion": 0.0000032000000000000003,
          "llm.cost.completion_details.output": 0.0000032000000000000003,
          "llm.cost.prompt": 0.0000036000000000000003,
          "llm.cost.prompt_details.input": 0.0000036000000000000003,
          "llm.cost.total": 0.000006800000000000001,
          "llm.input_messages.0.message.content": "Translate.",
          "llm.input_messages.0.message.role": "system",
          "llm.input_messages.1.message.content": "Hello",
          "llm.input_messages.1.message.role": "user",
          "llm.invocation_parameters": "{"model":"gpt-4.1-mini","instructions":"Translate."}",
          "llm.model_name": "gpt-4.1-mini-2025-04-14",
          "llm.output_messages.0.message.contents.0.message_content.text": "Bonjour",
          "llm.output_messages.0.message.contents.0.message_content.type": "output_text",
          "llm.output_messages.0.message.role": "assistant",
          "llm.provider": "openai",
          "llm.system": "openai",
          "llm.token_count.completion": 2,
          "llm.token_count.completion_details.reasoning": 0,
          "llm.token_count.prompt": 9,
          "llm.token_count.prompt_details.cache_read": 0,
          "llm.token_count.total": 11,
          "llmtap.token_count.source": "upstream",
          "openinference.span.kind": "LLM",
          "output.mime_type": "application/json",
          "output.value": "{"id":"resp_1","object":"response","model":"gpt-4.1-mini-2025-04-14","status":"completed","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Bonjour"}]}],"usage":{"input_tokens":9,"output_tokens":2,"total_tokens":11,"input_tokens_details":{"cached_tokens":0},"output_tokens_details":{"reasoning_tokens":0}}}",
        },
        "endNs": 1700000000500000000n,
        "events": [],
        "kind": "LLM",
        "name": "OpenAI Responses",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "OK",
        "statusMessage": "",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
  });

  it('embeddings', () => {
    const response = {
      object: 'list',
      model: 'text-embedding-3-small',
      data: [{ object: 'embedding', index: 0, embedding: [0.25, -0.5] }],
      usage: { prompt_tokens: 2, total_tokens: 2 },
    };
    const span = assembleSpan(
      captured({ url: '/v1/embeddings', request: { model: 'text-embedding-3-small', input: 'two words' }, response: [JSON.stringify(response)] }),
      options,
      pricing,
    );
    expect(span).toMatchInlineSnapshot(`
      {
        "attributes": {
          "embedding.embeddings.0.embedding.text": "two words",
          "embedding.embeddings.0.embedding.vector": [
            0.25,
            -0.5,
          ],
          "embedding.invocation_parameters": "{"model":"text-embedding-3-small"}",
          "embedding.model_name": "text-embedding-3-small",
          "http.response.status_code": 200,
          "input.mime_type": "text/plain",
          "input.value": "two words",
          "llm.cost.completion": 0,
          "llm.cost.prompt": 4e-8,
          "llm.cost.prompt_details.input": 4e-8,
          "llm.cost.total": 4e-8,
          "llm.provider": "openai",
          "llm.system": "openai",
          "llm.token_count.prompt": 2,
          "llm.token_count.total": 2,
          "llmtap.token_count.source": "upstream",
          "openinference.span.kind": "EMBEDDING",
        },
        "endNs": 1700000000500000000n,
        "events": [],
        "kind": "EMBEDDING",
        "name": "OpenAI Embeddings",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "OK",
        "statusMessage": "",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
  });

  it('legacy completions stream', () => {
    const events = [
      { id: 'cmpl-1', object: 'text_completion', model: 'gpt-3.5-turbo-instruct', choices: [{ index: 0, text: 'Once', finish_reason: null }] },
      { id: 'cmpl-1', object: 'text_completion', model: 'gpt-3.5-turbo-instruct', choices: [{ index: 0, text: ' upon', finish_reason: 'length' }] },
    ];
    const span = assembleSpan(
      captured({
        url: '/v1/completions',
        request: { model: 'gpt-3.5-turbo-instruct', prompt: 'Tell a story', stream: true, max_tokens: 2 },
        response: sse(events),
        contentType: 'text/event-stream',
      }),
      options,
      pricing,
    );
    expect(span).toMatchInlineSnapshot(`
      {
        "attributes": {
          "http.response.status_code": 200,
          "input.mime_type": "text/plain",
          "input.value": "Tell a story",
          "llm.choices.0.completion.text": "Once upon",
          "llm.cost.completion": 0.000004,
          "llm.cost.completion_details.output": 0.000004,
          "llm.cost.prompt": 0.0000045,
          "llm.cost.prompt_details.input": 0.0000045,
          "llm.cost.total": 0.0000085,
          "llm.finish_reason": "length",
          "llm.invocation_parameters": "{"model":"gpt-3.5-turbo-instruct","stream":true,"max_tokens":2}",
          "llm.model_name": "gpt-3.5-turbo-instruct",
          "llm.prompts.0.prompt.text": "Tell a story",
          "llm.provider": "openai",
          "llm.system": "openai",
          "llm.token_count.completion": 2,
          "llm.token_count.prompt": 3,
          "llm.token_count.total": 5,
          "llmtap.time_to_first_token_ms": 100,
          "llmtap.token_count.source": "estimate",
          "openinference.span.kind": "LLM",
          "output.mime_type": "text/plain",
          "output.value": "Once upon",
        },
        "endNs": 1700000000500000000n,
        "events": [
          {
            "attributes": {},
            "name": "First Token Stream Event",
            "timeNs": 1700000000100000000n,
          },
        ],
        "kind": "LLM",
        "name": "OpenAI Completions",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "OK",
        "statusMessage": "",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
  });

  it('an upstream error answer', () => {
    const error = { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } };
    const span = assembleSpan(captured({ request: chatRequest, response: [JSON.stringify(error)], result: { status: 429 } }), options, pricing);
    expect(span).toMatchInlineSnapshot(`
      {
        "attributes": {
          "http.response.status_code": 429,
          "input.mime_type": "application/json",
          "input.value": "{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],"temperature":0}",
          "llm.input_messages.0.message.content": "Be brief.",
          "llm.input_messages.0.message.role": "system",
          "llm.input_messages.1.message.content": "Hello",
          "llm.input_messages.1.message.role": "user",
          "llm.invocation_parameters": "{"model":"gpt-4o-mini","temperature":0}",
          "llm.model_name": "gpt-4o-mini",
          "llm.provider": "openai",
          "llm.system": "openai",
          "openinference.span.kind": "LLM",
        },
        "endNs": 1700000000500000000n,
        "events": [
          {
            "attributes": {
              "exception.escaped": true,
              "exception.message": "Rate limit reached",
              "exception.type": "RateLimitError",
            },
            "name": "exception",
            "timeNs": 1700000000500000000n,
          },
        ],
        "kind": "LLM",
        "name": "OpenAI Chat Completions",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "ERROR",
        "statusMessage": "RateLimitError: Rate limit reached",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
  });

  it('a client that left mid-stream, and an upstream that timed out', () => {
    const events = [chunk({ role: 'assistant', content: 'Partial' })];
    const aborted = captured({
      request: { ...chatRequest, stream: true },
      response: events.map((e) => `data: ${JSON.stringify(e)}\n\n`),
      contentType: 'text/event-stream',
      result: { outcome: 'client_aborted', error: { kind: 'client_abort', message: 'client closed the connection before the response ended' } },
    });
    expect(assembleSpan(aborted, options, pricing)).toMatchInlineSnapshot(`
      {
        "attributes": {
          "http.response.status_code": 200,
          "input.mime_type": "application/json",
          "input.value": "{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],"temperature":0,"stream":true}",
          "llm.cost.completion": 6e-7,
          "llm.cost.completion_details.output": 6e-7,
          "llm.cost.prompt": 0.00000225,
          "llm.cost.prompt_details.input": 0.00000225,
          "llm.cost.total": 0.00000285,
          "llm.input_messages.0.message.content": "Be brief.",
          "llm.input_messages.0.message.role": "system",
          "llm.input_messages.1.message.content": "Hello",
          "llm.input_messages.1.message.role": "user",
          "llm.invocation_parameters": "{"model":"gpt-4o-mini","temperature":0,"stream":true}",
          "llm.model_name": "gpt-4o-mini-2024-07-18",
          "llm.output_messages.0.message.content": "Partial",
          "llm.output_messages.0.message.role": "assistant",
          "llm.provider": "openai",
          "llm.system": "openai",
          "llm.token_count.completion": 1,
          "llm.token_count.prompt": 15,
          "llm.token_count.total": 16,
          "llmtap.time_to_first_token_ms": 100,
          "llmtap.token_count.source": "estimate",
          "openinference.span.kind": "LLM",
          "output.mime_type": "text/plain",
          "output.value": "Partial",
        },
        "endNs": 1700000000500000000n,
        "events": [
          {
            "attributes": {},
            "name": "First Token Stream Event",
            "timeNs": 1700000000100000000n,
          },
          {
            "attributes": {
              "exception.escaped": true,
              "exception.message": "Request was cancelled: the client disconnected before the response ended",
              "exception.type": "APIUserAbortError",
            },
            "name": "exception",
            "timeNs": 1700000000500000000n,
          },
        ],
        "kind": "LLM",
        "name": "OpenAI Chat Completions",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "ERROR",
        "statusMessage": "APIUserAbortError: Request was cancelled: the client disconnected before the response ended",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
    const timedOut = captured({
      request: chatRequest,
      result: {
        outcome: 'upstream_failed',
        status: 504,
        headersNs: undefined,
        error: { kind: 'timeout', code: 'UND_ERR_HEADERS_TIMEOUT', message: 'Headers Timeout Error' },
      },
    });
    expect(assembleSpan({ ...timedOut, response: undefined }, options, pricing)).toMatchInlineSnapshot(`
      {
        "attributes": {
          "http.response.status_code": 504,
          "input.mime_type": "application/json",
          "input.value": "{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}],"temperature":0}",
          "llm.input_messages.0.message.content": "Be brief.",
          "llm.input_messages.0.message.role": "system",
          "llm.input_messages.1.message.content": "Hello",
          "llm.input_messages.1.message.role": "user",
          "llm.invocation_parameters": "{"model":"gpt-4o-mini","temperature":0}",
          "llm.model_name": "gpt-4o-mini",
          "llm.provider": "openai",
          "llm.system": "openai",
          "openinference.span.kind": "LLM",
        },
        "endNs": 1700000000500000000n,
        "events": [
          {
            "attributes": {
              "exception.escaped": true,
              "exception.message": "upstream did not answer in time (Headers Timeout Error)",
              "exception.type": "APIConnectionTimeoutError",
            },
            "name": "exception",
            "timeNs": 1700000000500000000n,
          },
        ],
        "kind": "LLM",
        "name": "OpenAI Chat Completions",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "ERROR",
        "statusMessage": "APIConnectionTimeoutError: upstream did not answer in time (Headers Timeout Error)",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
  });

  it('a light span of another path (LLMTAP_RECORD_OTHER) keeps neither body nor query', () => {
    const span = assembleSpan(
      captured({ method: 'GET', url: '/v1/models?secret=1', result: { method: 'GET', path: '/v1/models?secret=1' } }),
      options,
      pricing,
    );
    expect(span).toMatchInlineSnapshot(`
      {
        "attributes": {
          "http.request.method": "GET",
          "http.response.status_code": 200,
          "url.path": "/v1/models",
        },
        "endNs": 1700000000500000000n,
        "events": [],
        "kind": "UNKNOWN",
        "name": "GET /v1/models",
        "project": "default",
        "spanId": "b7ad6b7169203331",
        "startNs": 1700000000000000000n,
        "statusCode": "OK",
        "statusMessage": "",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
      }
    `);
  });
});
