import { msBetween } from './clock.js';
import type { Logger } from './log.js';
import type { ExchangeResult } from './proxy/forward.js';

/** What the recorder knows of an exchange once its span is built; absent for unrecorded requests. */
export interface SpanSummary {
  spanId: string;
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  ttftMs?: number;
}

/** The one info line per finished request: never headers or bodies. */
export function logExchange(log: Logger, r: ExchangeResult, span?: SpanSummary): void {
  const line: Record<string, unknown> = {
    method: r.method,
    path: r.path.split('?', 1)[0],
    status: r.status,
    ms: round(msBetween(r.startNs, r.endNs)),
    upstreamMs: r.headersNs === undefined ? undefined : round(msBetween(r.startNs, r.headersNs)),
    bytesIn: r.bytesIn,
    bytesOut: r.bytesOut,
    outcome: r.outcome,
    ...span,
  };
  if (r.outcome === 'ok' || r.outcome === 'client_aborted') log.info(line, 'request');
  else log.warn({ ...line, err: r.error?.message }, 'request');
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
