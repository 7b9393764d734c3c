// The real `llmtap` process under Realtime load: a client that stops reading while the upstream sends
// 50 MB keeps llmtap's memory bounded; 200 sessions at once all work and are all traced; SIGTERM closes
// the sessions still open with 1001 once the drain time is over.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { eventually } from '../support/eventually.js';
import { type FakeRealtime, startFakeRealtime, TEXT_REPLY } from '../support/fake-realtime.js';
import { type Spawned, spawnLlmtap } from '../support/llmtap.js';
import { wsConnection } from '../support/realtime-client.js';
import { readSpans } from '../support/spans.js';

let fake: FakeRealtime;
beforeAll(async () => {
  fake = await startFakeRealtime();
});
afterAll(() => fake.close());

const rssMb = (pid: number, field = 'VmRSS'): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const wsUrl = (llmtap: Spawned, path = '/v1/realtime?model=gpt-realtime'): string => llmtap.url.replace(/^http/, 'ws') + path;

async function stop(llmtap: Spawned): Promise<void> {
  llmtap.proc.kill('SIGTERM');
  await llmtap.exited;
}

describe('backpressure', () => {
  it('a client that stops reading while the upstream sends 50 MB of audio: llmtap pauses the upstream, its memory stays flat', async () => {
    const MESSAGES = 50;
    // Each an audio delta of about 1 MB, as the API sends them (base64 in JSON text).
    const audio = Buffer.alloc(768 * 1024, 5).toString('base64');
    const message = (i: number): string => JSON.stringify({ type: 'response.output_audio.delta', event_id: `event_${i}`, response_id: 'resp_1', delta: audio });
    let upstream: WebSocket | undefined;
    fake.handler = (ws) => {
      upstream = ws;
      for (let i = 0; i < MESSAGES; i++) ws.send(message(i));
      return true;
    };
    // A short drain: a failed assertion leaves the session open.
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_SHUTDOWN_TIMEOUT_MS: '500' });
    try {
      const idle = rssMb(llmtap.proc.pid!);
      const client = new WebSocket(wsUrl(llmtap));
      await once(client, 'open');
      client.pause();
      // Wait until the upstream is held back (or, were llmtap not to push back, done): what it still has
      // to send stops going down.
      let last = -1;
      let still = 0;
      await eventually(
        () => {
          if (!upstream) return false;
          still = upstream.bufferedAmount === last ? still + 1 : 0;
          last = upstream.bufferedAmount;
          return still >= 10;
        },
        'the upstream held back',
        20_000,
      );
      const held = rssMb(llmtap.proc.pid!);
      const sentMb = (MESSAGES * message(0).length - last) / 1024 / 1024;
      // Everything arrives, in order and intact, once the client reads again.
      const got: string[] = [];
      client.on('message', (data) => got.push(String(data)));
      client.resume();
      await eventually(() => got.length === MESSAGES, 'every message', 20_000);
      expect(got.every((m, i) => m === message(i))).toBe(true);
      const peak = rssMb(llmtap.proc.pid!, 'VmHWM');
      console.log(
        `backpressure: ${MESSAGES} × ${(message(0).length / 1048576).toFixed(2)} MiB while the client did not read; ` +
          `${sentMb.toFixed(1)} MiB had left the upstream when it was held back; llmtap RSS ${idle.toFixed(0)} MB idle, ` +
          `${held.toFixed(0)} MB held back, peak ${peak.toFixed(0)} MB`,
      );
      // Most of the 50 MB waits in the upstream: llmtap stopped reading.
      expect(last).toBeGreaterThan(25 * 1024 * 1024);
      // Without backpressure llmtap would hold what left the upstream; with it, a few MB over its idle size.
      expect(held - idle).toBeLessThan(32);
      expect(peak - idle).toBeLessThan(48);
      client.close();
      await once(client, 'close');
    } finally {
      fake.handler = undefined;
      await stop(llmtap);
    }
  });
});

describe('concurrency', () => {
  it('200 sessions at once: each gets its whole answer, each is traced', async () => {
    const SESSIONS = 200;
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '20', LLMTAP_SHUTDOWN_TIMEOUT_MS: '500' });
    try {
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: SESSIONS }, async (_, i) => {
          const c = wsConnection(wsUrl(llmtap));
          const types: string[] = [];
          let text = '';
          c.onEvent((e) => {
            types.push(e.type as string);
            if (e.type === 'session.created') {
              c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: `Hello ${i}` }] } });
              c.send({ type: 'response.create', response: { output_modalities: ['text'] } });
            }
            if (e.type === 'response.output_text.done') text = e.text as string;
            if (e.type === 'response.done') c.close(1000, `done ${i}`);
          });
          const close = await c.closed;
          return { types, text, close, i };
        }),
      );
      const ms = performance.now() - started;
      for (const a of answers) {
        expect(a.close).toEqual({ code: 1000, reason: `done ${a.i}` });
        expect(a.text).toBe(TEXT_REPLY);
        expect(a.types.at(-1)).toBe('response.done');
        expect(a.types).toEqual(answers[0]!.types);
      }
      const spans = await eventually(() => {
        const all = readSpans(llmtap.dbPath);
        return all.filter((s) => s.kind === 'CHAIN').length === SESSIONS && all;
      }, 'every session span');
      const roots = spans.filter((s) => s.kind === 'CHAIN');
      const responses = spans.filter((s) => s.name === 'OpenAI Realtime Response');
      expect(responses).toHaveLength(SESSIONS);
      expect(new Set(responses.map((s) => s.parentSpanId))).toEqual(new Set(roots.map((s) => s.spanId)));
      const inputs = new Set(responses.map((s) => s.attributes['llm.input_messages.1.message.contents.0.message_content.text']));
      expect(inputs.size).toBe(SESSIONS);
      console.log(`concurrency: ${SESSIONS} sessions at once in ${ms.toFixed(0)} ms; llmtap peak RSS ${rssMb(llmtap.proc.pid!, 'VmHWM').toFixed(0)} MB`);
    } finally {
      await stop(llmtap);
    }
  });
});

describe('shutdown', () => {
  it('SIGTERM: a session still open at the end of the drain is closed with 1001 on both sides, then recorded', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_SHUTDOWN_TIMEOUT_MS: '400' });
    const c = wsConnection(wsUrl(llmtap));
    let spanId: unknown;
    c.ws.once('upgrade', (res) => (spanId = res.headers['x-llmtap-span-id']));
    await once(c.ws, 'open');
    const upstream = fake.sessions.at(-1)!;
    const signalled = performance.now();
    llmtap.proc.kill('SIGTERM');
    expect(await c.closed).toEqual({ code: 1001, reason: 'llmtap is shutting down' });
    expect(performance.now() - signalled).toBeGreaterThanOrEqual(350);
    expect(await upstream.closed).toEqual({ code: 1001, reason: 'llmtap is shutting down' });
    expect(await llmtap.exited).toBe(0);
    const root = readSpans(llmtap.dbPath).find((s) => s.spanId === spanId)!;
    expect(root.attributes).toMatchObject({ 'llmtap.realtime.close.code': 1001, 'llmtap.realtime.close.by': 'llmtap' });
    expect(root.statusCode).toBe('OK');
  });
});
