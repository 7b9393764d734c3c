// `llmtap stats`: what the calls stored in the SQLite file cost, by model, user, session, project, hour or
// day, as a terminal table or as /api/stats's JSON; read-only, beside a live server (WAL).
import { parseArgs } from 'node:util';

import { DIMENSIONS, wholeHours } from '../api/params.js';
import type { Config } from '../config.js';
import { PhoenixFormatError } from '../phoenix/format-error.js';
import { parseIsoTime } from '../phoenix/isotime.js';
import { openDatabase } from '../store/db.js';
import { type Dimension, spend, type SpendQuery, type SpendReport, type Totals } from '../store/spend.js';
import { UsageError } from './errors.js';

const STATS_USAGE = `usage: llmtap stats [--by model|user|session|project|hour|day]… [--since 7d] [--until ISO] [--json]

Requests, errors, tokens and cost of the stored spans (LLMTAP_DB_PATH), in whole hours (UTC).

  --by WHAT     group by a model, user, session or project, and/or by hour or day
                (e.g. --by user --by day); default: one line in all
  --since WHEN  how far back: a duration (90m, 24h, 7d, 4w) or an ISO time; default 24h
  --until ISO   up to this time; default now
  --json        print the answer of GET /api/stats instead of a table
  -h, --help    show this help
`;

const UNITS_NS: Record<string, bigint> = { m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n, w: 604_800_000_000_000n };

function query(by: string[], since: string, until: string | undefined, nowNs: bigint): SpendQuery {
  const q: SpendQuery = { fromMs: 0, toMs: 0 };
  for (const b of by) {
    if (b === 'hour' || b === 'day') q.bucket = b;
    else if ((DIMENSIONS as readonly string[]).includes(b)) q.by = b as Dimension;
    else throw new UsageError(`--by must be one of ${[...DIMENSIONS, 'hour', 'day'].join(', ')}, got "${b}"`);
  }
  try {
    const toNs = until === undefined ? nowNs : parseIsoTime('--until', until);
    const ago = /^(\d+)([mhdw])$/.exec(since);
    const fromNs = ago ? toNs - BigInt(ago[1]!) * UNITS_NS[ago[2]!]! : parseIsoTime('--since', since);
    Object.assign(q, wholeHours(fromNs, toNs));
  } catch (err) {
    if (err instanceof PhoenixFormatError) throw new UsageError(`${err.message} (or, for --since, a duration such as 7d)`);
    throw err;
  }
  if (q.fromMs >= q.toMs) throw new UsageError('--since must be before --until');
  return q;
}

const int = (n: number): string => n.toLocaleString('en-US');
const usd = (n: number): string => `$${n < 0.01 && n > 0 ? n.toPrecision(2) : n.toFixed(2)}`;

/** `2024-05-01T13:00:00.000Z` → `2024-05-01 13:00` (an hour) or `2024-05-01` (a day). */
const when = (iso: string, bucket: string): string => (bucket === 'day' ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`);

function table(report: SpendReport): string {
  const { by, bucket } = report;
  const labels = [...(bucket ? [bucket] : []), ...(by ? [by] : [])];
  const numbers = (g: Totals): string[] =>
    [g.requests, g.errors, g.tokens.prompt, g.tokens.completion, g.tokens.cached, g.tokens.reasoning].map(int).concat(usd(g.cost_usd));
  const rows = [
    [...labels, 'requests', 'errors', 'prompt', 'completion', 'cached', 'reasoning', 'cost'],
    ...report.groups.map((g) => [...(bucket ? [when(g.bucket!, bucket)] : []), ...(by ? [g[by] ?? '(none)'] : []), ...numbers(g)]),
  ];
  if (report.groups.length > 1 && labels.length > 0) rows.push([...labels.map((_, i) => (i === 0 ? 'total' : '')), ...numbers(report.total)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => (i < labels.length ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export async function statsCommand(args: string[], config: Config): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      by: { type: 'string', multiple: true },
      since: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(STATS_USAGE);
    return 0;
  }
  const q = query(values.by ?? [], values.since ?? '24h', values.until, BigInt(Date.now()) * 1_000_000n);
  const db = openDatabase(config.dbPath, { readonly: true });
  try {
    const report = await spend(db, q);
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      process.stdout.write(`llmtap stats: ${report.from} to ${report.to}\n`);
      process.stdout.write(report.groups.length === 0 ? 'no calls stored in this window\n' : table(report));
    }
    return 0;
  } finally {
    db.close();
  }
}
