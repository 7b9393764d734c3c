// Storage thread. It owns the SQLite file: it builds the spans of the exchanges the server thread sends
// and reports each request (log line, metrics), stores the spans (batched, with retries), exports them
// to Phoenix, prunes old ones, and answers the read side's queries — all away from the thread that
// streams traffic, which never parses a response or waits on a statement.
//
//   server thread ──exchanges──► assembleSpan ──► SpanWriter ──► SQLite (+ outbox row) ──► Delivery ──► OTLP
//                 ◄──log lines, health, results, export chunks──
import type { MessagePort } from 'node:worker_threads';

import { pino } from 'pino';

import { Delivery } from '../export/delivery.js';
import { OtlpEncoder } from '../export/otlp.js';
import { Metrics } from '../metrics.js';
import { jsonlChunks } from '../phoenix/jsonl.js';
import { assembleSpan } from '../record/assemble.js';
import type { CapturedExchange } from '../record/capture.js';
import { Pricing } from '../record/cost.js';
import type { Span } from '../record/span.js';
import { reportExchange, type SpanSummary, summarize } from '../report.js';
import { type DB, openDatabase } from '../store/db.js';
import { iterateWholeSpans, lastSeq, listSpans, models, type Position, type SpanFilter, traceRows } from '../store/queries.js';
import { startRetention } from '../store/retention.js';
import { rowToSpan, spanInserter, spanReader } from '../store/spans.js';
import { spend, type SpendQuery } from '../store/spend.js';
import { SpanWriter } from '../store/writer.js';
import type { ExportChunk, ExportFlow, FromStore, Health, StoreSettings, ToStore } from './protocol.js';

/** Queued spans past which storage counts as behind, and export waits for it. */
const STORAGE_BEHIND = 2000;
/** JSONL chunks (~64 KiB each) an export reads ahead of what the client took. */
const EXPORT_WINDOW = 4;

/** The read side's queries, by name (the server thread's StoreClient calls them). */
export type Reads = ReturnType<typeof readQueries>;

function readQueries(db: () => DB, metrics: Metrics) {
  return {
    list: (filter: SpanFilter, limit: number, cursor: Position | undefined) => ({ ...listSpans(db(), filter, limit, cursor), lastSeq: lastSeq(db()) }),
    span: (spanId: string) => spanReader(db())(spanId),
    trace: (traceId: string) => traceRows(db(), traceId).map(rowToSpan),
    models: () => models(db()),
    stats: (query: SpendQuery) => spend(db(), query),
    import: (spans: Span[]) => spanInserter(db(), { outbox: false })(spans).length,
    metrics: () => metrics.registry.getMetricsAsJSON(),
  };
}

export function runStorageThread(port: MessagePort, settings: StoreSettings): void {
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
    port.close();
    return;
  }
  const db = (): DB => writer.db;

  const target = settings.export;
  const delivery =
    target &&
    new Delivery({ url: new URL(target.url), headers: target.headers }, new OtlpEncoder(target.resource), db, {
      batchSize: target.batchSize,
      intervalMs: target.intervalMs,
      concurrency: target.concurrency,
      maxBacklog: target.maxBacklog,
      timeoutMs: target.timeoutMs,
      log,
      metrics,
      storageBehind: () => writer.queued > STORAGE_BEHIND,
    });
  delivery?.start();
  const stopRetention = startRetention(db, settings.retentionDays, log);
  const reads = readQueries(db, metrics);
  const pricing = new Pricing(settings.assemble.prices);

  const record = (exchange: CapturedExchange): void => {
    let summary: SpanSummary | undefined;
    try {
      const span = assembleSpan(exchange, settings.assemble, pricing);
      writer.enqueue(span);
      metrics.spansRecorded.inc();
      summary = summarize(span);
    } catch (err) {
      // A bug in span assembly must never reach the traffic; it is counted and logged.
      metrics.spanErrors.inc();
      log.error({ err: (err as Error).message, path: exchange.url.split('?', 1)[0] }, 'span assembly failed');
    }
    reportExchange(log, metrics, exchange.result, summary);
  };

  /** A JSONL export on a connection of its own (one read snapshot for as long as the client takes). */
  const runExport = async (filter: SpanFilter, out: MessagePort): Promise<void> => {
    const emit = (m: ExportChunk): void => out.postMessage(m);
    let reader: DB;
    try {
      reader = openDatabase(settings.dbPath, { readonly: true });
    } catch (err) {
      emit({ t: 'error', message: (err as Error).message });
      out.close();
      return;
    }
    let credit = EXPORT_WINDOW;
    let cancelled = false;
    let wake = (): void => {};
    out.on('message', (m: ExportFlow) => {
      if (m.t === 'more') credit++;
      else cancelled = true;
      wake();
    });
    try {
      for (const data of jsonlChunks(iterateWholeSpans(reader, filter))) {
        while (credit === 0 && !cancelled) await new Promise<void>((r) => (wake = r));
        if (cancelled) return;
        credit--;
        emit({ t: 'chunk', data });
      }
      emit({ t: 'end' });
    } catch (err) {
      emit({ t: 'error', message: (err as Error).message });
    } finally {
      out.close();
      reader.close();
    }
  };

  // Health for /readyz, sent when it changes.
  let last = '';
  const health = setInterval(() => {
    const problem = writer.problem();
    const now: Health = { storage: { ok: !problem, detail: problem ?? 'ok' } };
    if (delivery) now.export = delivery.health();
    const text = JSON.stringify(now);
    if (text !== last) send({ t: 'health', health: now });
    last = text;
  }, 250);

  const close = async (deadline: number): Promise<void> => {
    clearInterval(health);
    stopRetention();
    await writer.drain(deadline);
    await delivery?.close(deadline);
    writer.close();
    port.close();
  };

  port.on('message', (m: ToStore) => {
    switch (m.t) {
      case 'exchanges':
        for (const exchange of m.exchanges) record(exchange);
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
        void runExport(m.filter, m.port);
        return;
      case 'close':
        void close(m.deadline);
    }
  });
  send({ t: 'ready' });
}
