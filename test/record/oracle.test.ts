// The oracle: @arizeai/openinference-instrumentation-openai (the official instrumentation, inside the
// client process) and llmtap (from the wire) record the same calls. Every attribute the official one
// sets must be on llmtap's span with the same value, except the differences listed below, each where
// llmtap is more precise.
import { OpenAIInstrumentation } from '@arizeai/openinference-instrumentation-openai';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import * as openaiModule from 'openai';
import OpenAI from 'openai';
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import type { ResponseCreateParams } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Span } from '../../src/record/span.js';
import { eventually } from '../support/eventually.js';
import { REASONING, REPLY, servedModel } from '../support/fake-openai.js';
import { fakeAndLlmtap } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

const exporter = new InMemorySpanExporter();
const instrumentation = new OpenAIInstrumentation({
  tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
});

beforeAll(() => instrumentation.manuallyInstrument(openaiModule as never));
afterAll(() => instrumentation.disable());
const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};
const clock = { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };

/** One call of the openai client (any endpoint), made once directly and once through llmtap. */
type Call = (client: OpenAI) => PromiseLike<unknown> & { withResponse(): Promise<{ data: unknown; response: Response }> };

async function drain(result: unknown): Promise<void> {
  if (typeof result === 'object' && result !== null && Symbol.asyncIterator in result) for await (const _ of result as AsyncIterable<unknown>);
}

const direct = (): OpenAI => new OpenAI({ apiKey: 'sk-oracle', baseURL: `${servers.fake.url}/v1`, maxRetries: 0 });

/** The spans the official instrumentation ended since the last reset, once there is one (it ends them after the call returns). */
const officialSpans = (): Promise<ReadableSpan[]> =>
  eventually(() => exporter.getFinishedSpans().length > 0 && exporter.getFinishedSpans(), 'the official instrumentation ending a span');

/** The official instrumentation's span for a direct call. */
async function official(call: Call): Promise<ReadableSpan> {
  exporter.reset();
  await drain(await call(direct()));
  const [span] = await officialSpans();
  return span!;
}

/** llmtap's span for the same call through the servers.proxy. */
async function recorded(call: Call): Promise<Span> {
  const { data, response } = await call(new OpenAI({ apiKey: 'sk-oracle', baseURL: servers.proxy.baseURL, maxRetries: 0 })).withResponse();
  await drain(data);
  return waitForSpan(servers.proxy.dbPath, response.headers.get('x-llmtap-span-id')!);
}

/** Allowed differences: key → why llmtap's value differs. Anything else must be equal. */
type Differences = Record<string, string>;

const compare = (params: ChatCompletionCreateParams, differences: Differences = {}): Promise<{ theirs: ReadableSpan; ours: Span }> =>
  compareCall((c) => c.chat.completions.create(params), differences);

async function compareCall(call: Call, differences: Differences = {}): Promise<{ theirs: ReadableSpan; ours: Span }> {
  const theirs = await official(call);
  const ours = await recorded(call);
  expect(ours.name).toBe(theirs.name);
  for (const [key, value] of Object.entries(theirs.attributes)) {
    if (key in differences) {
      expect(ours.attributes[key], `${key} is listed as a difference but is equal`).not.toEqual(value);
      continue;
    }
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

/** A stream whose answer is tool calls only. */
const TOOL_STREAM_DIFFERENCES: Differences = {
  ...STREAM_DIFFERENCES,
  'output.value': 'the official span leaves it empty (Phoenix then shows no output); llmtap records the assembled message as JSON',
  'output.mime_type': 'application/json for that message, where the official span says text/plain',
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
      TOOL_STREAM_DIFFERENCES,
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
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }],
        },
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
        ...TOOL_STREAM_DIFFERENCES,
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

const weatherFn = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather',
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false },
  strict: true,
};

describe('the rest of the OpenAI API: Responses, embeddings, legacy completions', () => {
  const respond =
    (params: ResponseCreateParams): Call =>
    (c) =>
      c.responses.create(params);

  it('Responses, streaming with a function call: the same span, from response.completed and the deltas', async () => {
    const { theirs, ours } = await compareCall(respond({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools: [weatherFn], stream: true }));
    expect(theirs.status.code).toBe(1);
    expect(ours.statusCode).toBe('OK');
    const call = 'llm.output_messages.0.message.tool_calls.0.tool_call.';
    expect(ours.attributes[`${call}id`]).toBe('call_fake_0');
    expect(ours.attributes[`${call}function.name`]).toBe('get_weather');
    expect(JSON.parse(ours.attributes[`${call}function.arguments`] as string)).toMatchObject({ location: 'Paris, France' });
    expect(ours.attributes['llm.input_messages.0.message.content']).toBe('Weather in Paris?');
    expect(ours.attributes['llm.tools.0.tool.json_schema']).toBe(JSON.stringify(weatherFn));
    expect(ours.attributes['llm.token_count.prompt_details.cache_read']).toBe(3);
    expect(ours.attributes['llm.token_count.completion_details.reasoning']).toBe(2);
    // Beyond the official span: when the first argument delta reached the client.
    expect(ours.events.map((e) => e.name)).toEqual(['First Token Stream Event']);
    expect(ours.attributes['llmtap.time_to_first_token_ms']).toBeGreaterThan(0);
  });

  it('Responses, non-streaming: instructions, multi-part input, a function call and its output, a reasoning summary', async () => {
    const { theirs, ours } = await compareCall(
      respond({
        model: 'o4-mini',
        instructions: 'Be brief.',
        reasoning: { effort: 'low', summary: 'auto' },
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is in this image, and the weather?' },
              { type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'auto' },
            ],
          },
          { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"location":"Paris"}' },
          { type: 'function_call_output', call_id: 'call_1', output: '{"temp":21}' },
        ],
      }),
      {
        'output.value':
          'the official span has the JSON the openai client hands back, with its convenience field `output_text`; llmtap has the JSON the API sent',
      },
    );
    const { output_text, ...wire } = JSON.parse(theirs.attributes['output.value'] as string) as Record<string, unknown>;
    expect(output_text).toBe(REPLY);
    expect(JSON.parse(ours.attributes['output.value'] as string)).toEqual(wire);
    const a = ours.attributes;
    expect(a['llm.input_messages.0.message.role']).toBe('system');
    expect(a['llm.input_messages.0.message.content']).toBe('Be brief.');
    expect(a['llm.input_messages.1.message.contents.1.message_content.image.image.url']).toBe('https://example.com/cat.png');
    expect(a['llm.input_messages.2.message.tool_calls.0.tool_call.function.name']).toBe('get_weather');
    expect(a['llm.input_messages.3.message.role']).toBe('tool');
    expect(a['llm.input_messages.3.message.tool_call_id']).toBe('call_1');
    expect(a['llm.output_messages.0.message.contents.0.message_content.type']).toBe('reasoning');
    expect(a['llm.output_messages.0.message.contents.0.message_content.text']).toBe(REASONING);
    expect(a['llm.output_messages.1.message.contents.0.message_content.text']).toBe(REPLY);
    expect(a['llm.model_name']).toBe(servedModel('o4-mini'));
    expect(a['llm.token_count.total']).toBeGreaterThan(0);
  });

  it('embeddings, float vectors: the same span, plus token counts and invocation parameters', async () => {
    const { ours } = await compareCall((c) =>
      c.embeddings.create({ model: 'text-embedding-3-small', input: ['first text', 'second text'], encoding_format: 'float' }),
    );
    expect(ours.kind).toBe('EMBEDDING');
    expect(ours.attributes['embedding.embeddings.1.embedding.text']).toBe('second text');
    expect((ours.attributes['embedding.embeddings.1.embedding.vector'] as number[]).length).toBe(8);
    expect(ours.attributes['llm.token_count.total']).toBe(4);
    expect(JSON.parse(ours.attributes['embedding.invocation_parameters'] as string)).toEqual({ model: 'text-embedding-3-small', encoding_format: 'float' });
  });

  it('embeddings, base64 (the openai client asks for it by default): llmtap decodes the vectors as the client does', async () => {
    const { ours } = await compareCall((c) => c.embeddings.create({ model: 'text-embedding-3-small', input: 'one text' }));
    const sent = servers.fake.requests.at(-1)!;
    expect(JSON.parse(sent.body.toString()).encoding_format).toBe('base64');
    expect(ours.attributes['embedding.embeddings.0.embedding.text']).toBe('one text');
    expect(ours.attributes['input.mime_type']).toBe('text/plain');
    expect(ours.attributes['embedding.embeddings.0.embedding.vector']).toEqual(
      Array.from({ length: 8 }, (_, i) => Math.fround(('one text'.charCodeAt(i) * (i + 1)) / 1000)),
    );
  });

  it('embeddings, base64 asked for explicitly: llmtap records floats where the official span keeps the base64 string', async () => {
    const { theirs, ours } = await compareCall((c) => c.embeddings.create({ model: 'text-embedding-3-small', input: 'one text', encoding_format: 'base64' }), {
      'embedding.embeddings.0.embedding.vector':
        'the official span stores the base64 text the client returned; llmtap decodes it to the float vector the key is for',
    });
    expect(typeof theirs.attributes['embedding.embeddings.0.embedding.vector']).toBe('string');
    expect(ours.attributes['embedding.embeddings.0.embedding.vector']).toEqual(
      Array.from({ length: 8 }, (_, i) => Math.fround(('one text'.charCodeAt(i) * (i + 1)) / 1000)),
    );
  });

  it('legacy completions: the same span, plus the prompts, choices and finish reason', async () => {
    const { ours } = await compareCall((c) => c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hello', max_tokens: 20, temperature: 0 }));
    expect(ours.attributes['output.value']).toBe(REPLY);
    expect(ours.attributes['llm.prompts.0.prompt.text']).toBe('Say hello');
    expect(ours.attributes['llm.choices.0.completion.text']).toBe(REPLY);
    expect(ours.attributes['llm.finish_reason']).toBe('stop');
    expect(ours.attributes['llm.model_name']).toBe(servedModel('gpt-3.5-turbo-instruct'));
  });

  it('legacy completions, streaming: the official instrumentation ends no span; llmtap records the whole call', async () => {
    const call: Call = (c) =>
      c.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: ['One', 'Two'], stream: true, stream_options: { include_usage: true } });
    exporter.reset();
    await drain(await call(direct()));
    // A call the instrumentation does end is the barrier: a span of the stream would have ended before it.
    await direct().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'barrier' }] });
    expect((await officialSpans()).map((s) => s.name)).toEqual(['OpenAI Chat Completions']);
    const ours = await recorded(call);
    expect(ours.name).toBe('OpenAI Completions');
    expect(ours.statusCode).toBe('OK');
    expect(ours.attributes['input.value']).toBe('One');
    expect(ours.attributes['llm.prompts.1.prompt.text']).toBe('Two');
    expect(ours.attributes['output.value']).toBe(`${REPLY} (choice 0)`);
    expect(ours.attributes['llm.choices.1.completion.text']).toBe(`${REPLY} (choice 1)`);
    expect(ours.attributes['llm.model_name']).toBe(servedModel('gpt-3.5-turbo-instruct'));
    expect(ours.attributes['llm.token_count.completion']).toBeGreaterThan(0);
    expect(ours.events.map((e) => e.name)).toEqual(['First Token Stream Event']);
  });
});
