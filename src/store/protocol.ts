// Messages between the server's thread and the storage thread (src/store/worker.ts), which owns the
// SQLite file: every write, the export to Phoenix, retention, and the read side's queries run there, so
// no SQLite statement ever runs on the thread that streams traffic.
import type { ResourceOptions } from '../export/otlp.js';
import type { Span } from '../record/span.js';
import type { SpanFilter } from './queries.js';

/** What the storage thread is started with (plain data: it crosses the thread boundary). */
export interface StoreSettings {
  dbPath: string;
  logLevel: string;
  maxQueue: number;
  flushIntervalMs: number;
  retentionDays: number;
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
  | { t: 'spans'; spans: Span[] }
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
  | { t: 'end'; id: number }
  | { t: 'closed' };
