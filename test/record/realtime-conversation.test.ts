// The storage thread's reading of a Realtime session's events, on the cases a scripted session rarely
// shows: events missed or out of order, transcripts that come late, sessions that end mid-response,
// other audio formats, the bounds; and masking of audio transcripts.
import { describe, expect, it } from 'vitest';

import { loadConfig, maskSettings } from '../../src/config.js';
import { maskAttributes, REDACTED } from '../../src/record/mask.js';
import { Conversation, type Finished, type FinishedResponse } from '../../src/record/realtime/conversation.js';

type Json = Record<string, unknown>;

function reader(limit = 1_000_000): {
  c: Conversation;
  out: Finished[];
  server: (e: Json, at?: bigint, audio?: number) => void;
  client: (e: Json, audio?: number) => void;
} {
  const out: Finished[] = [];
  const c = new Conversation(limit, (f) => out.push(f));
  let clock = 0n;
  return {
    c,
    out,
    server: (e, at, audio = 0) => c.event(e, false, at ?? ++clock, audio),
    client: (e, audio = 0) => c.event(e, true, ++clock, audio),
  };
}

const responses = (out: Finished[]): FinishedResponse[] => out.filter((f): f is FinishedResponse => f.kind === 'response');
const userAudio = (id: string): Json => ({ id, type: 'message', role: 'user', content: [{ type: 'input_audio', transcript: null }] });

describe('Conversation', () => {
  it('a response whose response.created was missed starts at its first event', () => {
    const { out, server } = reader();
    server(
      { type: 'response.output_item.added', response_id: 'r1', output_index: 0, item: { id: 'i1', type: 'message', role: 'assistant', content: [] } },
      10n,
    );
    server({ type: 'response.output_text.delta', response_id: 'r1', item_id: 'i1', output_index: 0, content_index: 0, delta: 'Hi' }, 20n);
    server({ type: 'response.done', response: { id: 'r1', status: 'completed', output: [] } }, 30n);
    const [r] = responses(out);
    expect(r).toMatchObject({ id: 'r1', startNs: 10n, endNs: 30n, firstTokenNs: 20n, done: true });
    // response.done named no output: the items assembled from the events stand in.
    expect(r!.response.output).toEqual([{ id: 'i1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi' }] }]);
  });

  it('a response waits for the transcript of its input audio, even when it comes after response.done', () => {
    const { out, server } = reader();
    server({ type: 'session.created', session: { id: 's1', model: 'm', audio: { input: { transcription: { model: 'whisper-1' } } } } });
    server({ type: 'conversation.item.added', item: userAudio('u1') });
    server({ type: 'response.created', response: { id: 'r1', status: 'in_progress', output: [] } });
    server({ type: 'response.done', response: { id: 'r1', status: 'completed', output: [] } });
    expect(out).toEqual([]);
    server({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'u1', content_index: 0, transcript: 'late words' });
    expect((responses(out)[0]!.request.input as Json[])[0]).toEqual({ ...userAudio('u1'), content: [{ type: 'input_audio', transcript: 'late words' }] });
  });

  it('a failed transcription releases the response, and counts as an error of the session', () => {
    const { c, out, server } = reader();
    server({ type: 'session.updated', session: { input_audio_transcription: { model: 'whisper-1' } } });
    server({ type: 'conversation.item.created', item: userAudio('u1') });
    server({ type: 'response.created', response: { id: 'r1' } });
    server({ type: 'response.done', response: { id: 'r1', status: 'completed', output: [] } });
    server({
      type: 'conversation.item.input_audio_transcription.failed',
      item_id: 'u1',
      content_index: 0,
      error: { type: 'transcription_error', message: 'no speech' },
    });
    expect(responses(out)).toHaveLength(1);
    expect(c.errors.map((e) => e.message)).toEqual(['no speech']);
  });

  it('end() writes the responses still running as cut short, with their output so far', () => {
    const { c, out, server } = reader();
    server({ type: 'response.created', response: { id: 'r1', status: 'in_progress', output: [] } });
    server({ type: 'response.output_audio_transcript.delta', response_id: 'r1', item_id: 'i1', output_index: 0, content_index: 0, delta: 'Half a sen' });
    c.end(99n);
    const [r] = responses(out);
    expect(r).toMatchObject({ done: false, endNs: 99n });
    expect(r!.response.output).toEqual([{ id: 'i1', type: 'message', role: 'assistant', content: [{ type: 'output_audio', transcript: 'Half a sen' }] }]);
  });

  it("a response.create the server refused is not taken for the next response's parameters", () => {
    const { out, server, client } = reader();
    client({ type: 'response.create', event_id: 'c1', response: { instructions: 'refused' } });
    server({ type: 'error', error: { type: 'invalid_request_error', message: 'bad', event_id: 'c1' } });
    client({ type: 'response.create', event_id: 'c2', response: { instructions: 'kept' } });
    server({ type: 'response.created', response: { id: 'r1' } });
    server({ type: 'response.done', response: { id: 'r1', status: 'completed', output: [] } });
    expect(responses(out)[0]!.request.instructions).toBe('kept');
  });

  it('an error event without a client event id belongs to the response running', () => {
    const { c, out, server } = reader();
    server({ type: 'response.created', response: { id: 'r1' } });
    server({ type: 'error', error: { type: 'server_error', message: 'boom' } });
    server({ type: 'response.done', response: { id: 'r1', status: 'completed', output: [] } });
    expect(responses(out)[0]!.errors.map((e) => e.message)).toEqual(['boom']);
    expect(c.errors).toEqual([]);
    expect(c.errorCount).toBe(1);
  });

  it("audio durations follow the session's formats (GA objects, beta names)", () => {
    const cases: [Json, number][] = [
      [{ audio: { output: { format: { type: 'audio/pcmu' } } } }, 8000],
      [{ output_audio_format: 'g711_alaw' }, 8000],
      [{ output_audio_format: 'pcm16' }, 48_000],
      [{ audio: { output: { format: { type: 'audio/pcm', rate: 16_000 } } } }, 32_000],
      [{}, 48_000],
    ];
    for (const [settings, bytesPerSecond] of cases) {
      const { out, server } = reader();
      server({ type: 'session.created', session: settings });
      server({ type: 'response.created', response: { id: 'r1' } });
      server({ type: 'response.output_audio.delta', response_id: 'r1', output_index: 0, content_index: 0, delta: '' }, undefined, bytesPerSecond / 2);
      server({ type: 'response.done', response: { id: 'r1', status: 'completed', output: [] } });
      expect(responses(out)[0]!.outputAudio).toEqual({ bytes: bytesPerSecond / 2, ms: 500 });
    }
  });

  it('text assembled from deltas stops at the limit, flagged truncated', () => {
    const { out, server } = reader(10);
    server({ type: 'response.created', response: { id: 'r1' } });
    for (const delta of ['12345', '67890', 'abc'])
      server({ type: 'response.output_text.delta', response_id: 'r1', item_id: 'i', output_index: 0, content_index: 0, delta });
    server({ type: 'response.done', response: { id: 'r1', status: 'incomplete' } });
    const [r] = responses(out);
    expect(r!.truncated).toBe(true);
    expect((r!.response.output as Json[])[0]).toMatchObject({ content: [{ text: '1234567890' }] });
  });

  it('keeps only recent items: input beyond its bound is dropped and the response says so', () => {
    const { out, server } = reader();
    for (let i = 0; i < 100; i++) server({ type: 'conversation.item.added', item: { id: `u${i}`, type: 'message', role: 'user', content: [] } });
    server({ type: 'response.created', response: { id: 'r1' } });
    server({ type: 'response.done', response: { id: 'r1', status: 'completed', output: [] } });
    const [r] = responses(out);
    expect((r!.request.input as Json[]).map((item) => item.id)).toEqual(Array.from({ length: 64 }, (_, i) => `u${i + 36}`));
    expect(r!.truncated).toBe(true);
  });

  it('the session settings never keep a client secret', () => {
    const { c, server } = reader();
    server({
      type: 'session.created',
      session: { id: 's1', object: 'realtime.session', model: 'm', client_secret: { value: 'ek_123', expires_at: 1 }, voice: 'alloy' },
    });
    expect(c.settings).toEqual({ model: 'm', voice: 'alloy' });
    expect(c.realtimeId).toBe('s1');
  });
});

describe('masking', () => {
  it('OPENINFERENCE_HIDE_INPUT_TEXT and _OUTPUT_TEXT redact audio transcripts too', () => {
    const mask = maskSettings(loadConfig({ OPENINFERENCE_HIDE_INPUT_TEXT: 'true', OPENINFERENCE_HIDE_OUTPUT_TEXT: 'true' }));
    const attrs = maskAttributes(mask, {
      'llm.input_messages.0.message.contents.0.message_content.audio.audio.transcript': 'heard',
      'llm.output_messages.0.message.contents.0.message_content.audio.audio.transcript': 'said',
      'llm.output_messages.0.message.contents.0.message_content.type': 'audio',
    });
    expect(attrs).toEqual({
      'llm.input_messages.0.message.contents.0.message_content.audio.audio.transcript': REDACTED,
      'llm.output_messages.0.message.contents.0.message_content.audio.audio.transcript': REDACTED,
      'llm.output_messages.0.message.contents.0.message_content.type': 'audio',
    });
  });
});
