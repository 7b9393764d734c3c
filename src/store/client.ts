// The server thread's side of storage: finished exchanges go to the storage thread in one message per
// tick, read queries are calls that resolve with its answer, and /readyz reads the state it last
// reported. If the storage thread dies, traffic goes on: the failure is logged and reported, exchanges
// wait (bounded) and a new thread takes over.
import { Worker } from 'node:worker_threads';

import { pino } from 'pino';

import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Exchange } from '../record/assemble.js';
import { StoreError } from './db.js';
import type { FromStore, StoreSettings, ToStore } from './protocol.js';
import type { SpanFilter } from './queries.js';
import type { Reads } from './worker.js';

const RESTART_MS = 1000;
const MESSAGE_EXCHANGES = 64;

/** The storage thread: worker.js of the build, or, run from the TypeScript sources (tests), worker.ts through tsx. */
function storageThread(settings: StoreSettings): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: settings });
  const source = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${source}); })`, { eval: true, workerData: settings });
}

interface Call {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

interface ExportSink {
  push: (data: string) => void;
  end: () => void;
  fail: (err: Error) => void;
}

export class StoreClient {
  #worker: Worker | undefined;
  #ready = false;
  #started = false;
  #closing = false;
  #nextId = 1;
  readonly #calls = new Map<number, Call>();
  readonly #exports = new Map<number, ExportSink>();
  #batch: Exchange[] = [];
  #posting = false;
  #state: { storage: string | undefined; export: string | undefined } = { storage: undefined, export: undefined };
  #onClosed: (() => void) | undefined;

  private constructor(
    private readonly settings: StoreSettings,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Starts the storage thread; rejects with a StoreError when the database cannot be used. */
  static async start(settings: StoreSettings, log: Logger, metrics: Metrics): Promise<StoreClient> {
    const client = new StoreClient(settings, log, metrics);
    await client.#spawn();
    return client;
  }

  #spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = storageThread(this.settings);
      this.#worker = worker;
      worker.on('message', (m: FromStore) => {
        if (m.t === 'ready') {
          this.#ready = this.#started = true;
          this.#state.storage = undefined;
          this.#post();
          resolve();
        } else if (m.t === 'failed') reject(new StoreError(m.message));
        else this.#onMessage(m);
      });
      worker.on('error', (err) => this.log.error({ err: err.message }, 'storage thread failed'));
      worker.on('exit', (code) => {
        this.#ready = false;
        if (this.#closing) return this.#onClosed?.();
        // A failure at start-up is the caller's to report; later ones restart the thread.
        if (!this.#started) return reject(new StoreError(`the storage thread stopped at start (exit code ${code})`));
        this.#lost(new Error(`storage thread stopped (exit code ${code})`));
        this.#state.storage = `storage thread stopped (exit code ${code}); restarting`;
        setTimeout(
          () => void this.#spawn().catch((err: Error) => this.log.error({ err: err.message }, 'storage thread could not restart')),
          RESTART_MS,
        ).unref();
      });
    });
  }

  #onMessage(m: FromStore): void {
    switch (m.t) {
      case 'state':
        this.#state = { storage: m.storage, export: m.export };
        return;
      case 'log':
        (this.log as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!.write(m.line);
        return;
      case 'result':
        this.#calls.get(m.id)?.resolve(m.value);
        this.#calls.delete(m.id);
        return;
      case 'error': {
        const err = new Error(m.message);
        this.#calls.get(m.id)?.reject(err);
        this.#calls.delete(m.id);
        this.#exports.get(m.id)?.fail(err);
        this.#exports.delete(m.id);
        return;
      }
      case 'chunk':
        this.#exports.get(m.id)?.push(m.data);
        return;
      case 'end':
        this.#exports.get(m.id)?.end();
        this.#exports.delete(m.id);
        return;
    }
  }

  /** Everything in flight is lost with a thread that stopped. */
  #lost(err: Error): void {
    for (const call of this.#calls.values()) call.reject(err);
    for (const sink of this.#exports.values()) sink.fail(err);
    this.#calls.clear();
    this.#exports.clear();
  }

  #send(m: ToStore, transfer: ArrayBuffer[] = []): void {
    this.#worker!.postMessage(m, transfer);
  }

  /** Hands a finished exchange to the storage thread; the exchanges of one tick travel in one message. */
  record(x: Exchange): void {
    if (this.#batch.length >= this.settings.maxQueue) {
      this.metrics.spansDropped.inc();
      return;
    }
    this.#batch.push(x);
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
      for (const x of exchanges) {
        transfer.push(x.requestBody.buffer as ArrayBuffer);
        if (x.response) transfer.push(x.response.bytes.buffer as ArrayBuffer);
      }
      this.#send({ t: 'exchanges', exchanges }, transfer);
    }
    this.#batch = [];
  }

  /** A read-side query, answered by the storage thread. */
  call<K extends keyof Reads>(fn: K, ...args: Parameters<Reads[K]>): Promise<Awaited<ReturnType<Reads[K]>>> {
    if (!this.#ready) return Promise.reject(new Error(this.#state.storage ?? 'storage is not ready'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#send({ t: 'call', id, fn, args });
    });
  }

  /** The JSONL export in chunks; the storage thread reads ahead only as far as the consumer takes. */
  async *exportChunks(filter: SpanFilter): AsyncGenerator<string> {
    if (!this.#ready) throw new Error(this.#state.storage ?? 'storage is not ready');
    const id = this.#nextId++;
    const queue: string[] = [];
    let done = false;
    let failure: Error | undefined;
    let wake = (): void => {};
    this.#exports.set(id, {
      push: (data) => {
        queue.push(data);
        wake();
      },
      end: () => {
        done = true;
        wake();
      },
      fail: (err) => {
        failure = err;
        wake();
      },
    });
    this.#send({ t: 'export', id, filter });
    try {
      for (;;) {
        if (queue.length === 0 && !done && !failure) await new Promise<void>((r) => (wake = r));
        if (failure) throw failure;
        const data = queue.shift();
        if (data === undefined) return;
        this.#send({ t: 'more', id });
        yield data;
      }
    } finally {
      // The consumer left early (a client gone mid-export): stop reading.
      if (this.#exports.delete(id) && this.#ready) this.#send({ t: 'cancel', id });
    }
  }

  /** For /readyz: storage's problem (undefined when healthy) and the exporter's state (undefined when off). */
  status(): { storage: string | undefined; export: string | undefined } {
    return this.#state;
  }

  /** Sends what is queued, lets the storage thread write and export it until the deadline, then stops it. */
  async close(deadline: number): Promise<void> {
    if (!this.#ready) return;
    this.#post();
    this.#closing = true;
    const closed = new Promise<void>((resolve) => (this.#onClosed = resolve));
    this.#send({ t: 'close', deadline });
    // The thread closes itself; past the deadline (and a margin for its last write), it is stopped.
    const timer = setTimeout(() => void this.#worker?.terminate(), Math.max(0, deadline - Date.now()) + 5000);
    await closed;
    clearTimeout(timer);
  }
}
