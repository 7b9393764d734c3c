// Span ⇄ Phoenix span JSON, one object per JSONL line: exactly the 11 keys Phoenix's `span_to_json`
// writes, in its order, and its `json_string_to_span` requires. Reading also takes Phoenix's own lines,
// the 2023 flat attribute form, and UUID-style ids.
import { isObject } from '../json.js';
import type { Attributes, Span, SpanEvent, StatusCode } from '../record/span.js';
import { flatten, nest } from './attributes.js';
import { PhoenixFormatError } from './format-error.js';
import { isoToNs, nsToIso } from './isotime.js';

export interface PhoenixEvent {
  name: string;
  attributes: Attributes;
  timestamp: string;
}

export interface PhoenixSpan {
  name: string;
  context: { trace_id: string; span_id: string };
  span_kind: string;
  parent_id: string | null;
  start_time: string;
  end_time: string;
  status_code: StatusCode;
  status_message: string;
  attributes: Record<string, unknown>;
  events: PhoenixEvent[];
  conversation: null;
}

const KEYS = ['name', 'context', 'span_kind', 'parent_id', 'start_time', 'end_time', 'status_code', 'status_message', 'attributes', 'events', 'conversation'];

/** Phoenix's span kinds; anything else reads as UNKNOWN, as Phoenix's SpanKind does. */
const KINDS = new Set(['TOOL', 'CHAIN', 'LLM', 'RETRIEVER', 'EMBEDDING', 'AGENT', 'RERANKER', 'EVALUATOR', 'GUARDRAIL', 'PROMPT', 'UNKNOWN']);
const STATUSES = new Set<string>(['OK', 'ERROR', 'UNSET']);

export function toPhoenix(span: Span): PhoenixSpan {
  return {
    name: span.name,
    context: { trace_id: span.traceId, span_id: span.spanId },
    span_kind: span.kind,
    parent_id: span.parentSpanId ?? null,
    start_time: nsToIso(span.startNs),
    end_time: nsToIso(span.endNs),
    status_code: span.statusCode,
    status_message: span.statusMessage,
    attributes: nest(span.attributes),
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes, timestamp: nsToIso(e.timeNs) })),
    conversation: null,
  };
}

export const toPhoenixLine = (span: Span): string => JSON.stringify(toPhoenix(span));

/** Why a line is not a span Phoenix would read. */
const fail = (message: string): never => {
  throw new PhoenixFormatError(message);
};

/** A hex id as Phoenix writes it; a UUID loses its hyphens, as Phoenix's own re-encoding does. */
function id(value: unknown, what: string, lengths: number[]): string {
  const hex = typeof value === 'string' ? value.replaceAll('-', '').toLowerCase() : '';
  if (!/^[0-9a-f]+$/.test(hex) || !lengths.includes(hex.length)) fail(`${what} is not a hex id of ${lengths.join(' or ')} digits`);
  return hex;
}

function time(value: unknown, what: string): bigint {
  const ns = typeof value === 'string' ? isoToNs(value) : undefined;
  return ns ?? fail(`${what} is not an ISO-8601 time`);
}

function event(value: unknown, i: number): SpanEvent {
  if (!isObject(value) || typeof value.name !== 'string') return fail(`events[${i}] has no name`);
  const attributes = value.attributes ?? {};
  if (!isObject(attributes)) fail(`events[${i}].attributes is not an object`);
  return { name: value.name, timeNs: time(value.timestamp, `events[${i}].timestamp`), attributes: flatten(attributes as Record<string, unknown>) };
}

/** A parsed JSONL line → a span for the given project; throws PhoenixFormatError saying what is wrong. */
export function fromPhoenix(value: unknown, project: string): Span {
  if (!isObject(value)) return fail('not a JSON object');
  const missing = KEYS.filter((k) => !(k in value));
  const extra = Object.keys(value).filter((k) => !KEYS.includes(k));
  if (missing.length > 0) fail(`missing key${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  if (extra.length > 0) fail(`unexpected key${extra.length > 1 ? 's' : ''}: ${extra.join(', ')}`);
  const v = value as Record<(typeof KEYS)[number], unknown>;

  if (typeof v.name !== 'string') fail('name is not a string');
  if (!isObject(v.context)) return fail('context is not an object');
  if (typeof v.span_kind !== 'string') fail('span_kind is not a string');
  const status = typeof v.status_code === 'string' ? v.status_code.toUpperCase() : '';
  if (!STATUSES.has(status)) fail('status_code is not OK, ERROR or UNSET');
  if (v.status_message !== null && typeof v.status_message !== 'string') fail('status_message is not a string');
  if (v.attributes !== null && !isObject(v.attributes)) fail('attributes is not an object');
  if (v.conversation !== null && !isObject(v.conversation)) fail('conversation is not null or an object');
  let events = v.events;
  if (typeof events === 'string') {
    try {
      events = JSON.parse(events);
    } catch {
      fail('events is a string but not JSON');
    }
  }
  if (!Array.isArray(events)) return fail('events is not a list');

  const startNs = time(v.start_time, 'start_time');
  const kind = (v.span_kind as string).toUpperCase();
  const span: Span = {
    traceId: id(v.context.trace_id, 'context.trace_id', [32]),
    spanId: id(v.context.span_id, 'context.span_id', [16, 32]),
    name: v.name as string,
    kind: KINDS.has(kind) ? kind : 'UNKNOWN',
    startNs,
    // Phoenix allows an unfinished span (no end time); it is kept with no duration.
    endNs: v.end_time === null || v.end_time === '' ? startNs : time(v.end_time, 'end_time'),
    statusCode: status as StatusCode,
    statusMessage: (v.status_message as string | null) ?? '',
    attributes: flatten((v.attributes as Record<string, unknown> | null) ?? {}),
    events: events.map(event),
    project,
  };
  if (v.parent_id !== null && v.parent_id !== '') span.parentSpanId = id(v.parent_id, 'parent_id', [16, 32]);
  if (span.endNs < span.startNs) fail('end_time is before start_time');
  return span;
}
