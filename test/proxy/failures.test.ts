// Upstream failures become OpenAI-shaped answers (before headers) or a cut stream (after), and the
// proxy keeps serving.
import { createServer } from 'node:net';

import { describe, expect, it } from 'vitest';

import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap, startLlmtap } from '../support/llmtap.js';

const servers = fakeAndLlmtap({
  LLMTAP_LOG_LEVEL: 'silent',
  LLMTAP_HEADERS_TIMEOUT_MS: '300',
  LLMTAP_BODY_TIMEOUT_MS: '300',
  LLMTAP_MAX_BODY_BYTES: '2048',
});

const post = (behavior: string, body = chatBody({ stream: true })) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-fake-behavior': behavior },
  body,
});

function expectOpenAIError(body: Buffer, code: string): void {
  const parsed = JSON.parse(body.toString()) as { error: Record<string, unknown> };
  expect(Object.keys(parsed.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(parsed.error.code).toBe(code);
  expect(typeof parsed.error.message).toBe('string');
}

async function stillHealthy(): Promise<void> {
  expect((await rawRequest(`${servers.proxy.url}/healthz`)).status).toBe(200);
  const ok = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(''));
  expect(ok.status).toBe(200);
  expect(ok.complete).toBe(true);
}

describe('upstream failures', () => {
  it('upstream down → 502 in OpenAI error shape', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const down = await startLlmtap({ LLMTAP_UPSTREAM_URL: `http://127.0.0.1:${port}`, LLMTAP_LOG_LEVEL: 'silent' });
    try {
      const r = await rawRequest(`${down.baseURL}/models`);
      expect(r.status).toBe(502);
      expect(r.headers['content-type']).toBe('application/json');
      expectOpenAIError(r.body, 'upstream_unavailable');
    } finally {
      await down.shutdown();
    }
  });

  it('stalled upstream → 504 after the headers timeout', async () => {
    const t0 = performance.now();
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post('stall'));
    const took = performance.now() - t0;
    expect(r.status).toBe(504);
    expectOpenAIError(r.body, 'upstream_timeout');
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(3000);
    await stillHealthy();
  });

  it('upstream silent mid-body → the client stream is cut after the body timeout', async () => {
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post('stall-body'));
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    await stillHealthy();
  });

  it('reset mid-stream → the client stream ends broken, the proxy stays healthy', async () => {
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post('reset-mid-stream'));
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.body.toString()).toContain('data: {');
    expect(r.body.toString()).not.toContain('[DONE]');
    await stillHealthy();
  });

  it('upstream 500 passes through as is', async () => {
    const direct = await rawRequest(`${servers.fake.url}/v1/chat/completions`, post('error-500'));
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post('error-500'));
    expect(r.status).toBe(500);
    expect(r.body.equals(direct.body)).toBe(true);
  });
});

describe('request body limit', () => {
  it('declared oversize body → 413 without contacting the upstream', async () => {
    const before = servers.fake.requests.length;
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post('', chatBody({ pad: 'x'.repeat(4000) })));
    expect(r.status).toBe(413);
    expectOpenAIError(r.body, 'request_too_large');
    expect(servers.fake.requests.length).toBe(before);
  });

  it('chunked oversize body → 413', async () => {
    const before = servers.fake.requests.length;
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: chatBody({ pad: 'x'.repeat(4000) }),
    });
    expect(r.status).toBe(413);
    expectOpenAIError(r.body, 'request_too_large');
    expect(servers.fake.requests.length).toBe(before);
  });

  it('a body at the limit is forwarded', async () => {
    const body = chatBody({ pad: '' });
    const padded = chatBody({ pad: 'x'.repeat(2048 - body.length) });
    expect(Buffer.byteLength(padded)).toBe(2048);
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post('', padded));
    expect(r.status).toBe(200);
  });
});

describe('own paths', () => {
  it('healthz and readyz answer outside /v1', async () => {
    expect(JSON.parse((await rawRequest(`${servers.proxy.url}/healthz`)).body.toString())).toEqual({ status: 'ok' });
    expect((await rawRequest(`${servers.proxy.url}/readyz`)).status).toBe(200);
  });

  it('an unknown path gets a 404 in OpenAI error shape', async () => {
    const r = await rawRequest(`${servers.proxy.url}/chat/completions`);
    expect(r.status).toBe(404);
    expectOpenAIError(r.body, 'not_found');
  });
});
