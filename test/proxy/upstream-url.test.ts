// LLMTAP_UPSTREAM_URL in each form of the README's provider table: the server's root, or its API base
// written as OPENAI_BASE_URL is (ending in `/v1`). Each form is checked against a fake that serves the
// API below that provider's path only, so a doubled or missing segment gets a 404.
import { readFileSync } from 'node:fs';

import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { type FakeOpenAI, REPLY, startFakeOpenAI } from '../support/fake-openai.js';
import { startLlmtap } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

interface Form {
  provider: string;
  urls: URL[];
  /** Where llmtap's `/v1/chat/completions` must land. */
  path: string;
}

/** The README's provider table: provider | the URL(s) | the path a chat call goes to. */
function readmeForms(): Form[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('| provider | `LLMTAP_UPSTREAM_URL` |'));
  const forms: Form[] = [];
  for (const line of table.split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [provider, urls, path] = line.split('|').slice(1, 4) as [string, string, string];
    forms.push({
      provider: provider.trim(),
      urls: [...urls.matchAll(/`(https?:[^`]+)`/g)].map((m) => new URL(m[1]!)),
      path: /`([^`]+)`/.exec(path)![1]!,
    });
  }
  return forms;
}

const forms = readmeForms();
const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello' }] };

describe('LLMTAP_UPSTREAM_URL', () => {
  it('the README lists the forms of OpenAI, Azure v1, vLLM, Ollama and more', () => {
    expect(forms.map((f) => f.provider)).toEqual(expect.arrayContaining(['OpenAI', 'Azure OpenAI, v1 API', 'vLLM', 'Ollama', 'Groq', 'OpenRouter']));
    for (const f of forms) expect(f.urls.length, f.provider).toBeGreaterThan(0);
  });

  for (const form of forms) {
    for (const url of form.urls) {
      it(`${form.provider}: ${url.href} sends /v1/chat/completions to ${form.path}`, async () => {
        // The fake serves its API below the provider's own prefix only (Groq: /openai/v1/…, OpenRouter: /api/v1/…).
        const fake = await startFakeOpenAI({ prefix: form.path.slice(0, form.path.indexOf('/v1/')) });
        const proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: `${fake.url}${url.pathname}`, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });
        try {
          const client = new OpenAI({ apiKey: 'sk-test', baseURL: proxy.baseURL, maxRetries: 0 });
          const { data, response } = await client.chat.completions.create(chat).withResponse();
          expect(fake.requests.map((r) => r.url)).toEqual([form.path]);
          expect(data.choices[0]!.message.content).toBe(REPLY);
          const span = await waitForSpan(proxy.dbPath, response.headers.get('x-llmtap-span-id')!);
          expect(span.statusCode).toBe('OK');
        } finally {
          await proxy.shutdown();
          await fake.close();
        }
      });
    }
  }

  it('is read as a root: a trailing /v1 (and slashes) is dropped, any other prefix kept', () => {
    const root = (url: string): string => loadConfig({ LLMTAP_UPSTREAM_URL: url }).upstreamUrl.href;
    expect(root('https://api.openai.com/v1')).toBe('https://api.openai.com/');
    expect(root('https://api.openai.com/v1/')).toBe('https://api.openai.com/');
    expect(root('https://openrouter.ai/api/v1')).toBe('https://openrouter.ai/api');
    expect(root('https://openrouter.ai/api')).toBe('https://openrouter.ai/api');
    expect(root('https://my-resource.openai.azure.com/openai/v1')).toBe('https://my-resource.openai.azure.com/openai');
    expect(root('http://example.com/v10')).toBe('http://example.com/v10');
  });
});

describe('Azure OpenAI behind its v1 base (…/openai/v1)', () => {
  let fake: FakeOpenAI;
  let proxy: Awaited<ReturnType<typeof startLlmtap>>;
  beforeAll(async () => {
    fake = await startFakeOpenAI(); // its Azure paths: /openai/v1/… and /openai/deployments/…, with an api-key
    proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: `${fake.url}/openai/v1`, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });
  });
  afterAll(async () => {
    await proxy.shutdown();
    await fake.close();
  });

  it('a plain OpenAI client on llmtap’s /v1 reaches the v1 API', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: proxy.baseURL, defaultHeaders: { 'api-key': 'azure-key' }, maxRetries: 0 });
    const { data } = await client.chat.completions.create(chat).withResponse();
    expect(data.choices[0]!.message.content).toBe(REPLY);
    expect(fake.requests.at(-1)!.url).toBe('/openai/v1/chat/completions');
  });

  it('an Azure client’s deployment paths go to the resource once, without a doubled /openai', async () => {
    const client = new AzureOpenAI({ endpoint: proxy.url, apiKey: 'azure-key', apiVersion: '2024-10-21', deployment: 'prod-chat', maxRetries: 0 });
    const data = await client.chat.completions.create(chat);
    expect(data.choices[0]!.message.content).toBe(REPLY);
    expect(fake.requests.at(-1)!.url).toBe('/openai/deployments/prod-chat/chat/completions?api-version=2024-10-21');
  });
});
