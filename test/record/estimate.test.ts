// Estimated token counts, as pure logic: the model's encoding, what text counts, and what never does.
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';

import { encodingFor, estimateTokens } from '../../src/record/estimate.js';

describe('encodingFor', () => {
  it('cl100k_base for gpt-4, gpt-3.5 and the older embeddings; o200k_base for newer and unknown models', () => {
    for (const m of [
      'gpt-4',
      'gpt-4-0613',
      'gpt-4-turbo',
      'gpt-3.5-turbo-0125',
      'gpt-3.5-turbo-instruct',
      'text-embedding-3-small',
      'ft:gpt-3.5-turbo-0125:acme::x1',
    ]) {
      expect(encodingFor(m), m).toBe('cl100k_base');
    }
    for (const m of ['gpt-4o-mini-2024-07-18', 'gpt-4.1', 'gpt-5', 'o3', 'gpt-realtime', 'ft:gpt-4o-mini-2024-07-18:acme::x1', 'llama3', '']) {
      expect(encodingFor(m), m).toBe('o200k_base');
    }
  });
});

describe('estimateTokens', () => {
  const chat = {
    'llm.input_messages.0.message.role': 'system',
    'llm.input_messages.0.message.content': 'You are a helpful assistant.',
    'llm.input_messages.1.message.role': 'user',
    'llm.input_messages.1.message.content': 'Hello, world!',
    'llm.output_messages.0.message.role': 'assistant',
    'llm.output_messages.0.message.content': 'Hello, world!',
  };

  it("counts chat messages the way OpenAI's cookbook does, and the reply's text", () => {
    // 3 per message + role + content, + 3 priming: system 3+1+6, user 3+1+4, priming 3 = 21 (o200k_base).
    expect(estimateTokens(chat, 'gpt-4o-mini')).toEqual({ prompt: 21, completion: 4 });
  });

  it('counts names, text parts, tool calls and tool definitions; never reasoning or images', () => {
    const attrs = {
      'llm.input_messages.0.message.role': 'user',
      'llm.input_messages.0.message.name': 'alice',
      'llm.input_messages.0.message.contents.0.message_content.type': 'text',
      'llm.input_messages.0.message.contents.0.message_content.text': 'Hello, world!',
      'llm.input_messages.0.message.contents.1.message_content.type': 'image',
      'llm.input_messages.0.message.contents.1.message_content.image.image.url': 'https://example.com/cat.png',
      'llm.tools.0.tool.json_schema': '{"type":"function"}',
      'llm.output_messages.0.message.role': 'assistant',
      'llm.output_messages.0.message.contents.0.message_content.type': 'reasoning',
      'llm.output_messages.0.message.contents.0.message_content.text': 'A long hidden chain of thought.',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.name': 'get_weather',
      'llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments': '{"city":"Paris"}',
    };
    const e = estimateTokens(attrs, 'gpt-4o-mini');
    const without = estimateTokens({ ...attrs, 'llm.output_messages.0.message.contents.0.message_content.text': '' }, 'gpt-4o-mini');
    expect(e.completion).toBe(without.completion); // the reasoning text counts for nothing
    expect(e.completion).toBeGreaterThan(5);
    // user: 3 + role 1 + name 1 + 1 + text 4; the tool's JSON; priming 3.
    expect(e.prompt).toBe(3 + 1 + 1 + 1 + 4 + estimateTokens({ 'llm.tools.0.tool.json_schema': '{"type":"function"}' }, 'gpt-4o-mini').prompt! + 3);
  });

  it('legacy prompts and choices, and embedded texts', () => {
    expect(
      estimateTokens({ 'llm.prompts.0.prompt.text': 'Hello, world!', 'llm.choices.0.completion.text': 'Hello, world!' }, 'gpt-3.5-turbo-instruct'),
    ).toEqual({
      prompt: 4,
      completion: 4,
    });
    expect(
      estimateTokens({ 'embedding.embeddings.0.embedding.text': 'Hello, world!', 'embedding.embeddings.1.embedding.text': 'Hi' }, 'text-embedding-3-small'),
    ).toEqual({
      prompt: 5,
    });
  });

  it('text that spells special tokens is counted as text, never thrown on', () => {
    expect(estimateTokens({ 'llm.choices.0.completion.text': '<|endoftext|>' }, 'gpt-4o').completion).toBeGreaterThan(1);
  });

  it('nothing recorded: no count', () => {
    expect(estimateTokens({ 'input.value': 'not parsed' }, 'gpt-4o')).toEqual({});
  });

  it('bounded work for hostile text: megabytes without a space are counted in seconds, not hours', () => {
    // Counted whole, 100,000 characters without a space took 3.8 s (the cost grows with the square of a
    // run's length); these would take hours. Runs are counted in pieces, and past 128 KiB at the rate seen.
    const unbroken = 'x'.repeat(4_000_000);
    const base64 = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7919) % 256)).toString('base64');
    const { prompt } = estimateTokens({ 'llm.input_messages.0.message.role': 'user', 'llm.input_messages.0.message.content': unbroken }, 'gpt-4o');
    const { completion } = estimateTokens({ 'llm.output_messages.0.message.content': base64 }, 'gpt-4o');
    // 'xxxxxxxx' is one token in o200k_base: about 500,000 for the run; base64 is about 0.7 tokens a character.
    expect(prompt).toBeGreaterThan(400_000);
    expect(prompt).toBeLessThan(600_000);
    expect(completion! / base64.length).toBeGreaterThan(0.4);
    expect(completion! / base64.length).toBeLessThan(1);
  });

  it('ordinary text is counted exactly; a long run in pieces changes the count little', () => {
    const plain = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
    expect(estimateTokens({ 'llm.output_messages.0.message.content': plain }, 'gpt-4o').completion).toBe(countTokens(plain));
    const withUrl = `see https://example.com/${'a1b2c3'.repeat(30)} now`;
    const estimated = estimateTokens({ 'llm.output_messages.0.message.content': withUrl }, 'gpt-4o').completion!;
    expect(Math.abs(estimated - countTokens(withUrl)) / countTokens(withUrl)).toBeLessThan(0.2);
  });
});
