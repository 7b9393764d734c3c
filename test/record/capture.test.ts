// Capture: the bounded copy the tap keeps of each response, and reading it back on the storage thread.
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { type Hold, MemoryBudget, RECORDED_BYTE_COST } from '../../src/memory-budget.js';
import { Capture } from '../../src/record/capture.js';
import { bufferOf, chunksOf, plainResponse } from '../../src/record/decode.js';

const BLOCK = 8192;
const plenty = (): Hold => new MemoryBudget(1 << 30).hold();
const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251));

describe('Capture', () => {
  it('keeps every chunk with its time across block edges: short, exactly a block, straddling, several blocks', () => {
    const sizes = [1, BLOCK - 1, 1, BLOCK, 3, BLOCK + 5, 0, 3 * BLOCK + 7];
    const chunks = sizes.map((n, i) => bytes(n, i));
    const capture = new Capture(1 << 20, plenty());
    chunks.forEach((c, i) => capture.add(c, 1000n + BigInt(i)));
    const sealed = capture.seal();
    expect(sealed.truncated).toBe(false);
    expect(bufferOf(sealed).equals(Buffer.concat(chunks))).toBe(true);
    expect(sealed.size).toBe(sizes.reduce((a, b) => a + b, 0));
    // Each block is a buffer of its own (they are transferred between threads, not copied).
    expect(new Set(sealed.blocks.map((b) => b.buffer)).size).toBe(sealed.blocks.length);
    expect([...chunksOf(sealed)].map(([c, t]) => [c.toString('hex'), t])).toEqual(chunks.map((c, i) => [c.toString('hex'), 1000n + BigInt(i)]));
  });

  it('stops at the limit: a chunk that crosses it is cut, later ones are dropped, and it says so', () => {
    const limit = BLOCK + 10;
    const capture = new Capture(limit, plenty());
    capture.add(bytes(BLOCK, 1), 1n);
    capture.add(bytes(20, 2), 2n);
    capture.add(bytes(5, 3), 3n);
    const sealed = capture.seal();
    expect(sealed.truncated).toBe(true);
    expect(bufferOf(sealed).equals(Buffer.concat([bytes(BLOCK, 1), bytes(20, 2).subarray(0, 10)]))).toBe(true);
    expect(sealed.lengths).toEqual([BLOCK, 10]);
  });

  it('a chunk that exactly fills the limit is not a truncation; the next byte is', () => {
    const capture = new Capture(100, plenty());
    capture.add(bytes(100, 4), 1n);
    expect(capture.seal().truncated).toBe(false);
    capture.add(bytes(1, 5), 2n);
    expect(capture.seal().truncated).toBe(true);
  });

  it('stops where the memory budget is spent, marked truncated, and gives it back when released', () => {
    const budget = new MemoryBudget(8192 * RECORDED_BYTE_COST);
    const hold = budget.hold();
    const capture = new Capture(1 << 20, hold);
    capture.add(bytes(5000, 6), 1n);
    capture.add(bytes(5000, 7), 2n);
    const sealed = capture.seal();
    expect(sealed.truncated).toBe(true);
    expect(sealed.size).toBe(8192);
    expect(budget.held).toBe(8192 * RECORDED_BYTE_COST);
    hold.release();
    expect(budget.held).toBe(0);
  });

  it('decodes a compressed body for the span, bounded by the limit', async () => {
    const text = 'x'.repeat(50_000);
    const capture = new Capture(1 << 20, plenty());
    const gz = gzipSync(text);
    capture.add(gz.subarray(0, 10), 5n);
    capture.add(gz.subarray(10), 6n);
    const plain = await plainResponse(capture.seal(), 'gzip', 1 << 20);
    expect(bufferOf(plain).toString()).toBe(text);
    expect(plain.firstNs).toBe(5n);
  });
});
