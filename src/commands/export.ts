// `llmtap export`: the spans of the SQLite file as Phoenix span JSONL, read straight from the file
// (read-only; WAL lets it run beside a live server).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

import type { Config } from '../config.js';
import { PhoenixFormatError } from '../phoenix/format-error.js';
import { parseIsoTime } from '../phoenix/isotime.js';
import { jsonlChunks } from '../phoenix/jsonl.js';
import { openDatabase } from '../store/db.js';
import { iterateWholeSpans, type SpanFilter } from '../store/queries.js';
import { UsageError } from './errors.js';
import { aboutFile, openOutput } from './files.js';
import { progress } from './progress.js';

const EXPORT_USAGE = `usage: llmtap export [--since ISO] [--until ISO] [--out FILE]

Writes the stored spans (LLMTAP_DB_PATH), oldest first, as Phoenix span JSON lines: one span per
line, loadable with Phoenix's json_lines_to_df / TraceDataset, or by \`llmtap import\`.

  --since ISO   only spans that started at or after this time (e.g. 2024-05-01 or 2024-05-01T12:00:00Z)
  --until ISO   only spans that started before this time
  --out FILE    write to FILE instead of standard output
  -h, --help    show this help
`;

export async function exportCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { since: { type: 'string' }, until: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(EXPORT_USAGE);
    return 0;
  }
  const filter: SpanFilter = {};
  try {
    if (values.since !== undefined) filter.sinceNs = parseIsoTime('--since', values.since);
    if (values.until !== undefined) filter.untilNs = parseIsoTime('--until', values.until);
  } catch (err) {
    if (err instanceof PhoenixFormatError) throw new UsageError(err.message);
    throw err;
  }
  const db = openDatabase(config.dbPath, { readonly: true });
  const where = values.out ?? 'standard output';
  const done = progress((n) => `llmtap export: ${n} spans written…`);
  try {
    const out = values.out ? await openOutput(values.out) : process.stdout;
    // The next rows are read only when the output has taken the last chunk: flat memory at any size.
    const chunks = Readable.from(
      jsonlChunks(iterateWholeSpans(db, filter), (n) => done.add(n)),
      { highWaterMark: 1, objectMode: true },
    );
    await pipeline(chunks, out).catch((err: unknown) => {
      throw values.out ? aboutFile('write', values.out, err) : err;
    });
  } finally {
    db.close();
  }
  process.stderr.write(`llmtap export: ${done.count} spans written to ${where}\n`);
  return 0;
}
