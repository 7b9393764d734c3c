// OpenAI-compatible upstreams: Azure OpenAI's paths and `api-key` header, and `llm.provider` from the
// upstream host or LLMTAP_PROVIDER.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { AzureOpenAI } from 'openai';
import { describe, expect, it } from 'vitest';

import { providerForHost } from '../../src/record/provider.js';
import { DEPLOYMENTS, REPLY, servedModel } from '../support/fake-openai.js';
import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap, logLine, startLlmtap } from '../support/llmtap.js';
import { barrier, readSpans, waitForSpan } from '../support/spans.js';

const AZURE_KEY = 'azure-key-0123456789SECRETabcdef';
const API_VERSION = '2024-10-21';

const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'trace', LLMTAP_FLUSH_INTERVAL_MS: '10' });

const azure = (deployment?: string): AzureOpenAI =>
  new AzureOpenAI({ endpoint: servers.proxy.url, apiKey: AZURE_KEY, apiVersion: API_VERSION, maxRetries: 0, ...(deployment ? { deployment } : {}) });

const messages = [{ role: 'user' as const, content: 'Say hello' }];

describe('Azure OpenAI', () => {
  it('a chat completion on a deployment is forwarded and recorded with the model the deployment runs', async () => {
    // The body's model is whatever the app calls it; Azure answers with the deployment's model.
    const { data, response } = await azure('prod-chat').chat.completions.create({ model: 'my-alias', messages }).withResponse();
    expect(data.choices[0]!.message.content).toBe(REPLY);
    const sent = servers.fake.requests.at(-1)!;
    expect(sent.url).toBe(`/openai/deployments/prod-chat/chat/completions?api-version=${API_VERSION}`);
    expect(sent.headers['api-key']).toBe(AZURE_KEY);
    const span = await waitForSpan(servers.proxy.dbPath, response.headers.get('x-llmtap-span-id')!);
    expect(span.name).toBe('OpenAI Chat Completions');
    expect(span.statusCode).toBe('OK');
    expect(span.attributes['llm.model_name']).toBe(servedModel(DEPLOYMENTS['prod-chat']!));
    expect(span.attributes['llm.provider']).toBe('azure');
    expect(span.attributes['llm.system']).toBe('openai');
    expect(span.attributes['llm.output_messages.0.message.content']).toBe(REPLY);
  });

  it('a stream on a deployment: the prompt-filter chunk with an empty model does not hide the model', async () => {
    const { data, response } = await azure('prod-chat')
      .chat.completions.create({ model: 'my-alias', messages, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    for await (const _ of data);
    const span = await waitForSpan(servers.proxy.dbPath, response.headers.get('x-llmtap-span-id')!);
    expect(span.attributes['llm.model_name']).toBe(servedModel(DEPLOYMENTS['prod-chat']!));
    expect(span.attributes['output.value']).toBe(REPLY);
    expect(span.attributes['llm.token_count.total']).toBeGreaterThan(0);
  });

  it('embeddings (deployment from the model) and the Responses API (no deployment in the path) are recorded too', async () => {
    const emb = await azure().embeddings.create({ model: 'prod-embed', input: 'hello' }).withResponse();
    expect(servers.fake.requests.at(-1)!.url).toBe(`/openai/deployments/prod-embed/embeddings?api-version=${API_VERSION}`);
    const embSpan = await waitForSpan(servers.proxy.dbPath, emb.response.headers.get('x-llmtap-span-id')!);
    expect(embSpan.name).toBe('OpenAI Embeddings');
    expect(embSpan.attributes['embedding.model_name']).toBe(DEPLOYMENTS['prod-embed']);
    expect(embSpan.attributes['llm.provider']).toBe('azure');
    expect((embSpan.attributes['embedding.embeddings.0.embedding.vector'] as number[]).length).toBe(8);

    const rsp = await azure().responses.create({ model: 'gpt-4o-mini', input: 'Say hello' }).withResponse();
    expect(servers.fake.requests.at(-1)!.url).toBe(`/openai/responses?api-version=${API_VERSION}`);
    const rspSpan = await waitForSpan(servers.proxy.dbPath, rsp.response.headers.get('x-llmtap-span-id')!);
    expect(rspSpan.name).toBe('OpenAI Responses');
    expect(rspSpan.attributes['llm.model_name']).toBe(servedModel('gpt-4o-mini'));
    expect(rspSpan.attributes['llm.provider']).toBe('azure');
  });

  it('a failed call names the deployment as the model when no response does', async () => {
    const r = await rawRequest(`${servers.proxy.url}/openai/deployments/missing/chat/completions?api-version=${API_VERSION}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': AZURE_KEY },
      body: JSON.stringify({ messages }),
    });
    expect(r.status).toBe(404);
    const span = await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.statusCode).toBe('ERROR');
    expect(span.statusMessage).toBe('NotFoundError: The API deployment for this resource does not exist.');
    expect(span.attributes['llm.model_name']).toBe('missing');
  });

  it('the api-key is in no stored span, database file or log line', async () => {
    await barrier(servers.proxy);
    const spans = readSpans(servers.proxy.dbPath);
    expect(spans.filter((s) => s.attributes['llm.provider'] === 'azure').length).toBeGreaterThanOrEqual(5);
    for (const span of spans) expect(JSON.stringify(span, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain('SECRET');
    const dir = dirname(servers.proxy.dbPath);
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f)).includes('SECRET'), f).toBe(false);
    // Logged at trace level: every request line, never a header.
    await logLine(servers.proxy, (l) => l.path === '/openai/deployments/prod-chat/chat/completions', 'the Azure request log line');
    expect(JSON.stringify(servers.proxy.logs)).not.toContain('SECRET');
  });
});

describe('llm.provider', () => {
  it('comes from the upstream host, on a label boundary, else is the host name', () => {
    expect(providerForHost('api.openai.com')).toBe('openai');
    expect(providerForHost('my-resource.openai.azure.com')).toBe('azure');
    expect(providerForHost('API.GROQ.COM')).toBe('groq');
    expect(providerForHost('openrouter.ai')).toBe('openrouter');
    expect(providerForHost('bedrock-runtime.us-east-1.amazonaws.com')).toBe('aws');
    expect(providerForHost('ollama.com')).toBe('ollama');
    expect(providerForHost('smollama.com')).toBe('smollama.com');
    expect(providerForHost('vllm.internal')).toBe('vllm.internal');
    expect(providerForHost('[::1]')).toBe('::1');
  });

  it('is the upstream host name for a local server, and LLMTAP_PROVIDER overrides it everywhere', async () => {
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chatBody(),
    });
    expect((await waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string)).attributes['llm.provider']).toBe('127.0.0.1');

    const named = await startLlmtap({
      LLMTAP_UPSTREAM_URL: servers.fake.url,
      LLMTAP_LOG_LEVEL: 'silent',
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      LLMTAP_PROVIDER: 'vllm',
    });
    try {
      const a = await rawRequest(`${named.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() });
      const b = await rawRequest(`${named.url}/openai/deployments/prod-chat/chat/completions?api-version=${API_VERSION}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'api-key': AZURE_KEY },
        body: chatBody(),
      });
      for (const r of [a, b]) expect((await waitForSpan(named.dbPath, r.headers['x-llmtap-span-id'] as string)).attributes['llm.provider']).toBe('vllm');
    } finally {
      await named.shutdown();
    }
  });
});
