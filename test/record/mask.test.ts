// Each OpenInference masking variable changes what is stored, as the spec's table says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { chatCompletions } from '../../src/record/endpoints/chat.js';
import { embeddings } from '../../src/record/endpoints/embeddings.js';
import { maskAttributes, REDACTED } from '../../src/record/mask.js';
import type { Attributes } from '../../src/record/span.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { rawRequest } from '../support/http.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
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
