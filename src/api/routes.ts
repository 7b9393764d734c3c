// /api/*: list, read, export and import spans, and per-model stats. JSON in and out; errors are
// `{"error":{"message"}}` with a 4xx (5xx only for failures of llmtap itself).
import { pipeline } from 'node:stream/promises';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { nowNs } from '../clock.js';
import type { Logger } from '../log.js';
import { openDatabase, type DB } from '../store/db.js';
import { lastSeq, listSpans, models, modelStats, traceRows } from '../store/queries.js';
import { rowToSpan, spanInserter, spanReader } from '../store/spans.js';
import { exportStream, importLines, readLines } from './jsonl.js';
import { apiError as error, BadRequest } from './errors.js';
import { encodeCursor, parseId, parseListQuery, parseWindow } from './params.js';
import { toPhoenix } from './phoenix-json.js';
import { listItem } from './summary.js';

export interface ApiDeps {
  /** The store's current connection (it changes when the file had to be reopened). */
  db: () => DB;
  /** The SQLite file, for connections of their own (exports). */
  dbPath: string;
  /** Project given to imported spans (JSONL has none). */
  project: string;
  /** Longest JSONL line accepted on import. */
  maxLineBytes: number;
  log: Logger;
}

/** Milliseconds to the microsecond, as the stored times allow. */
const ms = (v: number | null): number | null => (v === null ? null : Math.round(v * 1000) / 1000);

export function apiRoutes({ db, dbPath, project, maxLineBytes, log }: ApiDeps): Hono<{ Bindings: HttpBindings }> {
  const api = new Hono<{ Bindings: HttpBindings }>();

  api.get('/spans', (c) => {
    const query = parseListQuery(new URL(c.req.url).searchParams);
    if (query.format === 'jsonl') {
      // Its own read-only connection: the export reads one snapshot for as long as the client takes,
      // while the writer's connection goes on committing.
      const reader = openDatabase(dbPath, { readonly: true });
      const res = c.env.outgoing;
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'content-disposition': 'attachment; filename="llmtap-spans.jsonl"' });
      pipeline(exportStream(reader, query.filter), res)
        .catch((err: unknown) => {
          // A client that leaves mid-export is normal; anything else is worth a line.
          if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') log.warn({ err: (err as Error).message }, 'export failed');
        })
        .finally(() => reader.close());
      return RESPONSE_ALREADY_SENT;
    }
    const page = listSpans(db(), query.filter, query.limit, query.cursor);
    return c.json({ data: page.rows.map(listItem), next_cursor: page.next ? encodeCursor(page.next) : null, last_seq: Number(lastSeq(db())) });
  });

  api.get('/spans/:span_id', (c) => {
    const span = spanReader(db())(parseId('span_id', c.req.param('span_id')));
    return span ? c.json(toPhoenix(span)) : c.json(error(`no span with id ${c.req.param('span_id')}`), 404);
  });

  api.get('/traces/:trace_id', (c) => {
    const rows = traceRows(db(), parseId('trace_id', c.req.param('trace_id')));
    return rows.length > 0 ? c.json({ data: rows.map((r) => toPhoenix(rowToSpan(r))) }) : c.json(error(`no spans with trace id ${c.req.param('trace_id')}`), 404);
  });

  api.post('/spans/import', async (c) => {
    const insert = spanInserter(db(), { outbox: false });
    // Small batches: each is a transaction on the event loop, between proxied chunks.
    const result = await importLines(readLines(c.env.incoming, maxLineBytes), insert, project, { batch: 100 });
    log.info({ imported: result.imported, duplicates: result.duplicates, rejected: result.rejected }, 'spans imported');
    return c.json(result);
  });

  api.get('/models', (c) => c.json({ data: models(db()) }));

  api.get('/stats', (c) => {
    const { sinceNs, untilNs } = parseWindow(new URL(c.req.url).searchParams, nowNs());
    const models = modelStats(db(), sinceNs, untilNs).map((m) => ({
      model: m.model,
      spans: m.spans,
      errors: m.errors,
      error_rate: m.errors / m.spans,
      tokens: { prompt: m.prompt_tokens, completion: m.completion_tokens, total: m.total_tokens },
      duration_ms: { p50: ms(m.duration_p50), p90: ms(m.duration_p90), p99: ms(m.duration_p99) },
      ttft_ms: { p50: ms(m.ttft_p50), p90: ms(m.ttft_p90), p99: ms(m.ttft_p99) },
    }));
    return c.json({ since: new Date(Number(sinceNs / 1_000_000n)).toISOString(), until: new Date(Number(untilNs / 1_000_000n)).toISOString(), models });
  });

  // Last: any other /api path (a sub-app's notFound would not be used once mounted).
  api.all('*', (c) => c.json(error(`no route for ${c.req.method} ${c.req.path}`), 404));

  api.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    if (err instanceof BadRequest) return c.json(error(err.message), 400);
    log.error({ err: err.message, path: c.req.path }, 'api request failed');
    return c.json(error(`llmtap: ${err.message}`), 500);
  });

  return api;
}
