// Query parameters of /api: parsed and checked, or a 400 that says which one is wrong and why.
import { parseIsoTime } from '../phoenix/isotime.js';
import { SPAN_ENDPOINTS, type SpanEndpoint } from '../record/route.js';
import type { StatusCode } from '../record/span.js';
import type { Position, SpanFilter } from '../store/queries.js';
import type { Dimension, SpendQuery, SpendSort } from '../store/spend.js';
import { BadRequest } from './errors.js';

/** What both /api/spans and /api/stats filter on. */
const SPAN_FILTERS = ['session_id', 'user_id', 'model', 'project', 'endpoint', 'tag', 'status', 'q'];
const FILTERS = ['since', 'until', 'trace_id', ...SPAN_FILTERS, 'after_seq'];
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
    ['project', 'project'],
    ['tag', 'tag'],
  ] as const) {
    const v = p.get(name);
    if (v !== undefined) f[key] = v;
  }
  const endpoint = p.get('endpoint');
  if (endpoint !== undefined) {
    if (!(SPAN_ENDPOINTS as readonly string[]).includes(endpoint))
      throw new BadRequest(`endpoint must be one of ${SPAN_ENDPOINTS.join(', ')}, got "${endpoint}"`);
    f.endpoint = endpoint as SpanEndpoint;
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

export type ListQuery = { format: 'json'; filter: SpanFilter; limit: number; cursor?: Position; ascending: boolean } | { format: 'jsonl'; filter: SpanFilter };

/** A whole number from `min` to `max`. */
function integer(p: Map<string, string>, name: string, min: number, max: number): number | undefined {
  const value = p.get(name);
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max)
    throw new BadRequest(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
  return Number(value);
}

export function parseListQuery(params: URLSearchParams): ListQuery {
  const p = single(params, [...FILTERS, 'limit', 'cursor', 'format', 'order']);
  const format = p.get('format') ?? 'json';
  if (format === 'jsonl') {
    if (p.has('limit') || p.has('cursor') || p.has('order'))
      throw new BadRequest('format=jsonl exports every matching span, oldest first: limit, cursor and order do not apply');
    return { format, filter: filter(p) };
  }
  if (format !== 'json') throw new BadRequest(`format must be json or jsonl, got "${format}"`);
  const order = p.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new BadRequest(`order must be asc or desc, got "${order}"`);
  const q: ListQuery = { format, filter: filter(p), limit: integer(p, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT, ascending: order === 'asc' };
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
const MINUTE_NS = 60_000_000_000n;
/** What /api/stats and `llmtap stats` group by (the store's Dimension; the server thread never loads src/store/). */
export const DIMENSIONS: readonly Dimension[] = ['model', 'user', 'session', 'project', 'endpoint', 'tag'];
const BUCKETS = ['minute', 'hour', 'day'] as const;
const SORTS: readonly SpendSort[] = ['cost', 'requests', 'errors', 'tokens', 'last'];
/** The widest window of minute buckets (they add up the spans themselves). */
const MINUTE_WINDOW_NS = 24n * HOUR_NS;

/** Whole hours (UTC) around [fromNs, toNs), in epoch ms: the start rounded down, the end up. */
export function wholeHours(fromNs: bigint, toNs: bigint): { fromMs: number; toMs: number } {
  const ms = (hour: bigint): number => Number((hour * HOUR_NS) / 1_000_000n);
  return { fromMs: ms(fromNs / HOUR_NS), toMs: ms((toNs + HOUR_NS - 1n) / HOUR_NS) };
}

/**
 * /api/stats: `by` (a Dimension), `bucket` (minute, hour, day), the window `from`/`to` (or `since`/`until`,
 * as /api/spans names them), the filters of /api/spans, and `sort`, `limit`, `offset` for the groups. The
 * window counts whole hours (whole minutes with bucket=minute, at most a day of them): `to` defaults to now
 * and is rounded up, `from` defaults to 24 hours before that (one hour, for minutes) and is rounded down.
 */
export function parseStatsQuery(params: URLSearchParams, nowNs: bigint): SpendQuery {
  const p = single(params, ['by', 'bucket', 'from', 'to', 'since', 'until', 'sort', 'limit', 'offset', ...SPAN_FILTERS]);
  const time = (name: string, alias: string): bigint | undefined => {
    if (p.has(name) && p.has(alias)) throw new BadRequest(`give "${name}" or "${alias}", not both`);
    const value = p.get(name) ?? p.get(alias);
    return value === undefined ? undefined : parseIsoTime(p.has(name) ? name : alias, value);
  };
  const bucket = p.get('bucket');
  if (bucket !== undefined && !(BUCKETS as readonly string[]).includes(bucket)) throw new BadRequest(`bucket must be minute, hour or day, got "${bucket}"`);
  const unit = bucket === 'minute' ? MINUTE_NS : HOUR_NS;
  const toNs = time('to', 'until') ?? nowNs;
  const to = (toNs + unit - 1n) / unit;
  const fromNs = time('from', 'since');
  const from = fromNs === undefined ? to - (bucket === 'minute' ? 60n : 24n) : fromNs / unit;
  if (from >= to) throw new BadRequest('from must be before to');
  if (bucket === 'minute' && (to - from) * unit > MINUTE_WINDOW_NS)
    throw new BadRequest('bucket=minute covers at most 24 hours: narrow the window, or use bucket=hour');
  const ms = (n: bigint): number => Number((n * unit) / 1_000_000n);
  const q: SpendQuery = { fromMs: ms(from), toMs: ms(to) };
  if (bucket !== undefined) q.bucket = bucket as SpendQuery['bucket'];
  const by = p.get('by');
  if (by !== undefined) {
    if (!(DIMENSIONS as readonly string[]).includes(by)) throw new BadRequest(`by must be one of ${DIMENSIONS.join(', ')}, got "${by}"`);
    q.by = by as Dimension;
  }
  const sort = p.get('sort');
  if (sort !== undefined) {
    if (!(SORTS as readonly string[]).includes(sort)) throw new BadRequest(`sort must be one of ${SORTS.join(', ')}, got "${sort}"`);
    q.sort = sort as SpendSort;
  }
  const limit = integer(p, 'limit', 1, MAX_LIMIT);
  const offset = integer(p, 'offset', 0, 1e9);
  if (limit !== undefined && !q.by) throw new BadRequest('limit applies to the groups of "by"');
  if (offset !== undefined && limit === undefined) throw new BadRequest('offset needs a limit');
  if (limit !== undefined) q.limit = limit;
  if (offset !== undefined) q.offset = offset;
  // `since` and `until` named the window above: the filter keeps the rest.
  const { sinceNs: _since, untilNs: _until, ...f } = filter(p);
  if (Object.keys(f).length > 0) q.filter = f;
  return q;
}
