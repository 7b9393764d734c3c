// One OTLP/HTTP export request (encode, gzip, POST) and how to read its answer: shared by the delivery
// loop and `llmtap import --to-phoenix`.
import { promisify } from 'node:util';
import { constants, gzip as gzipCallback } from 'node:zlib';

import { request } from 'undici';

import type { Span } from '../record/span.js';
import type { OtlpEncoder } from './otlp.js';
import type { ExportTarget } from './target.js';

const gzip = promisify(gzipCallback);
const RETRY_AFTER_MAX_MS = 600_000;

export interface Reply {
  status: number;
  /** The start of the answer's body, for logs and park reasons. */
  answer: string;
  retryAfter: number | undefined;
}

export async function postSpans(
  target: ExportTarget,
  encoder: OtlpEncoder,
  spans: readonly Span[],
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<Reply> {
  // The fastest level: most of gzip's gain on span text, at a fraction of the default level's CPU.
  const body = await gzip(encoder.encode(spans), { level: constants.Z_BEST_SPEED });
  const res = await request(target.url, {
    method: 'POST',
    headers: target.headers,
    body,
    signal: opts.signal,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  });
  const answer = (await res.body.text()).slice(0, 500);
  return { status: res.statusCode, answer, retryAfter: retryAfterMs(res.headers['retry-after']) };
}

/** How an export answer is handled. */
export function verdictFor(status: number): 'delivered' | 'retry' | 'split' | 'park' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 413) return 'split';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'park';
}

/** Retry-After in ms (delta-seconds or an HTTP date), if present and sane. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, RETRY_AFTER_MAX_MS) : undefined;
}
