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

  // 3: the read side. Rows are large (attributes inline), so every filter of /api/spans gets an index
  // in (filter, start_ns) order, and /api/stats a covering index: neither has to read whole rows.
  // Full-text search (`q`) over the message texts, kept in step with `spans` by triggers so recorded
  // and imported spans alike are searchable; contentless (only the index is stored); capped per span
  // (the last 32 KiB of the input texts, the first 32 KiB of the output) so one huge conversation
  // cannot stall the writer.
  `CREATE INDEX spans_by_model ON spans(model, start_ns);
   CREATE INDEX spans_by_status ON spans(status_code, start_ns);
   CREATE INDEX spans_by_user ON spans(user_id, start_ns) WHERE user_id IS NOT NULL;
   CREATE INDEX spans_for_stats ON spans(start_ns, model, status_code, end_ns, prompt_tokens, completion_tokens, total_tokens, ttft_ms);
   CREATE VIRTUAL TABLE spans_text USING fts5(input, output, content = '', contentless_delete = 1);
   CREATE TRIGGER spans_text_insert AFTER INSERT ON spans BEGIN
     INSERT INTO spans_text (rowid, input, output) VALUES (new.seq, ${messageText('new.attributes', 'input', -32768)}, ${messageText('new.attributes', 'output', 1)});
   END;
   CREATE TRIGGER spans_text_delete AFTER DELETE ON spans BEGIN
     DELETE FROM spans_text WHERE rowid = old.seq;
   END;
   INSERT INTO spans_text (rowid, input, output)
     SELECT seq, ${messageText('attributes', 'input', -32768)}, ${messageText('attributes', 'output', 1)} FROM spans;`,
];

/** SQL for the searchable text of a span's input or output messages: contents, text parts, tool call arguments. */
function messageText(attributes: string, side: 'input' | 'output', from: number): string {
  return `substr((SELECT group_concat(value, ' ') FROM json_each(${attributes})
     WHERE key GLOB 'llm.${side}_messages.*'
       AND (key GLOB '*.message.content' OR key GLOB '*.message_content.text' OR key GLOB '*.function.arguments')), ${from}, 32768)`;
}

export const SCHEMA_VERSION = MIGRATIONS.length;
