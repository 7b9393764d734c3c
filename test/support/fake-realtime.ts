// A fake OpenAI Realtime API: a `ws` server scripted after OpenAI's documented event flow, with the GA
// event names, or the beta ones when the client sends `OpenAI-Beta: realtime=v1` (or the browser's
// `openai-beta.realtime-v1` subprotocol). Ids are counters per connection (event_1, item_1, resp_1…), so a
// session driven the same way directly and through llmtap gets the same events, byte for byte.
//
//   session.update             → session.updated (settings merged in)
//   conversation.item.create   → conversation.item.added + .done (beta: .created)
//   input_audio_buffer.append  → (kept)
//   input_audio_buffer.commit  → input_audio_buffer.committed, the user's audio item; when the session
//                                transcribes, input_audio_transcription.delta and .completed (with usage)
//   response.create            → a response answering the last user item:
//                                  tools given and "weather" asked → a function call (arguments in deltas)
//                                  after a function_call_output    → a text answer that uses it
//                                  audio among the modalities      → an audio transcript and audio deltas
//                                  "fail"                           → response.done with status failed
//                                  "slow"                           → text deltas every 20 ms until response.cancel
//                                  otherwise                        → text deltas
//   "hang up" as user text     → an `error` event, then the server closes with 4000 (as when a session expires)
//   an unknown event type      → an `error` event naming the client's event
//   a binary message           → echoed
// `Authorization: Bearer sk-bad` or the subprotocol key `sk-bad` is refused with OpenAI's 401. Over plain
// HTTP it hands out ephemeral keys, as `POST /v1/realtime/client_secrets` (GA: `value`) and the beta's
// `POST /v1/realtime/sessions` (`client_secret.value`) do.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { type RawData, WebSocket, WebSocketServer } from 'ws';

export const MODEL = 'gpt-realtime';
export const BETA_MODEL = 'gpt-4o-realtime-preview';
export const TEXT_REPLY = 'Héllo! How can I help? 👋';
export const WEATHER = '{"temperature":18,"sky":"clear"}';
export const TRANSCRIPT = 'And what about tomorrow?';
export const SPOKEN_REPLY = 'It is sunny in Paris.';
/** Each audio delta of a spoken answer: 100 ms of 24 kHz 16-bit mono PCM. */
export const AUDIO_CHUNK = Buffer.alloc(4800, 7);
export const AUDIO_CHUNKS = 3;
/** The ephemeral key the REST endpoints hand out. */
export const EPHEMERAL_KEY = 'ek_68af2c1d9e5c4a7b_EPHEMERALSECRET0001';

type Json = Record<string, unknown>;

export interface FakeSession {
  req: IncomingMessage;
  ws: WebSocket;
  beta: boolean;
  /** Every message the fake received, as received. */
  received: { data: Buffer; isBinary: boolean }[];
  /** Resolves with the close the fake saw. */
  closed: Promise<{ code: number; reason: string }>;
}

export interface FakeRealtime {
  /** http://127.0.0.1:port — what LLMTAP_UPSTREAM_URL takes. */
  url: string;
  sessions: FakeSession[];
  /** Takes over a new connection instead of the script when it returns true. */
  handler: ((ws: WebSocket, req: IncomingMessage) => boolean) | undefined;
  close(): Promise<void>;
}

const INVALID_KEY = JSON.stringify({
  error: { message: 'Incorrect API key provided: sk-bad.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
});

const isBeta = (req: IncomingMessage): boolean =>
  req.headers['openai-beta'] === 'realtime=v1' || (req.headers['sec-websocket-protocol'] ?? '').includes('openai-beta.realtime-v1');

/** The Realtime API's REST side: ephemeral keys for browsers and phones. */
function rest(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const json = (status: number, body: Json): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const session = { type: 'realtime', object: 'realtime.session', id: 'sess_ephemeral', model: MODEL, output_modalities: ['audio'] };
  if (req.method === 'POST' && req.url === '/v1/realtime/client_secrets') return json(200, { value: EPHEMERAL_KEY, expires_at: 1_900_000_600, session });
  if (req.method === 'POST' && req.url === '/v1/realtime/sessions') {
    return json(200, {
      id: 'sess_ephemeral',
      object: 'realtime.session',
      model: BETA_MODEL,
      client_secret: { value: EPHEMERAL_KEY, expires_at: 1_900_000_600 },
    });
  }
  json(404, { error: { message: `Unknown request URL: ${req.method} ${req.url}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
}

export async function startFakeRealtime(): Promise<FakeRealtime> {
  const server = createServer(rest);
  const wss = new WebSocketServer({
    server,
    handleProtocols: (offered) => (offered.has('realtime') ? 'realtime' : false),
    verifyClient: ({ req }, done) => {
      const key = req.headers.authorization ?? req.headers['sec-websocket-protocol'] ?? '';
      if (key.includes('sk-bad')) done(false, 401, INVALID_KEY, { 'Content-Type': 'application/json', 'X-Request-Id': 'req_refused' });
      else done(true);
    },
  });
  // The API's answers carry a request id; llmtap must pass it on with its own handshake.
  wss.on('headers', (headers) => headers.push('X-Request-Id: req_fake'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const fake: FakeRealtime = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions: [],
    handler: undefined,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  wss.on('connection', (ws, req) => {
    const session: FakeSession = {
      req,
      ws,
      beta: isBeta(req),
      received: [],
      closed: new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    };
    fake.sessions.push(session);
    ws.on('message', (data: RawData, isBinary) => session.received.push({ data: data as Buffer, isBinary }));
    ws.on('error', () => {});
    if (fake.handler?.(ws, req)) return;
    new Script(session).start();
  });
  return fake;
}

/** One scripted session. */
class Script {
  readonly #ws: WebSocket;
  readonly #beta: boolean;
  #events = 0;
  #items = 0;
  #responses = 0;
  #settings: Json;
  #audio = 0;
  /** Conversation items, in order. */
  readonly #conversation: Json[] = [];
  /** Ends the slow response running, as cancelled. */
  #cancelSlow: (() => void) | undefined;

  constructor(private readonly session: FakeSession) {
    this.#ws = session.ws;
    this.#beta = session.beta;
    const model = new URL(session.req.url ?? '/', 'http://x').searchParams.get('model') ?? (this.#beta ? BETA_MODEL : MODEL);
    this.#settings = this.#beta
      ? {
          id: 'sess_fake',
          object: 'realtime.session',
          model,
          expires_at: 1_900_000_000,
          modalities: ['text', 'audio'],
          instructions: 'You are a helpful assistant.',
          voice: 'alloy',
          input_audio_format: 'pcm16',
          output_audio_format: 'pcm16',
          input_audio_transcription: null,
          turn_detection: { type: 'server_vad', threshold: 0.5 },
          tools: [],
          tool_choice: 'auto',
          temperature: 0.8,
          max_response_output_tokens: 'inf',
        }
      : {
          type: 'realtime',
          object: 'realtime.session',
          id: 'sess_fake',
          model,
          expires_at: 1_900_000_000,
          output_modalities: ['audio'],
          instructions: 'You are a helpful assistant.',
          tools: [],
          tool_choice: 'auto',
          max_output_tokens: 'inf',
          audio: {
            input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: null, turn_detection: { type: 'server_vad', threshold: 0.5 } },
            output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin', speed: 1 },
          },
        };
  }

  start(): void {
    this.#send({ type: 'session.created', session: this.#settings });
    this.#ws.on('message', (data: RawData, isBinary) => {
      if (isBinary) return this.#ws.send(data, { binary: true });
      let event: Json;
      try {
        event = JSON.parse(String(data)) as Json;
      } catch {
        return this.#error('invalid_json', 'We could not parse the JSON body of your request.');
      }
      this.#client(event);
    });
  }

  #send(event: Json): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ type: event.type, event_id: `event_${++this.#events}`, ...event }));
  }

  #error(code: string, message: string, about?: unknown): void {
    this.#send({ type: 'error', error: { type: 'invalid_request_error', code, message, param: null, event_id: about ?? null } });
  }

  #name(ga: string, beta: string): string {
    return this.#beta ? beta : ga;
  }

  #client(e: Json): void {
    switch (e.type) {
      case 'session.update':
        this.#settings = merge(this.#settings, (e.session ?? {}) as Json);
        return this.#send({ type: 'session.updated', session: this.#settings });
      case 'conversation.item.create': {
        const item = { id: `item_${++this.#items}`, object: 'realtime.item', status: 'completed', ...(e.item as Json) };
        if (text(item) === 'hang up') {
          this.#send({ type: 'error', error: { type: 'invalid_request_error', code: 'session_expired', message: 'Your session hit the maximum duration.' } });
          return this.#ws.close(4000, 'session expired');
        }
        return this.#added(item);
      }
      case 'input_audio_buffer.append':
        this.#audio += Buffer.from(String(e.audio), 'base64').length;
        return;
      case 'input_audio_buffer.commit':
        return this.#commit();
      case 'response.create':
        return this.#respond((e.response ?? {}) as Json);
      case 'response.cancel':
        return this.#cancel();
      default:
        return this.#error('invalid_value', `Invalid value: '${String(e.type)}'. Supported values are: 'session.update', …`, e.event_id);
    }
  }

  #added(item: Json): void {
    this.#conversation.push(item);
    const previous = this.#conversation.at(-2)?.id ?? null;
    if (this.#beta) this.#send({ type: 'conversation.item.created', previous_item_id: previous, item });
    else {
      this.#send({ type: 'conversation.item.added', previous_item_id: previous, item });
      this.#send({ type: 'conversation.item.done', previous_item_id: previous, item });
    }
  }

  /** A response's output item joins the conversation too. */
  #output(item: Json): void {
    const previous = this.#conversation.at(-1)?.id ?? null;
    this.#conversation.push(item);
    this.#send({ type: this.#name('conversation.item.added', 'conversation.item.created'), previous_item_id: previous, item });
  }

  #commit(): void {
    // As the API: less than 100 ms of audio is not a turn.
    if (this.#audio < AUDIO_CHUNK.length) return this.#error('input_audio_buffer_commit_empty', 'Error committing input audio buffer: buffer too small.');
    const id = `item_${++this.#items}`;
    this.#send({ type: 'input_audio_buffer.committed', previous_item_id: this.#conversation.at(-1)?.id ?? null, item_id: id });
    this.#audio = 0;
    const item: Json = {
      id,
      object: 'realtime.item',
      type: 'message',
      status: 'completed',
      role: 'user',
      content: [{ type: 'input_audio', transcript: null }],
    };
    this.#added(item);
    const audio = this.#settings.audio as Json | undefined;
    const transcription = this.#beta ? this.#settings.input_audio_transcription : (audio?.input as Json | undefined)?.transcription;
    if (!transcription) return;
    const ids = { item_id: id, content_index: 0 };
    this.#send({ type: 'conversation.item.input_audio_transcription.delta', ...ids, delta: 'And what about ' });
    this.#send({ type: 'conversation.item.input_audio_transcription.delta', ...ids, delta: 'tomorrow?' });
    (item.content as Json[])[0]!.transcript = TRANSCRIPT;
    this.#send({
      type: 'conversation.item.input_audio_transcription.completed',
      ...ids,
      transcript: TRANSCRIPT,
      usage: { type: 'tokens', input_tokens: 12, output_tokens: 7, total_tokens: 19, input_token_details: { text_tokens: 0, audio_tokens: 12 } },
    });
  }

  #respond(params: Json): void {
    const id = `resp_${++this.#responses}`;
    const modalities = (params.output_modalities ?? params.modalities ?? this.#settings.output_modalities ?? this.#settings.modalities) as string[];
    const tools = (params.tools ?? this.#settings.tools) as unknown[];
    const last = this.#conversation.at(-1);
    const asked = last ? (text(last) ?? '') : '';
    const response = (status: string, output: Json[], extra: Json = {}): Json => ({
      object: 'realtime.response',
      id,
      status,
      status_details: null,
      output,
      conversation_id: 'conv_fake',
      ...(this.#beta ? { modalities, voice: 'alloy', output_audio_format: 'pcm16', temperature: 0.8 } : { output_modalities: modalities }),
      max_output_tokens: 'inf',
      metadata: params.metadata ?? null,
      usage: null,
      ...extra,
    });
    this.#send({ type: 'response.created', response: response('in_progress', []) });
    if (asked.includes('fail')) {
      return this.#send({
        type: 'response.done',
        response: response('failed', [], { status_details: { type: 'failed', error: { type: 'server_error', code: 'internal_error' } } }),
      });
    }
    const itemId = `item_${++this.#items}`;
    const ids = { response_id: id, item_id: itemId, output_index: 0 };
    if (last?.type !== 'function_call_output' && tools.length > 0 && asked.includes('weather')) {
      const call: Json = {
        id: itemId,
        object: 'realtime.item',
        type: 'function_call',
        status: 'in_progress',
        name: 'get_weather',
        call_id: 'call_1',
        arguments: '',
      };
      this.#send({ type: 'response.output_item.added', response_id: id, output_index: 0, item: call });
      this.#output(call);
      this.#send({ type: 'response.function_call_arguments.delta', ...ids, call_id: 'call_1', delta: '{"city":' });
      this.#send({ type: 'response.function_call_arguments.delta', ...ids, call_id: 'call_1', delta: '"Paris"}' });
      this.#send({ type: 'response.function_call_arguments.done', ...ids, call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' });
      Object.assign(call, { status: 'completed', arguments: '{"city":"Paris"}' });
      this.#send({ type: 'response.output_item.done', response_id: id, output_index: 0, item: call });
      return this.#send({ type: 'response.done', response: response('completed', [call], { usage: usage(40, 0, 8, 0) }) });
    }
    const audio = modalities.includes('audio');
    const reply = last?.type === 'function_call_output' || asked === TRANSCRIPT ? SPOKEN_REPLY : TEXT_REPLY;
    const partType = audio ? this.#name('output_audio', 'audio') : this.#name('output_text', 'text');
    const field = audio ? 'transcript' : 'text';
    const message: Json = { id: itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    this.#send({ type: 'response.output_item.added', response_id: id, output_index: 0, item: message });
    this.#output(message);
    this.#send({ type: 'response.content_part.added', ...ids, content_index: 0, part: { type: partType, [field]: '' } });
    const deltas = audio
      ? this.#name('response.output_audio_transcript.delta', 'response.audio_transcript.delta')
      : this.#name('response.output_text.delta', 'response.text.delta');
    const finish = (): void => {
      const part = { type: partType, [field]: reply };
      if (audio) {
        for (let i = 0; i < AUDIO_CHUNKS; i++) {
          this.#send({
            type: this.#name('response.output_audio.delta', 'response.audio.delta'),
            ...ids,
            content_index: 0,
            delta: AUDIO_CHUNK.toString('base64'),
          });
        }
        this.#send({ type: this.#name('response.output_audio.done', 'response.audio.done'), ...ids, content_index: 0 });
        this.#send({
          type: this.#name('response.output_audio_transcript.done', 'response.audio_transcript.done'),
          ...ids,
          content_index: 0,
          transcript: reply,
        });
      } else this.#send({ type: this.#name('response.output_text.done', 'response.text.done'), ...ids, content_index: 0, text: reply });
      this.#send({ type: 'response.content_part.done', ...ids, content_index: 0, part });
      Object.assign(message, { status: 'completed', content: [part] });
      this.#send({ type: 'response.output_item.done', response_id: id, output_index: 0, item: message });
      this.#send({ type: 'response.done', response: response('completed', [message], { usage: audio ? usage(132, 13, 121, 91) : usage(20, 0, 10, 0) }) });
    };
    const words = reply.split(/(?<= )/);
    if (!asked.includes('slow')) {
      for (const w of words) this.#send({ type: deltas, ...ids, content_index: 0, delta: w });
      return finish();
    }
    // A slow answer, a word every 20 ms, until the client cancels it.
    let sent = '';
    let n = 0;
    const timer = setInterval(() => {
      const w = words[n++ % words.length]!;
      sent += w;
      this.#send({ type: deltas, ...ids, content_index: 0, delta: w });
    }, 20);
    this.#ws.once('close', () => clearInterval(timer));
    this.#cancelSlow = () => {
      clearInterval(timer);
      const part = { type: partType, [field]: sent };
      Object.assign(message, { status: 'incomplete', content: [part] });
      this.#send({ type: 'response.output_item.done', response_id: id, output_index: 0, item: message });
      this.#send({
        type: 'response.done',
        response: response('cancelled', [message], { status_details: { type: 'cancelled', reason: 'client_cancelled' }, usage: usage(20, 0, 2, 0) }),
      });
    };
  }

  #cancel(): void {
    const cancel = this.#cancelSlow;
    if (!cancel) return this.#error('response_cancel_not_active', 'Cancellation failed: no active response found');
    this.#cancelSlow = undefined;
    cancel();
  }
}

/** OpenAI's usage object: input and output tokens, audio among them, some input cached. */
function usage(input: number, inputAudio: number, output: number, outputAudio: number): Json {
  const cached = input >= 64 ? 64 : 0;
  return {
    total_tokens: input + output,
    input_tokens: input,
    output_tokens: output,
    input_token_details: {
      text_tokens: input - inputAudio,
      audio_tokens: inputAudio,
      image_tokens: 0,
      cached_tokens: cached,
      cached_tokens_details: { text_tokens: cached, audio_tokens: 0, image_tokens: 0 },
    },
    output_token_details: { text_tokens: output - outputAudio, audio_tokens: outputAudio },
  };
}

/** The text of a user item: its text parts, or an audio part's transcript. */
function text(item: Json): string | undefined {
  const parts = Array.isArray(item.content) ? (item.content as Json[]) : [];
  const found = parts.map((p) => p.text ?? p.transcript).find((t) => typeof t === 'string');
  return typeof found === 'string' ? found : typeof item.output === 'string' ? item.output : undefined;
}

function merge(into: Json, from: Json): Json {
  const out: Json = { ...into };
  for (const [k, v] of Object.entries(from)) {
    const before = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && before && typeof before === 'object' && !Array.isArray(before) ? merge(before as Json, v as Json) : v;
  }
  return out;
}
