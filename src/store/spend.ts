// Spend and latency over a window, in all or grouped by a dimension and/or by time (/api/stats, `llmtap
// stats`, the viewer's dashboard). A question the hourly rollups answer (rollup.ts) reads one row per value
// and hour, fast at any size: no filter, or one filter on a dimension with no grouping by another. Any
// other (a status, a text search, two filters, a filter and a grouping by another dimension, minutes)
// adds up the matching spans themselves, a page at a time, so it takes time in proportion to their number.
import type { DB } from './db.js';
import { addText, addTo, type Histogram, quantile } from './histogram.js';
import type { SpanFilter } from './queries.js';
import { totalsPages } from './queries.js';
import { addSpan, type Dimension, emptySums, type Sums, valuesOf } from './rollup.js';

export type { Dimension } from './rollup.js';

/** What groups are ranked by: the most first (`last`: the most recent activity). */
export type SpendSort = 'cost' | 'requests' | 'errors' | 'tokens' | 'last';

export interface SpendQuery {
  /** The window [fromMs, toMs), epoch ms: whole hours, or whole minutes with `bucket: 'minute'`. */
  fromMs: number;
  toMs: number;
  /** Group by this; absent: one group per bucket (or one in all). */
  by?: Dimension;
  bucket?: 'minute' | 'hour' | 'day';
  /** Only the spans that match; the window is fromMs/toMs. */
  filter?: Omit<SpanFilter, 'sinceNs' | 'untilNs'>;
  sort?: SpendSort;
  /** With `by`: only the first `limit` values (after `offset`) by `sort` over the whole window. */
  limit?: number;
  offset?: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface Totals {
  requests: number;
  errors: number;
  tokens: { prompt: number; completion: number; cached: number; reasoning: number };
  /** Calls of models without a known price add nothing. */
  cost_usd: number;
  /** When the first and the last span started (ISO), null when there were none. */
  first_time: string | null;
  last_time: string | null;
  /** Estimated from log-scale histograms (histogram.ts): within 9%. */
  latency_ms: Percentiles;
  /** Of the spans with a first token (streams). */
  ttft_ms: Percentiles;
}

export type SpendGroup = Totals & { bucket?: string } & Partial<Record<Dimension, string | null>>;

/** What /api/stats and `llmtap stats --json` answer. */
export interface SpendReport {
  from: string;
  to: string;
  by: Dimension | null;
  bucket: 'minute' | 'hour' | 'day' | null;
  sort: SpendSort;
  /** `rollups` (the hourly totals) or `spans` (the matching spans, added up). */
  source: 'rollups' | 'spans';
  /** Bucket first, then by `sort`. */
  groups: SpendGroup[];
  /** With `limit`: whether more values follow. */
  more: boolean;
  /** Every matching span once (a span with two tags is in two groups of `by=tag`, once here). */
  total: Totals;
}

const HOUR_MS = 3_600_000;
const BUCKET_MS = { minute: 60_000, hour: HOUR_MS, day: 24 * HOUR_MS };

/** The dimension whose rows answer a filter, by the filter's name. */
const ROLLUP_FILTERS = [
  ['model', 'model'],
  ['userId', 'user'],
  ['sessionId', 'session'],
  ['project', 'project'],
  ['endpoint', 'endpoint'],
  ['tag', 'tag'],
] as const satisfies readonly (readonly [keyof SpanFilter, Dimension])[];

/** The rows that answer the query (a dimension, and its one value when filtered), or undefined when the spans must be added up. */
function rollupRows(q: SpendQuery): { dimension: Dimension; value?: string } | undefined {
  if (q.bucket === 'minute') return undefined;
  const f = q.filter ?? {};
  const rest = Object.entries(f).filter(([k, v]) => v !== undefined && !ROLLUP_FILTERS.some(([name]) => name === k));
  if (rest.length > 0) return undefined;
  const filters = ROLLUP_FILTERS.filter(([name]) => f[name] !== undefined);
  if (filters.length > 1) return undefined;
  if (filters.length === 0) return { dimension: q.by ?? 'project' }; // every span has exactly one project
  const [[name, dimension]] = filters as [(typeof ROLLUP_FILTERS)[number]];
  if (q.by && (q.by !== dimension || dimension === 'tag')) return undefined; // the other tags of a tag's spans: a cross
  return { dimension, value: f[name] };
}

/** A group on its way out: its key, its bucket (epoch ms) and its sums. */
interface Group {
  key: string | null;
  bucketMs: number | null;
  sums: Sums;
}

export async function spend(db: DB, q: SpendQuery, pause: () => Promise<void> = async () => {}): Promise<SpendReport> {
  const rows = rollupRows(q);
  const sort = q.sort ?? 'cost';
  let groups: Group[];
  let total: Sums;
  let more = false;
  if (rows) {
    let values: string[] | undefined;
    if (q.by && q.limit !== undefined) {
      values = topValues(db, q, rows.dimension, sort);
      more = values.length > q.limit;
      values = values.slice(0, q.limit);
    }
    groups = readRows(db, q, rows.dimension, rows.value, values);
    // Every span once: the filter's rows, else the project's (a span has several tags, but one project);
    // with no grouping and no buckets, that is the one group just read.
    const all =
      !q.by && !q.bucket
        ? groups
        : rows.value === undefined
          ? readRows(db, { ...q, bucket: undefined, by: undefined }, 'project')
          : readRows(db, { ...q, bucket: undefined, by: undefined }, rows.dimension, rows.value);
    total = all[0]?.sums ?? emptySums();
  } else {
    ({ groups, total } = await scan(db, q, pause));
    if (q.by && q.limit !== undefined) {
      const ranked = rank(groups, sort);
      const keep = new Set(ranked.slice(q.offset ?? 0, (q.offset ?? 0) + q.limit));
      more = ranked.length > (q.offset ?? 0) + q.limit;
      groups = groups.filter((g) => keep.has(g.key));
    }
  }
  const ordered = groups.sort((a, b) => (a.bucketMs ?? 0) - (b.bucketMs ?? 0) || compare(a.sums, b.sums, sort) || byKey(a.key, b.key));
  return {
    from: iso(q.fromMs)!,
    to: iso(q.toMs)!,
    by: q.by ?? null,
    bucket: q.bucket ?? null,
    sort,
    source: rows ? 'rollups' : 'spans',
    groups: ordered.map((g) => ({ ...(g.bucketMs !== null && { bucket: iso(g.bucketMs)! }), ...(q.by && { [q.by]: g.key }), ...totals(g.sums) })),
    more,
    total: totals(total),
  };
}

const iso = (ms: number | bigint | null): string | null => (ms === null ? null : new Date(Number(ms)).toISOString());

const round = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);
const percentiles = (h: Histogram): Percentiles => ({ p50: round(quantile(h, 0.5)), p95: round(quantile(h, 0.95)) });

function totals(s: Sums): Totals {
  const none = s.requests === 0;
  return {
    requests: s.requests,
    errors: s.errors,
    tokens: { prompt: s.prompt, completion: s.completion, cached: s.cached, reasoning: s.reasoning },
    cost_usd: s.cost,
    first_time: none ? null : iso(s.firstNs / 1_000_000n),
    last_time: none ? null : iso(s.lastNs / 1_000_000n),
    latency_ms: percentiles(s.durations),
    ttft_ms: percentiles(s.ttfts),
  };
}

const SORT_KEY: Record<SpendSort, (s: Sums) => number | bigint> = {
  cost: (s) => s.cost,
  requests: (s) => s.requests,
  errors: (s) => s.errors,
  tokens: (s) => s.prompt + s.completion,
  last: (s) => s.lastNs,
};

/** The most first, then the most requests. */
function compare(a: Sums, b: Sums, sort: SpendSort): number {
  const x = SORT_KEY[sort](a);
  const y = SORT_KEY[sort](b);
  return (y > x ? 1 : y < x ? -1 : 0) || b.requests - a.requests;
}

/** Values in SQLite's order (no value as ''). */
const byKey = (a: string | null, b: string | null): number => ((a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0);

/** Keys ranked by `sort` over all their buckets. */
function rank(groups: Group[], sort: SpendSort): (string | null)[] {
  const sums = new Map<string | null, Sums>();
  for (const g of groups) {
    const s = sums.get(g.key) ?? emptySums();
    merge(s, g.sums);
    sums.set(g.key, s);
  }
  return [...sums].sort((a, b) => compare(a[1], b[1], sort) || byKey(a[0], b[0])).map(([k]) => k);
}

function merge(into: Sums, s: Sums): void {
  if (s.requests === 0) return;
  if (into.requests === 0 || s.firstNs < into.firstNs) into.firstNs = s.firstNs;
  if (into.requests === 0 || s.lastNs > into.lastNs) into.lastNs = s.lastNs;
  for (const k of ['requests', 'errors', 'prompt', 'completion', 'cached', 'reasoning', 'cost'] as const) into[k] += s[k];
  for (const [b, n] of s.durations) addTo(into.durations, b, n);
  for (const [b, n] of s.ttfts) addTo(into.ttfts, b, n);
}

// ---- from the rollups -------------------------------------------------------------------------------

const SQL_SORT: Record<SpendSort, string> = {
  cost: 'total(cost_usd)',
  requests: 'sum(requests)',
  errors: 'sum(errors)',
  tokens: 'sum(prompt_tokens) + sum(completion_tokens)',
  last: 'max(last_ns)',
};

/** The values of `dimension` ranked by `sort` over the window: `limit` + 1 of them, after `offset`. */
function topValues(db: DB, q: SpendQuery, dimension: Dimension, sort: SpendSort): string[] {
  return db
    .prepare(
      `SELECT value FROM usage_hourly WHERE dimension = ? AND hour >= ? AND hour < ?
       GROUP BY value ORDER BY ${SQL_SORT[sort]} DESC, sum(requests) DESC, value LIMIT ? OFFSET ?`,
    )
    .pluck()
    .all(dimension, q.fromMs / HOUR_MS, q.toMs / HOUR_MS, q.limit! + 1, q.offset ?? 0) as string[];
}

interface SumRow {
  key: string | null;
  bucket_hour: number | null;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
  first_ns: bigint;
  last_ns: bigint;
  durations: string | null;
  ttfts: string | null;
}

/**
 * Groups from the rows of `dimension` (only `value`'s, or only `values`'), grouped in SQL on the rows' own
 * order (value, then hour); their histograms come concatenated, to be added up here.
 */
function readRows(db: DB, q: SpendQuery, dimension: Dimension, value?: string, values?: string[]): Group[] {
  const bucket = q.bucket === 'day' ? '(hour / 24) * 24' : q.bucket === 'hour' ? 'hour' : 'NULL';
  const where = `dimension = ? AND hour >= ? AND hour < ?${value !== undefined ? ' AND value = ?' : ''}${values ? ' AND value IN (SELECT value FROM json_each(?))' : ''}`;
  const params = [dimension, q.fromMs / HOUR_MS, q.toMs / HOUR_MS, ...(value !== undefined ? [value] : []), ...(values ? [JSON.stringify(values)] : [])];
  const rows = db
    .prepare(
      `SELECT ${q.by ? "nullif(value, '')" : 'NULL'} AS key, ${bucket} AS bucket_hour, sum(requests) AS requests, sum(errors) AS errors,
         sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, sum(cached_tokens) AS cached_tokens,
         sum(reasoning_tokens) AS reasoning_tokens, total(cost_usd) AS cost_usd, min(first_ns) AS first_ns, max(last_ns) AS last_ns,
         group_concat(nullif(durations, '')) AS durations, group_concat(nullif(ttfts, '')) AS ttfts
       FROM usage_hourly WHERE ${where} GROUP BY ${q.by ? 'value' : 'dimension'}, bucket_hour`,
    )
    .safeIntegers(true)
    .all(...params) as SumRow[];
  return rows.map((r) => {
    const s = emptySums();
    Object.assign(s, {
      requests: Number(r.requests),
      errors: Number(r.errors),
      prompt: Number(r.prompt_tokens),
      completion: Number(r.completion_tokens),
      cached: Number(r.cached_tokens),
      reasoning: Number(r.reasoning_tokens),
      cost: r.cost_usd,
      firstNs: r.first_ns,
      lastNs: r.last_ns,
    });
    addText(s.durations, r.durations);
    addText(s.ttfts, r.ttfts);
    return { key: r.key, bucketMs: r.bucket_hour === null ? null : Number(r.bucket_hour) * HOUR_MS, sums: s };
  });
}

// ---- from the spans ---------------------------------------------------------------------------------

/** Adds up the matching spans of the window, letting `pause` run between pages. */
async function scan(db: DB, q: SpendQuery, pause: () => Promise<void>): Promise<{ groups: Group[]; total: Sums }> {
  const filter: SpanFilter = { ...q.filter, sinceNs: BigInt(q.fromMs) * 1_000_000n, untilNs: BigInt(q.toMs) * 1_000_000n };
  const size = q.bucket ? BUCKET_MS[q.bucket] : undefined;
  const groups = new Map<string, Group>();
  const total = emptySums();
  for (const page of totalsPages(db, filter)) {
    for (const s of page) {
      addSpan(total, s);
      const ms = Number(s.start_ns / 1_000_000n);
      const bucketMs = size === undefined ? null : ms - (ms % size);
      const keys = q.by ? valuesOf(s).flatMap(([d, v]) => (d === q.by ? [v === '' ? null : v] : [])) : [null];
      for (const key of keys) {
        const id = `${bucketMs}\n${key}`;
        let g = groups.get(id);
        if (!g) groups.set(id, (g = { key, bucketMs, sums: emptySums() }));
        addSpan(g.sums, s);
      }
    }
    await pause();
  }
  return { groups: [...groups.values()], total };
}
