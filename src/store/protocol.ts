// Messages between the server's thread and the storage thread (src/store/worker.ts), which owns the
// SQLite file: building spans from what the tap captured, every write, the export to Phoenix,
// retention and the read side's queries run there, so none of it runs on the thread that streams.
import type { ResourceOptions } from '../export/otlp.js';
import type { AssembleOptions, Exchange } from '../record/assemble.js';
import type { SpanFilter } from './queries.js';

/** What the storage thread is started with (plain data: it crosses the thread boundary). */
export interface StoreSettings {
  dbPath: string;
  logLevel: string;
  maxQueue: number;
  flushIntervalMs: number;
  retentionDays: number;
  assemble: AssembleOptions;
  export?: {
    url: string;
    headers: Record<string, string>;
    resource: ResourceOptions;
    batchSize: number;
    intervalMs: number;
    concurrency: number;
    maxBacklog: number;
    timeoutMs: number;
  };
}

export type ToStore =
  | { t: 'exchanges'; exchanges: Exchange[] }
  | { t: 'call'; id: number; fn: string; args: unknown[] }
  | { t: 'export'; id: number; filter: SpanFilter }
  | { t: 'more'; id: number }
  | { t: 'cancel'; id: number }
  | { t: 'close'; deadline: number };

export type FromStore =
  | { t: 'ready' }
  | { t: 'failed'; message: string }
  /** Sent whenever it changes: for /readyz. */
  | { t: 'state'; storage: string | undefined; export: string | undefined }
  | { t: 'log'; line: string }
  | { t: 'result'; id: number; value: unknown }
  | { t: 'error'; id: number; message: string }
  | { t: 'chunk'; id: number; data: string }
  | { t: 'end'; id: number };
