// The schema, as an ordered list of migrations. Never edit a released step; add the next one.
export const MIGRATIONS: readonly string[] = [
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;
