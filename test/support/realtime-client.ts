// Realtime clients for tests: the official `openai` package's OpenAIRealtimeWS (GA or beta) and a raw `ws`
// client, both driven through one scripted conversation after OpenAI's documented flow, recording every
// server event they get and how the session closed.
import net from 'node:net';

import OpenAI from 'openai';
import { OpenAIRealtimeWS as BetaRealtimeWS } from 'openai/beta/realtime/ws';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { type ClientOptions, WebSocket } from 'ws';

import { AUDIO_CHUNK } from './fake-realtime.js';

type Json = Record<string, unknown>;

/**
 * OpenAIRealtimeWS always dials `wss://`, even for an `http://` base URL; against a plain-HTTP server it is
 * given a plain TCP socket for that URL (what the README tells users to do).
 */
export const plainTcp = ((o: { host?: string | null; port?: number | string | null }) =>
  net.connect({ host: o.host ?? '127.0.0.1', port: Number(o.port) })) as unknown as typeof net.createConnection;

/** A connection as the script drives it. */
export interface Connection {
  send(event: Json): void;
  onEvent(listener: (event: Json) => void): void;
  close(code?: number, reason?: string): void;
  /** Resolves with the close code and reason the client saw. */
  closed: Promise<{ code: number; reason: string }>;
}

export function sdkConnection(baseURL: string, opts: { beta?: boolean; apiKey?: string; model?: string; options?: ClientOptions } = {}): Connection {
  const client = new OpenAI({ apiKey: opts.apiKey ?? 'sk-test-realtime', baseURL });
  const options = { createConnection: plainTcp, ...opts.options };
  // Both clients have the same shape; their event types differ.
  const rt = (
    opts.beta
      ? new BetaRealtimeWS({ model: opts.model ?? 'gpt-4o-realtime-preview', options }, client)
      : new OpenAIRealtimeWS({ model: opts.model ?? 'gpt-realtime', options }, client)
  ) as OpenAIRealtimeWS;
  rt.on('error', () => {}); // `error` events reach onEvent as well
  const closed = closedOf(rt.socket);
  return {
    send: (event) => rt.send(event as never),
    onEvent: (listener) => rt.on('event', (e) => listener(e as unknown as Json)),
    close: (code, reason) => rt.close(code === undefined ? undefined : { code, reason: reason ?? '' }),
    closed,
  };
}

export function wsConnection(url: string, opts: ClientOptions & { protocols?: string[] } = {}): Connection & { ws: WebSocket } {
  const ws = new WebSocket(url, opts.protocols ?? [], { headers: { authorization: 'Bearer sk-test-realtime' }, ...opts });
  const queue: string[] = [];
  ws.on('open', () => queue.splice(0).forEach((m) => ws.send(m)));
  ws.on('error', () => {});
  const closed = closedOf(ws);
  return {
    ws,
    send: (event) => (ws.readyState === WebSocket.OPEN ? ws.send(JSON.stringify(event)) : queue.push(JSON.stringify(event))),
    onEvent: (listener) => ws.on('message', (data, isBinary) => !isBinary && listener(JSON.parse(String(data)) as Json)),
    close: (code, reason) => ws.close(code, reason),
    closed,
  };
}

/** The close a socket saw (`once` would reject on an 'error' event, which precedes a failed handshake's close). */
const closedOf = (ws: WebSocket): Promise<{ code: number; reason: string }> =>
  new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: String(reason) })));

const userText = (text: string): Json => ({
  type: 'conversation.item.create',
  item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
});

export const WEATHER_TOOL = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** One second of the user's voice: 24 kHz 16-bit mono PCM, appended in two halves. */
export const SPOKEN = Buffer.alloc(48_000, 3);

/**
 * The scripted conversation: settings (text out, a tool, input transcription), a text answer, a function
 * call and its output answered in audio, the user's voice transcribed and answered, an event the server
 * rejects, a response that fails, then a request the server answers by closing the session (4000).
 * Resolves with every server event, in order, and the close.
 */
export async function converse(c: Connection, opts: { beta?: boolean } = {}): Promise<{ events: Json[]; close: { code: number; reason: string } }> {
  const events: Json[] = [];
  let done = 0;
  const session = opts.beta
    ? { modalities: ['text'], tools: [WEATHER_TOOL], input_audio_transcription: { model: 'whisper-1' } }
    : { type: 'realtime', output_modalities: ['text'], tools: [WEATHER_TOOL], audio: { input: { transcription: { model: 'gpt-4o-mini-transcribe' } } } };
  c.onEvent((e) => {
    events.push(e);
    if (e.type === 'session.created') {
      c.send({ type: 'session.update', session });
      c.send(userText('Hello there'));
      c.send({ type: 'response.create' });
    }
    if (e.type !== 'response.done') return;
    switch (++done) {
      case 1:
        c.send(userText('What is the weather in Paris?'));
        c.send({ type: 'response.create' });
        return;
      case 2:
        c.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_1', output: '{"temperature":18,"sky":"clear"}' } });
        c.send({ type: 'response.create', response: opts.beta ? { modalities: ['audio', 'text'] } : { output_modalities: ['audio'] } });
        return;
      case 3:
        c.send({ type: 'input_audio_buffer.append', audio: SPOKEN.subarray(0, 24_000).toString('base64') });
        c.send({ type: 'input_audio_buffer.append', audio: SPOKEN.subarray(24_000).toString('base64') });
        c.send({ type: 'input_audio_buffer.commit' });
        c.send({ type: 'response.create', response: { metadata: { turn: 'voice' } } });
        return;
      case 4:
        c.send({ type: 'bogus.event', event_id: 'evt_client_1' });
        c.send(userText('please fail'));
        c.send({ type: 'response.create' });
        return;
      case 5:
        c.send(userText('hang up'));
    }
  });
  const close = await c.closed;
  return { events, close };
}

/** Audio deltas are big: compare them by size. */
export const AUDIO_BASE64 = AUDIO_CHUNK.toString('base64');
