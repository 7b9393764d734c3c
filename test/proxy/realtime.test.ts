// The Realtime API through llmtap: WebSocket sessions relayed byte for byte. The official client (GA and
// beta) and a raw `ws` client see the same events through llmtap as directly, and the upstream receives
// the same messages; message types and bytes, pings, pongs and close codes cross both ways; a refusal
// reaches the client as the upstream's own answer; llmtap's own refusals are clear.
import { once } from 'node:events';
import { request } from 'node:http';
import { type AddressInfo, createServer, type Server } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { AUDIO_CHUNK, AUDIO_CHUNKS, type FakeRealtime, startFakeRealtime } from '../support/fake-realtime.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
import { scrape } from '../support/prometheus.js';
import { converse, sdkConnection, wsConnection } from '../support/realtime-client.js';

const MAX_MESSAGE = 1024 * 1024;

let fake: FakeRealtime;
let proxy: InProcess;

beforeAll(async () => {
  fake = await startFakeRealtime();
  proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_MAX_BODY_BYTES: String(MAX_MESSAGE) });
});
afterAll(async () => {
  await proxy.shutdown();
  await fake.close();
});

const wsUrl = (base: string, path = '/v1/realtime?model=gpt-realtime'): string => base.replace(/^http/, 'ws') + path;

/** What the upstream received in its latest session: the messages as bytes with their type. */
const receivedBytes = (): { data: string; isBinary: boolean }[] =>
  fake.sessions.at(-1)!.received.map((m) => ({ data: m.data.toString('base64'), isBinary: m.isBinary }));

/** Opens a raw `ws` session through llmtap and waits until both legs are up. */
async function open(path?: string, opts: Parameters<typeof wsConnection>[1] = {}) {
  const c = wsConnection(wsUrl(proxy.url, path), opts);
  await once(c.ws, 'open');
  return { c, upstream: fake.sessions.at(-1)! };
}

describe('the same session, directly and through llmtap', () => {
  it('the official client (GA): same events, same messages upstream, same close', async () => {
    const direct = await converse(sdkConnection(`${fake.url}/v1`));
    const directReceived = receivedBytes();
    const proxied = await converse(sdkConnection(proxy.baseURL));
    expect(proxied).toEqual(direct);
    expect(receivedBytes()).toEqual(directReceived);
    // The script ran to its end: every kind of event happened.
    const types = new Set(proxied.events.map((e) => e.type));
    for (const t of [
      'response.output_text.delta',
      'response.function_call_arguments.done',
      'response.output_audio.delta',
      'response.output_audio_transcript.done',
      'conversation.item.input_audio_transcription.completed',
      'error',
    ]) {
      expect(types).toContain(t);
    }
    expect(proxied.events.filter((e) => e.type === 'response.done')).toHaveLength(5);
    expect(proxied.close).toEqual({ code: 4000, reason: 'session expired' });
    const audio = proxied.events.filter((e) => e.type === 'response.output_audio.delta').map((e) => e.delta);
    expect(audio).toEqual(Array(AUDIO_CHUNKS).fill(AUDIO_CHUNK.toString('base64')));
  });

  it('the official beta client: same events, beta names, `OpenAI-Beta` passed on', async () => {
    const direct = await converse(sdkConnection(`${fake.url}/v1`, { beta: true }), { beta: true });
    const directReceived = receivedBytes();
    const proxied = await converse(sdkConnection(proxy.baseURL, { beta: true }), { beta: true });
    expect(proxied).toEqual(direct);
    expect(receivedBytes()).toEqual(directReceived);
    expect(fake.sessions.at(-1)!.req.headers['openai-beta']).toBe('realtime=v1');
    const types = new Set(proxied.events.map((e) => e.type));
    for (const t of ['response.text.delta', 'response.audio.delta', 'response.audio_transcript.done', 'conversation.item.created']) expect(types).toContain(t);
  });

  it('a raw ws client: same events; the upgrade keeps its path, query and end-to-end headers', async () => {
    const headers = { authorization: 'Bearer sk-raw', 'openai-organization': 'org-x', 'x-custom': 'kept', 'x-llmtap-session-id': 'mine' };
    const direct = await converse(wsConnection(wsUrl(fake.url), { headers }));
    const directReq = fake.sessions.at(-1)!.req;
    const directReceived = receivedBytes();
    const proxied = await converse(wsConnection(wsUrl(proxy.url), { headers }));
    const req = fake.sessions.at(-1)!.req;
    expect(proxied).toEqual(direct);
    expect(receivedBytes()).toEqual(directReceived);
    expect(req.url).toBe('/v1/realtime?model=gpt-realtime');
    expect(req.headers).toMatchObject({ authorization: 'Bearer sk-raw', 'openai-organization': 'org-x', 'x-custom': 'kept' });
    expect(req.headers['x-llmtap-session-id']).toBeUndefined();
    expect(directReq.headers['x-llmtap-session-id']).toBe('mine');
    // llmtap's session span is the parent of whatever the upstream traces.
    expect(req.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});

describe('messages and control frames', () => {
  it('text and binary messages keep their type and bytes both ways', async () => {
    const { c, upstream } = await open();
    const got: { data: Buffer; isBinary: boolean }[] = [];
    c.ws.on('message', (data: Buffer, isBinary) => got.push({ data, isBinary }));
    const binary = Buffer.from([0, 1, 2, 255, 254, 0]);
    const text = '{"type":"not.an.event","note":"çà ✓"}';
    c.ws.send(binary, { binary: true });
    c.ws.send(text);
    await expect.poll(() => upstream.received.length).toBe(2);
    expect(upstream.received[0]).toEqual({ data: binary, isBinary: true });
    expect(upstream.received[1]!.isBinary).toBe(false);
    expect(upstream.received[1]!.data.toString()).toBe(text);
    // The fake echoes binary messages.
    await expect.poll(() => got.find((m) => m.isBinary)).toEqual({ data: binary, isBinary: true });
    c.close();
    await c.closed;
  });

  it('pings and pongs cross both ways with their payloads', async () => {
    const { c, upstream } = await open();
    // The upstream pings: the client gets it and its automatic pong reaches the upstream.
    const clientPing = once(c.ws, 'ping');
    const upstreamPong = once(upstream.ws, 'pong');
    upstream.ws.ping(Buffer.from('from-upstream'));
    expect(String((await clientPing)[0])).toBe('from-upstream');
    expect(String((await upstreamPong)[0])).toBe('from-upstream');
    // And the other way.
    const upstreamPing = once(upstream.ws, 'ping');
    const clientPong = once(c.ws, 'pong');
    c.ws.ping(Buffer.from('from-client'));
    expect(String((await upstreamPing)[0])).toBe('from-client');
    expect(String((await clientPong)[0])).toBe('from-client');
    c.close();
    await c.closed;
  });

  it('the subprotocols offered reach the upstream, and the client gets the one it chose', async () => {
    const protocols = ['realtime', 'openai-insecure-api-key.sk-browser', 'openai-beta.realtime-v1'];
    const direct = wsConnection(wsUrl(fake.url), { protocols, headers: {} });
    await once(direct.ws, 'open');
    const offeredDirect = fake.sessions.at(-1)!.req.headers['sec-websocket-protocol'];
    direct.close();
    const { c, upstream } = await open(undefined, { protocols, headers: {} });
    expect(upstream.req.headers['sec-websocket-protocol']).toBe(offeredDirect);
    expect(c.ws.protocol).toBe('realtime');
    expect(direct.ws.protocol).toBe('realtime');
    c.close();
    await c.closed;
  });

  it("the client's handshake answer carries the upstream's headers and llmtap's span ids", async () => {
    const c = wsConnection(wsUrl(proxy.url));
    const [res] = (await once(c.ws, 'upgrade')) as [{ headers: Record<string, string> }];
    expect(res.headers['x-request-id']).toBe('req_fake');
    expect(res.headers['x-llmtap-trace-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(res.headers['x-llmtap-span-id']).toMatch(/^[0-9a-f]{16}$/);
    c.close();
    await c.closed;
  });
});

describe('closing', () => {
  const fromClient: [string, (ws: WebSocket) => void, { code: number; reason: string }][] = [
    ['1000 with a reason', (ws) => ws.close(1000, 'bye'), { code: 1000, reason: 'bye' }],
    ["an application's code", (ws) => ws.close(4001, 'custom'), { code: 4001, reason: 'custom' }],
    ['no code (1005)', (ws) => ws.close(), { code: 1005, reason: '' }],
    ['a dropped connection (1006)', (ws) => ws.terminate(), { code: 1006, reason: '' }],
  ];
  for (const [name, close, seen] of fromClient) {
    it(`the client closes with ${name}: the upstream sees the same`, async () => {
      const { c, upstream } = await open();
      close(c.ws);
      expect(await upstream.closed).toEqual(seen);
      await c.closed;
    });
  }

  const fromUpstream: [string, (ws: WebSocket) => void, { code: number; reason: string }][] = [
    ['4000 with a reason', (ws) => ws.close(4000, 'server bye'), { code: 4000, reason: 'server bye' }],
    ['1011 (internal error)', (ws) => ws.close(1011, 'oops'), { code: 1011, reason: 'oops' }],
    ['no code (1005)', (ws) => ws.close(), { code: 1005, reason: '' }],
    ['a dropped connection (1006)', (ws) => ws.terminate(), { code: 1006, reason: '' }],
  ];
  for (const [name, close, seen] of fromUpstream) {
    it(`the upstream closes with ${name}: the client sees the same`, async () => {
      const { c, upstream } = await open();
      close(upstream.ws);
      expect(await c.closed).toEqual(seen);
    });
  }

  it('a client that drops while llmtap holds the upstream back for it: the upstream is closed at once', async () => {
    let upstream: WebSocket | undefined;
    fake.handler = (ws) => {
      upstream = ws;
      const big = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < 32; i++) ws.send(big);
      return true;
    };
    try {
      const c = wsConnection(wsUrl(proxy.url));
      await once(c.ws, 'open');
      c.ws.pause();
      // Held back: what the upstream still has to send stops going down.
      let last = -1;
      let still = 0;
      await expect
        .poll(() => {
          still = upstream!.bufferedAmount === last ? still + 1 : 0;
          last = upstream!.bufferedAmount;
          return still >= 10 && last > 0;
        })
        .toBe(true);
      const closed = fake.sessions.at(-1)!.closed;
      c.ws.terminate();
      expect(await closed).toEqual({ code: 1006, reason: '' });
    } finally {
      fake.handler = undefined;
    }
  });

  it('a message over LLMTAP_MAX_BODY_BYTES closes both sides with 1009', async () => {
    const { c, upstream } = await open();
    c.ws.send(Buffer.alloc(MAX_MESSAGE + 1));
    expect((await c.closed).code).toBe(1009);
    expect((await upstream.closed).code).toBe(1009);
    expect(upstream.received).toEqual([]);
  });
});

describe('refusals', () => {
  async function refused(url: string, opts: Parameters<typeof wsConnection>[1] = {}) {
    const c = wsConnection(url, opts);
    const [, res] = (await once(c.ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    c.ws.terminate();
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() };
  }

  it("an upstream that refuses the upgrade: the client gets the upstream's status, headers and body", async () => {
    const headers = { authorization: 'Bearer sk-bad' };
    const direct = await refused(wsUrl(fake.url), { headers });
    const proxied = await refused(wsUrl(proxy.url), { headers });
    expect(proxied.status).toBe(401);
    expect(proxied.body).toBe(direct.body);
    expect(JSON.parse(proxied.body)).toMatchObject({ error: { code: 'invalid_api_key' } });
    expect(proxied.headers['content-type']).toBe('application/json');
    expect(proxied.headers['x-request-id']).toBe('req_refused');
  });

  it('upgrades outside /v1/ and /openai/ get a clear 404', async () => {
    const r = await refused(wsUrl(proxy.url, '/realtime?model=gpt-realtime'));
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).error.message).toMatch(/no WebSocket route for \/realtime; upgrades are forwarded under \/v1\//);
  });

  it('an upgrade to anything but WebSocket gets a 400', async () => {
    const req = request(`${proxy.url}/v1/realtime`, { headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': '' } });
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(Buffer.concat(chunks).toString()).error.message).toBe('llmtap: only WebSocket upgrades are forwarded');
  });

  it('Azure OpenAI paths are relayed with their query', async () => {
    for (const path of ['/openai/realtime?api-version=2025-04-01-preview&deployment=my-deploy', '/openai/v1/realtime?model=gpt-realtime']) {
      const { c, upstream } = await open(path, { headers: { 'api-key': 'az-key' } });
      expect(upstream.req.url).toBe(path);
      expect(upstream.req.headers['api-key']).toBe('az-key');
      c.close();
      await c.closed;
    }
  });
});

describe('upstream failures', () => {
  let silent: Server;
  let other: InProcess | undefined;
  beforeAll(async () => {
    // Takes the connection and never answers.
    silent = createServer(() => {});
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
  });
  afterAll(async () => {
    await other?.shutdown();
    silent.close();
  });

  async function answer(env: Record<string, string>) {
    other = await startLlmtap({ LLMTAP_LOG_LEVEL: 'silent', ...env });
    const c = wsConnection(wsUrl(other.url));
    const [, res] = (await once(c.ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    c.ws.terminate();
    await other.shutdown();
    other = undefined;
    return { status: res.statusCode, error: JSON.parse(Buffer.concat(chunks).toString()).error as Record<string, string> };
  }

  it('an upstream that cannot be reached: 502 in OpenAI’s error shape', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const r = await answer({ LLMTAP_UPSTREAM_URL: `http://127.0.0.1:${port}` });
    expect(r.status).toBe(502);
    expect(r.error.code).toBe('upstream_unavailable');
    expect(r.error.message).toContain('ECONNREFUSED');
  });

  it('an upstream that does not answer the upgrade in LLMTAP_HEADERS_TIMEOUT_MS: 504', async () => {
    const r = await answer({ LLMTAP_UPSTREAM_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, LLMTAP_HEADERS_TIMEOUT_MS: '200' });
    expect(r.status).toBe(504);
    expect(r.error.code).toBe('upstream_timeout');
  });
});

describe('metrics', () => {
  it('open sessions, messages each way, session durations', async () => {
    fake.handler = () => true; // a silent upstream: only the messages below cross
    try {
      const before = await scrape(proxy.url);
      const { c, upstream } = await open();
      const during = await scrape(proxy.url);
      expect(during.value('llmtap_realtime_sessions_open')).toBe(before.value('llmtap_realtime_sessions_open') + 1);
      c.ws.send(Buffer.from('abc'), { binary: true });
      await expect.poll(() => upstream.received.length).toBe(1);
      const event = once(c.ws, 'message');
      upstream.ws.send('{"type":"x"}');
      await event;
      c.close();
      await upstream.closed;
      await c.closed;
      await expect.poll(async () => (await scrape(proxy.url)).value('llmtap_realtime_sessions_open')).toBe(before.value('llmtap_realtime_sessions_open'));
      const after = await scrape(proxy.url);
      const delta = (name: string, labels?: Record<string, string>): number => after.value(name, labels) - before.value(name, labels);
      expect(delta('llmtap_realtime_messages_total', { direction: 'client_to_upstream' })).toBe(1);
      expect(delta('llmtap_realtime_messages_total', { direction: 'upstream_to_client' })).toBe(1);
      expect(delta('llmtap_realtime_message_bytes_total', { direction: 'client_to_upstream' })).toBe(3);
      expect(delta('llmtap_realtime_message_bytes_total', { direction: 'upstream_to_client' })).toBe(12);
      expect(delta('llmtap_realtime_sessions_total', { status: '101' })).toBe(1);
      expect(after.count('llmtap_realtime_session_duration_seconds') - before.count('llmtap_realtime_session_duration_seconds')).toBe(1);
    } finally {
      fake.handler = undefined;
    }
  });
});
