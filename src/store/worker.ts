// The storage thread: owns the SQLite file. It builds the spans of the exchanges the server thread
// sends and writes each request's log line, stores the spans (batched, with retries), exports them to
// Phoenix, prunes old ones, and answers the read side's queries — all away from the thread that
// streams traffic, which never parses a response or waits on a statement.
import { parentPort, workerData } from 'node:worker_threads';

import { pino } from 'pino';

import { exportChunks } from '../api/jsonl.js';
import { Delivery } from '../export/delivery.js';
import { OtlpEncoder } from '../export/otlp.js';
import { Metrics } from '../metrics.js';
import { assembleSpan, type Exchange } from '../record/assemble.js';
import type { Span } from '../record/span.js';
import { logExchange, type SpanSummary, summarize } from '../request-log.js';
import { type DB, openDatabase } from './db.js';
import type { FromStore, StoreSettings, ToStore } from './protocol.js';
import { lastSeq, listSpans, models, modelStats, type Position, type SpanFilter, traceRows } from './queries.js';
import { startRetention } from './retention.js';
import { rowToSpan, spanInserter, spanReader } from './spans.js';
import { SpanWriter } from './writer.js';

const port = parentPort!;
const settings = workerData as StoreSettings;
const send = (m: FromStore): void => port.postMessage(m);
// Log lines go to the server thread, which writes them with its own: one stream, no interleaving.
const log = pino({ level: settings.logLevel, base: { name: 'llmtap' } }, { write: (line: string) => send({ t: 'log', line }) });
const metrics = new Metrics({ processMetrics: false });

let writer: SpanWriter;
try {
  writer = new SpanWriter(openDatabase(settings.dbPath), {
    path: settings.dbPath,
    maxQueue: settings.maxQueue,
    flushIntervalMs: settings.flushIntervalMs,
    outbox: settings.export !== undefined,
    log,
    metrics,
    onStored: (stored) => delivery?.stored(stored),
  });
} catch (err) {
  send({ t: 'failed', message: (err as Error).message });
  process.exit(1);
}
const db = (): DB => writer.db;

/** Queued spans past which storage counts as behind, and export waits for it. */
const STORAGE_BEHIND = 2000;

const x = settings.export;
const delivery =
  x &&
  new Delivery({ url: new URL(x.url), headers: x.headers }, new OtlpEncoder(x.resource), db, {
    batchSize: x.batchSize,
    intervalMs: x.intervalMs,
    concurrency: x.concurrency,
    maxBacklog: x.maxBacklog,
    timeoutMs: x.timeoutMs,
    log,
    metrics,
    storageBehind: () => writer.queued > STORAGE_BEHIND,
  });
delivery?.start();
const stopRetention = startRetention(db, settings.retentionDays, log);

function record(x: Exchange): void {
  let summary: SpanSummary | undefined;
  try {
    const span = assembleSpan(x, settings.assemble);
    writer.enqueue(span);
    metrics.spansRecorded.inc();
    summary = summarize(span);
  } catch (err) {
    // A bug in span assembly must never reach the traffic; it is counted and logged.
    metrics.spanErrors.inc();
    log.error({ err: (err as Error).message, path: x.url.split('?', 1)[0] }, 'span assembly failed');
  }
  logExchange(log, x.result, summary);
  metrics.request(x.result, summary);
}

/** The read side's queries, by name (the server thread's StoreClient calls them). */
const reads = {
  list: (filter: SpanFilter, limit: number, cursor: Position | undefined) => ({ ...listSpans(db(), filter, limit, cursor), lastSeq: lastSeq(db()) }),
  span: (spanId: string) => spanReader(db())(spanId),
  trace: (traceId: string) => traceRows(db(), traceId).map(rowToSpan),
  models: () => models(db()),
  stats: (sinceNs: bigint, untilNs: bigint) => modelStats(db(), sinceNs, untilNs),
  import: (spans: Span[]) => spanInserter(db(), { outbox: false })(spans).length,
  metrics: () => metrics.registry.getMetricsAsJSON(),
};
export type Reads = typeof reads;

// ---- the JSONL export, streamed in chunks the server thread asks for ------------------------------
const WINDOW = 4; // chunks in flight (~64 KiB each)
const exports = new Map<number, { credit: number; cancelled: boolean; wake: () => void }>();

async function runExport(id: number, filter: SpanFilter): Promise<void> {
  // A connection of its own: one read snapshot for as long as the client takes.
  const reader = openDatabase(settings.dbPath, { readonly: true });
  const flow = { credit: WINDOW, cancelled: false, wake: () => {} };
  exports.set(id, flow);
  try {
    for (const data of exportChunks(reader, filter)) {
      while (flow.credit === 0 && !flow.cancelled) await new Promise<void>((r) => (flow.wake = r));
      if (flow.cancelled) return;
      flow.credit--;
      send({ t: 'chunk', id, data });
    }
    send({ t: 'end', id });
  } catch (err) {
    send({ t: 'error', id, message: (err as Error).message });
  } finally {
    exports.delete(id);
    reader.close();
  }
}

// ---- state for /readyz, sent when it changes ----------------------------------------------------------
let last = '';
const state = setInterval(() => {
  const now: FromStore = { t: 'state', storage: writer.problem(), export: delivery?.status() };
  const text = JSON.stringify(now);
  if (text !== last) send(now);
  last = text;
}, 250);

async function close(deadline: number): Promise<void> {
  clearInterval(state);
  stopRetention();
  await writer.drain(deadline);
  await delivery?.close(deadline);
  writer.close();
  port.close();
}

port.on('message', (m: ToStore) => {
  switch (m.t) {
    case 'exchanges':
      for (const x of m.exchanges) record(x);
      return;
    case 'call':
      Promise.resolve()
        .then(() => (reads[m.fn as keyof Reads] as (...args: unknown[]) => unknown)(...m.args))
        .then(
          (value) => send({ t: 'result', id: m.id, value }),
          (err: unknown) => send({ t: 'error', id: m.id, message: (err as Error).message }),
        );
      return;
    case 'export':
      void runExport(m.id, m.filter);
      return;
    case 'more':
    case 'cancel': {
      const flow = exports.get(m.id);
      if (!flow) return;
      if (m.t === 'more') flow.credit++;
      else flow.cancelled = true;
      flow.wake();
      return;
    }
    case 'close':
      void close(m.deadline);
  }
});
send({ t: 'ready' });
