// The rollups behind /api/stats: running totals per hour (requests, errors, tokens, cost, first and last
// start, and histograms of durations and times to first token) for each model, user, session, project,
// endpoint and tag, kept in `usage_hourly` by the transaction that inserts the spans and taken back out
// by the one that prunes them, so they always equal the sum over the stored spans. A query reads one row
// per value and hour instead of every span (spend.ts); the rows are kept in (dimension, value, hour)
// order, so grouping by value needs no sort.
import { endpointOfSpan } from '../record/route.js';
import type { DB } from './db.js';
import { addTo, bucketOf, type Histogram, toText } from './histogram.js';

/** What spend is grouped and filtered by (api/params.ts lists them for the read side, which never loads this file). */
export type Dimension = 'model' | 'user' | 'session' | 'project' | 'endpoint' | 'tag';

const NS_PER_HOUR = 3_600_000_000_000n;

/** An hour as the rollups number them: hours since the epoch (UTC). */
const hourOf = (ns: bigint): number => Number(ns / NS_PER_HOUR);

/** What one span adds to the totals: its columns in `spans`, and its tags. */
export interface SpanTotals {
  start_ns: bigint;
  end_ns: bigint;
  name: string;
  project: string;
  model: string | null;
  user_id: string | null;
  session_id: string | null;
  status_code: string;
  prompt_tokens: number | bigint | null;
  completion_tokens: number | bigint | null;
  cached_tokens: number | bigint | null;
  reasoning_tokens: number | bigint | null;
  cost_usd: number | null;
  ttft_ms: number | null;
  /** The span's tags, or (read back with TOTALS_COLUMNS) their JSON array. */
  tags: readonly string[] | string;
}

/** The select list that reads a stored span's SpanTotals (`spans` named as such). */
export const TOTALS_COLUMNS = `start_ns, end_ns, name, project, model, user_id, session_id, status_code, prompt_tokens, completion_tokens,
  cached_tokens, reasoning_tokens, cost_usd, ttft_ms, (SELECT json_group_array(tag) FROM span_tags WHERE span_tags.seq = spans.seq) AS tags`;

/** Sums of a set of spans. */
export interface Sums {
  requests: number;
  errors: number;
  prompt: number;
  completion: number;
  cached: number;
  reasoning: number;
  cost: number;
  firstNs: bigint;
  lastNs: bigint;
  durations: Histogram;
  ttfts: Histogram;
}

export const emptySums = (): Sums => ({
  requests: 0,
  errors: 0,
  prompt: 0,
  completion: 0,
  cached: 0,
  reasoning: 0,
  cost: 0,
  firstNs: 0n,
  lastNs: 0n,
  durations: new Map(),
  ttfts: new Map(),
});

const n = (v: number | bigint | null): number => (v === null ? 0 : Number(v));

export function addSpan(sum: Sums, s: SpanTotals): void {
  if (sum.requests === 0 || s.start_ns < sum.firstNs) sum.firstNs = s.start_ns;
  if (sum.requests === 0 || s.start_ns > sum.lastNs) sum.lastNs = s.start_ns;
  sum.requests += 1;
  if (s.status_code === 'ERROR') sum.errors += 1;
  sum.prompt += n(s.prompt_tokens);
  sum.completion += n(s.completion_tokens);
  sum.cached += n(s.cached_tokens);
  sum.reasoning += n(s.reasoning_tokens);
  sum.cost += s.cost_usd ?? 0;
  addTo(sum.durations, bucketOf(Number(s.end_ns - s.start_ns) / 1e6), 1);
  if (s.ttft_ms !== null) addTo(sum.ttfts, bucketOf(s.ttft_ms), 1);
}

const tagsOf = (s: SpanTotals): readonly string[] => (typeof s.tags === 'string' ? (JSON.parse(s.tags) as string[]) : s.tags);

/** The value a span has for each dimension ('' for none); a span counts once under each of its tags. */
export function valuesOf(s: SpanTotals): [Dimension, string][] {
  const values: [Dimension, string][] = [
    ['model', s.model ?? ''],
    ['user', s.user_id ?? ''],
    ['session', s.session_id ?? ''],
    ['project', s.project],
    ['endpoint', endpointOfSpan(s.name)],
  ];
  for (const tag of new Set(tagsOf(s))) values.push(['tag', tag]);
  return values;
}

/** Adds spans to the totals (`sign` 1) or takes them out (-1); run it inside the spans' own transaction. */
export function rollupWriter(db: DB): (spans: Iterable<SpanTotals>, sign: 1 | -1) => void {
  // A prune takes out the oldest spans: an hour's row that keeps some has its first start moved past
  // the last one taken out (the first kept one may come later still, within the hour).
  const upsert = db.prepare(
    `INSERT INTO usage_hourly (dimension, value, hour, requests, errors, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens,
       cost_usd, first_ns, last_ns, durations, ttfts)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (dimension, value, hour) DO UPDATE SET
       requests = requests + excluded.requests, errors = errors + excluded.errors,
       prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
       cached_tokens = cached_tokens + excluded.cached_tokens, reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
       cost_usd = cost_usd + excluded.cost_usd,
       first_ns = iif(excluded.requests > 0, min(first_ns, excluded.first_ns), max(first_ns, excluded.last_ns)),
       last_ns = iif(excluded.requests > 0, max(last_ns, excluded.last_ns), last_ns),
       durations = llmtap_histogram_add(durations, excluded.durations), ttfts = llmtap_histogram_add(ttfts, excluded.ttfts)`,
  );
  const dropEmpty = db.prepare('DELETE FROM usage_hourly WHERE requests <= 0');
  return (spans, sign) => {
    // Summed in memory first: a batch of spans touches each (dimension, value, hour) row once.
    const sums = new Map<string, Sums>();
    for (const s of spans) {
      const hour = hourOf(s.start_ns);
      for (const [dimension, value] of valuesOf(s)) {
        const key = `${dimension}\n${hour}\n${value}`;
        let sum = sums.get(key);
        if (!sum) sums.set(key, (sum = emptySums()));
        addSpan(sum, s);
      }
    }
    const signed = (h: Histogram): string => toText(sign > 0 ? h : new Map([...h].map(([b, c]) => [b, -c])));
    for (const [key, s] of sums) {
      const [dimension, hour, value] = key.split('\n') as [string, string, string];
      upsert.run(
        dimension,
        value,
        Number(hour),
        sign * s.requests,
        sign * s.errors,
        sign * s.prompt,
        sign * s.completion,
        sign * s.cached,
        sign * s.reasoning,
        sign * s.cost,
        s.firstNs,
        s.lastNs,
        signed(s.durations),
        signed(s.ttfts),
      );
    }
    if (sign < 0) dropEmpty.run();
  };
}
