// The export outbox's queries. Rows are deleted once delivered; parked rows wait for `llmtap outbox retry`.
import type { Span } from '../record/span.js';
import type { DB } from './db.js';
import { rowToSpan, type SpanRow } from './spans.js';

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
    this.#delete = db.prepare('DELETE FROM export_outbox WHERE span_seq = ?');
    this.#park = db.prepare('UPDATE export_outbox SET parked_reason = ? WHERE span_seq = ?');
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

  /** Up to `limit` pending spans, oldest first, skipping those already being sent. */
  next(limit: number, skip: ReadonlySet<number>): { seq: number; span: Span }[] {
    const out: { seq: number; span: Span }[] = [];
    for (const seq of this.#pendingSeqs.all(limit + skip.size) as number[]) {
      if (skip.has(seq)) continue;
      const row = this.#spanBySeq.get(seq) as SpanRow | undefined;
      if (row) out.push({ seq, span: rowToSpan(row) });
      if (out.length === limit) break;
    }
    return out;
  }

  delivered(seqs: readonly number[]): void {
    this.db.transaction(() => seqs.forEach((s) => this.#delete.run(s)))();
  }

  park(seqs: readonly number[], reason: string): void {
    this.db.transaction(() => seqs.forEach((s) => this.#park.run(reason, s)))();
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
