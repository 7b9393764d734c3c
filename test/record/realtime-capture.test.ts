// What the server thread keeps of a Realtime session's messages: never the audio (only its decoded
// size), everything else byte for byte, bounded by the capture limit between two hand-overs.
import { describe, expect, it } from 'vitest';

import { MemoryBudget } from '../../src/memory-budget.js';
import type { SessionResult } from '../../src/proxy/session.js';
import { bufferOf, chunksOf } from '../../src/record/decode.js';
import { type SessionFeed, SessionRecording, type SessionStart, withoutAudio } from '../../src/record/realtime/capture.js';

const audio = Buffer.alloc(3000, 9).toString('base64'); // 4000 characters, 3000 bytes
const kept = (m: string): string => Buffer.concat(withoutAudio(Buffer.from(m)).parts).toString();

describe('withoutAudio', () => {
  it('leaves out the audio of appends, audio deltas (GA, beta, translation) and audio parts of items', () => {
    const cases: [string, string][] = [
      [`{"type":"input_audio_buffer.append","audio":"${audio}"}`, '{"type":"input_audio_buffer.append","audio":""}'],
      // Python's json.dumps puts a space after the colon; the key may come before the type.
      [`{"event_id": "e1", "audio": "${audio}", "type": "input_audio_buffer.append"}`, '{"event_id": "e1", "audio": "", "type": "input_audio_buffer.append"}'],
      [
        `{"type":"response.output_audio.delta","event_id":"event_9","response_id":"resp_1","item_id":"item_2","output_index":0,"content_index":0,"delta":"${audio}"}`,
        '{"type":"response.output_audio.delta","event_id":"event_9","response_id":"resp_1","item_id":"item_2","output_index":0,"content_index":0,"delta":""}',
      ],
      [`{"type":"response.audio.delta","response_id":"resp_1","delta":"${audio}"}`, '{"type":"response.audio.delta","response_id":"resp_1","delta":""}'],
      [`{"type":"session.output_audio.delta","delta":"${audio}"}`, '{"type":"session.output_audio.delta","delta":""}'],
      [
        `{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_audio","audio":"${audio}"},{"type":"input_audio","audio":"${audio}"}]}}`,
        '{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_audio","audio":""},{"type":"input_audio","audio":""}]}}',
      ],
    ];
    for (const [message, expected] of cases) {
      expect(kept(message)).toBe(expected);
      expect(JSON.parse(kept(message))).toBeTypeOf('object');
    }
    expect(withoutAudio(Buffer.from(cases[0]![0])).audio).toBe(3000);
    expect(withoutAudio(Buffer.from(cases[5]![0])).audio).toBe(6000);
  });

  it('counts decoded bytes, padding aside', () => {
    for (const n of [1, 2, 3, 4, 5, 4800]) {
      const b64 = Buffer.alloc(n, 1).toString('base64');
      expect(withoutAudio(Buffer.from(`{"type":"input_audio_buffer.append","audio":"${b64}"}`)).audio).toBe(n);
    }
  });

  it('keeps text deltas, settings and strings that only mention audio', () => {
    const messages = [
      '{"type":"response.output_text.delta","response_id":"resp_1","delta":"Hello"}',
      '{"type":"response.output_audio_transcript.delta","response_id":"resp_1","delta":"Hello"}',
      '{"type":"session.update","session":{"audio":{"output":{"voice":"marin"}},"output_modalities":["audio"]}}',
      '{"type":"response.content_part.added","part":{"type":"audio","transcript":""}}',
      // A key inside a string is escaped, so it is never taken for one.
      '{"type":"conversation.item.create","item":{"content":[{"type":"input_text","text":"say \\"audio\\":\\"x\\" and \\"delta\\":\\"y\\""}]}}',
      '{"delta":"not audio","type":"response.output_text.delta"}',
    ];
    for (const m of messages) {
      expect(kept(m)).toBe(m);
      expect(withoutAudio(Buffer.from(m)).audio).toBe(0);
    }
  });
});

const start: SessionStart = {
  ctx: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: '01', record: true, ignored: [] },
  path: '/v1/realtime',
  query: { model: 'gpt-realtime' },
  realtime: true,
};

describe('SessionRecording', () => {
  it('hands over what it captured once per tick, with directions, times and audio sizes, never the audio', () => {
    const feeds: SessionFeed[] = [];
    const r = new SessionRecording(start, 1024 * 1024, new MemoryBudget(1 << 30), { recordSession: (f) => feeds.push(f) }, () => {});
    r.message(true, Buffer.from(`{"type":"input_audio_buffer.append","audio":"${audio}"}`), false, 1000n);
    r.message(false, Buffer.from('{"type":"session.created"}'), false, 1500n);
    r.message(false, Buffer.from([1, 2, 3]), true, 1600n); // binary: relayed, not the API's
    expect(feeds).toHaveLength(1); // one hand-over queued, whatever the number of messages
    const part = feeds[0]!.take();
    const m = part.messages!;
    expect([...chunksOf(m)].map(([b, t]) => [b.toString(), t])).toEqual([
      ['{"type":"input_audio_buffer.append","audio":""}', 1000n],
      ['{"type":"session.created"}', 1500n],
    ]);
    expect(m.fromClient).toEqual([1, 0]);
    expect(m.audio).toEqual([3000, 0]);
    expect(m.dropped).toBe(0);
    expect(bufferOf(m).includes(audio.slice(0, 100))).toBe(false);
    // Nothing new: nothing queued; the next message queues a fresh part.
    r.message(false, Buffer.from('{"type":"x"}'), false, 2000n);
    expect(feeds).toHaveLength(2);
    expect([...chunksOf(feeds[1]!.take().messages!)].map(([b]) => b.toString())).toEqual(['{"type":"x"}']);
  });

  it('past the capture limit, whole messages are left out and counted, never cut', () => {
    const feeds: SessionFeed[] = [];
    const r = new SessionRecording(start, 64, new MemoryBudget(1 << 30), { recordSession: (f) => feeds.push(f) }, () => {});
    r.message(false, Buffer.from(`{"type":"a","text":"${'x'.repeat(30)}"}`), false, 1n); // 45 bytes
    r.message(false, Buffer.from(`{"type":"b","text":"${'y'.repeat(30)}"}`), false, 2n); // would be 90
    r.message(false, Buffer.from('{"type":"c"}'), false, 3n); // fits
    const m = feeds[0]!.take().messages!;
    expect([...chunksOf(m)].map(([b]) => JSON.parse(b.toString()).type)).toEqual(['a', 'c']);
    expect(m.dropped).toBe(1);
    expect(m.truncated).toBe(true);
  });

  it('a session llmtap refused itself is reported, not recorded', () => {
    const feeds: SessionFeed[] = [];
    const rejected: SessionResult[] = [];
    const r = new SessionRecording(start, 1024, new MemoryBudget(1 << 30), { recordSession: (f) => feeds.push(f) }, (res) => rejected.push(res));
    const result: SessionResult = {
      path: '/v1/realtime',
      startNs: 1n,
      endNs: 2n,
      status: 503,
      outcome: 'rejected',
      messages: { fromClient: 0, fromUpstream: 0, bytesFromClient: 0, bytesFromUpstream: 0 },
    };
    r.end(result);
    expect(feeds).toEqual([]);
    expect(rejected).toEqual([result]);
  });
});
