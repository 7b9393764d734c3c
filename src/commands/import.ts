// `llmtap import FILE`: stores the spans of a Phoenix span JSONL file (llmtap's export, Phoenix's own
// spans_to_jsonl, or the 2023 format) in the SQLite file. Idempotent on span id.
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { importLines, readLines } from '../api/jsonl.js';
import type { Config } from '../config.js';
import { openDatabase } from '../store/db.js';
import type { Span } from '../record/span.js';
import { spanInserter } from '../store/spans.js';
import { UsageError } from './errors.js';
import { progress } from './progress.js';

export const IMPORT_USAGE = `usage: llmtap import FILE

Stores the spans of a JSONL file of Phoenix span JSON (\`llmtap export\`, Phoenix's spans_to_jsonl)
in LLMTAP_DB_PATH; spans already there (same span id) are counted as duplicates and left alone.
Lines that are not spans are counted and reported with the reason; the others are stored anyway.
FILE may be - for standard input. Exit code 1 when any line was rejected.

  -h, --help    show this help
`;

export async function importCommand(args: string[], config: Config): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(IMPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('import takes exactly one FILE');
  const file = positionals[0]!;
  const input = file === '-' ? process.stdin : createReadStream(file);
  const db = openDatabase(config.dbPath);
  // Unlike the server's writer, this command may wait for a lock: a running server commits in short batches.
  db.pragma('busy_timeout = 5000');
  const seen = progress((n) => `llmtap import: ${n} lines stored…`);
  try {
    const inserter = spanInserter(db, { outbox: false });
    const insert = (spans: Span[]): number => inserter(spans).length;
    let stored = 0;
    const r = await importLines(readLines(input, config.maxBodyBytes), insert, config.projectName, {
      batch: 500,
      onProgress: (p) => {
        seen.add(p.imported + p.duplicates - stored);
        stored = p.imported + p.duplicates;
      },
    });
    process.stderr.write(`llmtap import: ${r.imported} imported, ${r.duplicates} duplicates, ${r.rejected} rejected\n`);
    for (const { line, reason } of r.rejections) process.stderr.write(`  line ${line}: ${reason}\n`);
    if (r.rejected > r.rejections.length) process.stderr.write(`  … and ${r.rejected - r.rejections.length} more\n`);
    return r.rejected > 0 ? 1 : 0;
  } finally {
    db.close();
  }
}
