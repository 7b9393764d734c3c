// Reads what llmtap stored, straight from its SQLite file.
import Database from 'better-sqlite3';

import type { Span } from '../../src/record/span.js';
import { rowToSpan, type SpanRow } from '../../src/store/spans.js';
import { eventually } from './eventually.js';

export function readSpans(dbPath: string): Span[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT * FROM spans ORDER BY seq').safeIntegers(true).all() as SpanRow[]).map(rowToSpan);
  } finally {
    db.close();
  }
}

/** Waits until the span with this id is stored (the writer flushes on a timer). */
export function waitForSpan(dbPath: string, spanId: string, timeoutMs = 5000): Promise<Span> {
  return eventually(() => readSpans(dbPath).find((s) => s.spanId === spanId), `storing span ${spanId}`, timeoutMs);
}

/** A complete span with every kind of value, for storage and encoding tests. */
export function sampleSpan(over: Partial<Span> = {}): Span {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    name: 'OpenAI Chat Completions',
    kind: 'LLM',
    startNs: 1_700_000_000_123_456_789n,
    endNs: 1_700_000_001_987_654_321n,
    statusCode: 'OK',
    statusMessage: '',
    attributes: {
      'openinference.span.kind': 'LLM',
      'llm.model_name': 'gpt-4o-mini',
      'llm.token_count.total': 12,
      'tag.tags': ['a', 'b'],
      'x.ok': true,
      'x.pi': 3.25,
    },
    events: [{ name: 'First Token Stream Event', timeNs: 1_700_000_000_523_456_789n, attributes: {} }],
    project: 'default',
    ...over,
  };
}
