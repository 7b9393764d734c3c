// The export policy on its own: how an answer is read, how long to wait, how a batch is split.
import { describe, expect, it } from 'vitest';

import { type ExportResponse, exportResponse, MIN_RETRY_MS, retryAfterMs, retryDelayMs, sendSplitting } from '../../src/export/policy.js';

const kind = (status: number, retryAfter?: string): string => exportResponse(status, retryAfter, '').kind;

describe('exportResponse', () => {
  it('2xx delivers; 408, 429, 5xx retry; 413 is too large; other 4xx are rejected', () => {
    expect([200, 202, 204].map((s) => kind(s))).toEqual(['delivered', 'delivered', 'delivered']);
    expect([408, 429, 500, 503, 507].map((s) => kind(s))).toEqual(['retry', 'retry', 'retry', 'retry', 'retry']);
    expect(kind(413)).toBe('too_large');
    expect([400, 401, 403, 404, 415, 422].map((s) => kind(s))).toEqual(['rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
  });

  it('says why, with the start of the answer, and keeps Retry-After', () => {
    expect(exportResponse(503, '2', '{"detail":"busy"}')).toEqual({ kind: 'retry', reason: '503', message: 'HTTP 503: {"detail":"busy"}', retryAfterMs: 2000 });
    expect(exportResponse(400, undefined, '')).toEqual({ kind: 'rejected', reason: '400', message: 'HTTP 400: (no body)' });
  });

  it('Retry-After in seconds or as a date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(Date.now() + 5000).toUTCString(), Date.now())).toBeGreaterThan(3000);
    expect(retryAfterMs('0')).toBe(0);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('retryDelayMs', () => {
  it('doubles with equal jitter, up to 30 s', () => {
    const bounds = (attempt: number): [number, number] => [retryDelayMs(attempt, undefined, () => 0), retryDelayMs(attempt, undefined, () => 0.999999)];
    expect(bounds(0)).toEqual([1000, 1000]);
    expect(bounds(1).map(Math.round)).toEqual([1000, 2000]);
    expect(bounds(2).map(Math.round)).toEqual([2000, 4000]);
    expect(bounds(10).map(Math.round)).toEqual([15_000, 30_000]);
  });

  it('honours Retry-After, but never less than a second', () => {
    expect(retryDelayMs(0, 5000)).toBe(5000);
    expect(retryDelayMs(5, 0)).toBe(MIN_RETRY_MS);
    expect(retryDelayMs(0, 10)).toBe(MIN_RETRY_MS);
  });
});

describe('sendSplitting', () => {
  const ok: ExportResponse = { kind: 'delivered' };
  const tooLarge: ExportResponse = { kind: 'too_large', reason: '413', message: 'HTTP 413: (no body)' };
  const busy: ExportResponse = { kind: 'retry', reason: '503', message: 'HTTP 503: (no body)' };

  const run = async (n: number, answer: (part: number[]) => ExportResponse) => {
    const sent: number[][] = [];
    const parts = await sendSplitting(
      Array.from({ length: n }, (_, i) => i),
      async (part) => {
        sent.push(part);
        return answer(part);
      },
    );
    return { sent, parts: parts.map((p) => [p.items, p.response.kind]) };
  };

  it('halves what is too large until it fits, in order', async () => {
    const { sent, parts } = await run(5, (part) => (part.length > 2 ? tooLarge : ok));
    expect(sent).toEqual([[0, 1, 2, 3, 4], [0, 1, 2], [0, 1], [2], [3, 4]]);
    expect(parts).toEqual([
      [[0, 1], 'delivered'],
      [[2], 'delivered'],
      [[3, 4], 'delivered'],
    ]);
  });

  it('down to single items at most: 2n − 1 requests for a target that refuses everything', async () => {
    const { sent, parts } = await run(4, () => tooLarge);
    expect(sent.map((p) => p.length)).toEqual([4, 2, 1, 1, 2, 1, 1]);
    expect(parts).toEqual([0, 1, 2, 3].map((i) => [[i], 'too_large']));
  });

  it('after an answer to retry, sends nothing more: the rest gets the same answer', async () => {
    const { sent, parts } = await run(4, (part) => (part.length === 4 ? tooLarge : busy));
    expect(sent).toEqual([
      [0, 1, 2, 3],
      [0, 1],
    ]);
    expect(parts).toEqual([
      [[0, 1], 'retry'],
      [[2, 3], 'retry'],
    ]);
  });
});
