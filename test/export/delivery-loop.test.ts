// The delivery loop alone, on fake timers: a scripted post function instead of a target, a real SQLite
// outbox in memory. Backoff, Retry-After, the minimum delay, parking and splitting, in milliseconds.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { Delivery, type DeliveryOptions } from '../../src/export/delivery.js';
import type { ExportResponse } from '../../src/export/policy.js';
import { Metrics } from '../../src/metrics.js';
import { type DB, openDatabase } from '../../src/store/db.js';
import { Outbox } from '../../src/store/outbox.js';
import { spanInserter } from '../../src/store/spans.js';
import { sampleSpan } from '../support/spans.js';

interface Post {
  at: number;
  spanIds: string[];
}

const OK: ExportResponse = { kind: 'delivered' };
const busy = (retryAfterMs?: number): ExportResponse => ({
  kind: 'retry',
  reason: '503',
  message: 'HTTP 503: busy',
  ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
});
const TOO_LARGE: ExportResponse = { kind: 'too_large', reason: '413', message: 'HTTP 413: too large' };
const BAD: ExportResponse = { kind: 'rejected', reason: '400', message: 'HTTP 400: invalid' };

let db: DB;
let posts: Post[];
let logs: Record<string, unknown>[];
let metrics: Metrics;
let delivery: Delivery | undefined;

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  db = openDatabase(':memory:');
  posts = [];
  logs = [];
  metrics = new Metrics({ processMetrics: false });
});
afterEach(async () => {
  await delivery?.close(() => Date.now());
  delivery = undefined;
  db.close();
  vi.useRealTimers();
});

/** Starts the loop with `n` spans waiting; `answer` says what the target answers to each request. */
function deliver(n: number, answer: (post: Post, index: number) => ExportResponse, opts: Partial<DeliveryOptions> = {}): void {
  spanInserter(db, { outbox: true })(Array.from({ length: n }, (_, i) => sampleSpan({ spanId: (i + 1).toString(16).padStart(16, '0') })));
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const post = (spans: readonly { spanId: string }[]): Promise<ExportResponse> => {
    const p = { at: Date.now(), spanIds: spans.map((s) => s.spanId) };
    posts.push(p);
    return Promise.resolve(answer(p, posts.length - 1));
  };
  delivery = new Delivery(post, () => db, {
    target: 'http://phoenix.test/v1/traces',
    batchSize: 100,
    intervalMs: 100,
    concurrency: 1,
    maxBacklog: 1_000_000,
    log,
    metrics,
    storageBehind: () => false,
    ...opts,
  });
  delivery.start();
}

const gaps = (): number[] => posts.slice(1).map((p, i) => p.at - posts[i]!.at);
const counts = () => new Outbox(db).counts();
const logged = (msg: string) => logs.filter((l) => String(l.msg).startsWith(msg));

describe('retrying', () => {
  it('backs off exponentially with jitter, never sooner than a second, until the target takes the spans', async () => {
    deliver(3, (_p, i) => (i < 4 ? busy() : OK));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(posts.length).toBe(5);
    const [a, b, c, d] = gaps();
    expect(a).toBe(1000);
    expect(b).toBeGreaterThanOrEqual(1000);
    expect(b).toBeLessThanOrEqual(2000);
    expect(c).toBeGreaterThanOrEqual(2000);
    expect(c).toBeLessThanOrEqual(4000);
    expect(d).toBeGreaterThanOrEqual(4000);
    expect(d).toBeLessThanOrEqual(8000);
    expect(counts()).toEqual({ pending: 0, parked: 0 });
    expect(logged('export failed: will retry').length).toBe(1); // once per problem, not per attempt
    expect(logged('export target reachable again').length).toBe(1);
  });

  it('honours Retry-After', async () => {
    deliver(1, (_p, i) => (i === 0 ? busy(5000) : OK));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(gaps()).toEqual([5000]);
  });

  it('Retry-After: 0 still waits a second: at most one request a second, even with concurrency', async () => {
    deliver(200, () => busy(0), { batchSize: 10, concurrency: 4 });
    await vi.advanceTimersByTimeAsync(10_000);
    // The first round may use the concurrency; once the target fails, one request at a time.
    expect(posts.length).toBeLessThanOrEqual(4 + 10);
    for (const gap of gaps().slice(4)) expect(gap).toBeGreaterThanOrEqual(1000);
  });

  it('a success resets the backoff', async () => {
    deliver(2, (_p, i) => ([0, 1, 2, 4].includes(i) ? busy() : OK), { batchSize: 1 });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(counts().pending).toBe(0);
    // Span 1: busy, busy, busy, delivered; span 2 at once: busy, then a second later (not 4–8 s) delivered.
    expect(posts.map((p) => p.spanIds[0])).toEqual([
      '0000000000000001',
      '0000000000000001',
      '0000000000000001',
      '0000000000000001',
      '0000000000000002',
      '0000000000000002',
    ]);
    expect(gaps().slice(3)).toEqual([0, 1000]);
  });
});

describe('answers that will never succeed', () => {
  it('400: the batch is parked with one log line and never sent again', async () => {
    deliver(5, () => BAD);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(posts.length).toBe(1);
    expect(counts()).toEqual({ pending: 0, parked: 5 });
    expect(logged('export rejected')).toEqual([expect.objectContaining({ spans: 5, answers: ['HTTP 400: invalid'] })]);
  });

  it('413: halves until each part fits', async () => {
    deliver(8, (p) => (p.spanIds.length > 2 ? TOO_LARGE : OK));
    await vi.advanceTimersByTimeAsync(1000);
    expect(posts.map((p) => p.spanIds.length)).toEqual([8, 4, 2, 2, 4, 2, 2]);
    expect(counts()).toEqual({ pending: 0, parked: 0 });
  });

  it('a permanent 413: split down to single spans once, then parked with one summary line', async () => {
    deliver(4, () => TOO_LARGE);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(posts.map((p) => p.spanIds.length)).toEqual([4, 2, 1, 1, 2, 1, 1]);
    expect(counts()).toEqual({ pending: 0, parked: 4 });
    expect(logged('export rejected')).toEqual([expect.objectContaining({ spans: 4, answers: ['HTTP 413: too large'] })]);
  });

  it('a retry answer while splitting: the rest is not sent, and all of it goes with the next attempt', async () => {
    deliver(4, (p, i) => (i === 0 ? TOO_LARGE : i === 1 ? busy() : OK));
    await vi.advanceTimersByTimeAsync(999);
    expect(posts.map((p) => p.spanIds.length)).toEqual([4, 2]);
    await vi.advanceTimersByTimeAsync(1);
    expect(posts.map((p) => p.spanIds.length)).toEqual([4, 2, 4]);
    expect(counts()).toEqual({ pending: 0, parked: 0 });
  });
});
