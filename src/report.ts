// Both threads. Reporting one finished request: its one info log line (never headers or bodies) and its
// metrics. The storage thread reports recorded requests once their span is built; the server thread
// reports the others. A WebSocket session gets one line when it ends (the relay counts its metrics).
import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { msBetween } from './clock.js';
import type { Logger } from './log.js';
import { type Metrics, routeLabel, statusLabel } from './metrics.js';
import type { ExchangeResult } from './proxy/exchange.js';
import type { SessionResult } from './proxy/session.js';
import { LLMTAP, type Span } from './record/span.js';

/** What a request's log line and metrics say of its span; absent for unrecorded requests. */
export interface SpanSummary {
  spanId: string;
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  totalTokens?: number;
  cachedTokens?: number;
  reasoningTokens?: number;
  /** `upstream` or `estimate`. */
  tokenSource?: string;
  costUsd?: number;
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
  if (span) countSpend(metrics, model, span);
}

/** A span's tokens and cost, under its model's (bounded) label. */
export function countSpend(metrics: Metrics, model: string, span: SpanSummary): void {
  if (span.promptTokens) metrics.tokens.inc({ model, type: 'prompt' }, span.promptTokens);
  if (span.completionTokens) metrics.tokens.inc({ model, type: 'completion' }, span.completionTokens);
  if (span.cachedTokens) metrics.tokens.inc({ model, type: 'cached' }, span.cachedTokens);
  if (span.reasoningTokens) metrics.tokens.inc({ model, type: 'reasoning' }, span.reasoningTokens);
  if (span.costUsd) metrics.cost.inc({ model }, span.costUsd);
}

/** What a session's log line says of its spans; absent for unrecorded sessions. */
export interface SessionSummary {
  spanId: string;
  model?: string;
  responses: number;
  errors: number;
  totalTokens?: number;
}

export function reportSession(log: Logger, r: SessionResult, span?: SessionSummary): void {
  const line: Record<string, unknown> = {
    path: r.path.split('?', 1)[0],
    status: r.status,
    ms: round(msBetween(r.startNs, r.endNs)),
    outcome: r.outcome,
    closeCode: r.close?.code,
    closedBy: r.close?.by,
    messagesIn: r.messages.fromClient,
    messagesOut: r.messages.fromUpstream,
    bytesIn: r.messages.bytesFromClient,
    bytesOut: r.messages.bytesFromUpstream,
    ...span,
    // A session that opened can still end on an error (a dropped connection, a protocol breach).
    err: r.error?.message,
  };
  if (r.outcome === 'ok' || r.outcome === 'client_aborted') log.info(line, 'realtime session');
  else log.warn(line, 'realtime session');
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

export function summarize(span: Span): SpanSummary {
  const a = span.attributes;
  const summary: SpanSummary = { spanId: span.spanId };
  const model = a[SC.LLM_MODEL_NAME] ?? a[SC.EMBEDDING_MODEL_NAME];
  if (typeof model === 'string') summary.model = model;
  const n = (k: string): number | undefined => (typeof a[k] === 'number' ? (a[k] as number) : undefined);
  const set = <K extends keyof SpanSummary>(key: K, value: SpanSummary[K] | undefined): void => {
    if (value !== undefined) summary[key] = value;
  };
  set('promptTokens', n(SC.LLM_TOKEN_COUNT_PROMPT));
  set('completionTokens', n(SC.LLM_TOKEN_COUNT_COMPLETION));
  set('totalTokens', n(SC.LLM_TOKEN_COUNT_TOTAL));
  set('cachedTokens', n(SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ));
  set('reasoningTokens', n(SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING));
  set('tokenSource', typeof a[LLMTAP.TOKEN_SOURCE] === 'string' ? (a[LLMTAP.TOKEN_SOURCE] as string) : undefined);
  set('costUsd', n(SC.LLM_COST_TOTAL));
  const ttft = n(LLMTAP.TTFT_MS);
  if (ttft !== undefined) summary.ttftMs = round(ttft);
  return summary;
}
