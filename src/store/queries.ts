// Read-side queries. Lists are keyset-paginated on (start_ns, seq), so pages neither repeat nor skip
// a span while new ones are written, and each page is one short statement: nothing holds the
// connection or a read snapshot between pages. Only the export iterates, on a connection of its own.
import { SPAN_NAMES, type SpanEndpoint } from '../record/route.js';
import type { Span, StatusCode } from '../record/span.js';
import type { DB } from './db.js';
import { type SpanTotals, TOTALS_COLUMNS } from './rollup.js';
import { rowToSpan, type SpanRow } from './spans.js';

export interface SpanFilter {
  /** Spans that started at or after this time (ns since the epoch)… */
  sinceNs?: bigint;
  /** …and before this one. */
  untilNs?: bigint;
  traceId?: string;
  sessionId?: string;
  userId?: string;
  model?: string;
  project?: string;
  endpoint?: SpanEndpoint;
  tag?: string;
  status?: StatusCode;
  /** An FTS5 query over the message texts (see migrations.ts). */
  text?: string;
  /** Spans stored after this `seq` (the insertion counter): what is new since a previous answer. */
  afterSeq?: bigint;
}

/** A position in (start_ns, seq) order. */
export interface Position {
  startNs: bigint;
  seq: bigint;
}

/** A span row as read here: integers as bigint (ns times do not fit a double). */
export type Row = SpanRow & {
  session_id: string | null;
  user_id: string | null;
  model: string | null;
  prompt_tokens: bigint | null;
  completion_tokens: bigint | null;
  total_tokens: bigint | null;
  cached_tokens: bigint | null;
  reasoning_tokens: bigint | null;
  cost_usd: number | null;
  ttft_ms: number | null;
};

const KNOWN_NAMES: string[] = Object.values(SPAN_NAMES).flat().sort();
const OTHER_NAMES = ['name < ?', ...KNOWN_NAMES.slice(1).map(() => '(name > ? AND name < ?)'), 'name > ?'].join(' OR ');
const OTHER_PARAMS = [KNOWN_NAMES[0], ...KNOWN_NAMES.slice(1).flatMap((name, i) => [KNOWN_NAMES[i], name]), KNOWN_NAMES.at(-1)];

function where(f: SpanFilter, after?: { position: Position; direction: '<' | '>' }): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]): void => {
    clauses.push(sql);
    params.push(...values);
  };
  if (f.sinceNs !== undefined) add('start_ns >= ?', f.sinceNs);
  if (f.untilNs !== undefined) add('start_ns < ?', f.untilNs);
  if (f.traceId !== undefined) add('trace_id = ?', f.traceId);
  if (f.sessionId !== undefined) add('session_id = ?', f.sessionId);
  if (f.userId !== undefined) add('user_id = ?', f.userId);
  if (f.model !== undefined) add('model = ?', f.model);
  if (f.project !== undefined) add('project = ?', f.project);
  // Other names: the ranges between the known ones, which the name index finds (`NOT IN` would read every span).
  if (f.endpoint === 'other') add(`+seq IN (SELECT seq FROM spans WHERE ${OTHER_NAMES})`, ...OTHER_PARAMS);
  else if (f.endpoint !== undefined) add(`name IN (${SPAN_NAMES[f.endpoint].map(() => '?').join(', ')})`, ...SPAN_NAMES[f.endpoint]);
  if (f.tag !== undefined) add('seq IN (SELECT seq FROM span_tags WHERE tag = ?)', f.tag);
  if (f.status !== undefined) add('status_code = ?', f.status);
  // `+seq`: the matches filter a walk in time order rather than drive it — fetching every matching
  // row to sort them would read whole rows for a common word.
  if (f.text !== undefined) add('+seq IN (SELECT rowid FROM spans_text WHERE spans_text MATCH ?)', f.text);
  if (f.afterSeq !== undefined) add('seq > ?', f.afterSeq);
  if (after) add(`(start_ns, seq) ${after.direction} (?, ?)`, after.position.startNs, after.position.seq);
  return { sql: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** `columns` of up to `limit` matching spans in time order (`ascending`, else newest first), after `after`. */
function page<T>(db: DB, columns: string, f: SpanFilter, limit: number, after: Position | undefined, ascending: boolean): T[] {
  const w = where(f, after && { position: after, direction: ascending ? '>' : '<' });
  const order = ascending ? '' : ' DESC';
  return db
    .prepare(`SELECT ${columns} FROM spans ${w.sql} ORDER BY start_ns${order}, seq${order} LIMIT ?`)
    .safeIntegers(true)
    .all(...w.params, limit) as T[];
}

/** One page, newest first (or, `ascending`, oldest first), starting after `cursor`; `next` is where the following page starts. */
export function listSpans(db: DB, f: SpanFilter, limit: number, cursor?: Position, ascending = false): { rows: Row[]; next?: Position } {
  const rows = page<Row>(db, '*', f, limit + 1, cursor, ascending);
  if (rows.length <= limit) return { rows };
  rows.length = limit;
  const last = rows[limit - 1]!;
  return { rows, next: { startNs: last.start_ns, seq: last.seq } };
}

/**
 * Every matching span, oldest first, one row at a time. The statement stays open while the caller
 * iterates, so give it a connection of its own (never the writer's): one read snapshot, flat memory.
 */
export function iterateSpans(db: DB, f: SpanFilter): IterableIterator<Row> {
  const w = where(f);
  return db
    .prepare(`SELECT * FROM spans ${w.sql} ORDER BY start_ns, seq`)
    .safeIntegers(true)
    .iterate(...w.params) as IterableIterator<Row>;
}

/** The spans of iterateSpans, rebuilt whole. */
export function* iterateWholeSpans(db: DB, f: SpanFilter): Generator<Span> {
  for (const row of iterateSpans(db, f)) yield rowToSpan(row);
}

/**
 * What the matching spans add to spend (rollup.ts), a page at a time in time order: each page is a statement
 * of its own, so that a caller may let the writer in between pages of a long scan.
 */
export function* totalsPages(db: DB, f: SpanFilter, size = 5000): Generator<SpanTotals[]> {
  let after: Position | undefined;
  for (;;) {
    const rows = page<SpanTotals & { seq: bigint }>(db, `seq, ${TOTALS_COLUMNS}`, f, size, after, true);
    if (rows.length > 0) yield rows;
    if (rows.length < size) return;
    after = { startNs: rows.at(-1)!.start_ns, seq: rows.at(-1)!.seq };
  }
}

export function traceRows(db: DB, traceId: string): Row[] {
  return db.prepare('SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ns, seq').safeIntegers(true).all(traceId) as Row[];
}

/** The models that spans name, read from the model index one value at a time (cheap at any size). */
export function models(db: DB): string[] {
  return (
    db
      .prepare(
        `WITH RECURSIVE m(model) AS (
           SELECT (SELECT min(model) FROM spans)
           UNION ALL SELECT (SELECT min(model) FROM spans WHERE model > m.model) FROM m WHERE m.model IS NOT NULL
         ) SELECT model FROM m WHERE model IS NOT NULL`,
      )
      .all() as { model: string }[]
  ).map((r) => r.model);
}

/** The highest `seq` stored: a caller polling with `afterSeq` starts from here. */
export function lastSeq(db: DB): bigint {
  return (db.prepare('SELECT coalesce(max(seq), 0) AS s FROM spans').safeIntegers(true).get() as { s: bigint }).s;
}
