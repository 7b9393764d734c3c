// The schema, as an ordered list of migrations (SQL, or a function where data must be rewritten).
// Never edit a released step; add the next one.
import type Database from 'better-sqlite3';

import type { Attributes } from '../record/span.js';
import { rollupWriter, type SpanTotals, TOTALS_COLUMNS } from './rollup.js';
import { searchText } from './search-text.js';

export const MIGRATIONS: readonly (string | ((db: Database.Database) => void))[] = [
  // 1: spans, kept whole (attributes and events as JSON) so each can be rebuilt exactly, plus the
  // columns the read side filters on.
  `CREATE TABLE spans (
     seq INTEGER PRIMARY KEY,
     span_id TEXT NOT NULL UNIQUE,
     trace_id TEXT NOT NULL,
     parent_id TEXT,
     trace_state TEXT,
     name TEXT NOT NULL,
     kind TEXT NOT NULL,
     start_ns INTEGER NOT NULL,
     end_ns INTEGER NOT NULL,
     status_code TEXT NOT NULL,
     status_message TEXT NOT NULL,
     project TEXT NOT NULL,
     session_id TEXT,
     user_id TEXT,
     model TEXT,
     prompt_tokens INTEGER,
     completion_tokens INTEGER,
     total_tokens INTEGER,
     ttft_ms REAL,
     attributes TEXT NOT NULL,
     events TEXT NOT NULL
   );
   CREATE INDEX spans_by_start ON spans(start_ns);
   CREATE INDEX spans_by_trace ON spans(trace_id);
   CREATE INDEX spans_by_session ON spans(session_id) WHERE session_id IS NOT NULL;`,

  // 2: the export outbox. A row per span still to deliver, written in the span's own transaction and
  // deleted once the export target accepted it. Spans the target refused for good move to
  // export_parked with the reason, until `llmtap outbox retry` puts them back.
  `CREATE TABLE export_outbox (span_seq INTEGER PRIMARY KEY);
   CREATE TABLE export_parked (span_seq INTEGER PRIMARY KEY, reason TEXT NOT NULL);
   CREATE TRIGGER spans_leave_export AFTER DELETE ON spans
   BEGIN
     DELETE FROM export_outbox WHERE span_seq = OLD.seq;
     DELETE FROM export_parked WHERE span_seq = OLD.seq;
   END;`,

  // 3: the read side. Rows are large (attributes inline), so every filter of /api/spans gets an index
  // in (filter, start_ns) order, and /api/stats a covering index: neither has to read whole rows.
  // Full-text search (`q`) over the message texts: contentless (only the index is stored), filled by
  // the span inserter with searchText() (computing the text in SQL from the JSON cost twice as much
  // per span); spans stored before this step are indexed here.
  (db) => {
    db.exec(`CREATE INDEX spans_by_model ON spans(model, start_ns);
      CREATE INDEX spans_by_status ON spans(status_code, start_ns);
      CREATE INDEX spans_by_user ON spans(user_id, start_ns) WHERE user_id IS NOT NULL;
      CREATE INDEX spans_for_stats ON spans(start_ns, model, status_code, end_ns, prompt_tokens, completion_tokens, total_tokens, ttft_ms);
      CREATE VIRTUAL TABLE spans_text USING fts5(input, output, content = '', contentless_delete = 1);
      CREATE TRIGGER spans_text_delete AFTER DELETE ON spans BEGIN
        DELETE FROM spans_text WHERE rowid = old.seq;
      END;`);
    const index = db.prepare('INSERT INTO spans_text (rowid, input, output) VALUES (?, ?, ?)');
    // In pages: a connection cannot write while it iterates.
    const page = db.prepare('SELECT seq, attributes FROM spans WHERE seq > ? ORDER BY seq LIMIT 1000');
    for (let after = 0, rows; (rows = page.all(after) as { seq: number; attributes: string }[]).length > 0; after = rows.at(-1)!.seq) {
      for (const { seq, attributes } of rows) {
        const attrs = JSON.parse(attributes) as Attributes;
        index.run(seq, searchText(attrs, 'input'), searchText(attrs, 'output'));
      }
    }
  },

  // 4: spend. The columns a span's totals need (cached and reasoning tokens and cost are new: spans stored
  // before this step have none), and the hourly totals per model, user, session and project that
  // /api/stats reads (spend.ts), computed here for the spans already stored in one pass over them. The
  // per-model percentiles of the old /api/stats, and the index they needed, are gone.
  `ALTER TABLE spans ADD COLUMN cached_tokens INTEGER;
   ALTER TABLE spans ADD COLUMN reasoning_tokens INTEGER;
   ALTER TABLE spans ADD COLUMN cost_usd REAL;
   DROP INDEX spans_for_stats;
   CREATE TABLE usage_hourly (
     dimension TEXT NOT NULL,
     value TEXT NOT NULL,
     hour INTEGER NOT NULL,
     requests INTEGER NOT NULL,
     errors INTEGER NOT NULL,
     prompt_tokens INTEGER NOT NULL,
     completion_tokens INTEGER NOT NULL,
     cached_tokens INTEGER NOT NULL,
     reasoning_tokens INTEGER NOT NULL,
     cost_usd REAL NOT NULL,
     PRIMARY KEY (dimension, value, hour)
   ) WITHOUT ROWID;
   CREATE TEMP TABLE spend_backfill AS
     SELECT start_ns / 3600000000000 AS hour, project, coalesce(model, '') AS model, coalesce(user_id, '') AS user,
       coalesce(session_id, '') AS session, count(*) AS requests, sum(status_code = 'ERROR') AS errors,
       coalesce(sum(prompt_tokens), 0) AS prompt_tokens, coalesce(sum(completion_tokens), 0) AS completion_tokens
     FROM spans GROUP BY 1, 2, 3, 4, 5;
   INSERT INTO usage_hourly SELECT 'model', model, hour, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), 0, 0, 0
     FROM spend_backfill GROUP BY hour, model;
   INSERT INTO usage_hourly SELECT 'user', user, hour, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), 0, 0, 0
     FROM spend_backfill GROUP BY hour, user;
   INSERT INTO usage_hourly SELECT 'session', session, hour, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), 0, 0, 0
     FROM spend_backfill GROUP BY hour, session;
   INSERT INTO usage_hourly SELECT 'project', project, hour, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), 0, 0, 0
     FROM spend_backfill GROUP BY hour, project;
   DROP TABLE spend_backfill;`,

  // 5: the viewer's dashboard and filters. The hourly totals gain the first and last start of their spans
  // and histograms of durations and times to first token (rollup.ts, histogram.ts), and two dimensions,
  // the endpoint and the tag; tags get a table of their own, which the list filters on, and the list's
  // endpoint and project filters get indexes. The totals are rebuilt from the spans in one pass in time
  // order, with this version's rollup writer.
  (db) => {
    db.exec(`DROP TABLE usage_hourly;
      CREATE TABLE usage_hourly (
        dimension TEXT NOT NULL,
        value TEXT NOT NULL,
        hour INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        first_ns INTEGER NOT NULL,
        last_ns INTEGER NOT NULL,
        durations TEXT NOT NULL,
        ttfts TEXT NOT NULL,
        PRIMARY KEY (dimension, value, hour)
      ) WITHOUT ROWID;
      CREATE TABLE span_tags (tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag, seq)) WITHOUT ROWID;
      CREATE INDEX span_tags_by_seq ON span_tags(seq);
      CREATE TRIGGER spans_leave_tags AFTER DELETE ON spans BEGIN
        DELETE FROM span_tags WHERE seq = old.seq;
      END;
      INSERT OR IGNORE INTO span_tags (tag, seq)
        SELECT t.value, spans.seq FROM spans, json_each(spans.attributes, '$."tag.tags"') AS t
        WHERE spans.attributes LIKE '%"tag.tags"%' AND t.type = 'text';
      CREATE INDEX spans_by_name ON spans(name, start_ns);
      CREATE INDEX spans_by_project ON spans(project, start_ns);`);
    const rollup = rollupWriter(db);
    const page = db.prepare(`SELECT seq, ${TOTALS_COLUMNS} FROM spans WHERE (start_ns, seq) > (?, ?) ORDER BY start_ns, seq LIMIT 20000`).safeIntegers(true);
    for (let after = [-1n, -1n], rows; (rows = page.all(...after) as (SpanTotals & { seq: bigint })[]).length > 0;) {
      rollup(rows, 1);
      after = [rows.at(-1)!.start_ns, rows.at(-1)!.seq];
    }
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
