// The histograms behind percentiles: four buckets per doubling, a percentile within 9% of the exact one,
// counts that add and subtract as text.
import { describe, expect, it } from 'vitest';

import { addText, addTexts, bucketOf, bucketValue, type Histogram, quantile, toText } from '../../src/store/histogram.js';

describe('histograms', () => {
  it('put every duration in a bucket whose middle is within 9% of it', () => {
    for (let ms = 1; ms < 1e9; ms *= 1.013) expect(Math.abs(bucketValue(bucketOf(ms)) / ms - 1), String(ms)).toBeLessThanOrEqual(0.0906);
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(0.99)).toBe(0);
    expect(bucketOf(1)).toBe(1);
    expect(bucketOf(2)).toBe(5);
    expect(bucketOf(1e12)).toBe(bucketOf(1e15)); // the last bucket takes what is longer
  });

  it('give the nearest-rank percentile as its bucket, and add up as text', () => {
    const h: Histogram = new Map();
    const values = Array.from({ length: 1000 }, (_, i) => 10 + ((i * 7919) % 5000));
    const text = values.map((v) => `${bucketOf(v)}:1`).join(',');
    addText(h, text);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99]) expect(Math.abs(quantile(h, q)! / sorted[Math.ceil(q * 1000) - 1]! - 1)).toBeLessThanOrEqual(0.0906);
    expect(quantile(new Map(), 0.5)).toBeNull();
    expect(addTexts('3:2,9:1', '9:4,12:1')).toBe('3:2,9:5,12:1');
    expect(addTexts('3:2,9:1', '3:-2')).toBe('9:1');
    expect(addTexts('', null)).toBe('');
    expect(toText(new Map([[7, -1]]))).toBe('7:-1'); // what a prune subtracts
  });
});
