// Server thread. What the caller tells llmtap about a request through headers: W3C trace context, session, user,
// metadata, tags, project, and whether to record at all. Helicone-style names are accepted as aliases.
import type { IncomingHttpHeaders } from 'node:http';

import { newSpanId, newTraceId } from './span.js';

export interface RequestContext {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  /** The caller's trace flags, kept on the traceparent sent upstream. */
  traceFlags: string;
  traceState?: string;
  sessionId?: string;
  userId?: string;
  metadata?: Record<string, unknown>;
  tags?: string[];
  project?: string;
  record: boolean;
  /** The shape of an `x-llmtap-record` value llmtap does not know (recorded anyway; warned about once per shape). */
  unknownRecord?: string;
  /** Header values that were ignored, with why (logged as warnings). */
  ignored: string[];
}

const RECORD_OFF = new Set(['off', 'false', '0', 'no']);
const RECORD_ON = new Set(['on', 'true', '1', 'yes']);
/** A short word is told as it is; anything else by its length alone, so a client never writes its own string to the log. */
const WORD = /^[a-z0-9_.-]{1,16}$/;

/**
 * `x-llmtap-record`: off/false/0/no (any case) skip recording; on/true/1/yes or none record. Anything else
 * records and comes with its shape: the value itself when it is a short word, else its length.
 */
export function recordHeader(value: string | undefined): { record: boolean; unknown?: string } {
  const v = value?.toLowerCase();
  if (v === undefined || RECORD_ON.has(v)) return { record: true };
  if (RECORD_OFF.has(v)) return { record: false };
  return { record: true, unknown: WORD.test(v) ? `"${v}"` : `a value of ${v.length} characters` };
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** llmtap's own headers and the aliases it accepts are consumed here, never sent upstream. */
export const isContextHeader = (name: string): boolean => name.startsWith('x-llmtap-') || name.startsWith('helicone-');

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.trim() || undefined;

export function readContext(headers: IncomingHttpHeaders): RequestContext {
  const ctx: RequestContext = { traceId: '', spanId: newSpanId(), traceFlags: '01', record: true, ignored: [] };

  const traceparent = first(headers.traceparent);
  const m = traceparent ? TRACEPARENT.exec(traceparent.toLowerCase()) : null;
  // Version ff is invalid; an all-zero trace or parent id is invalid; version 00 has exactly four fields.
  if (m && m[1] !== 'ff' && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!) && !(m[1] === '00' && m[5])) {
    ctx.traceId = m[2]!;
    ctx.parentSpanId = m[3]!;
    ctx.traceFlags = m[4]!;
    const state = first(headers.tracestate);
    if (state) ctx.traceState = state;
  } else {
    if (traceparent) ctx.ignored.push('traceparent: not a valid W3C traceparent');
    ctx.traceId = newTraceId();
  }

  const record = recordHeader(first(headers['x-llmtap-record']));
  ctx.record = record.record;
  if (record.unknown !== undefined) ctx.unknownRecord = record.unknown;
  const session = first(headers['x-llmtap-session-id']) ?? first(headers['helicone-session-id']);
  if (session) ctx.sessionId = session;
  const user = first(headers['x-llmtap-user-id']) ?? first(headers['helicone-user-id']);
  if (user) ctx.userId = user;
  const project = first(headers['x-llmtap-project']);
  if (project) ctx.project = project;

  const tags = first(headers['x-llmtap-tags'])
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags?.length) ctx.tags = tags;

  const metadata: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('helicone-property-') && name.length > 18) metadata[name.slice(18)] = first(value);
  }
  const raw = first(headers['x-llmtap-metadata']);
  if (raw) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      Object.assign(metadata, parsed);
    } catch (err) {
      ctx.ignored.push(`x-llmtap-metadata: ${(err as Error).message}`);
    }
  }
  if (Object.keys(metadata).length > 0) ctx.metadata = metadata;
  return ctx;
}

/** The traceparent llmtap sends upstream: the caller's trace, with llmtap's span as the parent. */
export const upstreamTraceparent = (ctx: RequestContext): string => `00-${ctx.traceId}-${ctx.spanId}-${ctx.traceFlags}`;
