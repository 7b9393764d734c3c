// Spans ⇄ rows.
import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { type Attributes, LLMTAP, type Span, type SpanEvent } from '../record/span.js';
import type { DB } from './db.js';
import { rollupWriter, type SpanTotals } from './rollup.js';
import { searchText } from './search-text.js';

export interface SpanRow {
  seq: bigint;
  span_id: string;
  trace_id: string;
  parent_id: string | null;
  trace_state: string | null;
  name: string;
  kind: string;
  start_ns: bigint;
  end_ns: bigint;
  status_code: string;
  status_message: string;
  project: string;
  attributes: string;
  events: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

interface StoredEvent {
  name: string;
  time_ns: string;
  attributes: Attributes;
}

/** The columns the read side filters and sums on, beside the whole span. */
function totals(s: Span): SpanTotals & { tags: string[] } {
  const a = s.attributes;
  return {
    start_ns: s.startNs,
    end_ns: s.endNs,
    name: s.name,
    project: s.project,
    model: str(a[SC.LLM_MODEL_NAME]) ?? str(a[SC.EMBEDDING_MODEL_NAME]),
    user_id: str(a[SC.USER_ID]),
    session_id: str(a[SC.SESSION_ID]),
    status_code: s.statusCode,
    prompt_tokens: num(a[SC.LLM_TOKEN_COUNT_PROMPT]),
    completion_tokens: num(a[SC.LLM_TOKEN_COUNT_COMPLETION]),
    cached_tokens: num(a[SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ]),
    reasoning_tokens: num(a[SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING]),
    cost_usd: num(a[SC.LLM_COST_TOTAL]),
    ttft_ms: num(a[LLMTAP.TTFT_MS]),
    tags: tagsOf(a[SC.TAG_TAGS]),
  };
}

const tagsOf = (v: unknown): string[] => [...new Set((Array.isArray(v) ? v : [v]).filter((t): t is string => typeof t === 'string'))];

function params(s: Span, t: SpanTotals): unknown[] {
  const a = s.attributes;
  const events: StoredEvent[] = s.events.map((e) => ({ name: e.name, time_ns: e.timeNs.toString(), attributes: e.attributes }));
  return [
    s.spanId,
    s.traceId,
    s.parentSpanId ?? null,
    s.traceState ?? null,
    s.name,
    s.kind,
    s.startNs,
    s.endNs,
    s.statusCode,
    s.statusMessage,
    s.project,
    t.session_id,
    t.user_id,
    t.model,
    t.prompt_tokens,
    t.completion_tokens,
    num(a[SC.LLM_TOKEN_COUNT_TOTAL]),
    t.cached_tokens,
    t.reasoning_tokens,
    t.cost_usd,
    t.ttft_ms,
    JSON.stringify(a),
    JSON.stringify(events),
  ];
}

export function rowToSpan(r: SpanRow): Span {
  const events = (JSON.parse(r.events) as StoredEvent[]).map((e): SpanEvent => ({ name: e.name, timeNs: BigInt(e.time_ns), attributes: e.attributes }));
  const span: Span = {
    traceId: r.trace_id,
    spanId: r.span_id,
    name: r.name,
    kind: r.kind,
    startNs: r.start_ns,
    endNs: r.end_ns,
    statusCode: r.status_code as Span['statusCode'],
    statusMessage: r.status_message,
    attributes: JSON.parse(r.attributes) as Attributes,
    events,
    project: r.project,
  };
  if (r.parent_id) span.parentSpanId = r.parent_id;
  if (r.trace_state) span.traceState = r.trace_state;
  return span;
}

/** A stored span and its row number (the order of storage, and the outbox's key). */
export interface StoredSpan {
  seq: number;
  span: Span;
}

/**
 * Inserts spans in one transaction, with their search text, their tags and their share of the spend totals; a span id
 * already stored is left as it is. With `outbox`, each new span is also queued for export in the same
 * transaction. Returns the spans that were new.
 */
export function spanInserter(db: DB, opts: { outbox: boolean }): (spans: readonly Span[]) => StoredSpan[] {
  const enqueue = opts.outbox ? db.prepare('INSERT INTO export_outbox (span_seq) VALUES (?)') : undefined;
  const index = db.prepare('INSERT INTO spans_text (rowid, input, output) VALUES (?, ?, ?)');
  const tag = db.prepare('INSERT INTO span_tags (tag, seq) VALUES (?, ?)');
  const rollup = rollupWriter(db);
  const insert = db.prepare(
    `INSERT OR IGNORE INTO spans (span_id, trace_id, parent_id, trace_state, name, kind, start_ns, end_ns,
       status_code, status_message, project, session_id, user_id, model, prompt_tokens, completion_tokens,
       total_tokens, cached_tokens, reasoning_tokens, cost_usd, ttft_ms, attributes, events)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  return db.transaction((spans: readonly Span[]) => {
    const added: StoredSpan[] = [];
    const counted: SpanTotals[] = [];
    for (const span of spans) {
      const t = totals(span);
      const { changes, lastInsertRowid } = insert.run(...params(span, t));
      if (changes === 0) continue;
      added.push({ seq: Number(lastInsertRowid), span });
      counted.push(t);
      index.run(lastInsertRowid, searchText(span.attributes, 'input'), searchText(span.attributes, 'output'));
      for (const name of t.tags) tag.run(name, lastInsertRowid);
      enqueue?.run(lastInsertRowid);
    }
    rollup(counted, 1);
    return added;
  });
}

/** Reads spans by id (the whole span, times exact). */
export function spanReader(db: DB): (spanId: string) => Span | undefined {
  const select = db.prepare('SELECT * FROM spans WHERE span_id = ?').safeIntegers(true);
  return (spanId) => {
    const row = select.get(spanId) as SpanRow | undefined;
    return row ? rowToSpan(row) : undefined;
  };
}
