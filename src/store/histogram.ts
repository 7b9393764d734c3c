// Durations as counts per log-scale bucket, so that percentiles of any set of spans come from sums of
// counts: the rollups keep one histogram of durations and one of times to first token per row, and a
// query adds up the rows it reads. Four buckets per doubling (each 19% wide, from 1 ms to 12 days; below
// 1 ms is one bucket): a percentile is reported as the geometric middle of the bucket its rank falls in,
// within 9% of the exact value. Stored as text, `bucket:count` pairs in bucket order ("41:3,42:1").

const PER_DOUBLING = 4;
/** 2^30 ms, about 12 days: longer durations share the last bucket. */
const LAST = 30 * PER_DOUBLING + 1;

export type Histogram = Map<number, number>;

/** The bucket of a duration in ms: 0 below 1 ms, else 1 + ⌊4·log₂ ms⌋. */
export function bucketOf(ms: number): number {
  if (!(ms >= 1)) return 0;
  return Math.min(LAST, 1 + Math.floor(Math.log2(ms) * PER_DOUBLING));
}

/** What a bucket stands for: the geometric middle of its bounds (0.5 ms for the first). */
export const bucketValue = (bucket: number): number => (bucket === 0 ? 0.5 : 2 ** ((bucket - 0.5) / PER_DOUBLING));

export function addTo(h: Histogram, bucket: number, count: number): void {
  const n = (h.get(bucket) ?? 0) + count;
  if (n === 0) h.delete(bucket);
  else h.set(bucket, n);
}

/** Adds a stored histogram's counts to `h`, times `sign` (-1 takes them out). */
export function addText(h: Histogram, text: string | null, sign = 1): void {
  if (!text) return;
  for (const pair of text.split(',')) {
    const colon = pair.indexOf(':');
    addTo(h, Number(pair.slice(0, colon)), sign * Number(pair.slice(colon + 1)));
  }
}

/** Counts may be negative: what a prune takes out. */
export function toText(h: Histogram): string {
  return [...h]
    .filter(([, n]) => n !== 0)
    .sort((a, b) => a[0] - b[0])
    .map(([b, n]) => `${b}:${n}`)
    .join(',');
}

/** Two stored histograms added (the rollups' upsert: SQL calls it as llmtap_histogram_add). */
export function addTexts(a: string | null, b: string | null): string {
  const h: Histogram = new Map();
  addText(h, a);
  addText(h, b);
  return toText(h);
}

/** The q-quantile (0 < q ≤ 1) by nearest rank, as its bucket's value; null for an empty histogram. */
export function quantile(h: Histogram, q: number): number | null {
  let total = 0;
  for (const n of h.values()) total += n;
  if (total <= 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [bucket, n] of [...h].sort((a, b) => a[0] - b[0])) {
    seen += n;
    if (seen >= rank) return bucketValue(bucket);
  }
  return null;
}
