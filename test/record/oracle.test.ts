// The oracle: @arizeai/openinference-instrumentation-openai (the official instrumentation, inside the
// client process) and llmtap (from the wire) record the same calls. Every attribute the official one
// sets must be on llmtap's span with the same value, except the differences listed below, each where
// llmtap is more precise.
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import * as openaiModule from 'openai';
import OpenAI from 'openai';
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Span } from '../../src/record/span.js';
import { servedModel, startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { startLlmtap, type InProcess } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

let fake: FakeOpenAI;
let proxy: InProcess;
const exporter = new InMemorySpanExporter();
const instrumentation = new OpenAIInstrumentation({
  tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
});

beforeAll(async () => {
  instrumentation.manuallyInstrument(openaiModule as never);
  fake = await startFakeOpenAI();
  proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });
});
afterAll(async () => {
  instrumentation.disable();
  await proxy.shutdown();
  await fake.close();
});

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};
const clock = { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

/** The official instrumentation's span for a direct call. */
async function official(params: ChatCompletionCreateParams): Promise<ReadableSpan> {
  exporter.reset();
  const client = new OpenAI({ apiKey: 'sk-oracle', baseURL: `${fake.url}/v1`, maxRetries: 0 });
  const result = await client.chat.completions.create(params);
  if (params.stream) for await (const _ of result as AsyncIterable<unknown>);
  for (let i = 0; i < 100 && exporter.getFinishedSpans().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const [span] = exporter.getFinishedSpans();
  expect(span, 'the official instrumentation exported a span').toBeDefined();
  return span!;
}

/** llmtap's span for the same call through the proxy. */
async function recorded(params: ChatCompletionCreateParams): Promise<Span> {
  const client = new OpenAI({ apiKey: 'sk-oracle', baseURL: proxy.baseURL, maxRetries: 0 });
  const { data, response } = await client.chat.completions.create(params).withResponse();
  if (params.stream) for await (const _ of data as AsyncIterable<unknown>);
  return waitForSpan(proxy.dbPath, response.headers.get('x-llmtap-span-id')!);
}

/** Allowed differences: key → why llmtap's value differs. Anything else must be equal. */
type Differences = Record<string, string>;

async function compare(params: ChatCompletionCreateParams, differences: Differences = {}): Promise<{ theirs: ReadableSpan; ours: Span }> {
  const theirs = await official(params);
  const ours = await recorded(params);
  expect(ours.name).toBe(theirs.name);
  for (const [key, value] of Object.entries(theirs.attributes)) {
    if (key in differences) continue;
    expect(ours.attributes, `llmtap lacks ${key}`).toHaveProperty([key]);
    if (key === 'output.value' && theirs.attributes['output.mime_type'] === 'application/json') {
      expect(JSON.parse(ours.attributes[key] as string), key).toEqual(JSON.parse(value as string));
    } else {
      expect(ours.attributes[key], key).toEqual(value);
    }
  }
  return { theirs, ours };
}

const STREAM_DIFFERENCES: Differences = {
  'llm.model_name': 'the official stream span names the requested model; llmtap names the model the response reports',
};

describe('llmtap records what the official OpenInference instrumentation records', () => {
  it('non-streaming', async () => {
    const { theirs, ours } = await compare({
      model: 'gpt-4o-mini',
      temperature: 0.2,
      max_tokens: 50,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello', name: 'ana' },
      ],
    });
    expect(theirs.status.code).toBe(1);
    expect(ours.statusCode).toBe('OK');
    expect(ours.attributes['llm.token_count.total']).toBeGreaterThan(0);
    // Beyond the JS instrumentation (as the Python one does): the message author's name.
    expect(ours.attributes['llm.input_messages.1.message.name']).toBe('ana');
  });

  it('streaming with usage: llmtap also records the token counts the official span lacks', async () => {
    const { theirs, ours } = await compare(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }], stream: true, stream_options: { include_usage: true } },
      STREAM_DIFFERENCES,
    );
    expect(theirs.attributes['llm.token_count.total']).toBeUndefined();
    expect(theirs.attributes['llm.model_name']).toBe('gpt-4o-mini');
    expect(ours.attributes['llm.model_name']).toBe(servedModel('gpt-4o-mini'));
    for (const key of [
      'llm.token_count.prompt',
      'llm.token_count.completion',
      'llm.token_count.total',
      'llm.token_count.prompt_details.cache_read',
      'llm.token_count.prompt_details.audio',
      'llm.token_count.completion_details.reasoning',
      'llm.token_count.completion_details.audio',
    ]) {
      expect(typeof ours.attributes[key], key).toBe('number');
    }
    // The official stream span leaves the status unset; llmtap knows the call succeeded.
    expect(theirs.status.code).toBe(0);
    expect(ours.statusCode).toBe('OK');
    expect(ours.events.map((e) => e.name)).toContain('First Token Stream Event');
    expect(ours.attributes['llmtap.time_to_first_token_ms']).toBeGreaterThan(0);
  });

  it('streaming tool call', async () => {
    const { ours } = await compare(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather], stream: true },
      STREAM_DIFFERENCES,
    );
    expect(ours.attributes['llm.output_messages.0.message.tool_calls.0.tool_call.function.name']).toBe('get_weather');
    expect(JSON.parse(ours.attributes['llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments'] as string)).toMatchObject({
      location: 'Paris, France',
    });
    expect(ours.attributes['llm.finish_reason']).toBe('tool_calls');
  });

  it('non-streaming tool call, with a tool result in the history', async () => {
    const { ours } = await compare({
      model: 'gpt-4o-mini',
      tools: [weather, clock],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      ],
    });
    expect(ours.attributes['llm.input_messages.2.message.tool_call_id']).toBe('call_1');
    expect(ours.attributes['llm.input_messages.1.message.tool_calls.0.tool_call.function.name']).toBe('get_weather');
    expect(ours.attributes['llm.output_messages.0.message.tool_calls.1.tool_call.function.name']).toBe('get_time');
  });

  it('multi-part user content', async () => {
    const { ours } = await compare({
      model: 'gpt-4o-mini',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this image?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          ],
        },
      ],
    });
    expect(ours.attributes['llm.input_messages.0.message.contents.1.message_content.image.image.url']).toBe('https://example.com/cat.png');
  });

  it('n=2, non-streaming: llmtap keeps every choice', async () => {
    const { theirs, ours } = await compare({ model: 'gpt-4o-mini', n: 2, messages: [{ role: 'user', content: 'Two answers' }] });
    expect(theirs.attributes['llm.output_messages.1.message.content']).toBeUndefined();
    expect(ours.attributes['llm.output_messages.1.message.content']).toContain('(choice 1)');
  });

  it('n=2, streaming: llmtap keeps the choices apart where the official span interleaves them', async () => {
    const { theirs, ours } = await compare(
      { model: 'gpt-4o-mini', n: 2, messages: [{ role: 'user', content: 'Two answers' }], stream: true },
      {
        ...STREAM_DIFFERENCES,
        'output.value': "the official span concatenates every chunk's choices[0] whatever its index, mixing both answers; llmtap's is choice 0's text",
        'llm.output_messages.0.message.content': 'the same mix in the official span',
      },
    );
    expect(theirs.attributes['output.value']).toContain('(choice 1)');
    expect(ours.attributes['output.value']).toContain('(choice 0)');
    expect(ours.attributes['output.value']).not.toContain('(choice 1)');
    expect(ours.attributes['llm.output_messages.1.message.content']).toContain('(choice 1)');
  });

  it('parallel tool calls, streaming: llmtap keeps the calls apart where the official span merges them', async () => {
    const { theirs, ours } = await compare(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather and time?' }], tools: [weather, clock], stream: true },
      {
        ...STREAM_DIFFERENCES,
        'llm.output_messages.0.message.tool_calls.0.tool_call.id':
          'the official span keys deltas by their position in the chunk, not their index, so parallel calls merge into one',
        'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'the same merge in the official span',
        'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': 'the same merge in the official span',
      },
    );
    expect(theirs.attributes['llm.output_messages.0.message.tool_calls.0.tool_call.function.name']).toBe('get_weatherget_time');
    expect(ours.attributes['llm.output_messages.0.message.tool_calls.0.tool_call.id']).toBe('call_fake_0');
    expect(ours.attributes['llm.output_messages.0.message.tool_calls.0.tool_call.function.name']).toBe('get_weather');
    expect(ours.attributes['llm.output_messages.0.message.tool_calls.1.tool_call.id']).toBe('call_fake_1');
    expect(ours.attributes['llm.output_messages.0.message.tool_calls.1.tool_call.function.name']).toBe('get_time');
  });
});
