// LLMTAP_RETENTION_DAYS: old spans are deleted in the background, a few thousand rows at a time so
// the writer is never held up for long; each chunk takes its spans out of the spend totals in the same
// transaction (rollup.ts), so /api/stats always sums what is stored.
import type { Logger } from '../log.js';
import type { DB } from './db.js';
import { rollupWriter, type SpanTotals, TOTALS_COLUMNS } from './rollup.js';

const HOUR_MS = 3_600_000;
const CHUNK = 5000;

/** Deletes spans that started before the cutoff; returns how many. */
export function pruneOlderThan(db: DB, cutoffNs: bigint): number {
  const del = db
    .prepare(
      `DELETE FROM spans WHERE seq IN (SELECT seq FROM spans WHERE start_ns < ? LIMIT ?)
       RETURNING ${TOTALS_COLUMNS}`,
    )
    .safeIntegers(true);
  const rollup = rollupWriter(db);
  const chunk = db.transaction((): number => {
    const deleted = del.all(cutoffNs, CHUNK) as SpanTotals[];
    rollup(deleted, -1);
    return deleted.length;
  });
  let total = 0;
  for (;;) {
    const n = chunk();
    total += n;
    if (n < CHUNK) return total;
  }
}

/** Prunes soon after start and every hour; returns a stop function. Does nothing when days is 0. */
export function startRetention(db: () => DB, days: number, log: Logger): () => void {
  if (days === 0) return () => {};
  const run = (): void => {
    try {
      const cutoff = BigInt(Date.now() - days * 24 * HOUR_MS) * 1_000_000n;
      const n = pruneOlderThan(db(), cutoff);
      if (n > 0) log.info({ deleted: n, days }, 'retention: deleted old spans');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'retention: pruning failed, will retry');
    }
  };
  const first = setTimeout(run, 1000);
  const timer = setInterval(run, HOUR_MS);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
