// The viewer's addresses: llmtap's root and /ui lead to /ui/, relatively (a path prefix added by a
// reverse proxy survives), and /ui/ is the viewer's page.
import { describe, expect, it } from 'vitest';

import { rawRequest } from '../support/http.js';
import { fakeAndLlmtap } from '../support/llmtap.js';

const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'silent' });

describe('the viewer’s addresses', () => {
  it('GET / redirects to the viewer', async () => {
    const r = await rawRequest(`${servers.proxy.url}/`);
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('ui/');
  });

  it('GET /ui redirects to /ui/, which is the viewer’s page', async () => {
    const r = await rawRequest(`${servers.proxy.url}/ui`);
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('ui/');
    const page = await rawRequest(`${servers.proxy.url}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body.toString()).toContain('<title>');
  });

  it('other paths outside /v1 and /openai still get the OpenAI-shaped 404', async () => {
    const r = await rawRequest(`${servers.proxy.url}/index.html`);
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body.toString())).toMatchObject({ error: { code: 'not_found' } });
  });
});
