// Both threads. Messages between the server thread and the storage thread (run.ts), which owns the
// SQLite file: building spans from what the tap captured, every write, the export to Phoenix,
// retention and the read side's queries run there, so none of it runs on the thread that streams.
import type { MessagePort } from 'node:worker_threads';

import type { ExportHealth } from '../export/delivery.js';
import type { ResourceOptions } from '../export/otlp.js';
import type { AssembleOptions } from '../record/assemble.js';
import type { CapturedExchange } from '../record/capture.js';
import type { SessionPart } from '../record/realtime/capture.js';
import type { SpanFilter } from '../store/queries.js';

/** The database cannot be used (it names the path, the variable and the reason). */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** What the storage thread is started with (plain data: it crosses the thread boundary). */
export interface StoreSettings {
  dbPath: string;
  logLevel: string;
  maxQueue: number;
  flushIntervalMs: number;
  retentionDays: number;
  /** The memory budget's counters: the storage thread gives back what each exchange held once its span is built. */
  memory: SharedArrayBuffer;
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

/** Storage: `ok` false while writes fail (the spans wait in memory); `detail` says why. */
export interface StorageHealth {
  ok: boolean;
  detail: string;
}

export interface Health {
  storage: StorageHealth;
  /** Never a reason to be unready: Phoenix may be down. */
  export?: ExportHealth;
}

export type ToStore =
  | { t: 'exchanges'; exchanges: CapturedExchange[] }
  /** What open WebSocket sessions captured since the last message, and those that ended. */
  | { t: 'sessions'; parts: SessionPart[] }
  | { t: 'call'; id: number; fn: string; args: unknown[] }
  /** A JSONL export: chunks flow back on `port`, one 'more' per chunk taken, 'cancel' to stop. */
  | { t: 'export'; filter: SpanFilter; port: MessagePort }
  /** Write what is queued (until `writeBy`, epoch ms), export for `exportMs` more, then stop. */
  | { t: 'close'; writeBy: number; exportMs: number }
  /** A second signal: whatever the close was given, stop by `by`. */
  | { t: 'hurry'; by: number };

export type FromStore =
  | { t: 'ready' }
  | { t: 'failed'; message: string }
  /** Sent whenever it changes: for /readyz. */
  | { t: 'health'; health: Health }
  /** Finished pino lines (each ends with a newline), written by the server thread's destination. */
  | { t: 'logs'; lines: string }
  | { t: 'result'; id: number; value: unknown }
  | { t: 'error'; id: number; message: string };

/** On an export's own port, storage thread → server thread… */
export type ExportChunk = { t: 'chunk'; data: string } | { t: 'end' } | { t: 'error'; message: string };
/** …and back. */
export type ExportFlow = { t: 'more' } | { t: 'cancel' };
