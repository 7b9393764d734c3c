// Who may read traces: the admin token when set; otherwise loopback clients only, judged by the
// socket's address — a request from the machine's own non-loopback address is a remote client here.
import { networkInterfaces } from 'node:os';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../../src/config.js';
import { type ErrorAnswer, getJson } from '../support/api.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { rawRequest } from '../support/http.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';

/** An address of this machine that is not loopback: connecting to it makes a non-loopback socket. */
function externalAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this test needs a non-loopback IPv4 interface to connect from (none found)');
}

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

const PATHS = ['/api/spans', '/api/stats', `/api/spans/${'ab'.repeat(8)}`, '/ui/', '/ui/app.js'];

describe('without LLMTAP_ADMIN_TOKEN', () => {
  let llmtap: InProcess;
  let remote: string;
  beforeAll(async () => {
    // Dual stack: IPv4 clients arrive as ::ffff:a.b.c.d, IPv6 loopback as ::1.
    llmtap = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_HOST: '::' });
    remote = `http://${externalAddress()}:${new URL(llmtap.url).port}`;
  });
  afterAll(() => llmtap.shutdown());

  it('says at start-up that only loopback clients may read', () => {
    expect(llmtap.logs.map((l) => l.msg)).toContain('/api and /ui: loopback clients only (set LLMTAP_ADMIN_TOKEN to open them to others)');
  });

  it('answers loopback clients, whatever x-forwarded-for says', async () => {
    const local = `http://127.0.0.1:${new URL(llmtap.url).port}`;
    for (const path of PATHS) {
      const r = await rawRequest(`${local}${path}`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      expect(r.status, path).not.toBe(403);
      expect(r.status, path).toBeLessThan(500);
    }
    expect((await rawRequest(`http://[::1]:${new URL(llmtap.url).port}/api/spans`)).status).toBe(200);
  });

  it('403 with a message for a non-loopback client, even one claiming x-forwarded-for: 127.0.0.1', async () => {
    for (const path of PATHS) {
      const r = await getJson<ErrorAnswer>(`${remote}${path}`, { 'x-forwarded-for': '127.0.0.1' });
      expect(r.status, path).toBe(403);
      expect(r.body.error.message).toMatch(/answers loopback clients only .* set LLMTAP_ADMIN_TOKEN/);
    }
    // The proxy itself is not restricted.
    expect((await rawRequest(`${remote}/healthz`)).status).toBe(200);
  });
});

describe('with LLMTAP_ADMIN_TOKEN', () => {
  const token = 'test-token_0123456789';
  let llmtap: InProcess;
  let remote: string;
  beforeAll(async () => {
    llmtap = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_HOST: '0.0.0.0', LLMTAP_ADMIN_TOKEN: token });
    remote = `http://${externalAddress()}:${new URL(llmtap.url).port}`;
  });
  afterAll(() => llmtap.shutdown());

  it('says at start-up that the token is required', () => {
    expect(llmtap.logs.map((l) => l.msg)).toContain('/api and /ui: admin token required (LLMTAP_ADMIN_TOKEN)');
  });

  it('every /api request needs the token, from loopback and elsewhere alike', async () => {
    for (const base of [`http://127.0.0.1:${new URL(llmtap.url).port}`, remote]) {
      for (const path of PATHS.filter((p) => p.startsWith('/api'))) {
        const none = await getJson<ErrorAnswer>(`${base}${path}`);
        expect(none.status, path).toBe(401);
        expect(none.body.error.message).toMatch(/needs the admin token/);
        const wrong = await getJson<ErrorAnswer>(`${base}${path}`, { authorization: 'Bearer not-the-token' });
        expect(wrong.status, path).toBe(401);
        expect(wrong.body.error.message).toBe('llmtap: wrong admin token');
        const right = await rawRequest(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
        expect([200, 404], path).toContain(right.status);
      }
    }
  });

  it("the viewer's files (no data in them) load without it, so the page can ask for it", async () => {
    const page = await rawRequest(`${remote}/ui/`);
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('<title>llmtap</title>');
  });
});

describe('LLMTAP_ADMIN_TOKEN validation', () => {
  it('refuses a token a bearer header cannot carry', () => {
    expect(() => loadConfig({ LLMTAP_ADMIN_TOKEN: 'has spaces and "quotes"' })).toThrow(ConfigError);
    expect(loadConfig({ LLMTAP_ADMIN_TOKEN: 'abc.DEF_123-~+/=' }).adminToken).toBe('abc.DEF_123-~+/=');
  });
});
