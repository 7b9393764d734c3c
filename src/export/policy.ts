// Storage thread and CLI. The export policy, in the shape of OpenTelemetry JS's exporter transport: an
// export target's answer read once into an ExportResponse, how long to wait before trying again, and how
// a batch refused as too large is split. The delivery loop and `llmtap import --to-phoenix` both use it.

/** What became of one export request. */
export type ExportResponse =
  | { kind: 'delivered' }
  /** Try again later (408, 429, 5xx, network): after `retryAfterMs` when the target said so. */
  | { kind: 'retry'; reason: string; message: string; retryAfterMs?: number }
  /** 413: the same spans in smaller requests may pass. */
  | { kind: 'too_large'; reason: string; message: string }
  /** Will never succeed (400, 401, 403, …). */
  | { kind: 'rejected'; reason: string; message: string };

export type Retry = Extract<ExportResponse, { kind: 'retry' }>;

/** An answer that is not a delivery; `reason` labels the failure metric, `message` goes to logs and park reasons. */
export type Failed = Exclude<ExportResponse, { kind: 'delivered' }>;

const RETRY_AFTER_MAX_MS = 600_000;
/** Whatever Retry-After says, never more than one attempt a second. */
export const MIN_RETRY_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

/** The one place an HTTP answer becomes an ExportResponse. `answer` is the start of its body. */
export function exportResponse(status: number, retryAfter: string | string[] | undefined, answer: string): ExportResponse {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const reason = String(status);
  const message = `HTTP ${status}: ${answer || '(no body)'}`;
  if (status === 413) return { kind: 'too_large', reason, message };
  if (status === 408 || status === 429 || status >= 500) {
    const after = retryAfterMs(retryAfter);
    return after === undefined ? { kind: 'retry', reason, message } : { kind: 'retry', reason, message, retryAfterMs: after };
  }
  return { kind: 'rejected', reason, message };
}

/** Retry-After in ms (delta-seconds or an HTTP date), if present and sane. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, RETRY_AFTER_MAX_MS) : undefined;
}

/**
 * How long to wait after the `attempt`-th failure in a row (from 0): what Retry-After asks, else an
 * exponential backoff with "equal jitter" (1 s, 1–2 s, 2–4 s, … up to 15–30 s); never less than a second.
 */
export function retryDelayMs(attempt: number, retryAfter: number | undefined, random: () => number = Math.random): number {
  const backoff = Math.min(BACKOFF_MAX_MS, MIN_RETRY_MS * 2 ** attempt);
  return Math.max(MIN_RETRY_MS, retryAfter ?? backoff / 2 + random() * (backoff / 2));
}

/** Part of a batch, and the answer it got. */
export interface Part<T> {
  items: T[];
  response: ExportResponse;
}

/**
 * Sends a batch. A part refused as too large is sent again in halves, down to single items at most (a
 * single item refused as too large stays so). Once an answer says to retry, the rest is not sent: it
 * gets that answer too. The parts come back in the batch's order.
 */
export async function sendSplitting<T>(items: T[], post: (items: T[]) => Promise<ExportResponse>): Promise<Part<T>[]> {
  const parts: Part<T>[] = [];
  const todo = [items];
  let retry: ExportResponse | undefined;
  while (todo.length > 0) {
    const next = todo.shift()!;
    const response = retry ?? (await post(next));
    if (response.kind === 'too_large' && next.length > 1) {
      const half = Math.ceil(next.length / 2);
      todo.unshift(next.slice(0, half), next.slice(half));
      continue;
    }
    if (response.kind === 'retry') retry = response;
    parts.push({ items: next, response });
  }
  return parts;
}
