// `llmtap import FILE`: stores the spans of a Phoenix span JSONL file (llmtap's export, Phoenix's own
// spans_to_jsonl, or the 2023 format) in the SQLite file, idempotent on span id — or, with
// --to-phoenix, sends them to the configured Phoenix over OTLP (Phoenix deduplicates by span id too).
import { parseArgs } from 'node:util';

import type { Config } from '../config.js';
import { OtlpEncoder } from '../export/otlp.js';
import { type Retry, retryDelayMs, sendSplitting } from '../export/policy.js';
import { postSpans } from '../export/post.js';
import { type ExportTarget, exportTarget } from '../export/target.js';
import { importLines, type ImportResult, readLines } from '../phoenix/jsonl.js';
import type { Span } from '../record/span.js';
import { openDatabase } from '../store/db.js';
import { spanInserter } from '../store/spans.js';
import { VERSION } from '../version.js';
import { UsageError } from './errors.js';
import { openInput } from './files.js';
import { progress } from './progress.js';

const IMPORT_USAGE = `usage: llmtap import FILE [--to-phoenix]

Stores the spans of a JSONL file of Phoenix span JSON (\`llmtap export\`, Phoenix's spans_to_jsonl)
in LLMTAP_DB_PATH (created if missing, as the server does); spans already there (same span id) are
counted as duplicates and left alone. Lines that are not spans are counted and reported with the
reason; the others are stored anyway. FILE may be - for standard input. Exit code 1 when any line was
rejected.

  --to-phoenix  send the spans to Phoenix (PHOENIX_COLLECTOR_ENDPOINT, or any OTLP target set by the
                OTEL_EXPORTER_OTLP_* variables) instead of storing them; they land in the project
                PHOENIX_PROJECT_NAME
  -h, --help    show this help
`;

const ATTEMPTS = 6;
const BATCH = 500;

/** Sends one batch, retrying what may succeed later (the export policy's delays); throws on what never will. */
async function send(target: ExportTarget, encoder: OtlpEncoder, spans: Span[], timeoutMs: number): Promise<void> {
  let todo = spans;
  for (let attempt = 0; ; attempt++) {
    const parts = await sendSplitting(todo, (part) => postSpans(target, encoder, part, { timeoutMs }));
    todo = [];
    let retry: Retry | undefined;
    for (const { items, response } of parts) {
      if (response.kind === 'rejected' || response.kind === 'too_large') throw new Error(`${target.url.href} refused the spans: ${response.message}`);
      if (response.kind === 'retry') {
        retry = response;
        todo.push(...items);
      }
    }
    if (!retry) return;
    if (attempt + 1 >= ATTEMPTS) throw new Error(`sending to ${target.url.href} failed ${ATTEMPTS} times: ${retry.message}`);
    await new Promise((r) => setTimeout(r, retryDelayMs(attempt, retry.retryAfterMs)));
  }
}

export async function importCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, 'to-phoenix': { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(IMPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('import takes exactly one FILE');
  const file = positionals[0]!;
  // Opened before the database, so that a wrong file name leaves no trace.
  const input: AsyncIterable<Buffer> = file === '-' ? process.stdin : await openInput(file);
  if (values['to-phoenix']) return toPhoenix(input, config);
  const db = openDatabase(config.dbPath);
  // Unlike the server's writer, this command may wait for a lock: a running server commits in short batches.
  db.pragma('busy_timeout = 5000');
  const seen = progress((n) => `llmtap import: ${n} lines stored…`);
  try {
    const inserter = spanInserter(db, { outbox: false });
    const insert = (spans: Span[]): number => inserter(spans).length;
    let stored = 0;
    const r = await importLines(readLines(input, config.maxBodyBytes), insert, config.project || config.projectName, {
      batch: BATCH,
      onProgress: (p) => {
        seen.add(p.imported + p.duplicates - stored);
        stored = p.imported + p.duplicates;
      },
    });
    return summary(r, `imported into ${config.dbPath}`);
  } finally {
    db.close();
  }
}

async function toPhoenix(input: AsyncIterable<Buffer>, config: Config): Promise<number> {
  const target = exportTarget(config);
  if (!target) throw new UsageError('--to-phoenix needs PHOENIX_COLLECTOR_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT)');
  const encoder = new OtlpEncoder({ serviceName: config.serviceName, attributes: config.resourceAttributes, scope: { name: 'llmtap', version: VERSION } });
  const seen = progress((n) => `llmtap import: ${n} spans sent to ${target.url.href}…`);
  const r = await importLines(
    readLines(input, config.maxBodyBytes),
    async (spans) => {
      await send(target, encoder, spans, config.otlpTimeoutMs);
      seen.add(spans.length);
      return spans.length;
    },
    config.project || config.projectName,
    { batch: BATCH },
  );
  return summary(r, `sent to ${target.url.href}`);
}

function summary(r: ImportResult, done: string): number {
  process.stderr.write(`llmtap import: ${r.imported} ${done}, ${r.duplicates} duplicates, ${r.rejected} rejected\n`);
  for (const { line, reason } of r.rejections) process.stderr.write(`  line ${line}: ${reason}\n`);
  if (r.rejected > r.rejections.length) process.stderr.write(`  … and ${r.rejected - r.rejections.length} more\n`);
  return r.rejected > 0 ? 1 : 0;
}
