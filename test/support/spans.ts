// Reads what llmtap stored, straight from its SQLite file.
import Database from 'better-sqlite3';

import type { Span } from '../../src/record/span.js';
import { rowToSpan, type SpanRow } from '../../src/store/spans.js';
import { eventually } from './eventually.js';
import { chatBody, rawRequest } from './http.js';

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

/**
 * A barrier: one more recorded call through llmtap at `url`, and its span once stored. Exchanges reach
 * storage in the order they end and are written in that order, so by then whatever an earlier exchange
 * recorded is stored too: a test may assert what is (or is not) in the file without sleeping.
 */
export async function barrier(llmtap: { url: string; dbPath: string }): Promise<Span> {
  const r = await rawRequest(`${llmtap.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() });
  const spanId = r.headers['x-llmtap-span-id'];
  if (r.status !== 200 || typeof spanId !== 'string') throw new Error(`the barrier call was not recorded: ${r.status} ${r.body.toString()}`);
  return waitForSpan(llmtap.dbPath, spanId);
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
