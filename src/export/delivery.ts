// Storage thread. The delivery loop: batches from the outbox to the export target, marked delivered only
// when it accepted them. What the policy (policy.ts) says to retry is retried for as long as it takes,
// one request at a time and at most one a second; answers that will never succeed park their spans (a
// batch refused as too large is first split, down to single spans). Everything here is asynchronous I/O
// off the request path. The request itself is a function given to it, so the loop is tested alone.
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Span } from '../record/span.js';
import type { DB } from '../store/db.js';
import { Outbox } from '../store/outbox.js';
import type { StoredSpan } from '../store/spans.js';
import type { SizedSpan } from '../store/writer.js';
import { type ExportResponse, type Failed, type Part, type Retry, retryDelayMs, sendSplitting } from './policy.js';

/** Sends spans to the export target; throws only when `signal` cancelled it (shutdown). */
export type PostSpans = (spans: readonly Span[], signal: AbortSignal) => Promise<ExportResponse>;

export interface DeliveryOptions {
  /** The target's URL, for logs and /readyz. */
  target: string;
  batchSize: number;
  intervalMs: number;
  concurrency: number;
  maxBacklog: number;
  log: Logger;
  metrics: Metrics;
  /** While this says storage is behind, export waits: spans are safe in the outbox, and the CPU goes to storing them. */
  storageBehind: () => boolean;
}

type Batch = StoredSpan[];

/** `ok` false while the target is being retried; `detail` says why. */
export interface ExportHealth {
  ok: boolean;
  detail: string;
  pending: number;
  parked: number;
  target: string;
}

/** Just-stored spans kept in memory so the common case never reads them back from SQLite: at most this many, and this much text. */
const FRESH_MAX = 20_000;
const FRESH_MAX_BYTES = 32 * 1024 * 1024;

export class Delivery {
  #outbox: Outbox | undefined;
  readonly #fresh = new Map<number, { span: Span; size: number }>();
  #freshBytes = 0;
  readonly #claimed = new Set<number>();
  readonly #abort = new AbortController();
  #inFlight = 0;
  #attempt = 0;
  #retryAt = 0;
  #problem: string | undefined;
  #storedSinceSend = 0;
  #tick: NodeJS.Timeout | undefined;
  #wake: NodeJS.Timeout | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(
    private readonly post: PostSpans,
    private readonly db: () => DB,
    private readonly opts: DeliveryOptions,
  ) {
    opts.metrics.watch({ exportBacklog: () => this.#backlog() });
  }

  start(): void {
    this.#tick = setInterval(() => this.#onTick(), this.opts.intervalMs);
    this.#tick.unref();
    this.#onTick();
  }

  /** The writer committed spans: keep them at hand, and send at once when a full batch is waiting. */
  stored(spans: readonly SizedSpan[]): void {
    for (const { seq, span, size } of spans) {
      this.#fresh.set(seq, { span, size });
      this.#freshBytes += size;
    }
    // Past the bound (the target is down or slow), the oldest are read back from SQLite when their turn comes.
    for (const seq of this.#fresh.keys()) {
      if (this.#fresh.size <= FRESH_MAX && this.#freshBytes <= FRESH_MAX_BYTES) break;
      this.#forget(seq);
    }
    this.#storedSinceSend += spans.length;
    if (this.#storedSinceSend >= this.opts.batchSize) this.#pump();
  }

  #forget(seq: number): void {
    const fresh = this.#fresh.get(seq);
    if (!fresh) return;
    this.#freshBytes -= fresh.size;
    this.#fresh.delete(seq);
  }

  /** For /readyz: the exporter's state (never a reason to be unready: Phoenix may be down). */
  health(): ExportHealth {
    const { pending, parked } = this.#store().counts();
    return { ok: !this.#problem, detail: this.#problem ?? 'ok', pending, parked, target: this.opts.target };
  }

  /** Last delivery attempts at shutdown, until the outbox is empty or the deadline (epoch ms; it may come forward) passes. */
  async close(deadline: () => number): Promise<void> {
    clearInterval(this.#tick);
    clearTimeout(this.#wake);
    this.#retryAt = 0;
    const waiting = this.#store().counts().pending;
    if (waiting > 0 && Date.now() < deadline()) {
      this.opts.log.info({ waiting, target: this.opts.target, forMs: deadline() - Date.now() }, 'shutdown: sending the spans waiting for export');
    }
    while (Date.now() < deadline() && (this.#inFlight > 0 || this.#store().counts().pending > 0)) {
      this.#pump();
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline() - Date.now()))));
    }
    this.#abort.abort();
    while (this.#inFlight > 0) await new Promise<void>((r) => this.#idleWaiters.push(r));
    const { pending } = this.#store().counts();
    if (pending > 0) this.opts.log.warn({ pending }, 'shutdown: spans not yet exported stay in the outbox for the next start');
  }

  #store(): Outbox {
    const db = this.db();
    if (this.#outbox?.db !== db) this.#outbox = new Outbox(db);
    return this.#outbox;
  }

  #onTick(): void {
    try {
      const outbox = this.#store();
      const skipped = outbox.trimTo(this.opts.maxBacklog);
      if (skipped > 0) {
        this.opts.metrics.exportSkipped.inc(skipped);
        this.opts.log.warn({ skipped, max: this.opts.maxBacklog }, 'export backlog full: oldest spans left unexported (still stored)');
      }
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'export: reading the outbox failed, will retry');
      return;
    }
    this.#pump();
  }

  #backlog(): { pending: number; oldestAgeSeconds: number } {
    const outbox = this.#store();
    const oldest = outbox.oldestPendingStartNs();
    const ageMs = oldest === undefined ? 0 : Date.now() - Number(oldest / 1_000_000n);
    return { pending: outbox.counts().pending, oldestAgeSeconds: Math.max(0, ageMs / 1000) };
  }

  #pump(): void {
    if (this.#abort.signal.aborted) return; // shut down
    if (this.opts.storageBehind()) return; // the next tick tries again
    // While the target fails, one request at a time finds out whether it is back.
    const concurrency = this.#attempt > 0 ? 1 : this.opts.concurrency;
    while (this.#inFlight < concurrency && Date.now() >= this.#retryAt) {
      let batch: Batch;
      try {
        batch = this.#store().next(this.opts.batchSize, this.#claimed, (seq) => this.#fresh.get(seq)?.span);
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'export: reading the outbox failed, will retry');
        return;
      }
      if (batch.length === 0) return;
      this.#storedSinceSend = 0;
      for (const b of batch) this.#claimed.add(b.seq);
      this.#inFlight++;
      void this.#send(batch).finally(() => {
        for (const b of batch) this.#claimed.delete(b.seq);
        if (--this.#inFlight === 0) for (const r of this.#idleWaiters.splice(0)) r();
        // A full batch means more may be waiting: keep going while the target keeps up.
        if (batch.length === this.opts.batchSize) this.#pump();
      });
    }
  }

  async #send(batch: Batch): Promise<void> {
    let parts: Part<StoredSpan>[];
    try {
      parts = await sendSplitting(batch, async (part) => {
        const response = await this.post(
          part.map((b) => b.span),
          this.#abort.signal,
        );
        if (response.kind !== 'delivered') this.opts.metrics.exportFailures.inc({ reason: response.reason });
        return response;
      });
    } catch (err) {
      if (this.#abort.signal.aborted) return; // shut down
      throw err;
    }
    const refused: [Batch, Failed][] = [];
    let retry: Retry | undefined;
    for (const { items, response } of parts) {
      if (response.kind === 'delivered') this.#delivered(items);
      // What got a retry answer (or was not sent after one) stays waiting for the next attempt.
      else if (response.kind === 'retry') retry = response;
      else refused.push([items, response]);
    }
    this.#park(refused);
    if (retry) this.#retryLater(retry);
  }

  #delivered(batch: Batch): void {
    const seqs = batch.map((b) => b.seq);
    this.#outbox?.delivered(seqs);
    for (const seq of seqs) this.#forget(seq);
    this.opts.metrics.exportSent.inc(seqs.length);
    if (this.#problem) this.opts.log.info({ target: this.opts.target }, 'export target reachable again');
    this.#attempt = 0;
    this.#problem = undefined;
  }

  /** Sets aside what the target refused for good, with one log line for the lot. */
  #park(refused: [Batch, Failed][]): void {
    if (refused.length === 0) return;
    let spans = 0;
    for (const [batch, response] of refused) {
      const seqs = batch.map((b) => b.seq);
      this.#outbox?.park(seqs, response.message);
      for (const seq of seqs) this.#forget(seq);
      spans += seqs.length;
    }
    this.opts.metrics.exportParked.inc(spans);
    this.opts.log.error(
      { spans, answers: [...new Set(refused.map(([, r]) => r.message))], target: this.opts.target },
      'export rejected: spans parked (they stay stored; `llmtap outbox retry` sends them again)',
    );
  }

  #retryLater(response: Retry): void {
    const delay = retryDelayMs(this.#attempt++, response.retryAfterMs);
    this.#retryAt = Date.now() + delay;
    if (this.#problem !== response.message) {
      this.opts.log.warn({ problem: response.message, retryInMs: Math.round(delay), target: this.opts.target }, 'export failed: will retry');
    }
    this.#problem = response.message;
    clearTimeout(this.#wake);
    this.#wake = setTimeout(() => this.#pump(), delay);
    this.#wake.unref();
  }
}
