// Phoenix's span JSON decoder rules (phoenix/trace/span_json_decoder.py, json_lines_to_df and
// TraceDataset), reimplemented to check llmtap's JSONL the way Phoenix would read it — tightened to
// what a current Phoenix writes: hex ids, UTC isoformat times.
import { expect } from 'vitest';

const KEYS = ['name', 'context', 'span_kind', 'parent_id', 'start_time', 'end_time', 'status_code', 'status_message', 'attributes', 'events', 'conversation'];
const SPAN_KINDS = ['TOOL', 'CHAIN', 'LLM', 'RETRIEVER', 'EMBEDDING', 'AGENT', 'RERANKER', 'EVALUATOR', 'GUARDRAIL', 'PROMPT', 'UNKNOWN'];
const STATUS_CODES = ['UNSET', 'OK', 'ERROR'];
/** Python's datetime.isoformat() of a UTC-aware time: microseconds only when non-zero. */
const ISOFORMAT_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$/;

type Json = Record<string, unknown>;

/** Throws like Phoenix would (or where a modern Phoenix line would differ); returns the parsed span. */
export function decodeLikePhoenix(line: string): Json {
  const span = JSON.parse(line) as Json;
  // json_to_span: only a dict with exactly these keys becomes a Span (else "Failed to parse JSON string as Span").
  expect(Object.keys(span).sort(), 'the 11 keys of span_to_json').toEqual([...KEYS].sort());
  expect(Object.keys(span), "in span_to_json's order").toEqual(KEYS);
  const context = span.context as Json;
  expect(typeof context === 'object' && context !== null && !Array.isArray(context), 'context is a dict').toBe(true);
  expect(Object.keys(context).sort()).toEqual(['span_id', 'trace_id']);
  expect(context.trace_id).toMatch(/^[0-9a-f]{32}$/);
  expect(context.span_id).toMatch(/^[0-9a-f]{16}$/);
  if (span.parent_id !== null) expect(span.parent_id).toMatch(/^[0-9a-f]{16}$/);
  // datetime.fromisoformat
  expect(span.start_time).toMatch(ISOFORMAT_UTC);
  expect(span.end_time).toMatch(ISOFORMAT_UTC);
  expect(Date.parse(span.end_time as string)).toBeGreaterThanOrEqual(Date.parse(span.start_time as string));
  // SpanKind(...) and SpanStatusCode(...)
  expect(SPAN_KINDS).toContain(span.span_kind);
  expect(STATUS_CODES).toContain(span.status_code);
  expect(typeof span.status_message).toBe('string');
  expect(typeof span.name).toBe('string');
  // json_to_attributes: a dict
  expect(typeof span.attributes === 'object' && span.attributes !== null && !Array.isArray(span.attributes)).toBe(true);
  // events: a list of {name, attributes, timestamp}; an exception keeps exception.message
  expect(Array.isArray(span.events)).toBe(true);
  for (const e of span.events as Json[]) {
    expect(Object.keys(e)).toEqual(['name', 'attributes', 'timestamp']);
    expect(typeof e.name).toBe('string');
    expect(e.timestamp).toMatch(ISOFORMAT_UTC);
    if (e.name === 'exception') expect(typeof (e.attributes as Json)['exception.message']).toBe('string');
  }
  expect(span.conversation).toBeNull();
  // TraceDataset's required columns after json_lines_to_df's one-level flattening.
  for (const column of ['name', 'span_kind', 'parent_id', 'start_time', 'end_time', 'status_code', 'status_message']) expect(span).toHaveProperty(column);
  return span;
}
