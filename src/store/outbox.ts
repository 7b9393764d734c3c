// The export outbox's queries. Pending rows are deleted once delivered; parked ones wait in
// export_parked for `llmtap outbox retry`. Batches travel as JSON arrays of row numbers.
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
  readonly #pending;
  readonly #parked;
  readonly #oldest;
  readonly #trim;

  constructor(readonly db: DB) {
    this.#pendingSeqs = db.prepare('SELECT span_seq FROM export_outbox ORDER BY span_seq LIMIT ?').pluck();
    this.#spanBySeq = db.prepare('SELECT * FROM spans WHERE seq = ?').safeIntegers(true);
    this.#delete = db.prepare('DELETE FROM export_outbox WHERE span_seq IN (SELECT value FROM json_each(?))');
    const parkRows = db.prepare('INSERT OR REPLACE INTO export_parked (span_seq, reason) SELECT value, ? FROM json_each(?)');
    this.#park = db.transaction((seqs: string, reason: string) => {
      parkRows.run(reason, seqs);
      this.#delete.run(seqs);
    });
    this.#pending = db.prepare('SELECT count(*) FROM export_outbox').pluck();
    this.#parked = db.prepare('SELECT count(*) FROM export_parked').pluck();
    this.#oldest = db
      .prepare('SELECT s.start_ns FROM export_outbox o JOIN spans s ON s.seq = o.span_seq ORDER BY o.span_seq LIMIT 1')
      .pluck()
      .safeIntegers(true);
    this.#trim = db.prepare('DELETE FROM export_outbox WHERE span_seq IN (SELECT span_seq FROM export_outbox ORDER BY span_seq LIMIT ?)');
  }

  /**
   * Up to `limit` pending spans, oldest first, skipping those already being sent. Spans `fresh` has
   * (just stored, still in memory) are not read back from the table.
   */
  next(limit: number, skip: ReadonlySet<number>, fresh: (seq: number) => Span | undefined): StoredSpan[] {
    const out: StoredSpan[] = [];
    for (const seq of this.#pendingSeqs.all(limit + skip.size) as number[]) {
      if (skip.has(seq)) continue;
      const span = fresh(seq) ?? this.#read(seq);
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
    this.#park(JSON.stringify(seqs), reason);
  }

  counts(): OutboxCounts {
    return { pending: this.#pending.get() as number, parked: this.#parked.get() as number };
  }

  /** Start time (ns) of the oldest pending span, if any. */
  oldestPendingStartNs(): bigint | undefined {
    return this.#oldest.get() as bigint | undefined;
  }

  /** Leaves the oldest pending spans unexported (they stay stored) so at most `max` wait. Returns how many. */
  trimTo(max: number): number {
    const over = (this.#pending.get() as number) - max;
    return over > 0 ? this.#trim.run(over).changes : 0;
  }
}

/** For the `llmtap outbox` command: parked spans by reason. */
export function parkedReasons(db: DB): { reason: string; spans: number }[] {
  return db.prepare('SELECT reason, count(*) AS spans FROM export_parked GROUP BY reason ORDER BY spans DESC').all() as { reason: string; spans: number }[];
}

/** Puts every parked span back in line for export; returns how many. */
export function unpark(db: DB): number {
  return db.transaction(() => {
    const n = db.prepare('INSERT OR IGNORE INTO export_outbox (span_seq) SELECT span_seq FROM export_parked').run().changes;
    db.prepare('DELETE FROM export_parked').run();
    return n;
  })();
}
