import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { msBetween } from './clock.js';
import type { Logger } from './log.js';
import type { ExchangeResult } from './proxy/forward.js';
import { LLMTAP, type Span } from './record/span.js';

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

/** What a request's log line and metrics say of its span. */
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
  if (ttft !== undefined) summary.ttftMs = Math.round(ttft * 100) / 100;
  return summary;
}
