// Who may read traces: the admin token when set; otherwise loopback clients only, judged by the
// socket's address — a request from the machine's own non-loopback address is a remote client here —
// and only requests sent to a loopback name (DNS rebinding), writing JSON from llmtap's own origin.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { toPhoenixLine } from '../../src/phoenix/span-json.js';
import { type ErrorAnswer, getJson, type SpanList } from '../support/api.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { rawRequest } from '../support/http.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
import { sampleSpan } from '../support/spans.js';

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

describe('without LLMTAP_ADMIN_TOKEN, from a web page', () => {
  let llmtap: InProcess;
  let port: string;
  beforeAll(async () => {
    llmtap = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_ALLOWED_HOSTS: 'llmtap.test' });
    port = new URL(llmtap.url).port;
  });
  afterAll(() => llmtap.shutdown());

  const stored = async (): Promise<number> => (await getJson<SpanList>(`${llmtap.url}/api/spans`)).body.data.length;
  const line = (id: string): string => toPhoenixLine(sampleSpan({ spanId: id }));

  it('DNS rebinding: a request from loopback sent to another name (Host: attacker.example) is refused', async () => {
    for (const path of PATHS) {
      const r = await getJson<ErrorAnswer>(`${llmtap.url}${path}`, { host: `attacker.example:${port}` });
      expect(r.status, path).toBe(403);
      expect(r.body.error.message).toMatch(/answers requests sent to a loopback name only .*LLMTAP_ALLOWED_HOSTS/);
    }
    // The proxy and the probes are not the read side.
    expect((await rawRequest(`${llmtap.url}/healthz`, { headers: { host: 'attacker.example' } })).status).toBe(200);
  });

  it('loopback names and addresses, and LLMTAP_ALLOWED_HOSTS, are answered', async () => {
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.1.2.3:${port}`, `[::1]:${port}`, 'app.localhost', `LLMTAP.test:${port}`]) {
      expect((await rawRequest(`${llmtap.url}/api/spans`, { headers: { host } })).status, host).toBe(200);
    }
  });

  it('a cross-site import sent as a simple text/plain request is refused, and stores nothing', async () => {
    const before = await stored();
    const r = await rawRequest(`${llmtap.url}/api/spans/import`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: 'http://attacker.example' },
      body: line('00000000000000e1'),
    });
    expect(r.status).toBe(415);
    expect(JSON.parse(r.body.toString()).error.message).toMatch(/JSON or NDJSON/);
    expect(await stored()).toBe(before);
  });

  it('an import from another origin is refused even as NDJSON; from llmtap itself or a non-browser client it is stored', async () => {
    const post = (origin?: string, id = '00000000000000e2') =>
      rawRequest(`${llmtap.url}/api/spans/import`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', ...(origin ? { origin } : {}) },
        body: line(id),
      });
    const foreign = await post('http://attacker.example');
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body.toString()).error.message).toMatch(/refuses requests from other sites/);
    expect((await post('null')).status).toBe(403);
    expect((await post(`http://127.0.0.1:${port}`)).status).toBe(200);
    expect((await post(undefined, '00000000000000e3')).status).toBe(200);
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

  it('any Host, as long as the token is right', async () => {
    const r = await rawRequest(`${remote}/api/spans`, { headers: { authorization: `Bearer ${token}`, host: 'llmtap.example.com' } });
    expect(r.status).toBe(200);
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

describe('the README security section', () => {
  it('says, for every path llmtap serves, what it exposes without a token, to whom, and how to close it', () => {
    const unused = {} as never;
    const app = createApp({ forwarder: unused, health: unused, metrics: unused, api: unused, adminToken: '', allowedHosts: [] });
    const served = new Set(app.routes.map((r) => `/${r.path.split('/')[1]}`));
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Security\n'), readme.indexOf('\n## ', readme.indexOf('\n## Security\n') + 1));
    const rows = section.split('\n').filter((l) => l.startsWith('| `/'));
    for (const row of rows) expect(row.split(' | ').length, row).toBe(4); // path, what, who, how
    const documented = rows.map((r) => r.split(' | ')[0]!).join(' ');
    for (const path of served) expect(documented, path).toContain(`\`${path}`);
  });
});
