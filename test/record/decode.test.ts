// A captured response read back on the storage thread: its chunks across the capture's blocks, and
// compressed bodies decoded only as far as the capture limit allows.
import { brotliCompressSync, gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { MemoryBudget } from '../../src/memory-budget.js';
import { Capture, type Captured } from '../../src/record/capture.js';
import { bufferOf, chunksOf, plainResponse } from '../../src/record/decode.js';

const captured = (chunks: Buffer[], limit = 1 << 20): Captured => {
  const capture = new Capture(limit, new MemoryBudget(64 << 20).hold());
  chunks.forEach((c, i) => capture.add(c, BigInt(i * 1000)));
  return capture.seal();
};

describe('chunksOf', () => {
  it('gives back each chunk as written, with its time, across block edges', () => {
    const chunks = Array.from({ length: 9 }, (_, i) => Buffer.alloc(5000 + i, 97 + i));
    const c = captured(chunks);
    expect(c.blocks.length).toBeGreaterThan(2); // 8 KiB, 8 KiB, 16 KiB, 32 KiB
    const back = [...chunksOf(c)];
    expect(back.map(([chunk]) => chunk)).toEqual(chunks);
    expect(back.map(([, at]) => at)).toEqual(chunks.map((_, i) => 1000n * BigInt(i)));
    expect(bufferOf(c)).toEqual(Buffer.concat(chunks));
  });
});

describe('plainResponse', () => {
  const text = JSON.stringify({ choices: [{ message: { content: 'y'.repeat(100_000) } }] });

  it('decodes a compressed body up to the limit: the text that fit, marked truncated', async () => {
    for (const [encoding, body] of [
      ['gzip', gzipSync(text)],
      ['br', brotliCompressSync(text)],
    ] as const) {
      const c = captured([body]);
      expect(c.truncated).toBe(false);
      const plain = await plainResponse(c, encoding, 1500);
      expect(bufferOf(plain).toString()).toBe(text.slice(0, 1500));
      expect(plain.truncated).toBe(true);
    }
  });

  it('a whole body within the limit is decoded whole, not truncated', async () => {
    const plain = await plainResponse(captured([gzipSync(text)]), 'gzip', 1 << 20);
    expect(bufferOf(plain).toString()).toBe(text);
    expect(plain.truncated).toBe(false);
  });

  it('a capture cut mid-stream gives the text of what was captured', async () => {
    const body = gzipSync(text);
    const plain = await plainResponse(captured([body], 60), 'gzip', 1 << 20);
    expect(plain.truncated).toBe(true);
    expect(text.startsWith(bufferOf(plain).toString())).toBe(true);
  });

  it('bytes that are not what the header says: what could be decoded (nothing), marked truncated', async () => {
    const plain = await plainResponse(captured([Buffer.from('not gzip at all')]), 'gzip', 1 << 20);
    expect(bufferOf(plain).length).toBe(0);
    expect(plain.truncated).toBe(true);
  });
});
