// Server thread. Its side of storage: finished exchanges, and what WebSocket sessions captured, go to
// the storage thread in one message per tick, read queries are calls that resolve with its answer, a JSONL export flows on a channel of its
// own, and /readyz reads the health it last reported. If the storage thread dies, traffic goes on: the
// failure is logged and reported, exchanges wait (bounded) and a new thread takes over.
import { MessageChannel, Worker } from 'node:worker_threads';

import type { Logging } from '../log.js';
import type { MemoryBudget } from '../memory-budget.js';
import type { Metrics } from '../metrics.js';
import type { CapturedExchange } from '../record/capture.js';
import type { SessionFeed } from '../record/realtime/capture.js';
import type { SpanFilter } from '../store/queries.js';
import { type ExportChunk, type ExportFlow, type FromStore, type Health, StoreError, type StoreSettings, type ToStore } from './protocol.js';
import type { Reads } from './run.js';

const RESTART_MS = 1000;
const MESSAGE_EXCHANGES = 64;

/** The storage thread: entry.js of the build, or, run from the TypeScript sources (tests), entry.ts through tsx. */
function storageThread(settings: StoreSettings): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./entry.js', import.meta.url), { workerData: settings });
  const source = JSON.stringify(new URL('./entry.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${source}); })`, { eval: true, workerData: settings });
}

interface Call {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class StoreClient {
  #worker: Worker | undefined;
  #ready = false;
  #started = false;
  #closing = false;
  #nextId = 1;
  readonly #calls = new Map<number, Call>();
  /** Exports in flight, told when the thread is lost. */
  readonly #exports = new Set<(err: Error) => void>();
  #batch: CapturedExchange[] = [];
  /** Sessions with news; they keep capturing (bounded) until the thread takes it. */
  #sessions: SessionFeed[] = [];
  #posting = false;
  #health: Health = { storage: { ok: true, detail: 'ok' } };
  #lostReason: string | undefined;
  #onClosed: (() => void) | undefined;
  #terminate: NodeJS.Timeout | undefined;

  private constructor(
    private readonly settings: StoreSettings,
    private readonly logging: Logging,
    private readonly metrics: Metrics,
    private readonly budget: MemoryBudget,
  ) {
    const target = settings.export?.url;
    if (target) this.#health.export = { ok: true, detail: 'starting', pending: 0, parked: 0, target };
  }

  /** Starts the storage thread; rejects with a StoreError when the database cannot be used. */
  static async start(settings: StoreSettings, logging: Logging, metrics: Metrics, budget: MemoryBudget): Promise<StoreClient> {
    const client = new StoreClient(settings, logging, metrics, budget);
    await client.#spawn();
    return client;
  }

  #spawn(): Promise<void> {
    const { log } = this.logging;
    return new Promise((resolve, reject) => {
      const worker = storageThread(this.settings);
      this.#worker = worker;
      worker.on('message', (m: FromStore) => {
        if (m.t === 'ready') {
          this.#ready = this.#started = true;
          this.#lostReason = undefined;
          this.#post();
          resolve();
        } else if (m.t === 'failed') reject(new StoreError(m.message));
        else this.#onMessage(m);
      });
      worker.on('error', (err) => log.error({ err: err.message }, 'storage thread failed'));
      worker.on('exit', (code) => {
        this.#ready = false;
        if (this.#closing) return this.#onClosed?.();
        // A failure at start-up is the caller's to report; later ones restart the thread.
        if (!this.#started) return reject(new StoreError(`the storage thread stopped at start (exit code ${code})`));
        this.#lost(new Error(`storage thread stopped (exit code ${code})`));
        this.budget.reclaimHanded(); // the exchanges it had not built yet went with it
        this.#lostReason = `storage thread stopped (exit code ${code}); restarting`;
        setTimeout(() => void this.#spawn().catch((err: Error) => log.error({ err: err.message }, 'storage thread could not restart')), RESTART_MS).unref();
      });
    });
  }

  #onMessage(m: Exclude<FromStore, { t: 'ready' | 'failed' }>): void {
    switch (m.t) {
      case 'health':
        this.#health = m.health;
        return;
      case 'logs':
        this.logging.writeLines(m.lines);
        return;
      case 'result':
        this.#calls.get(m.id)?.resolve(m.value);
        this.#calls.delete(m.id);
        return;
      case 'error':
        this.#calls.get(m.id)?.reject(new Error(m.message));
        this.#calls.delete(m.id);
        return;
    }
  }

  /** Everything in flight is lost with a thread that stopped. */
  #lost(err: Error): void {
    for (const call of this.#calls.values()) call.reject(err);
    for (const fail of this.#exports) fail(err);
    this.#calls.clear();
    this.#exports.clear();
  }

  #send(m: ToStore, transfer: Transferable[] = []): void {
    this.#worker!.postMessage(m, transfer as never);
  }

  /** Hands a finished exchange to the storage thread; the exchanges of one tick travel in one message. */
  record(exchange: CapturedExchange): void {
    if (this.#batch.length >= this.settings.maxQueue) {
      this.metrics.spansDropped.inc();
      this.budget.give(exchange.heldBytes);
      return;
    }
    this.#batch.push(exchange);
    this.#schedule();
  }

  /** A session has news: taken with the exchanges of this tick. */
  recordSession(feed: SessionFeed): void {
    if (this.#sessions.length >= this.settings.maxQueue) {
      this.metrics.spansDropped.inc();
      return;
    }
    this.#sessions.push(feed);
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#posting) {
      this.#posting = true;
      setImmediate(() => this.#post());
    }
  }

  #post(): void {
    this.#posting = false;
    if (!this.#ready) return;
    // In messages of a bounded size, so that a burst of endings is built a slice at a time.
    for (let i = 0; i < this.#batch.length; i += MESSAGE_EXCHANGES) {
      const exchanges = this.#batch.slice(i, i + MESSAGE_EXCHANGES);
      // The captured bytes are handed over, not copied: each exchange owns its buffers (capture.ts).
      const transfer: ArrayBuffer[] = [];
      for (const exchange of exchanges) {
        transfer.push(exchange.requestBody.buffer as ArrayBuffer);
        for (const block of exchange.response?.blocks ?? []) transfer.push(block.buffer as ArrayBuffer);
        this.budget.handOver(exchange.heldBytes);
      }
      this.#send({ t: 'exchanges', exchanges }, transfer);
    }
    this.#batch = [];
    if (this.#sessions.length === 0) return;
    const parts = this.#sessions.map((feed) => feed.take());
    const transfer: ArrayBuffer[] = [];
    for (const part of parts) {
      for (const block of part.messages?.blocks ?? []) transfer.push(block.buffer as ArrayBuffer);
      this.budget.handOver(part.heldBytes);
      if (part.end?.refusal) transfer.push(part.end.refusal.buffer as ArrayBuffer);
    }
    this.#send({ t: 'sessions', parts }, transfer);
    this.#sessions = [];
  }

  /** A read-side query, answered by the storage thread. */
  call<K extends keyof Reads>(fn: K, ...args: Parameters<Reads[K]>): Promise<Awaited<ReturnType<Reads[K]>>> {
    if (!this.#ready) return Promise.reject(new Error(this.#lostReason ?? 'storage is not ready'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#send({ t: 'call', id, fn, args });
    });
  }

  /** The JSONL export in chunks; the storage thread reads ahead only as far as the consumer takes. */
  async *exportChunks(filter: SpanFilter): AsyncGenerator<string> {
    if (!this.#ready) throw new Error(this.#lostReason ?? 'storage is not ready');
    const { port1: port, port2 } = new MessageChannel();
    const queue: ExportChunk[] = [];
    let wake = (): void => {};
    const push = (m: ExportChunk): void => {
      queue.push(m);
      wake();
    };
    const fail = (err: Error): void => push({ t: 'error', message: err.message });
    port.on('message', push);
    this.#exports.add(fail);
    this.#send({ t: 'export', filter, port: port2 }, [port2]);
    const flow = (m: ExportFlow): void => port.postMessage(m);
    let finished = false;
    try {
      for (;;) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        const m = queue.shift()!;
        if (m.t === 'error') throw new Error(m.message);
        if (m.t === 'end') {
          finished = true;
          return;
        }
        flow({ t: 'more' });
        yield m.data;
      }
    } finally {
      // The consumer left early (a client gone mid-export): stop reading.
      if (!finished) flow({ t: 'cancel' });
      this.#exports.delete(fail);
      port.close();
    }
  }

  /** For /readyz: storage's health (a lost thread counts as unhealthy) and the exporter's (absent when off). */
  health(): Health {
    return this.#lostReason ? { ...this.#health, storage: { ok: false, detail: this.#lostReason } } : this.#health;
  }

  /** Sends what is queued, lets the storage thread write it (until `writeBy`) and export it (for `exportMs`), then stops it. */
  async close({ writeBy, exportMs }: { writeBy: number; exportMs: number }): Promise<void> {
    if (!this.#ready) return;
    this.#post();
    this.#closing = true;
    const closed = new Promise<void>((resolve) => (this.#onClosed = resolve));
    this.#send({ t: 'close', writeBy, exportMs });
    // The thread closes itself; past its deadlines (and a margin for its last write), it is stopped.
    this.#terminateAt(writeBy + exportMs + 5000);
    await closed;
    clearTimeout(this.#terminate);
  }

  /** Cuts a close short: the storage thread stops by `by` (epoch ms), and is stopped soon after. */
  hurry(by: number): void {
    if (!this.#closing) return; // the close to come is given `by` itself
    this.#send({ t: 'hurry', by });
    this.#terminateAt(by + 500);
  }

  #terminateAt(at: number): void {
    clearTimeout(this.#terminate);
    this.#terminate = setTimeout(() => void this.#worker?.terminate(), Math.max(0, at - Date.now()));
  }
}
