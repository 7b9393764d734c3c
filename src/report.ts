// Both threads. Reporting one finished request: its one info log line (never headers or bodies) and its
// metrics. The storage thread reports recorded requests once their span is built; the server thread
// reports the others.
import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { msBetween } from './clock.js';
import type { Logger } from './log.js';
import { type Metrics, routeLabel, statusLabel } from './metrics.js';
import type { ExchangeResult } from './proxy/exchange.js';
import { LLMTAP, type Span } from './record/span.js';

/** What a request's log line and metrics say of its span; absent for unrecorded requests. */
export interface SpanSummary {
  spanId: string;
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  ttftMs?: number;
}

export function reportExchange(log: Logger, metrics: Metrics, r: ExchangeResult, span?: SpanSummary): void {
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

  const route = routeLabel(r.path);
  const model = metrics.modelLabel(span?.model, r.status);
  metrics.requests.inc({ route, status: statusLabel(r.status), model });
  metrics.requestDuration.observe({ route }, msBetween(r.startNs, r.endNs) / 1000);
  if (span?.ttftMs !== undefined) metrics.ttft.observe({ model }, span.ttftMs / 1000);
  if (span?.promptTokens) metrics.tokens.inc({ model, kind: 'prompt' }, span.promptTokens);
  if (span?.completionTokens) metrics.tokens.inc({ model, kind: 'completion' }, span.completionTokens);
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

export function summarize(span: Span): SpanSummary {
  const a = span.attributes;
  const summary: SpanSummary = { spanId: span.spanId };
  const model = a[SC.LLM_MODEL_NAME] ?? a[SC.EMBEDDING_MODEL_NAME];
  if (typeof model === 'string') summary.model = model;
  const n = (k: string): number | undefined => (typeof a[k] === 'number' ? (a[k] as number) : undefined);
  const prompt = n(SC.LLM_TOKEN_COUNT_PROMPT);
  const completion = n(SC.LLM_TOKEN_COUNT_COMPLETION);
  const total = n(SC.LLM_TOKEN_COUNT_TOTAL);
  const ttft = n(LLMTAP.TTFT_MS);
  if (prompt !== undefined) summary.promptTokens = prompt;
  if (completion !== undefined) summary.completionTokens = completion;
  if (total !== undefined) summary.totalTokens = total;
  if (ttft !== undefined) summary.ttftMs = round(ttft);
  return summary;
}
