// Reading a captured event stream: events cut anywhere between chunks, each with the time of its last chunk.
import { describe, expect, it } from 'vitest';

import { MemoryBudget } from '../../src/memory-budget.js';
import { Capture } from '../../src/record/capture.js';
import { ENDPOINTS } from '../../src/record/endpoints/index.js';
import type { Attributes } from '../../src/record/span.js';
import { readStream } from '../../src/record/sse.js';

const chunk = (content: string) =>
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', model: 'gpt-x', choices: [{ index: 0, delta: { content } }] })}\n\n`;

/** The stream's bytes cut at `cuts`, chunk i written at time 1000 + i. */
function read(bytes: Buffer, cuts: number[]) {
  const capture = new Capture(1 << 20, new MemoryBudget(1 << 30).hold());
  [0, ...cuts].forEach((from, i, all) => capture.add(bytes.subarray(from, all[i + 1] ?? bytes.length), 1000n + BigInt(i)));
  const attrs: Attributes = {};
  const outcome = readStream(capture.seal(), ENDPOINTS.chat!.stream!(), attrs);
  return { outcome, content: attrs['llm.output_messages.0.message.content'] };
}

describe('readStream', () => {
  it('decodes UTF-8 characters cut between chunks, drops a leading byte-order mark, and times each event by its last chunk', () => {
    const text = '\ufeff' + chunk('') + chunk('héllo ☃ 😀') + 'data: not json\r\n\r\n' + chunk(' \u2028"\\') + 'data: [DONE]\n\n';
    const bytes = Buffer.from(text);
    const snowman = bytes.indexOf(Buffer.from('☃'));
    const emoji = bytes.indexOf(Buffer.from('😀'));
    // Cut inside the BOM, inside the snowman and twice inside the emoji.
    const { outcome, content } = read(bytes, [1, snowman + 1, emoji + 1, emoji + 3]);
    expect(content).toBe('héllo ☃ 😀 \u2028"\\');
    expect(outcome.firstTokenNs).toBe(1004n);
  });

  it('an invalid UTF-8 byte becomes U+FFFD, as a decoder would make it', () => {
    const bytes = Buffer.from(chunk('a@'));
    bytes[bytes.indexOf('@')] = 0xff;
    expect(read(bytes, [10]).content).toBe('a\ufffd');
  });
});
