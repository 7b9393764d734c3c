// The request target is normalised once, then routed, recorded and forwarded as that same path: dot
// segments and the absolute form cannot reach the upstream outside LLMTAP_UPSTREAM_URL's path prefix,
// nor slip past recording.
import { once } from 'node:events';
import { connect } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { normalizeTarget } from '../../src/proxy/target.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { chatBody } from '../support/http.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

describe('normalizeTarget', () => {
  it('resolves dot segments, plain or percent-encoded, and decodes unreserved characters', () => {
    expect(normalizeTarget('/x/../v1/models')).toBe('/v1/models');
    expect(normalizeTarget('/v1/./chat/completions?a=../b')).toBe('/v1/chat/completions?a=../b');
    expect(normalizeTarget('/x/%2E%2e/v1/models')).toBe('/v1/models');
    expect(normalizeTarget('/%76%31/files/a%20b')).toBe('/v1/files/a%20b');
    expect(normalizeTarget('/v1/files/..')).toBe('/v1/');
    expect(normalizeTarget('/')).toBe('/');
  });

  it('reduces the absolute form to its path', () => {
    expect(normalizeTarget('http://attacker.example/v1/models?x=1')).toBe('/v1/models?x=1');
    expect(normalizeTarget('HTTPS://h:1/x/../v1/models')).toBe('/v1/models');
    expect(normalizeTarget('http://h')).toBe('/');
  });

  it('refuses a path that climbs above the root, other separators, and what is not a path', () => {
    for (const bad of ['/v1/../../admin', '/..', '/v1/%2e%2e/%2E%2E/admin', '/v1\\..\\..\\admin', '/v1/..%2f..%2fadmin', '/v1/%5c', '*', 'v1/models']) {
      expect(normalizeTarget(bad), bad).toHaveProperty('reason');
    }
  });
});

describe('through the proxy, with a path prefix upstream', () => {
  let fake: FakeOpenAI;
  let proxy: InProcess;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    // An upstream under /api (as OpenRouter's): it answers chat completions there, and 404 elsewhere.
    fake.handler = (req, res) => {
      const inside = req.url === '/api/v1/chat/completions';
      res.writeHead(inside ? 200 : 404, { 'content-type': 'application/json' });
      res.end(
        inside
          ? JSON.stringify({
              id: 'c',
              object: 'chat.completion',
              model: 'm-1',
              choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
            })
          : '{"error":{"message":"outside the prefix"}}',
      );
      return true;
    };
    proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: `${fake.url}/api`, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });
  });
  afterAll(async () => {
    await proxy.shutdown();
    await fake.close();
  });

  /** Sends a request line exactly as written (no client library normalises it). */
  async function raw(target: string, body = ''): Promise<{ status: number; text: string }> {
    const { port } = new URL(proxy.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    const method = body ? 'POST' : 'GET';
    // Not end(): a client that half-closes is answered nothing (Node's server aborts the request).
    socket.write(
      `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)![1]), text };
  }

  for (const target of ['/x/../v1/chat/completions', 'http://attacker.example/v1/chat/completions', '/%76%31/./chat/completions']) {
    it(`${target} reaches the upstream inside the prefix, and is recorded`, async () => {
      const before = fake.requests.length;
      const r = await raw(target, chatBody());
      expect(r.status).toBe(200);
      expect(fake.requests.slice(before).map((q) => q.url)).toEqual(['/api/v1/chat/completions']);
      const spanId = /x-llmtap-span-id: ([0-9a-f]{16})/i.exec(r.text)![1]!;
      const span = await waitForSpan(proxy.dbPath, spanId);
      expect(span.name).toBe('OpenAI Chat Completions');
      expect(span.attributes['llm.output_messages.0.message.content']).toBe('hi');
    });
  }

  for (const target of ['/v1/../../admin', '/v1/%2e%2e/%2e%2e/admin', 'http://x/v1/../../admin', '/v1\\..\\..\\admin']) {
    it(`${target} is refused with 400 in OpenAI's error shape, and never forwarded`, async () => {
      const before = fake.requests.length;
      const r = await raw(target);
      expect(r.status).toBe(400);
      const body = JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)) as { error: { type: string; code: string; message: string } };
      expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request_target' });
      expect(fake.requests.length).toBe(before);
    });
  }

  it('HTTP/1.0 without a Host header gets an answer from /healthz', async () => {
    const { port } = new URL(proxy.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.end('GET /healthz HTTP/1.0\r\n\r\n');
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toMatch(/^HTTP\/1\.1 200 [^]*\{"status":"ok"\}$/);
  });
});
