// Storage thread. It owns the SQLite file: it builds the spans of the exchanges the server thread sends
// and reports each request (log line, metrics), stores the spans (batched, with retries), exports them
// to Phoenix, prunes old ones, and answers the read side's queries — all away from the thread that
// streams traffic, which never parses a response or waits on a statement.
//
//   server thread ──exchanges──► assembleSpan ──► SpanWriter ──► SQLite (+ outbox row) ──► Delivery ──► OTLP
//                 ──sessions───► RealtimeSessions ──┘
//                 ◄──log lines, health, results, export chunks──
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MessagePort } from 'node:worker_threads';

import { pino } from 'pino';

import { Delivery, type PostSpans } from '../export/delivery.js';
import { OtlpEncoder } from '../export/otlp.js';
import { postSpans } from '../export/post.js';
import { MemoryBudget } from '../memory-budget.js';
import { Metrics } from '../metrics.js';
import { jsonlChunks } from '../phoenix/jsonl.js';
import { assembleSpan } from '../record/assemble.js';
import type { CapturedExchange } from '../record/capture.js';
import { Pricing } from '../record/cost.js';
import { plainResponse } from '../record/decode.js';
import type { SessionPart } from '../record/realtime/capture.js';
import { RealtimeSessions } from '../record/realtime/sessions.js';
import type { Span } from '../record/span.js';
import { countSpend, reportExchange, reportSession, type SpanSummary, summarize } from '../report.js';
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

/** Exchanges this large are followed by a full garbage collection (see runStorageThread). */
const LARGE_EXCHANGE = 1024 * 1024;

/** The read side's queries, by name (the server thread's StoreClient calls them). */
export type Reads = ReturnType<typeof readQueries>;

function readQueries(db: () => DB, metrics: Metrics) {
  return {
    list: (filter: SpanFilter, limit: number, cursor: Position | undefined, ascending: boolean) => ({
      ...listSpans(db(), filter, limit, cursor, ascending),
      lastSeq: lastSeq(db()),
    }),
    span: (spanId: string) => spanReader(db())(spanId),
    trace: (traceId: string) => traceRows(db(), traceId).map(rowToSpan),
    models: () => models(db()),
    // A question the rollups cannot answer adds up spans a page at a time: writes go on between pages.
    stats: (query: SpendQuery) => spend(db(), query, () => new Promise((resolve) => setImmediate(resolve))),
    import: (spans: Span[]) => spanInserter(db(), { outbox: false })(spans).length,
    metrics: () => metrics.registry.getMetricsAsJSON(),
  };
}

/** Export requests to the configured target. */
function postTo(target: NonNullable<StoreSettings['export']>): PostSpans {
  const to = { url: new URL(target.url), headers: target.headers };
  const encoder = new OtlpEncoder(target.resource);
  return (spans, signal) => postSpans(to, encoder, spans, { timeoutMs: target.timeoutMs, signal });
}

export function runStorageThread(port: MessagePort, settings: StoreSettings): void {
  // Log lines go to the server thread, which writes them with its own: one stream, no interleaving. They
  // travel together, once a tick (a message and a write per line cost both threads 10 µs a request), and
  // before any other message, so that the order of what the server thread sees is the order things happened.
  let lines = '';
  const sendLines = (): void => {
    if (lines) port.postMessage({ t: 'logs', lines } satisfies FromStore);
    lines = '';
  };
  const send = (m: FromStore): void => {
    sendLines();
    port.postMessage(m);
  };
  const log = pino(
    { level: settings.logLevel, base: { name: 'llmtap' } },
    {
      write: (line: string) => {
        if (!lines) setImmediate(sendLines);
        lines += line;
      },
    },
  );
  const metrics = new Metrics({ processMetrics: false });
  // The server thread's memory budget: what an exchange held is given back once its span is stored.
  const budget = new MemoryBudget(0, settings.memory);
  // A full collection after a large span was built and written. V8 collects by its own measure, which
  // lets a large span's intermediate text (decoded chunks, events, the JSON written to SQLite: ten times
  // the span's size) pile up as garbage — measured: 269 MB dead beside 11 MB live after forty 3 MB spans.
  // This thread's live set is small, so the collection is quick, and the traffic never waits for it.
  setFlagsFromString('--expose-gc');
  const collectGarbage = runInNewContext('gc') as () => void;

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
      // An exchange's share of the memory budget comes back once its span is on disk.
      release: (held) => budget.given(held),
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
    new Delivery(postTo(target), db, {
      target: target.url,
      batchSize: target.batchSize,
      intervalMs: target.intervalMs,
      concurrency: target.concurrency,
      maxBacklog: target.maxBacklog,
      log,
      metrics,
      storageBehind: () => writer.queued > STORAGE_BEHIND,
    });
  delivery?.start();
  const stopRetention = startRetention(db, settings.retentionDays, log);
  const reads = readQueries(db, metrics);
  const pricing = new Pricing(settings.assemble.prices);

  const record = async (exchange: CapturedExchange): Promise<void> => {
    let summary: SpanSummary | undefined;
    try {
      const response = exchange.response && (await plainResponse(exchange.response, exchange.contentEncoding, settings.assemble.captureMaxBytes));
      const span = assembleSpan({ ...exchange, response }, settings.assemble, pricing);
      writer.enqueue(span, exchange.heldBytes);
      metrics.spansRecorded.inc();
      summary = summarize(span);
    } catch (err) {
      // A bug in span assembly must never reach the traffic; it is counted and logged.
      metrics.spanErrors.inc();
      log.error({ err: (err as Error).message, path: exchange.url.split('?', 1)[0] }, 'span assembly failed');
      budget.given(exchange.heldBytes);
    }
    reportExchange(log, metrics, exchange.result, summary);
    if (exchange.heldBytes >= LARGE_EXCHANGE) collectGarbage();
  };
  // Exchanges are built one after the other, in the order they came (decompression waits on zlib's threads).
  let building = Promise.resolve();
  const build = (exchanges: CapturedExchange[]): void => {
    building = building.then(async () => {
      // Taken off the list as they go: a built exchange's bytes are garbage at once, not at the batch's end.
      for (let exchange = exchanges.shift(); exchange; exchange = exchanges.shift()) await record(exchange);
    });
  };

  // WebSocket sessions: their responses are written as they finish, the session's span when it ends.
  const realtime = new RealtimeSessions(
    settings.assemble,
    pricing,
    (span) => {
      writer.enqueue(span);
      metrics.spansRecorded.inc();
      const summary = summarize(span);
      // Only a response's or transcription's span counts spend (a session's own keeps its totals apart),
      // under the model the upstream's events named, unless the span failed.
      if (summary.promptTokens || summary.completionTokens) {
        countSpend(metrics, metrics.modelLabel(summary.model, span.statusCode === 'OK' ? 200 : 0), summary);
      }
    },
    (result, summary) => reportSession(log, result, summary),
  );
  const recordSessions = (parts: SessionPart[]): void => {
    for (const part of parts) {
      try {
        realtime.take(part);
      } catch (err) {
        metrics.spanErrors.inc();
        log.error({ err: (err as Error).message, path: part.session.path }, 'realtime span assembly failed');
      } finally {
        budget.given(part.heldBytes); // the session's model keeps what it needs, parsed
      }
    }
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

  // Health for /readyz, sent when it changes — and once before 'ready', so a problem found at start is
  // reported from the first request.
  let last = '';
  const reportHealth = (): void => {
    const problem = writer.problem();
    const now: Health = { storage: { ok: !problem, detail: problem ?? 'ok' } };
    if (delivery) now.export = delivery.health();
    const text = JSON.stringify(now);
    if (text !== last) send({ t: 'health', health: now });
    last = text;
  };
  reportHealth();
  const health = setInterval(reportHealth, 250);

  // Deadlines of the close (epoch ms); a hurry brings them forward while it runs.
  const until = { writes: Infinity, exports: Infinity };
  const close = async (exportMs: number): Promise<void> => {
    clearInterval(health);
    stopRetention();
    await building;
    await writer.drain(() => until.writes);
    until.exports = Math.min(until.exports, Date.now() + exportMs);
    await delivery?.close(() => until.exports);
    writer.close();
    sendLines();
    port.close();
  };

  port.on('message', (m: ToStore) => {
    switch (m.t) {
      case 'exchanges':
        build(m.exchanges);
        return;
      case 'sessions':
        recordSessions(m.parts);
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
        until.writes = m.writeBy;
        void close(m.exportMs);
        return;
      case 'hurry':
        until.writes = Math.min(until.writes, m.by);
        until.exports = Math.min(until.exports, m.by);
    }
  });
  send({ t: 'ready' });
}
