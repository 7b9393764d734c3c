// What callers tell llmtap in headers: trace context, session, user, metadata, tags, opt-out.
import { describe, expect, it } from 'vitest';

import { recordHeader } from '../../src/record/context.js';
import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap, logLine } from '../support/llmtap.js';
import { barrier, readSpans, waitForSpan } from '../support/spans.js';

const servers = fakeAndLlmtap({ LLMTAP_FLUSH_INTERVAL_MS: '10' });

async function send(headers: Record<string, string>, body = chatBody()) {
  const before = servers.fake.requests.length;
  const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { r, upstream: servers.fake.requests[before]! };
}

describe('x-llmtap-record values', () => {
  it('off, false, 0 and no in any case skip recording; on, true, 1, yes and none record', () => {
    for (const v of ['off', 'OFF', 'false', 'False', '0', 'no', 'NO']) expect(recordHeader(v)).toEqual({ record: false });
    for (const v of [undefined, 'on', 'TRUE', '1', 'yes']) expect(recordHeader(v)).toEqual({ record: true });
  });

  it('anything else records, told by a bounded shape: a short word as it is, else its length', () => {
    expect(recordHeader('Disabled')).toEqual({ record: true, unknown: '"disabled"' });
    expect(recordHeader('nope nope')).toEqual({ record: true, unknown: 'a value of 9 characters' });
    expect(recordHeader('x'.repeat(17))).toEqual({ record: true, unknown: 'a value of 17 characters' });
  });
});

describe('trace context', () => {
  it('a traceparent makes the span a child of the caller, and upstream sees llmtap as the parent', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const { r, upstream } = await send({ traceparent: `00-${trace}-${parent}-01`, tracestate: 'vendor=abc' });
    expect(r.headers['x-llmtap-trace-id']).toBe(trace);
    const spanId = r.headers['x-llmtap-span-id'] as string;
    const span = await waitForSpan(servers.proxy.dbPath, spanId);
    expect(span.traceId).toBe(trace);
    expect(span.parentSpanId).toBe(parent);
    expect(span.traceState).toBe('vendor=abc');
    expect(upstream.headers.traceparent).toBe(`00-${trace}-${spanId}-01`);
    expect(upstream.headers.tracestate).toBe('vendor=abc');
  });

  it('without a traceparent: a new trace, a root span', async () => {
    const { r, upstream } = await send({});
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.parentSpanId).toBeUndefined();
    expect(upstream.headers.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
  });

  it('a malformed traceparent is ignored with a warning, never fails the request', async () => {
    const { r } = await send({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' });
    expect(r.status).toBe(200);
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.traceId).not.toMatch(/^0+$/);
    expect(span.parentSpanId).toBeUndefined();
    expect(servers.proxy.logs.some((l) => l.msg === 'ignored bad llmtap request headers' && JSON.stringify(l.ignored).includes('traceparent'))).toBe(true);
  });
});

describe('session, user, metadata, tags', () => {
  it('x-llmtap-* headers become span attributes and are not sent upstream', async () => {
    const { r, upstream } = await send({
      'x-llmtap-session-id': 'sess-1',
      'x-llmtap-user-id': 'user-1',
      'x-llmtap-metadata': '{"tenant":"acme","tier":2}',
      'x-llmtap-tags': 'prod, checkout ,',
    });
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['session.id']).toBe('sess-1');
    expect(span.attributes['user.id']).toBe('user-1');
    expect(JSON.parse(span.attributes.metadata as string)).toEqual({ tenant: 'acme', tier: 2 });
    expect(span.attributes['tag.tags']).toEqual(['prod', 'checkout']);
    expect(Object.keys(upstream.headers).filter((h) => h.startsWith('x-llmtap'))).toEqual([]);
  });

  it('Helicone-style aliases work the same and are not sent upstream', async () => {
    const { r, upstream } = await send({
      'helicone-session-id': 'sess-h',
      'helicone-user-id': 'user-h',
      'helicone-property-feature': 'search',
      'helicone-auth': 'Bearer sk-helicone-secret',
    });
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['session.id']).toBe('sess-h');
    expect(span.attributes['user.id']).toBe('user-h');
    expect(JSON.parse(span.attributes.metadata as string)).toEqual({ feature: 'search' });
    expect(Object.keys(upstream.headers).filter((h) => h.startsWith('helicone'))).toEqual([]);
  });

  it("the body's user field is the fallback for user.id", async () => {
    const { r } = await send({}, chatBody({ user: 'body-user' }));
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['user.id']).toBe('body-user');
  });

  it('invalid metadata JSON is ignored with a warning; the rest is recorded', async () => {
    const { r } = await send({ 'x-llmtap-metadata': '{not json', 'x-llmtap-session-id': 's-2' });
    expect(r.status).toBe(200);
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes.metadata).toBeUndefined();
    expect(span.attributes['session.id']).toBe('s-2');
    expect(servers.proxy.logs.some((l) => JSON.stringify(l.ignored ?? '').includes('x-llmtap-metadata'))).toBe(true);
  });

  it('x-llmtap-record: off skips recording for that request', async () => {
    const before = readSpans(servers.proxy.dbPath).map((s) => s.spanId);
    const { r, upstream } = await send({ 'x-llmtap-record': 'off' });
    expect(r.status).toBe(200);
    expect(r.headers['x-llmtap-span-id']).toBeUndefined();
    expect(upstream.headers['x-llmtap-record']).toBeUndefined();
    const after = await barrier(servers.proxy);
    expect(readSpans(servers.proxy.dbPath).map((s) => s.spanId)).toEqual([...before, after.spanId]);
  });

  it.each(['false', 'FALSE', '0', 'no', ' Off '])('x-llmtap-record: %j skips recording too', async (value) => {
    const before = readSpans(servers.proxy.dbPath).map((s) => s.spanId);
    const { r } = await send({ 'x-llmtap-record': value });
    expect(r.status).toBe(200);
    expect(r.headers['x-llmtap-span-id']).toBeUndefined();
    const after = await barrier(servers.proxy);
    expect(readSpans(servers.proxy.dbPath).map((s) => s.spanId)).toEqual([...before, after.spanId]);
  });

  it('an x-llmtap-record value it does not know records, with one warning per value shape and never the raw string', async () => {
    const warnings = () => servers.proxy.logs.filter((l) => String(l.msg).startsWith('x-llmtap-record'));
    const long = 'sk-secret-'.padEnd(500, 'x');
    for (const value of ['disable', 'Disable', long, long.toUpperCase(), 'true', 'on']) {
      const { r } = await send({ 'x-llmtap-record': value });
      await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    }
    expect(warnings().map((l) => l.value)).toEqual(['"disable"', 'a value of 500 characters']);
    expect(JSON.stringify(servers.proxy.logs)).not.toContain('sk-secret');
  });

  it('x-llmtap-project puts the span in another project', async () => {
    const { r } = await send({ 'x-llmtap-project': 'checkout' });
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.project).toBe('checkout');
    const { r: r2 } = await send({});
    expect((await waitForSpan(servers.proxy.dbPath, r2.headers['x-llmtap-span-id'] as string)).project).toBe('default');
  });
});

describe('the request log line', () => {
  it('carries model, tokens, TTFT and span id, and never a body', async () => {
    const { r } = await send({}, chatBody({ stream: true, stream_options: { include_usage: true } }));
    const spanId = r.headers['x-llmtap-span-id'] as string;
    await waitForSpan(servers.proxy.dbPath, spanId);
    const line = await logLine(servers.proxy, (l) => l.spanId === spanId, 'the request log line');
    expect(line).toMatchObject({ msg: 'request', method: 'POST', path: '/v1/chat/completions', status: 200, model: 'gpt-4o-mini-2024-07-18' });
    expect(line.totalTokens).toBeGreaterThan(0);
    expect(line.ttftMs).toBeGreaterThan(0);
    expect(line.ms).toBeGreaterThan(0);
    expect(JSON.stringify(line)).not.toContain('Say hello');
  });
});
