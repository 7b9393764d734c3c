// /api/*: list, read, export and import spans, and spend stats. JSON in and out; errors are
// `{"error":{"message"}}` with a 4xx (5xx only for failures of llmtap itself).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';

import { nowNs } from '../clock.js';
import type { Logger } from '../log.js';
import { PhoenixFormatError } from '../phoenix/format-error.js';
import { importLines, readLines } from '../phoenix/jsonl.js';
import { toPhoenix } from '../phoenix/span-json.js';
import type { StoreClient } from '../storage-thread/client.js';
import { apiError as error, BadRequest } from './errors.js';
import { encodeCursor, parseId, parseListQuery, parseStatsQuery } from './params.js';
import { listItem } from './summary.js';

export interface ApiDeps {
  /** Every query runs on the storage thread: a slow one never holds up proxied traffic. */
  store: StoreClient;
  /** Project given to imported spans (JSONL has none). */
  project: string;
  /** Longest JSONL line accepted on import. */
  maxLineBytes: number;
  log: Logger;
}

export function apiRoutes({ store, project, maxLineBytes, log }: ApiDeps): Hono<{ Bindings: HttpBindings }> {
  const api = new Hono<{ Bindings: HttpBindings }>();

  api.get('/spans', async (c) => {
    const query = parseListQuery(new URL(c.req.url).searchParams);
    if (query.format === 'jsonl') {
      const res = c.env.outgoing;
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'content-disposition': 'attachment; filename="llmtap-spans.jsonl"' });
      // The storage thread reads ahead only as fast as the client takes the lines: flat memory.
      pipeline(Readable.from(store.exportChunks(query.filter), { highWaterMark: 1, objectMode: true }), res).catch((err: unknown) => {
        // A client that leaves mid-export is normal; anything else is worth a line.
        if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') log.warn({ err: (err as Error).message }, 'export failed');
      });
      return RESPONSE_ALREADY_SENT;
    }
    const page = await store.call('list', query.filter, query.limit, query.cursor, query.ascending);
    return c.json({ data: page.rows.map(listItem), next_cursor: page.next ? encodeCursor(page.next) : null, last_seq: Number(page.lastSeq) });
  });

  api.get('/spans/:span_id', async (c) => {
    const span = await store.call('span', parseId('span_id', c.req.param('span_id')));
    return span ? c.json(toPhoenix(span)) : c.json(error(`no span with id ${c.req.param('span_id')}`), 404);
  });

  api.get('/traces/:trace_id', async (c) => {
    const spans = await store.call('trace', parseId('trace_id', c.req.param('trace_id')));
    return spans.length > 0 ? c.json({ data: spans.map(toPhoenix) }) : c.json(error(`no spans with trace id ${c.req.param('trace_id')}`), 404);
  });

  api.post('/spans/import', async (c) => {
    const result = await importLines(readLines(c.env.incoming, maxLineBytes), (spans) => store.call('import', spans), project, { batch: 500 });
    log.info({ imported: result.imported, duplicates: result.duplicates, rejected: result.rejected }, 'spans imported');
    return c.json(result);
  });

  api.get('/models', async (c) => c.json({ data: await store.call('models') }));

  api.get('/stats', async (c) => c.json(await store.call('stats', parseStatsQuery(new URL(c.req.url).searchParams, nowNs()))));

  // Last: any other /api path (a sub-app's notFound would not be used once mounted).
  api.all('*', (c) => c.json(error(`no route for ${c.req.method} ${c.req.path}`), 404));

  api.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    if (err instanceof BadRequest || err instanceof PhoenixFormatError) return c.json(error(err.message), 400);
    log.error({ err: err.message, path: c.req.path }, 'api request failed');
    return c.json(error(`llmtap: ${err.message}`), 500);
  });

  return api;
}
