// Streams go through unbuffered and byte for byte, whatever shape the upstream's TCP writes take.
import { type IncomingMessage, request } from 'node:http';

import { describe, expect, it } from 'vitest';

import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap } from '../support/llmtap.js';

const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'silent' });

const stream = (behavior = '', extraHeaders: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-fake-behavior': behavior, ...extraHeaders },
  body: chatBody({ stream: true, stream_options: { include_usage: true } }),
});

describe('streaming', () => {
  for (const behavior of ['', 'split-event', 'split-utf8', 'ping', 'error-event']) {
    it(`bytes equal upstream's exactly (${behavior || 'plain'})`, async () => {
      const direct = await rawRequest(`${servers.fake.url}/v1/chat/completions`, stream(behavior));
      const proxied = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, stream(behavior));
      expect(proxied.status).toBe(200);
      expect(proxied.complete).toBe(true);
      expect(proxied.body.equals(direct.body)).toBe(true);
      expect(proxied.body.toString()).toContain('data: [DONE]');
      if (behavior === 'ping') expect(proxied.body.toString()).toContain(': ping\n\n');
      if (behavior === 'error-event') expect(proxied.body.toString()).toContain('"The model overloaded mid-stream."');
      expect(proxied.headers['content-type']).toBe(direct.headers['content-type']);
      expect(proxied.headers['x-request-id']).toBe('req_fake');
      expect(proxied.headers['x-accel-buffering']).toBe('no');
      expect(direct.headers['x-accel-buffering']).toBeUndefined();
    });
  }

  it('is not buffered: each event reaches the client as the upstream sends it', async () => {
    const t0 = performance.now();
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, stream('', { 'x-fake-delay-ms': '50' }));
    const firstAt = r.chunkTimes[0]! - t0;
    const lastAt = r.chunkTimes.at(-1)! - t0;
    // ~20 events 50 ms apart: the first must arrive about a second before the last.
    expect(r.chunkTimes.length).toBeGreaterThan(10);
    expect(lastAt - firstAt).toBeGreaterThan(500);
    expect(firstAt).toBeLessThan(150);
  });

  it("a stream's headers reach the client before its first event", async () => {
    // The upstream sends its headers, then nothing: the client still learns the stream started.
    const started = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(`${servers.proxy.baseURL}/chat/completions`, stream('stall-body'), resolve);
      req.on('error', reject);
      req.end(stream().body);
    });
    expect(started.statusCode).toBe(200);
    expect(started.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    started.destroy();
  });

  it('client abort mid-stream cancels the upstream request at once', async () => {
    const before = servers.fake.requests.length;
    const aborted = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, { ...stream('', { 'x-fake-delay-ms': '100' }), abortAfterBytes: 1 });
    expect(aborted.complete).toBe(false);
    const upstream = servers.fake.requests[before]!;
    const t0 = performance.now();
    await upstream.done;
    expect(upstream.closedEarly).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('passes compressed bodies through without decoding them', async () => {
    const direct = await rawRequest(`${servers.fake.url}/v1/anything`, { headers: { 'x-fake-behavior': 'gzip', 'accept-encoding': 'gzip' } });
    const proxied = await rawRequest(`${servers.proxy.baseURL}/anything`, { headers: { 'x-fake-behavior': 'gzip', 'accept-encoding': 'gzip' } });
    expect(proxied.headers['content-encoding']).toBe('gzip');
    expect(proxied.headers['content-length']).toBe(direct.headers['content-length']);
    expect(proxied.body.equals(direct.body)).toBe(true);
  });
});

describe('request forwarding', () => {
  it('keeps method, path and query, and forwards any /v1 sub-path', async () => {
    const before = servers.fake.requests.length;
    const r = await rawRequest(`${servers.proxy.baseURL}/files/file-abc/content?limit=2&after=x%20y`, { method: 'DELETE' });
    expect(r.status).toBe(404); // the fake's own answer, passed through
    expect(JSON.parse(r.body.toString()).error.code).toBe('unknown_url');
    const seen = servers.fake.requests[before]!;
    expect(seen.method).toBe('DELETE');
    expect(seen.url).toBe('/v1/files/file-abc/content?limit=2&after=x%20y');
  });

  it('drops hop-by-hop headers both ways and keeps every other header', async () => {
    const before = servers.fake.requests.length;
    await rawRequest(`${servers.proxy.baseURL}/models`, {
      headers: {
        authorization: 'Bearer sk-pass',
        'x-custom': 'kept',
        'openai-beta': 'assistants=v2',
        connection: 'keep-alive, x-per-hop',
        'x-per-hop': 'dropped',
        te: 'trailers',
        'proxy-authorization': 'Basic Zm9v',
      },
    });
    const seen = servers.fake.requests[before]!.headers;
    expect(seen.authorization).toBe('Bearer sk-pass');
    expect(seen['x-custom']).toBe('kept');
    expect(seen['openai-beta']).toBe('assistants=v2');
    expect(seen['x-per-hop']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen.host).toBe(new URL(servers.fake.url).host);
  });

  it('sends the request body bytes unchanged, even when not canonical JSON', async () => {
    const before = servers.fake.requests.length;
    const body = Buffer.from('{ "model" : "gpt-4o-mini",\n  "messages": [{"role":"user","content":"caf\\u00e9 ☕"}], "x": 1.50 }');
    await rawRequest(`${servers.proxy.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(servers.fake.requests[before]!.body.equals(body)).toBe(true);
  });
});
