// The delivery loop: batches from the outbox to the export target, marked delivered only on a 2xx.
// Retryable failures (408, 429, 5xx, network) back off exponentially with jitter, honouring
// Retry-After, for as long as it takes; answers that will never succeed park their batch (413 first
// splits it). Everything here is asynchronous I/O off the request path.
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Span } from '../record/span.js';
import type { DB } from '../store/db.js';
import { Outbox } from '../store/outbox.js';
import type { StoredSpan } from '../store/spans.js';
import type { OtlpEncoder } from './otlp.js';
import { postSpans, type Reply, verdictFor } from './post.js';
import type { ExportTarget } from './target.js';

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export interface DeliveryOptions {
  batchSize: number;
  intervalMs: number;
  concurrency: number;
  maxBacklog: number;
  timeoutMs: number;
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

/** Just-stored spans kept in memory so the common case never reads them back from SQLite. */
const FRESH_MAX = 20_000;

export class Delivery {
  #outbox: Outbox | undefined;
  readonly #fresh = new Map<number, Span>();
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
    private readonly target: ExportTarget,
    private readonly encoder: OtlpEncoder,
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
  stored(spans: readonly StoredSpan[]): void {
    for (const { seq, span } of spans) this.#fresh.set(seq, span);
    // Past the bound (the target is down or slow), the oldest are read back from SQLite when their turn comes.
    for (const seq of this.#fresh.keys()) {
      if (this.#fresh.size <= FRESH_MAX) break;
      this.#fresh.delete(seq);
    }
    this.#storedSinceSend += spans.length;
    if (this.#storedSinceSend >= this.opts.batchSize) this.#pump();
  }

  /** For /readyz: the exporter's state (never a reason to be unready: Phoenix may be down). */
  health(): ExportHealth {
    const { pending, parked } = this.#store().counts();
    return { ok: !this.#problem, detail: this.#problem ?? 'ok', pending, parked, target: this.target.url.href };
  }

  /** Last delivery attempts at shutdown, until the outbox is empty or the deadline passes. */
  async close(deadline: number): Promise<void> {
    clearInterval(this.#tick);
    clearTimeout(this.#wake);
    this.#retryAt = 0;
    while (Date.now() < deadline && (this.#inFlight > 0 || this.#store().counts().pending > 0)) {
      this.#pump();
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
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
    while (this.#inFlight < this.opts.concurrency && Date.now() >= this.#retryAt) {
      let batch: Batch;
      try {
        batch = this.#store().next(this.opts.batchSize, this.#claimed, this.#fresh);
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
    const seqs = batch.map((b) => b.seq);
    let reply: Reply;
    try {
      reply = await postSpans(
        this.target,
        this.encoder,
        batch.map((b) => b.span),
        { timeoutMs: this.opts.timeoutMs, signal: this.#abort.signal },
      );
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      const reason = (err as { code?: string }).code ?? 'network';
      return this.#retryLater(reason, `${reason}: ${(err as Error).message}`, undefined);
    }
    const { status, answer, retryAfter } = reply;

    switch (verdictFor(status)) {
      case 'delivered':
        this.#outbox?.delivered(seqs);
        for (const seq of seqs) this.#fresh.delete(seq);
        this.opts.metrics.exportSent.inc(seqs.length);
        if (this.#problem) this.opts.log.info({ target: this.target.url.href }, 'export target reachable again');
        this.#attempt = 0;
        this.#problem = undefined;
        return;
      case 'retry':
        return this.#retryLater(String(status), `HTTP ${status}: ${answer}`, retryAfter);
      case 'split':
        this.opts.metrics.exportFailures.inc({ reason: '413' });
        if (batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          await this.#send(batch.slice(0, half));
          await this.#send(batch.slice(half));
          return;
        }
        return this.#park(batch, status, answer);
      case 'park':
        this.opts.metrics.exportFailures.inc({ reason: String(status) });
        return this.#park(batch, status, answer);
    }
  }

  #park(batch: Batch, status: number, answer: string): void {
    const reason = `HTTP ${status}: ${answer || '(no body)'}`;
    const seqs = batch.map((b) => b.seq);
    this.#outbox?.park(seqs, reason);
    for (const seq of seqs) this.#fresh.delete(seq);
    this.opts.metrics.exportParked.inc(batch.length);
    this.opts.log.error(
      { status, answer, spans: batch.length, target: this.target.url.href },
      'export rejected: spans parked (they stay stored; `llmtap outbox retry` sends them again)',
    );
  }

  #retryLater(reason: string, problem: string, retryAfter: number | undefined): void {
    this.opts.metrics.exportFailures.inc({ reason });
    const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.#attempt++);
    const delay = retryAfter ?? backoff / 2 + Math.random() * (backoff / 2); // "equal jitter"
    this.#retryAt = Date.now() + delay;
    if (this.#problem !== problem) this.opts.log.warn({ problem, retryInMs: Math.round(delay), target: this.target.url.href }, 'export failed: will retry');
    this.#problem = problem;
    clearTimeout(this.#wake);
    this.#wake = setTimeout(() => this.#pump(), delay);
    this.#wake.unref();
  }
}
