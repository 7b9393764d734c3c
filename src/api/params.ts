// Query parameters of /api: parsed and checked, or a 400 that says which one is wrong and why.
import { parseIsoTime } from '../phoenix/isotime.js';
import type { StatusCode } from '../record/span.js';
import type { Position, SpanFilter } from '../store/queries.js';
import type { Dimension, SpendQuery } from '../store/spend.js';
import { BadRequest } from './errors.js';

const FILTERS = ['since', 'until', 'trace_id', 'session_id', 'user_id', 'model', 'status', 'q', 'after_seq'];
const HEX_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 50;

/** The parameters, each given at most once, none unknown. */
function single(params: URLSearchParams, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of params) {
    if (!allowed.includes(name)) throw new BadRequest(`unknown parameter "${name}"; known: ${allowed.join(', ')}`);
    if (out.has(name)) throw new BadRequest(`parameter "${name}" given more than once`);
    out.set(name, value);
  }
  return out;
}

export function parseId(name: string, value: string): string {
  const id = value.toLowerCase();
  if (!HEX_ID.test(id)) throw new BadRequest(`${name} must be a hex id of 16 or 32 digits, got "${value}"`);
  return id;
}

/**
 * The viewer's text box → an FTS5 query: every word must appear; words of three characters or more
 * also match as a word's beginning (a one-letter prefix would match nearly every word stored).
 */
function textQuery(q: string): string | undefined {
  const words = q.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return undefined;
  return words.map((w) => `"${w.replaceAll('"', '""')}"${[...w].length >= 3 ? '*' : ''}`).join(' ');
}

function filter(p: Map<string, string>): SpanFilter {
  const f: SpanFilter = {};
  const since = p.get('since');
  const until = p.get('until');
  if (since !== undefined) f.sinceNs = parseIsoTime('since', since);
  if (until !== undefined) f.untilNs = parseIsoTime('until', until);
  const trace = p.get('trace_id');
  if (trace !== undefined) f.traceId = parseId('trace_id', trace);
  for (const [name, key] of [
    ['session_id', 'sessionId'],
    ['user_id', 'userId'],
    ['model', 'model'],
  ] as const) {
    const v = p.get(name);
    if (v !== undefined) f[key] = v;
  }
  const status = p.get('status');
  if (status !== undefined) {
    const s = status.toUpperCase();
    if (s !== 'OK' && s !== 'ERROR' && s !== 'UNSET') throw new BadRequest(`status must be OK or ERROR, got "${status}"`);
    f.status = s as StatusCode;
  }
  const q = p.get('q');
  if (q !== undefined) {
    const text = textQuery(q);
    if (text !== undefined) f.text = text;
  }
  const after = p.get('after_seq');
  if (after !== undefined) {
    if (!/^\d{1,18}$/.test(after)) throw new BadRequest(`after_seq must be a non-negative integer, got "${after}"`);
    f.afterSeq = BigInt(after);
  }
  return f;
}

export type ListQuery = { format: 'json'; filter: SpanFilter; limit: number; cursor?: Position } | { format: 'jsonl'; filter: SpanFilter };

export function parseListQuery(params: URLSearchParams): ListQuery {
  const p = single(params, [...FILTERS, 'limit', 'cursor', 'format']);
  const format = p.get('format') ?? 'json';
  if (format === 'jsonl') {
    if (p.has('limit') || p.has('cursor')) throw new BadRequest('format=jsonl exports every matching span: limit and cursor do not apply');
    return { format, filter: filter(p) };
  }
  if (format !== 'json') throw new BadRequest(`format must be json or jsonl, got "${format}"`);
  const q: ListQuery = { format, filter: filter(p), limit: DEFAULT_LIMIT };
  const limit = p.get('limit');
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT)
      throw new BadRequest(`limit must be an integer from 1 to ${MAX_LIMIT}, got "${limit}"`);
    q.limit = Number(limit);
  }
  const cursor = p.get('cursor');
  if (cursor !== undefined) q.cursor = decodeCursor(cursor);
  return q;
}

export function encodeCursor(p: Position): string {
  return Buffer.from(`${p.startNs}:${p.seq}`).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const m = /^(\d{1,19}):(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!m) throw new BadRequest('cursor is not one this server gave out (use next_cursor from the previous page)');
  return { startNs: BigInt(m[1]!), seq: BigInt(m[2]!) };
}

const HOUR_NS = 3_600_000_000_000n;
/** What /api/stats and `llmtap stats` group by (the store's Dimension; the server thread never loads src/store/). */
export const DIMENSIONS: readonly Dimension[] = ['model', 'user', 'session', 'project'];
const BUCKETS = ['hour', 'day'] as const;

/** Whole hours (UTC) around [fromNs, toNs): the start rounded down, the end up. */
export function wholeHours(fromNs: bigint, toNs: bigint): { fromHour: number; toHour: number } {
  return { fromHour: Number(fromNs / HOUR_NS), toHour: Number((toNs + HOUR_NS - 1n) / HOUR_NS) };
}

/**
 * /api/stats: `by` (model, user, session, project), `bucket` (hour, day), and the window `from`/`to`
 * (or `since`/`until`, as /api/spans names them), counted in whole hours: `to` defaults to now and is
 * rounded up to the hour, `from` defaults to 24 hours before that and is rounded down.
 */
export function parseStatsQuery(params: URLSearchParams, nowNs: bigint): SpendQuery {
  const p = single(params, ['by', 'bucket', 'from', 'to', 'since', 'until']);
  const time = (name: string, alias: string): bigint | undefined => {
    if (p.has(name) && p.has(alias)) throw new BadRequest(`give "${name}" or "${alias}", not both`);
    const value = p.get(name) ?? p.get(alias);
    return value === undefined ? undefined : parseIsoTime(p.has(name) ? name : alias, value);
  };
  const toNs = time('to', 'until') ?? nowNs;
  const { toHour } = wholeHours(toNs, toNs);
  const fromNs = time('from', 'since');
  const fromHour = fromNs === undefined ? toHour - 24 : wholeHours(fromNs, fromNs).fromHour;
  if (fromHour >= toHour) throw new BadRequest('from must be before to');
  const q: SpendQuery = { fromHour, toHour };
  const by = p.get('by');
  if (by !== undefined) {
    if (!(DIMENSIONS as readonly string[]).includes(by)) throw new BadRequest(`by must be one of ${DIMENSIONS.join(', ')}, got "${by}"`);
    q.by = by as Dimension;
  }
  const bucket = p.get('bucket');
  if (bucket !== undefined) {
    if (!(BUCKETS as readonly string[]).includes(bucket)) throw new BadRequest(`bucket must be hour or day, got "${bucket}"`);
    q.bucket = bucket as SpendQuery['bucket'];
  }
  return q;
}
