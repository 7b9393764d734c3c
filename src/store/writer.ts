// Spans reach SQLite off the request path: queued in memory (bounded), written in batches, one
// transaction each. A batch that fails stays queued and is retried with backoff, so a locked or
// vanished database costs no span until the queue bound is reached.
//
// A flush writes all that is queued in one transaction (up to BATCH spans): span and trace ids are
// random, so each index insert dirties a random page, and a commit writes each dirty page once — the
// more spans per commit, the cheaper each (on a 100k-span file: 90 µs per span at 500 per commit, 43 at
// 6,000). A writer that falls behind thus catches up with bigger, cheaper batches. Large spans are the
// exception: a few megabytes of them are written at once, in a transaction of their own, rather than
// held until the next tick (memory, not commits, is what they cost).
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { approximateSize, type Span } from '../record/span.js';
import { type DB, fileIdentity, openDatabase } from './db.js';
import { spanInserter, type StoredSpan } from './spans.js';

export interface WriterOptions {
  path: string;
  maxQueue: number;
  flushIntervalMs: number;
  /** Queue each stored span for export in the same transaction. */
  outbox: boolean;
  log: Logger;
  metrics: Metrics;
  /** Given the spans of each committed batch (the exporter takes them from memory), with their sizes. */
  onStored?: (stored: SizedSpan[]) => void;
  /** Told the `held` bytes (of the memory budget) of spans that left the queue, stored or dropped. */
  release?: (held: number) => void;
}

interface Queued {
  span: Span;
  /** Bytes of the memory budget the exchange behind it still holds. */
  held: number;
  /** approximateSize(span), measured once. */
  size: number;
}

/** A stored span and its approximate size. */
export type SizedSpan = StoredSpan & { size: number };

/** Rolls the write probe back. */
class ProbeDone extends Error {}

const BATCH = 5000;
/** Queued spans this large (in text) are written at once, in transactions of about this size. */
const WRITE_NOW_BYTES = 4 * 1024 * 1024;
const MAX_BACKOFF_MS = 5000;

export class SpanWriter {
  readonly #opts: WriterOptions;
  #db: DB;
  #identity: string | undefined;
  #insert: (spans: readonly Span[]) => StoredSpan[];
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #timer: NodeJS.Timeout;
  #failures = 0;
  #retryAt = 0;
  #lastError: string | undefined;
  #droppedSinceWarn = 0;

  constructor(db: DB, opts: WriterOptions) {
    this.#opts = opts;
    this.#db = db;
    this.#identity = fileIdentity(opts.path);
    this.#insert = spanInserter(db, { outbox: opts.outbox });
    this.#timer = setInterval(() => this.flush(), opts.flushIntervalMs);
    this.#timer.unref();
    opts.metrics.watch({ writeQueue: () => this.#queue.length });
    // A file that can be read but not written (read-only, locked) is reported from the start, not at
    // the first span.
    this.#probe();
  }

  /** A write that is rolled back: does the database take writes? Sets or clears the problem. */
  #probe(): void {
    try {
      this.#db.transaction(() => {
        this.#db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (-1, 'write probe')").run();
        throw new ProbeDone();
      })();
    } catch (err) {
      if (err instanceof ProbeDone) {
        if (this.#lastError) this.#opts.log.info('storage writable again');
        this.#lastError = undefined;
        return;
      }
      this.#lastError = `cannot write to the database at ${this.#opts.path} (LLMTAP_DB_PATH): ${(err as Error).message}`;
      this.#retryAt = Date.now() + MAX_BACKOFF_MS;
      this.#opts.log.error({ err: this.#lastError }, 'storage cannot be written: spans will wait in memory');
    }
  }

  /** Spans waiting to be written. */
  get queued(): number {
    return this.#queue.length;
  }

  /** The current connection (it changes when the file had to be reopened). */
  get db(): DB {
    return this.#db;
  }

  /** `held`: bytes of the memory budget the span's exchange holds until the span is stored. */
  enqueue(span: Span, held = 0): void {
    if (this.#queue.length >= this.#opts.maxQueue) {
      this.#opts.metrics.spansDropped.inc();
      this.#opts.release?.(held);
      if (this.#droppedSinceWarn++ === 0) this.#opts.log.warn({ queued: this.#queue.length }, 'span queue full: dropping spans (LLMTAP_WRITE_QUEUE_MAX)');
      return;
    }
    const size = approximateSize(span);
    this.#queue.push({ span, held, size });
    this.#queuedBytes += size;
    if (this.#queuedBytes >= WRITE_NOW_BYTES) this.flush();
    else if (this.#queue.length === BATCH) setImmediate(() => this.flush());
  }

  /** Writes what is queued. Returns false when the database refused (the spans stay queued). */
  flush(): boolean {
    if (Date.now() < this.#retryAt) return this.#queue.length === 0;
    if (this.#queue.length === 0) {
      // Nothing to write to find out whether storage came back: ask.
      if (this.#lastError) this.#probe();
      return true;
    }
    try {
      this.#checkFile();
      while (this.#queue.length > 0) {
        const batch = this.#nextBatch();
        const added = this.#insert(batch.map((q) => q.span));
        this.#queue.splice(0, batch.length);
        let held = 0;
        for (const q of batch) {
          this.#queuedBytes -= q.size;
          held += q.held;
        }
        this.#opts.metrics.spansStored.inc(added.length);
        // The spans that were new, in the batch's order: their sizes are the batch's.
        let q = 0;
        this.#opts.onStored?.(
          added.map(({ seq, span }) => {
            while (batch[q]!.span !== span) q++;
            return { seq, span, size: batch[q]!.size };
          }),
        );
        this.#opts.release?.(held);
      }
      if (this.#lastError) this.#opts.log.info('storage recovered: writing spans again');
      this.#failures = 0;
      this.#lastError = undefined;
      this.#droppedSinceWarn = 0;
      return true;
    } catch (err) {
      this.#opts.metrics.storageErrors.inc();
      this.#lastError = (err as Error).message;
      this.#retryAt = Date.now() + Math.min(MAX_BACKOFF_MS, this.#opts.flushIntervalMs * 2 ** this.#failures++);
      this.#opts.log.error({ err: this.#lastError, queued: this.#queue.length }, 'storage write failed: spans kept in memory and retried');
      return false;
    }
  }

  /** The next transaction: up to BATCH spans, or about WRITE_NOW_BYTES of them (at least one). */
  #nextBatch(): Queued[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && n < BATCH && (n === 0 || bytes + this.#queue[n]!.size <= WRITE_NOW_BYTES)) bytes += this.#queue[n++]!.size;
    return this.#queue.slice(0, n);
  }

  /** Why storage is not healthy, for /readyz; undefined when it is. */
  problem(): string | undefined {
    return this.#lastError;
  }

  /** Final flush at shutdown, retried until the deadline (epoch ms; it may come forward meanwhile). */
  async drain(deadline: () => number): Promise<void> {
    clearInterval(this.#timer);
    this.#retryAt = 0;
    if (this.#queue.length > 0) this.#opts.log.info({ queued: this.#queue.length }, 'shutdown: writing the queued spans');
    while (!this.flush() && Date.now() < deadline()) {
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, this.#retryAt - Date.now(), deadline() - Date.now()))));
    }
    if (this.#queue.length > 0) this.#opts.log.error({ lost: this.#queue.length }, 'shutdown: spans could not be stored');
  }

  close(): void {
    this.#db.close();
  }

  /** A database file deleted or replaced under a running process would swallow writes silently. */
  #checkFile(): void {
    if (fileIdentity(this.#opts.path) === this.#identity) return;
    this.#opts.log.warn({ path: this.#opts.path }, 'database file disappeared or was replaced: reopening');
    const db = openDatabase(this.#opts.path);
    this.#db.close();
    this.#db = db;
    this.#identity = fileIdentity(this.#opts.path);
    this.#insert = spanInserter(db, { outbox: this.#opts.outbox });
  }
}
