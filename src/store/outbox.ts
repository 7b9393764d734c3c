// The export outbox's queries. Rows are deleted once delivered; parked rows wait for `llmtap outbox retry`.
import type { Span } from '../record/span.js';
import type { DB } from './db.js';
import { rowToSpan, type SpanRow, type StoredSpan } from './spans.js';

export interface OutboxCounts {
  pending: number;
  parked: number;
}

export class Outbox {
  readonly #pendingSeqs;
  readonly #spanBySeq;
  readonly #delete;
  readonly #park;
  readonly #counts;
  readonly #oldest;
  readonly #trim;

  constructor(readonly db: DB) {
    this.#pendingSeqs = db.prepare('SELECT span_seq FROM export_outbox WHERE parked_reason IS NULL ORDER BY span_seq LIMIT ?').pluck();
    this.#spanBySeq = db.prepare('SELECT * FROM spans WHERE seq = ?').safeIntegers(true);
    // Whole batches in one statement: the seqs travel as a JSON array.
    this.#delete = db.prepare('DELETE FROM export_outbox WHERE span_seq IN (SELECT value FROM json_each(?))');
    this.#park = db.prepare('UPDATE export_outbox SET parked_reason = ? WHERE span_seq IN (SELECT value FROM json_each(?))');
    this.#counts = db.prepare(
      'SELECT count(*) FILTER (WHERE parked_reason IS NULL) AS pending, count(*) FILTER (WHERE parked_reason IS NOT NULL) AS parked FROM export_outbox',
    );
    this.#oldest = db
      .prepare('SELECT s.start_ns FROM export_outbox o JOIN spans s ON s.seq = o.span_seq WHERE o.parked_reason IS NULL ORDER BY o.span_seq LIMIT 1')
      .pluck()
      .safeIntegers(true);
    this.#trim = db.prepare(
      'DELETE FROM export_outbox WHERE span_seq IN (SELECT span_seq FROM export_outbox WHERE parked_reason IS NULL ORDER BY span_seq LIMIT ?)',
    );
  }

  /**
   * Up to `limit` pending spans, oldest first, skipping those already being sent. Spans found in
   * `fresh` (just stored, still in memory) are not read back from the table.
   */
  next(limit: number, skip: ReadonlySet<number>, fresh: ReadonlyMap<number, Span>): StoredSpan[] {
    const out: StoredSpan[] = [];
    for (const seq of this.#pendingSeqs.all(limit + skip.size) as number[]) {
      if (skip.has(seq)) continue;
      const span = fresh.get(seq) ?? this.#read(seq);
      if (span) out.push({ seq, span });
      if (out.length === limit) break;
    }
    return out;
  }

  #read(seq: number): Span | undefined {
    const row = this.#spanBySeq.get(seq) as SpanRow | undefined;
    return row && rowToSpan(row);
  }

  delivered(seqs: readonly number[]): void {
    this.#delete.run(JSON.stringify(seqs));
  }

  park(seqs: readonly number[], reason: string): void {
    this.#park.run(reason, JSON.stringify(seqs));
  }

  counts(): OutboxCounts {
    return this.#counts.get() as OutboxCounts;
  }

  /** Start time (ns) of the oldest pending span, if any. */
  oldestPendingStartNs(): bigint | undefined {
    return this.#oldest.get() as bigint | undefined;
  }

  /** Leaves the oldest pending spans unexported (they stay stored) so at most `max` wait. Returns how many. */
  trimTo(max: number): number {
    const over = this.counts().pending - max;
    return over > 0 ? this.#trim.run(over).changes : 0;
  }
}

/** For the `llmtap outbox` command: parked spans by reason, and putting them back in line. */
export function parkedReasons(db: DB): { reason: string; spans: number }[] {
  return db
    .prepare('SELECT parked_reason AS reason, count(*) AS spans FROM export_outbox WHERE parked_reason IS NOT NULL GROUP BY parked_reason ORDER BY spans DESC')
    .all() as { reason: string; spans: number }[];
}

export function unpark(db: DB): number {
  return db.prepare('UPDATE export_outbox SET parked_reason = NULL WHERE parked_reason IS NOT NULL').run().changes;
}
