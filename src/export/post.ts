// One OTLP/HTTP export request (encode, gzip, POST) and its answer as an ExportResponse: shared by the
// delivery loop and `llmtap import --to-phoenix`.
import { promisify } from 'node:util';
import { constants, gzip as gzipCallback } from 'node:zlib';

import { request } from 'undici';

import type { Span } from '../record/span.js';
import type { OtlpEncoder } from './otlp.js';
import { type ExportResponse, exportResponse } from './policy.js';
import type { ExportTarget } from './target.js';

const gzip = promisify(gzipCallback);

/** Failures (network, timeout) are answers to retry; only a cancellation through `signal` throws. */
export async function postSpans(
  target: ExportTarget,
  encoder: OtlpEncoder,
  spans: readonly Span[],
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<ExportResponse> {
  try {
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
    return exportResponse(res.statusCode, res.headers['retry-after'], answer);
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const reason = (err as { code?: string }).code ?? 'error';
    return { kind: 'retry', reason, message: `${reason}: ${(err as Error).message}` };
  }
}
