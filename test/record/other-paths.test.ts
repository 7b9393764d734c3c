// Requests no endpoint module records pass through untouched; LLMTAP_RECORD_OTHER gives them a light
// span (method, path, status, duration) and still leaves the request and the answer as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FakeOpenAI, type ReceivedRequest, startFakeOpenAI } from '../support/fake-openai.js';
import { type RawRequest, rawRequest, type RawResponse } from '../support/http.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
import { barrier, readSpans, waitForSpan } from '../support/spans.js';

const CALLER = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

let fake: FakeOpenAI;
let plain: InProcess;
let other: InProcess;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  const env = { LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' };
  plain = await startLlmtap(env);
  other = await startLlmtap({ ...env, LLMTAP_RECORD_OTHER: '1' });
});
afterAll(async () => {
  await plain.shutdown();
  await other.shutdown();
  await fake.close();
});

interface Case {
  name: string;
  path: string;
  req: RawRequest;
  status: number;
}

const cases: Case[] = [
  { name: 'a GET', path: '/v1/models', req: { headers: { authorization: 'Bearer sk-x', traceparent: CALLER } }, status: 200 },
  {
    name: 'an upload the API does not know',
    path: '/v1/files?purpose=batch',
    req: {
      method: 'POST',
      headers: { authorization: 'Bearer sk-x', 'content-type': 'application/octet-stream' },
      body: Buffer.from('PRIVATE-UPLOAD\u0000\u00ff'),
    },
    status: 404,
  },
  { name: 'a GET on a recorded path', path: '/v1/responses/resp_123', req: {}, status: 404 },
  {
    name: 'an Azure path no module records',
    path: '/openai/deployments/prod-chat/images/generations?api-version=2024-10-21',
    req: { method: 'POST', headers: { 'api-key': 'azure-key', 'content-type': 'application/json' }, body: '{"prompt":"a cat"}' },
    status: 404,
  },
];

/** What the upstream received, as a comparable record (the proxy's own connection headers aside). */
function received(r: ReceivedRequest): unknown {
  const headers: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const name = r.rawHeaders[i]!.toLowerCase();
    if (name !== 'host' && name !== 'connection') headers.push(`${name}: ${r.rawHeaders[i + 1]}`);
  }
  return { method: r.method, url: r.url, headers, body: r.body.toString('base64') };
}

/** The client's view: status, bytes, and the headers that are the upstream's (not the connection's or llmtap's). */
function answer(r: RawResponse): unknown {
  const headers = Object.entries(r.headers).filter(([k]) => !['date', 'connection', 'keep-alive'].includes(k) && !k.startsWith('x-llmtap-'));
  return { status: r.status, body: r.body.toString('base64'), headers: Object.fromEntries(headers) };
}

async function through(base: string, c: Case): Promise<{ res: RawResponse; upstream: unknown }> {
  const res = await rawRequest(`${base}${c.path}`, c.req);
  return { res, upstream: received(fake.requests.at(-1)!) };
}

describe('unknown endpoints', () => {
  for (const c of cases) {
    it(`${c.name} passes through untouched, recorded only with LLMTAP_RECORD_OTHER`, async () => {
      const direct = await through(fake.url, c);
      expect(direct.res.status).toBe(c.status);

      const spansBefore = readSpans(plain.dbPath).map((s) => s.spanId);
      const viaPlain = await through(plain.url, c);
      expect(answer(viaPlain.res)).toEqual(answer(direct.res));
      expect(viaPlain.upstream).toEqual(direct.upstream);
      expect(viaPlain.res.headers['x-llmtap-span-id']).toBeUndefined();
      const after = await barrier(plain);
      expect(readSpans(plain.dbPath).map((s) => s.spanId)).toEqual([...spansBefore, after.spanId]);

      const viaOther = await through(other.url, c);
      expect(answer(viaOther.res)).toEqual(answer(direct.res));
      expect(viaOther.upstream).toEqual(direct.upstream);
      const span = await waitForSpan(other.dbPath, viaOther.res.headers['x-llmtap-span-id'] as string);
      const method = c.req.method ?? 'GET';
      const path = c.path.split('?', 1)[0]!;
      expect(span.name).toBe(`${method} ${path}`);
      expect(span.kind).toBe('UNKNOWN');
      expect(span.attributes).toEqual({ 'http.request.method': method, 'url.path': path, 'http.response.status_code': c.status });
      expect(span.endNs).toBeGreaterThan(span.startNs);
      if (c.status === 200) expect(span.statusCode).toBe('OK');
      else {
        expect(span.statusCode).toBe('ERROR');
        expect(span.statusMessage).toMatch(/^NotFoundError: Unknown request URL/);
      }
      // Neither the body nor the query is kept.
      expect(JSON.stringify(span, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toMatch(/PRIVATE|purpose|api-version|a cat/);
    });
  }

  it('a light span joins the caller’s trace', async () => {
    const r = await rawRequest(`${other.baseURL}/models`, { headers: { traceparent: CALLER } });
    const span = await waitForSpan(other.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span.parentSpanId).toBe('b7ad6b7169203331');
  });
});
