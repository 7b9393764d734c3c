// Each OpenInference masking variable changes what is stored, as the spec's table says.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { chatCompletions } from '../../src/record/endpoints/chat.js';
import { embeddings } from '../../src/record/endpoints/embeddings.js';
import { responses } from '../../src/record/endpoints/responses.js';
import { maskAttributes, REDACTED } from '../../src/record/mask.js';
import type { Attributes } from '../../src/record/span.js';
import { exportJsonl } from '../support/api.js';
import { eventually } from '../support/eventually.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { rawRequest } from '../support/http.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import { waitForSpan } from '../support/spans.js';

const bigImage = `data:image/png;base64,${'A'.repeat(40_000)}`;
const request = {
  model: 'gpt-4o-mini',
  temperature: 0,
  tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
  messages: [
    { role: 'system', content: 'secret system prompt' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'secret user text' },
        { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
        { type: 'image_url', image_url: { url: bigImage } },
      ],
    },
  ],
};
const response = {
  id: 'x',
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'secret answer' } }],
  usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
};

function sample(): Attributes {
  const attrs: Attributes = {};
  chatCompletions.request(request, attrs);
  chatCompletions.response(response, attrs);
  Object.assign(attrs, {
    'llm.prompts.0.prompt.text': 'legacy prompt',
    'llm.choices.0.completion.text': 'legacy choice',
    'embedding.embeddings.0.embedding.text': 'embedded text',
    'embedding.embeddings.0.embedding.vector': [0.1, 0.2],
  });
  return attrs;
}

const masked = (env: Record<string, string>): Attributes => maskAttributes(loadConfig(env), sample());
const keysLike = (a: Attributes, part: string): string[] => Object.keys(a).filter((k) => k.includes(part));

describe('masking variables', () => {
  it('defaults: nothing hidden but base64 images over 32,000 characters', () => {
    const a = masked({});
    expect(a['llm.input_messages.0.message.content']).toBe('secret system prompt');
    expect(a['llm.input_messages.1.message.contents.1.message_content.image.image.url']).toBe('https://example.com/a.png');
    expect(a['llm.input_messages.1.message.contents.2.message_content.image.image.url']).toBe(REDACTED);
    expect(a['input.value']).not.toContain('AAAA');
    expect(JSON.parse(a['input.value'] as string).messages[1].content[1].image_url.url).toBe('https://example.com/a.png');
    expect(a['embedding.embeddings.0.embedding.vector']).toEqual([0.1, 0.2]);
  });

  it('OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH raises the limit', () => {
    const a = masked({ OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH: '100000' });
    expect(a['llm.input_messages.1.message.contents.2.message_content.image.image.url']).toBe(bigImage);
    expect(a['input.value']).toContain(bigImage);
  });

  it('OPENINFERENCE_HIDE_INPUTS', () => {
    const a = masked({ OPENINFERENCE_HIDE_INPUTS: 'true' });
    expect(a['input.value']).toBe(REDACTED);
    expect(a['input.mime_type']).toBeUndefined();
    expect(keysLike(a, 'llm.input_messages')).toEqual([]);
    expect(keysLike(a, 'llm.tools')).toEqual([]);
    expect(a['llm.prompts.0.prompt.text']).toBe(REDACTED);
    expect(a['output.value']).toContain('secret answer');
  });

  it('OPENINFERENCE_HIDE_OUTPUTS', () => {
    const a = masked({ OPENINFERENCE_HIDE_OUTPUTS: 'True' });
    expect(a['output.value']).toBe(REDACTED);
    expect(a['output.mime_type']).toBeUndefined();
    expect(keysLike(a, 'llm.output_messages')).toEqual([]);
    expect(a['llm.choices.0.completion.text']).toBe(REDACTED);
    expect(a['llm.input_messages.0.message.content']).toBe('secret system prompt');
  });

  it('OPENINFERENCE_HIDE_INPUT_MESSAGES / _OUTPUT_MESSAGES', () => {
    const a = masked({ OPENINFERENCE_HIDE_INPUT_MESSAGES: 'true' });
    expect(keysLike(a, 'llm.input_messages')).toEqual([]);
    expect(a['input.value']).toContain('secret user text');
    const b = masked({ OPENINFERENCE_HIDE_OUTPUT_MESSAGES: 'true' });
    expect(keysLike(b, 'llm.output_messages')).toEqual([]);
    expect(b['output.value']).toContain('secret answer');
  });

  it('OPENINFERENCE_HIDE_INPUT_IMAGES, inside input.value too', () => {
    const a = masked({ OPENINFERENCE_HIDE_INPUT_IMAGES: 'true' });
    expect(keysLike(a, 'message_content.image')).toEqual([]);
    expect(a['llm.input_messages.1.message.contents.1.message_content.type']).toBe('image');
    const input = JSON.parse(a['input.value'] as string);
    expect(input.messages[1].content[1].image_url.url).toBe(REDACTED);
    expect(input.messages[1].content[2].image_url.url).toBe(REDACTED);
  });

  it('OPENINFERENCE_HIDE_INPUT_TEXT / _OUTPUT_TEXT', () => {
    const a = masked({ OPENINFERENCE_HIDE_INPUT_TEXT: 'true' });
    expect(a['llm.input_messages.0.message.content']).toBe(REDACTED);
    expect(a['llm.input_messages.1.message.contents.0.message_content.text']).toBe(REDACTED);
    expect(a['llm.output_messages.0.message.content']).toBe('secret answer');
    const b = masked({ OPENINFERENCE_HIDE_OUTPUT_TEXT: 'true' });
    expect(b['llm.output_messages.0.message.content']).toBe(REDACTED);
    expect(b['llm.input_messages.0.message.content']).toBe('secret system prompt');
  });

  it('OPENINFERENCE_HIDE_LLM_TOOLS and _LLM_INVOCATION_PARAMETERS', () => {
    expect(keysLike(masked({ OPENINFERENCE_HIDE_LLM_TOOLS: 'true' }), 'llm.tools')).toEqual([]);
    const a = masked({ OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS: 'true' });
    expect(a['llm.invocation_parameters']).toBeUndefined();
    expect(keysLike(a, 'llm.tools').length).toBe(1);
  });

  it('OPENINFERENCE_HIDE_PROMPTS and _CHOICES', () => {
    expect(masked({ OPENINFERENCE_HIDE_PROMPTS: 'true' })['llm.prompts.0.prompt.text']).toBe(REDACTED);
    expect(masked({ OPENINFERENCE_HIDE_CHOICES: 'true' })['llm.choices.0.completion.text']).toBe(REDACTED);
  });

  it('OPENINFERENCE_HIDE_EMBEDDING_VECTORS, its newer name, and _EMBEDDINGS_TEXT', () => {
    expect(masked({ OPENINFERENCE_HIDE_EMBEDDING_VECTORS: 'true' })['embedding.embeddings.0.embedding.vector']).toBeUndefined();
    expect(masked({ OPENINFERENCE_HIDE_EMBEDDINGS_VECTORS: 'true' })['embedding.embeddings.0.embedding.vector']).toBeUndefined();
    expect(masked({ OPENINFERENCE_HIDE_EMBEDDINGS_TEXT: 'true' })['embedding.embeddings.0.embedding.text']).toBe(REDACTED);
  });

  it('on an embeddings span, _EMBEDDINGS_TEXT also redacts input.value (the texts themselves) and _VECTORS drops every vector', () => {
    const embeddingSpan = (): Attributes => {
      const attrs: Attributes = { 'openinference.span.kind': 'EMBEDDING' };
      embeddings.request({ model: 'text-embedding-3-small', input: ['secret one', 'secret two'] }, attrs);
      embeddings.response(
        {
          model: 'text-embedding-3-small',
          data: [
            { index: 0, embedding: [0.5] },
            { index: 1, embedding: 'AAAAPw==' },
          ],
        },
        attrs,
      );
      return attrs;
    };
    expect(embeddingSpan()['embedding.embeddings.1.embedding.vector']).toEqual([0.5]);
    const hidden = maskAttributes(loadConfig({ OPENINFERENCE_HIDE_EMBEDDINGS_TEXT: 'true' }), embeddingSpan());
    expect(JSON.stringify(hidden)).not.toContain('secret');
    expect(hidden['input.value']).toBe(REDACTED);
    expect(keysLike(maskAttributes(loadConfig({ OPENINFERENCE_HIDE_EMBEDDING_VECTORS: '1' }), embeddingSpan()), 'embedding.vector')).toEqual([]);
    // A chat span's input.value is not an embedding text.
    expect(masked({ OPENINFERENCE_HIDE_EMBEDDINGS_TEXT: 'true' })['input.value']).toContain('secret user text');
  });

  it('a value other than true/false is a start-up error naming the variable', () => {
    expect(() => loadConfig({ OPENINFERENCE_HIDE_INPUTS: 'yes' })).toThrow(/OPENINFERENCE_HIDE_INPUTS/);
  });
});

describe('every place a request carries text', () => {
  const responsesSpan = (): Attributes => {
    const attrs: Attributes = {};
    responses.request(
      {
        model: 'gpt-4o-mini',
        instructions: 'secret instructions',
        input: 'secret input',
        tools: [{ type: 'function', name: 'f', description: 'secret tool', parameters: { properties: { q: { description: 'secret schema' } } } }],
        prompt: { id: 'pmpt_1', variables: { city: 'secret variable' } },
      },
      attrs,
    );
    return attrs;
  };
  const invocation = (a: Attributes): Record<string, unknown> => JSON.parse(a['llm.invocation_parameters'] as string) as Record<string, unknown>;

  it('OPENINFERENCE_HIDE_INPUTS: instructions, tools and prompt variables leave the invocation parameters too', () => {
    const a = maskAttributes(loadConfig({ OPENINFERENCE_HIDE_INPUTS: 'true' }), responsesSpan());
    expect(JSON.stringify(a)).not.toContain('secret');
    expect(invocation(a)).toEqual({ model: 'gpt-4o-mini' });
  });

  it('… embedded texts, and a chat call’s prediction and legacy functions', () => {
    const emb: Attributes = { 'openinference.span.kind': 'EMBEDDING' };
    embeddings.request({ model: 'text-embedding-3-small', input: ['secret one', 'secret two'] }, emb);
    expect(JSON.stringify(maskAttributes(loadConfig({ OPENINFERENCE_HIDE_INPUTS: 'true' }), emb))).not.toContain('secret');
    const chat: Attributes = {};
    chatCompletions.request(
      { ...request, prediction: { type: 'content', content: 'secret prediction' }, functions: [{ name: 'g', description: 'secret function' }] },
      chat,
    );
    expect(JSON.stringify(maskAttributes(loadConfig({ OPENINFERENCE_HIDE_INPUTS: 'true' }), chat))).not.toContain('secret');
  });

  it('OPENINFERENCE_HIDE_LLM_TOOLS, _INPUT_MESSAGES and _INPUT_TEXT reach the invocation parameters', () => {
    const tools = invocation(maskAttributes(loadConfig({ OPENINFERENCE_HIDE_LLM_TOOLS: 'true' }), responsesSpan()));
    expect(tools.tools).toBeUndefined();
    expect(tools.instructions).toBe('secret instructions');
    const messages = invocation(maskAttributes(loadConfig({ OPENINFERENCE_HIDE_INPUT_MESSAGES: 'true' }), responsesSpan()));
    expect(messages.instructions).toBeUndefined();
    expect(messages.prompt).toBeUndefined();
    const text = maskAttributes(loadConfig({ OPENINFERENCE_HIDE_INPUT_TEXT: 'true' }), responsesSpan());
    expect(invocation(text).instructions).toBe(REDACTED);
    expect(text['llm.input_messages.0.message.content']).toBe(REDACTED); // the instructions as a system message
  });

  it('OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS drops the embeddings’ too', () => {
    const emb: Attributes = {};
    embeddings.request({ model: 'text-embedding-3-small', input: 'x', dimensions: 8 }, emb);
    expect(maskAttributes(loadConfig({ OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS: 'true' }), emb)['embedding.invocation_parameters']).toBeUndefined();
  });
});

describe('masking fails closed', () => {
  const deep = (url: string): string => `${'['.repeat(20_000)}{"image_url":{"url":"${url}"}}${']'.repeat(20_000)}`;

  it('an input.value nested too deep to walk is dropped when images are to be hidden, not stored raw', () => {
    const a = maskAttributes(loadConfig({ OPENINFERENCE_HIDE_INPUT_IMAGES: 'true' }), { 'input.value': deep('https://example.com/secret.png') });
    expect(a['input.value']).toBeUndefined();
  });

  it('text that is not JSON: dropped when images are to be hidden; otherwise long base64 images are redacted in place', () => {
    const text = `{"messages":[{"content":[{"type":"image_url","image_url":{"url":"${bigImage}"}}]}],"cut here`;
    expect(maskAttributes(loadConfig({ OPENINFERENCE_HIDE_INPUT_IMAGES: 'true' }), { 'input.value': text })['input.value']).toBeUndefined();
    const kept = maskAttributes(loadConfig({}), { 'input.value': text })['input.value'] as string;
    expect(kept).toContain(`"url":"${REDACTED}"`);
    expect(kept).not.toContain('AAAA');
  });

  it('invocation parameters that cannot be read are dropped when something in them is to be hidden', () => {
    const a = maskAttributes(loadConfig({ OPENINFERENCE_HIDE_INPUTS: 'true' }), { 'llm.invocation_parameters': '{"instructions":"secret", cut' });
    expect(a['llm.invocation_parameters']).toBeUndefined();
  });
});

describe('masking through the proxy', () => {
  let fake: FakeOpenAI;
  let proxy: InProcess;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    proxy = await startLlmtap({
      LLMTAP_UPSTREAM_URL: fake.url,
      LLMTAP_LOG_LEVEL: 'silent',
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      OPENINFERENCE_HIDE_INPUT_TEXT: 'true',
    });
  });
  afterAll(async () => {
    await proxy.shutdown();
    await fake.close();
  });

  it('stores the masked span while the upstream gets the request unchanged', async () => {
    const before = fake.requests.length;
    const body = JSON.stringify(request);
    const r = await rawRequest(`${proxy.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const span = await waitForSpan(proxy.dbPath, r.headers['x-llmtap-span-id'] as string);
    expect(span.attributes['llm.input_messages.0.message.content']).toBe(REDACTED);
    expect(span.attributes['llm.input_messages.1.message.contents.2.message_content.image.image.url']).toBe(REDACTED);
    expect(fake.requests[before]!.body.toString()).toBe(body);
  });
});

// The acceptance: a canary word in every field that carries a request's or an answer's text, and in an
// image URL nested 20,000 arrays deep; with the masking variables set, no canary reaches SQLite (its
// WAL included, while running and after the stop's checkpoint), the OTLP export (decoded by the real
// receiver) or the JSONL export.
describe('masking canaries', () => {
  const canary = (field: string): string => `zqxcanary${field}`;
  let fake: FakeOpenAI;
  let receiver: OtlpReceiver;
  let hidden: InProcess;
  let images: InProcess;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    // The answer carries canaries too: its text and a tool call's arguments.
    fake.handler = (req, res) => {
      if (req.headers['x-fake-behavior'] !== 'canary-answer') return false;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c',
          object: 'chat.completion',
          model: 'gpt-4o-mini',
          choices: [
            {
              index: 0,
              finish_reason: 'tool_calls',
              message: {
                role: 'assistant',
                content: canary('answer'),
                tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: `{"q":"${canary('arguments')}"}` } }],
              },
            },
          ],
        }),
      );
      return true;
    };
    receiver = await startOtlpReceiver();
    const env = {
      LLMTAP_UPSTREAM_URL: fake.url,
      LLMTAP_LOG_LEVEL: 'silent',
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      LLMTAP_EXPORT_INTERVAL_MS: '50',
      PHOENIX_COLLECTOR_ENDPOINT: receiver.url,
    };
    hidden = await startLlmtap({ ...env, OPENINFERENCE_HIDE_INPUTS: 'true', OPENINFERENCE_HIDE_OUTPUTS: 'true' });
    images = await startLlmtap({ ...env, OPENINFERENCE_HIDE_INPUT_IMAGES: 'true' });
  });
  afterAll(async () => {
    await hidden?.shutdown();
    await images?.shutdown();
    await receiver.stop();
    await fake.close();
  });

  const post = async (proxy: InProcess, path: string, body: unknown, headers: Record<string, string> = {}): Promise<string> => {
    const r = await rawRequest(`${proxy.baseURL}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(r.status, path).toBe(200);
    return r.headers['x-llmtap-span-id'] as string;
  };

  /** Every file of the database's directory (the database, its WAL, the shared memory), case-folded. */
  const databaseFiles = (proxy: InProcess): string =>
    readdirSync(dirname(proxy.dbPath))
      .map((f) => readFileSync(join(dirname(proxy.dbPath), f)).toString('latin1'))
      .join('\n')
      .toLowerCase();

  it('appear nowhere in SQLite, WAL, OTLP or JSONL', async () => {
    const tools = [
      { type: 'function', function: { name: 'f', description: canary('tool'), parameters: { properties: { q: { description: canary('schema') } } } } },
    ];
    const ids = {
      hidden: [
        await post(
          hidden,
          '/chat/completions',
          {
            model: 'gpt-4o-mini',
            messages: [
              { role: 'system', content: canary('system') },
              {
                role: 'user',
                content: [
                  { type: 'text', text: canary('user') },
                  { type: 'image_url', image_url: { url: `https://example.com/${canary('image')}.png` } },
                ],
              },
            ],
            tools,
            functions: [{ name: 'g', description: canary('function') }],
            prediction: { type: 'content', content: canary('prediction') },
          },
          { 'x-fake-behavior': 'canary-answer' },
        ),
        await post(hidden, '/responses', {
          model: 'gpt-4o-mini',
          instructions: canary('instructions'),
          input: canary('input'),
          tools: [{ type: 'function', name: 'f', description: canary('responsestool'), parameters: {} }],
          prompt: { id: 'pmpt_1', variables: { city: canary('variable') } },
        }),
        await post(hidden, '/embeddings', { model: 'text-embedding-3-small', input: [canary('embedone'), canary('embedtwo')] }),
        await post(hidden, '/completions', { model: 'gpt-3.5-turbo-instruct', prompt: canary('prompt'), suffix: canary('suffix') }),
      ],
      images: [
        await post(images, '/chat/completions', {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `https://example.com/${canary('image2')}.png` } }] }],
        }),
        // The masker cannot walk this deep: the request is recorded without its input.value.
        await post(
          images,
          '/chat/completions',
          `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(20_000)}{"image_url":{"url":"https://example.com/${canary('deep')}.png"}}${']'.repeat(20_000)}}`,
        ),
      ],
    };
    const all = [...ids.hidden, ...ids.images];
    for (const id of ids.hidden) await waitForSpan(hidden.dbPath, id);
    for (const id of ids.images) await waitForSpan(images.dbPath, id);
    await eventually(() => all.every((id) => receiver.accepted().some((s) => s.spanId === id)), 'every span exported');

    // The canaries did travel: upstream got them, so the test would see a leak.
    expect(fake.requests.map((r) => r.body.toString()).join('')).toContain(canary('deep'));
    const images0 = await waitForSpan(images.dbPath, ids.images[0]!);
    expect(images0.attributes['input.value']).toContain(REDACTED);
    expect((await waitForSpan(images.dbPath, ids.images[1]!)).attributes['input.value']).toBeUndefined();

    const leaks = (where: string, text: string): void => expect(text.toLowerCase(), where).not.toContain('zqxcanary');
    leaks('SQLite (hidden)', databaseFiles(hidden));
    leaks('SQLite (images)', databaseFiles(images));
    leaks(
      'OTLP',
      JSON.stringify(
        receiver.requests.map((r) => r.spans),
        (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v),
      ),
    );
    leaks('JSONL (hidden)', await exportJsonl(hidden.url));
    leaks('JSONL (images)', await exportJsonl(images.url));
    // After the stop's checkpoint, the WAL's pages are in the database file.
    await hidden.shutdown();
    await images.shutdown();
    leaks('SQLite after the stop (hidden)', databaseFiles(hidden));
    leaks('SQLite after the stop (images)', databaseFiles(images));
  });
});
