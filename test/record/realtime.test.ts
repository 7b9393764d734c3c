// Realtime sessions become traces: a root CHAIN span per session, an LLM span per response (and per input
// transcription that reports usage), with the values OpenInference's LLM spans carry, asserted key by key
// for a scripted session that has every kind of turn, in GA and beta event names.
import { once } from 'node:events';

import { calcPrice, type Usage } from '@pydantic/genai-prices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Span } from '../../src/record/span.js';
import { getJson, type PhoenixSpan, type SpanList } from '../support/api.js';
import { eventually } from '../support/eventually.js';
import { AUDIO_CHUNK, AUDIO_CHUNKS, type FakeRealtime, SPOKEN_REPLY, startFakeRealtime, TEXT_REPLY, TRANSCRIPT } from '../support/fake-realtime.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
import { converse, sdkConnection, SPOKEN, WEATHER_TOOL, wsConnection } from '../support/realtime-client.js';
import { readSpans } from '../support/spans.js';

let fake: FakeRealtime;
let proxy: InProcess;

beforeAll(async () => {
  fake = await startFakeRealtime();
  // Priced as OpenAI's (the fake's host names no provider the price data knows).
  proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10', LLMTAP_PROVIDER: 'openai' });
});
afterAll(async () => {
  await proxy.shutdown();
  await fake.close();
});

type Json = Record<string, unknown>;

const seen = new Set<string>();

/** The spans of a session's trace (the one given, else the next one), once its root (the session's span, written last) is stored. */
async function trace(traceId?: string): Promise<{ root: Span; children: Span[] }> {
  const root = await eventually(
    () => readSpans(proxy.dbPath).find((s) => s.kind === 'CHAIN' && (traceId ? s.traceId === traceId : !seen.has(s.spanId))),
    'the session span',
  );
  seen.add(root.spanId);
  const children = readSpans(proxy.dbPath).filter((s) => s.traceId === root.traceId && s.spanId !== root.spanId);
  return { root, children };
}

const wsUrl = (path = '/v1/realtime?model=gpt-realtime'): string => proxy.url.replace(/^http/, 'ws') + path;

/** The session settings the fake states once the script's session.update is in (GA). */
const GA_SETTINGS = {
  type: 'realtime',
  model: 'gpt-realtime',
  output_modalities: ['text'],
  instructions: 'You are a helpful assistant.',
  tools: [WEATHER_TOOL],
  tool_choice: 'auto',
  max_output_tokens: 'inf',
  audio: {
    input: {
      format: { type: 'audio/pcm', rate: 24000 },
      transcription: { model: 'gpt-4o-mini-transcribe' },
      turn_detection: { type: 'server_vad', threshold: 0.5 },
    },
    output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin', speed: 1 },
  },
};

/** The fake's usage for input/output tokens (audio among them), as the spans carry it. */
function tokens(input: number, inputAudio: number, output: number, outputAudio: number): Json {
  const cached = input >= 64 ? 64 : 0;
  return {
    'llm.token_count.prompt': input,
    'llm.token_count.completion': output,
    'llm.token_count.total': input + output,
    'llm.token_count.prompt_details.audio': inputAudio,
    'llm.token_count.prompt_details.cache_read': cached,
    'llm.token_count.completion_details.audio': outputAudio,
    'llmtap.token_count.prompt_details.text': input - inputAudio,
    'llmtap.token_count.prompt_details.image': 0,
    'llmtap.token_count.prompt_details.cache_read_text': cached,
    'llmtap.token_count.prompt_details.cache_read_audio': 0,
    'llmtap.token_count.completion_details.text': output - outputAudio,
    'llmtap.token_count.source': 'upstream',
  };
}

/** A span's attributes less its cost, which 'every response and transcription is priced…' asserts on its own. */
const uncosted = (span: Span): Json => Object.fromEntries(Object.entries(span.attributes).filter(([k]) => !/^(?:llm|llmtap\.realtime)\.cost\./.test(k)));

const SYSTEM = { 'llm.input_messages.0.message.role': 'system', 'llm.input_messages.0.message.content': 'You are a helpful assistant.' };

describe('a GA session through the official client', () => {
  let run: Awaited<ReturnType<typeof converse>>;
  let root: Span;
  let responses: Span[];
  let transcription: Span;
  const done = (id: string): Json => run.events.find((e) => e.type === 'response.done' && (e.response as Json).id === id)!.response as Json;

  beforeAll(async () => {
    run = await converse(sdkConnection(proxy.baseURL));
    const t = await trace();
    root = t.root;
    responses = t.children.filter((s) => s.name === 'OpenAI Realtime Response');
    transcription = t.children.find((s) => s.name === 'OpenAI Realtime Transcription')!;
    expect(t.children).toHaveLength(6);
  });

  /** The attributes every span of the session shares. */
  const common = {
    'openinference.span.kind': 'LLM',
    'llm.system': 'openai',
    'llm.provider': 'openai',
    'session.id': 'sess_fake',
    'llm.model_name': 'gpt-realtime',
  };

  /** A response span's request side: the settings in force with the response's own parameters, and its input. */
  function request(span: Span, params: Json, input: Json[]): void {
    const { input: sent, ...invocation } = JSON.parse(span.attributes['input.value'] as string) as Json;
    expect(invocation).toEqual({ ...GA_SETTINGS, ...params });
    expect(sent).toEqual(input);
    expect(JSON.parse(span.attributes['llm.invocation_parameters'] as string)).toEqual({ ...GA_SETTINGS, ...params });
  }

  it('one trace: the session span is the root, every response and transcription its child', () => {
    expect(root.name).toBe('OpenAI Realtime Session');
    expect(root.parentSpanId).toBeUndefined();
    expect(responses.map((s) => s.attributes['llmtap.realtime.response.id'])).toEqual(['resp_1', 'resp_2', 'resp_3', 'resp_4', 'resp_5']);
    for (const child of [...responses, transcription]) {
      expect(child.traceId).toBe(root.traceId);
      expect(child.parentSpanId).toBe(root.spanId);
      expect(child.startNs).toBeGreaterThanOrEqual(root.startNs);
      expect(child.endNs).toBeLessThanOrEqual(root.endNs);
    }
  });

  it('a text answer', () => {
    const s = responses[0]!;
    expect(uncosted(s)).toEqual({
      ...common,
      'input.value': expect.any(String),
      'input.mime_type': 'application/json',
      'llm.invocation_parameters': expect.any(String),
      'llm.tools.0.tool.json_schema': JSON.stringify(WEATHER_TOOL),
      ...SYSTEM,
      'llm.input_messages.1.message.role': 'user',
      'llm.input_messages.1.message.contents.0.message_content.type': 'input_text',
      'llm.input_messages.1.message.contents.0.message_content.text': 'Hello there',
      'output.value': JSON.stringify(done('resp_1')),
      'output.mime_type': 'application/json',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.contents.0.message_content.type': 'output_text',
      'llm.output_messages.0.message.contents.0.message_content.text': TEXT_REPLY,
      ...tokens(20, 0, 10, 0),
      'llmtap.realtime.response.id': 'resp_1',
      'llmtap.realtime.response.status': 'completed',
      'llmtap.time_to_first_token_ms': expect.any(Number),
    });
    request(s, {}, [
      { id: 'item_1', object: 'realtime.item', status: 'completed', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] },
    ]);
    expect(s.statusCode).toBe('OK');
    expect(s.events.map((e) => e.name)).toEqual(['First Token Stream Event']);
    const ttft = s.attributes['llmtap.time_to_first_token_ms'] as number;
    expect(ttft).toBeGreaterThan(0);
    expect(s.events[0]!.timeNs).toBe(s.startNs + BigInt(Math.round(ttft * 1e6)));
  });

  it('a function call, then its output answered in audio: transcript, audio duration and size, never the audio', () => {
    const call = responses[1]!;
    expect(uncosted(call)).toEqual({
      ...common,
      'input.value': expect.any(String),
      'input.mime_type': 'application/json',
      'llm.invocation_parameters': expect.any(String),
      'llm.tools.0.tool.json_schema': JSON.stringify(WEATHER_TOOL),
      ...SYSTEM,
      'llm.input_messages.1.message.role': 'user',
      'llm.input_messages.1.message.contents.0.message_content.type': 'input_text',
      'llm.input_messages.1.message.contents.0.message_content.text': 'What is the weather in Paris?',
      'output.value': JSON.stringify(done('resp_2')),
      'output.mime_type': 'application/json',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.tool_calls.0.tool_call.id': 'call_1',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'get_weather',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"city":"Paris"}',
      ...tokens(40, 0, 8, 0),
      'llmtap.realtime.response.id': 'resp_2',
      'llmtap.realtime.response.status': 'completed',
      'llmtap.time_to_first_token_ms': expect.any(Number),
    });
    const spoken = responses[2]!;
    expect(uncosted(spoken)).toEqual({
      ...common,
      'input.value': expect.any(String),
      'input.mime_type': 'application/json',
      'llm.invocation_parameters': expect.any(String),
      'llm.tools.0.tool.json_schema': JSON.stringify(WEATHER_TOOL),
      ...SYSTEM,
      'llm.input_messages.1.message.role': 'tool',
      'llm.input_messages.1.message.tool_call_id': 'call_1',
      'llm.input_messages.1.message.content': '{"temperature":18,"sky":"clear"}',
      'output.value': JSON.stringify(done('resp_3')),
      'output.mime_type': 'application/json',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.contents.0.message_content.type': 'audio',
      'llm.output_messages.0.message.contents.0.message_content.audio.audio.transcript': SPOKEN_REPLY,
      ...tokens(132, 13, 121, 91),
      'llmtap.realtime.response.id': 'resp_3',
      'llmtap.realtime.response.status': 'completed',
      'llmtap.realtime.output_audio.bytes': AUDIO_CHUNK.length * AUDIO_CHUNKS,
      'llmtap.realtime.output_audio.duration_ms': 300,
      'llmtap.time_to_first_token_ms': expect.any(Number),
    });
    request(spoken, { output_modalities: ['audio'] }, [
      {
        id: 'item_5',
        object: 'realtime.item',
        status: 'completed',
        type: 'function_call_output',
        call_id: 'call_1',
        output: '{"temperature":18,"sky":"clear"}',
      },
    ]);
  });

  it("the user's voice: its transcript as the input, its transcription a span of its own", () => {
    const s = responses[3]!;
    expect(s.attributes).toMatchObject({
      'llm.input_messages.1.message.role': 'user',
      'llm.input_messages.1.message.contents.0.message_content.type': 'audio',
      'llm.input_messages.1.message.contents.0.message_content.audio.audio.transcript': TRANSCRIPT,
      'llm.output_messages.0.message.contents.0.message_content.text': SPOKEN_REPLY,
      'llmtap.realtime.input_audio.duration_ms': 1000,
    });
    expect(Object.keys(s.attributes).filter((k) => k.startsWith('llm.input_messages'))).toHaveLength(5);
    request(s, { metadata: { turn: 'voice' } }, [
      { id: 'item_7', object: 'realtime.item', type: 'message', status: 'completed', role: 'user', content: [{ type: 'input_audio', transcript: TRANSCRIPT }] },
    ]);
    expect(uncosted(transcription)).toEqual({
      'openinference.span.kind': 'LLM',
      'llm.system': 'openai',
      'llm.provider': 'openai',
      'session.id': 'sess_fake',
      'llm.model_name': 'gpt-4o-mini-transcribe',
      'llm.input_messages.0.message.role': 'user',
      'llm.input_messages.0.message.contents.0.message_content.type': 'audio',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.content': TRANSCRIPT,
      'output.value': TRANSCRIPT,
      'output.mime_type': 'text/plain',
      'llm.token_count.prompt': 12,
      'llm.token_count.completion': 7,
      'llm.token_count.total': 19,
      'llm.token_count.prompt_details.audio': 12,
      'llmtap.token_count.prompt_details.text': 0,
      'llmtap.token_count.source': 'upstream',
      'llmtap.realtime.item_id': 'item_7',
      'llmtap.realtime.input_audio.duration_ms': 1000,
    });
    expect(transcription.statusCode).toBe('OK');
    expect(transcription.endNs).toBeLessThanOrEqual(s.startNs);
  });

  it('every response and transcription is priced as genai-prices prices its usage; the session adds up their cost', () => {
    const usage = (s: Span): Usage => {
      const a = s.attributes as Record<string, number | undefined>;
      return {
        input_tokens: a['llm.token_count.prompt'],
        output_tokens: a['llm.token_count.completion'],
        input_audio_tokens: a['llm.token_count.prompt_details.audio'],
        cache_read_tokens: a['llm.token_count.prompt_details.cache_read'],
        cache_audio_read_tokens: a['llmtap.token_count.prompt_details.cache_read_audio'],
        output_audio_tokens: a['llm.token_count.completion_details.audio'],
      };
    };
    let total = 0;
    for (const s of [...responses, transcription]) {
      if (s.attributes['llm.token_count.total'] === undefined) {
        expect(Object.keys(s.attributes).filter((k) => k.startsWith('llm.cost.'))).toEqual([]); // no usage, no cost
        continue;
      }
      const model = s.attributes['llm.model_name'] as string;
      const price = calcPrice(usage(s), model, { providerId: 'openai', timestamp: new Date(Number(s.startNs / 1_000_000n)) });
      expect(price, `${model} has a price`).not.toBeNull();
      expect(s.attributes['llm.cost.total'], s.name).toBe(price!.total_price);
      expect(s.attributes['llm.cost.prompt']).toBe(price!.input_price);
      expect(s.attributes['llm.cost.completion']).toBe(price!.output_price);
      total += price!.total_price;
    }
    // Audio input has a rate of its own, and shows as its own part of the prompt's cost.
    expect(responses[2]!.attributes['llm.cost.prompt_details.audio']).toBeGreaterThan(0);
    expect(root.attributes['llmtap.realtime.cost.total']).toBeCloseTo(total, 12);
    expect(root.attributes['llm.cost.total']).toBeUndefined(); // not twice in Phoenix, which adds up a trace
  });

  it('a failed response is an error span', () => {
    const s = responses[4]!;
    expect(s.statusCode).toBe('ERROR');
    expect(s.statusMessage).toBe('OpenAIRealtimeError: response failed (server_error, internal_error)');
    expect(s.attributes).toMatchObject({
      'llmtap.realtime.response.status': 'failed',
      'llm.input_messages.1.message.contents.0.message_content.text': 'please fail',
    });
    expect(s.attributes['llm.token_count.total']).toBeUndefined();
    expect(s.events.map((e) => [e.name, e.attributes['exception.type']])).toEqual([['exception', 'OpenAIRealtimeError']]);
  });

  it('the session span: model, ids, close, counts, audio, the totals of its children, and its error events', () => {
    const upstream = fake.sessions.at(-1)!;
    const clientBytes = upstream.received.reduce((n, m) => n + m.data.length, 0);
    const upstreamBytes = run.events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);
    expect(uncosted(root)).toEqual({
      'openinference.span.kind': 'CHAIN',
      'llm.system': 'openai',
      'llm.provider': 'openai',
      'llm.model_name': 'gpt-realtime',
      'url.path': '/v1/realtime',
      'http.response.status_code': 101,
      'llmtap.realtime.close.code': 4000,
      'llmtap.realtime.close.reason': 'session expired',
      'llmtap.realtime.close.by': 'upstream',
      'llmtap.realtime.session_id': 'sess_fake',
      'llm.invocation_parameters': JSON.stringify(GA_SETTINGS),
      'llmtap.realtime.responses': 5,
      'llmtap.realtime.errors': 2,
      'llmtap.realtime.client.messages': upstream.received.length,
      'llmtap.realtime.client.bytes': clientBytes,
      'llmtap.realtime.upstream.messages': run.events.length,
      'llmtap.realtime.upstream.bytes': upstreamBytes,
      'llmtap.realtime.input_audio.bytes': SPOKEN.length,
      'llmtap.realtime.input_audio.duration_ms': 1000,
      'llmtap.realtime.output_audio.bytes': AUDIO_CHUNK.length * AUDIO_CHUNKS,
      'llmtap.realtime.output_audio.duration_ms': 300,
      // The five responses and the transcription: 20+40+132+20+12 prompt, 10+8+121+10+7 completion…
      'llmtap.realtime.token_count.prompt': 224,
      'llmtap.realtime.token_count.completion': 156,
      'llmtap.realtime.token_count.total': 380,
      'llmtap.realtime.token_count.prompt_details.audio': 25,
      'llmtap.realtime.token_count.prompt_details.cache_read': 64,
      'llmtap.realtime.token_count.completion_details.audio': 91,
      'llmtap.realtime.token_count.prompt_details.text': 199,
      'llmtap.realtime.token_count.prompt_details.image': 0,
      'llmtap.realtime.token_count.prompt_details.cache_read_text': 64,
      'llmtap.realtime.token_count.prompt_details.cache_read_audio': 0,
      'llmtap.realtime.token_count.completion_details.text': 58,
      'session.id': 'sess_fake',
    });
    // The children's own counts add up to the root's totals.
    const sum = (key: string): number => [...responses, transcription].reduce((n, s) => n + ((s.attributes[key] as number | undefined) ?? 0), 0);
    expect(sum('llm.token_count.total')).toBe(root.attributes['llmtap.realtime.token_count.total']);
    expect(root.statusCode).toBe('ERROR');
    expect(root.statusMessage).toBe("invalid_request_error: Invalid value: 'bogus.event'. Supported values are: 'session.update', … (invalid_value)");
    expect(root.events.map((e) => [e.attributes['exception.type'], e.attributes['exception.escaped']])).toEqual([
      ['invalid_request_error', false],
      ['invalid_request_error', false],
    ]);
    expect(root.events[1]!.attributes['exception.message']).toBe('Your session hit the maximum duration. (session_expired)');
  });
});

describe("the viewer's read side", () => {
  it('shows a session with its responses in one trace, its fields nested where the viewer reads them', async () => {
    await converse(sdkConnection(proxy.baseURL));
    const { root } = await trace();
    const base = proxy.url;
    const { body: t } = await getJson<{ data: PhoenixSpan[] }>(`${base}/api/traces/${root.traceId}`);
    expect(t.data.map((s) => s.name)).toEqual([
      'OpenAI Realtime Session',
      'OpenAI Realtime Response',
      'OpenAI Realtime Response',
      'OpenAI Realtime Response',
      'OpenAI Realtime Transcription',
      'OpenAI Realtime Response',
      'OpenAI Realtime Response',
    ]);
    const { body: span } = await getJson<PhoenixSpan>(`${base}/api/spans/${root.spanId}`);
    expect((span.attributes.llmtap as Json).realtime).toMatchObject({
      close: { code: 4000, reason: 'session expired', by: 'upstream' },
      responses: 5,
      errors: 2,
      input_audio: { duration_ms: 1000, bytes: SPOKEN.length },
      output_audio: { duration_ms: 300 },
      token_count: { prompt: 224, completion: 156, total: 380 },
      session_id: 'sess_fake',
    });
    const { body: list } = await getJson<SpanList>(`${base}/api/spans?trace_id=${root.traceId}`);
    const previews = list.data.filter((s) => s.name === 'OpenAI Realtime Response').map((s) => [s.input_preview, s.output_preview]);
    expect(previews).toEqual([
      ['please fail', expect.stringContaining('"status":"failed"')], // no output message: the response JSON
      [TRANSCRIPT, SPOKEN_REPLY],
      ['{"temperature":18,"sky":"clear"}', SPOKEN_REPLY],
      ['What is the weather in Paris?', 'get_weather({"city":"Paris"})'],
      ['Hello there', TEXT_REPLY],
    ]);
  });
});

describe('the beta event names', () => {
  it('make the same spans: text, function call, audio transcript and size, transcription, totals', async () => {
    await converse(sdkConnection(proxy.baseURL, { beta: true }), { beta: true });
    const { root, children } = await trace();
    const responses = children.filter((s) => s.name === 'OpenAI Realtime Response');
    expect(responses).toHaveLength(5);
    expect(root.attributes['llm.model_name']).toBe('gpt-4o-realtime-preview');
    expect(responses[0]!.attributes).toMatchObject({
      'llm.output_messages.0.message.contents.0.message_content.type': 'text',
      'llm.output_messages.0.message.contents.0.message_content.text': TEXT_REPLY,
      'llmtap.time_to_first_token_ms': expect.any(Number),
    });
    expect(responses[1]!.attributes['llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments']).toBe('{"city":"Paris"}');
    expect(responses[2]!.attributes).toMatchObject({
      'llm.output_messages.0.message.contents.0.message_content.audio.audio.transcript': SPOKEN_REPLY,
      'llmtap.realtime.output_audio.bytes': AUDIO_CHUNK.length * AUDIO_CHUNKS,
      'llmtap.realtime.output_audio.duration_ms': 300,
    });
    expect(responses[3]!.attributes['llm.input_messages.1.message.contents.0.message_content.audio.audio.transcript']).toBe(TRANSCRIPT);
    expect(children.find((s) => s.name === 'OpenAI Realtime Transcription')!.attributes['llm.model_name']).toBe('whisper-1');
    expect(root.attributes['llmtap.realtime.token_count.total']).toBe(380);
    expect(root.attributes['llmtap.realtime.input_audio.duration_ms']).toBe(1000);
    expect(JSON.parse(responses[0]!.attributes['llm.invocation_parameters'] as string)).toMatchObject({
      temperature: 0.8,
      voice: 'alloy',
      modalities: ['text'],
    });
  });
});

describe('the caller’s context and choices', () => {
  it('x-llmtap-* headers apply to the whole session; traceparent makes it the caller’s child', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const c = wsConnection(wsUrl(), {
      headers: {
        authorization: 'Bearer sk-x',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        'x-llmtap-session-id': 'conversation-42',
        'x-llmtap-user-id': 'user-7',
        'x-llmtap-metadata': '{"tenant":"acme"}',
        'x-llmtap-tags': 'voice,prod',
        'x-llmtap-project': 'voice-agent',
      },
    });
    let headers: Record<string, string | string[] | undefined> = {};
    c.ws.once('upgrade', (res) => (headers = res.headers));
    c.onEvent((e) => {
      if (e.type === 'session.created') {
        c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] } });
        c.send({ type: 'response.create' });
      }
      if (e.type === 'response.done') c.close(1000);
    });
    await c.closed;
    const { root, children } = await trace(traceId);
    expect(headers['x-llmtap-trace-id']).toBe(traceId);
    expect(headers['x-llmtap-span-id']).toBe(root.spanId);
    expect(root.parentSpanId).toBe('00f067aa0ba902b7');
    expect(fake.sessions.at(-1)!.req.headers.traceparent).toBe(`00-${traceId}-${root.spanId}-01`);
    for (const s of [root, ...children]) {
      expect(s.project).toBe('voice-agent');
      expect(s.attributes).toMatchObject({
        'session.id': 'conversation-42',
        'user.id': 'user-7',
        metadata: '{"tenant":"acme"}',
        'tag.tags': ['voice', 'prod'],
      });
    }
    // The caller's session id wins; the Realtime API's stays on the root.
    expect(root.attributes['llmtap.realtime.session_id']).toBe('sess_fake');
    expect(root.attributes['llmtap.realtime.close.by']).toBe('client');
    expect(root.statusCode).toBe('OK');
  });

  it('x-llmtap-record: off records nothing', async () => {
    const before = readSpans(proxy.dbPath).length;
    const c = wsConnection(wsUrl(), { headers: { 'x-llmtap-record': 'off' } });
    const [res] = (await once(c.ws, 'upgrade')) as [{ headers: Record<string, string> }];
    expect(res.headers['x-llmtap-span-id']).toBeUndefined();
    c.close();
    await c.closed;
    // A recorded session after it is the barrier: once its span is stored, the first one's would be too.
    const barrier = wsConnection(wsUrl());
    await once(barrier.ws, 'open');
    barrier.close();
    await barrier.closed;
    await trace();
    expect(readSpans(proxy.dbPath).length).toBe(before + 1);
  });

  it('a session the upstream refused: an error span with its answer', async () => {
    const c = wsConnection(wsUrl(), { headers: { authorization: 'Bearer sk-bad' } });
    const [, res] = (await once(c.ws, 'unexpected-response')) as [unknown, { headers: Record<string, string> }];
    c.ws.terminate();
    const { root, children } = await trace(res.headers['x-llmtap-trace-id']);
    expect(children).toEqual([]);
    expect(root.statusCode).toBe('ERROR');
    expect(root.statusMessage).toBe('AuthenticationError: Incorrect API key provided: sk-bad.');
    expect(root.attributes['http.response.status_code']).toBe(401);
    expect(root.attributes['llmtap.realtime.close.code']).toBeUndefined();
  });
});

describe('responses cut short', () => {
  /** Asks for a slow answer, then `end`s it once some deltas arrived. */
  async function slow(end: (c: ReturnType<typeof wsConnection>) => void): Promise<Span[]> {
    const c = wsConnection(wsUrl());
    let deltas = 0;
    c.onEvent((e) => {
      if (e.type === 'session.created') {
        c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'slow please' }] } });
        c.send({ type: 'response.create', response: { output_modalities: ['text'] } });
      }
      if (e.type === 'response.output_text.delta' && ++deltas === 3) end(c);
      if (e.type === 'response.done') c.close();
    });
    await c.closed;
    return (await trace()).children;
  }

  it('a response the client cancels: an error span with what had streamed', async () => {
    const [s] = await slow((c) => c.send({ type: 'response.cancel' }));
    expect(s!.statusCode).toBe('ERROR');
    expect(s!.statusMessage).toBe('OpenAIRealtimeError: response cancelled (client_cancelled)');
    expect(s!.attributes).toMatchObject({ 'llmtap.realtime.response.status': 'cancelled', 'llmtap.realtime.response.status_reason': 'client_cancelled' });
    expect(String(s!.attributes['llm.output_messages.0.message.contents.0.message_content.text'])).toMatch(/^Héllo! How /);
  });

  it('a session that ends mid-response: the response is written with what had streamed', async () => {
    const [s] = await slow((c) => c.close(1000));
    expect(s!.statusCode).toBe('ERROR');
    expect(s!.statusMessage).toBe('OpenAIRealtimeError: the session ended before response.done');
    expect(s!.attributes['llmtap.realtime.response.status']).toBe('in_progress');
    expect(String(s!.attributes['llm.output_messages.0.message.contents.0.message_content.text'])).toMatch(/^Héllo! How /);
  });
});

describe('other WebSocket endpoints', () => {
  it('are relayed; with LLMTAP_RECORD_OTHER they get a light span, without it none', async () => {
    const other = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10', LLMTAP_RECORD_OTHER: '1' });
    try {
      const c = wsConnection(`${other.url.replace(/^http/, 'ws')}/v1/responses?x=secret`);
      const [res] = (await once(c.ws, 'upgrade')) as [{ headers: Record<string, string> }];
      c.close(1000);
      await c.closed;
      let span: Span | undefined;
      await expect.poll(() => (span = readSpans(other.dbPath).find((s) => s.spanId === res.headers['x-llmtap-span-id']))).toBeDefined();
      expect(span!.name).toBe('GET /v1/responses');
      expect(span!.kind).toBe('UNKNOWN');
      expect(span!.attributes).toEqual({
        'http.request.method': 'GET',
        'url.path': '/v1/responses',
        'http.response.status_code': 101,
        'llmtap.realtime.close.code': 1000,
        'llmtap.realtime.close.by': 'client',
      });
    } finally {
      await other.shutdown();
    }
    // Without it: relayed, not recorded.
    const c = wsConnection(wsUrl('/v1/responses'));
    const [res] = (await once(c.ws, 'upgrade')) as [{ headers: Record<string, string> }];
    expect(res.headers['x-llmtap-span-id']).toBeUndefined();
    c.close();
    await c.closed;
  });
});
