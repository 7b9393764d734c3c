// Spend at scale, run by hand after `npm run build` (minutes the first time, to fill the file):
//
//   node bench/stats.mjs [SPANS=1000000] [DB=/tmp/llmtap-bench/spans.db]
//
// Fills a database with SPANS chat spans (read-side.mjs's, shared; reused when it holds them), then times
// /api/stats for each grouping, over the whole file and over the last day: the query itself (what the
// storage thread runs) and the HTTP answer of a running server. Medians of 7, after one warm-up each.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { openDatabase } from '../dist/store/db.js';
import { spend } from '../dist/store/spend.js';
import { fill, get, server } from './stored.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const DB = process.argv[3] ?? '/tmp/llmtap-bench/spans.db';
const RUNS = 7;

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const HOUR_MS = 3_600_000;
const nowHour = Math.ceil(Date.now() / HOUR_MS);
const WINDOWS = { 'all time': [0, nowHour], 'last day': [nowHour - 24, nowHour] };
const GROUPINGS = [{}, { bucket: 'day' }, { by: 'model' }, { by: 'user', bucket: 'day' }, { by: 'session' }, { by: 'project', bucket: 'hour' }];
const label = (g) =>
  Object.entries(g)
    .map(([k, v]) => `${k}=${v}`)
    .join('&') || '(totals)';

function queries() {
  const db = openDatabase(DB, { readonly: true });
  const rollupRows = db.prepare('SELECT count(*) AS n FROM usage_hourly').get().n;
  console.log(`usage_hourly: ${rollupRows} rows for ${N} spans`);
  for (const [window, [fromHour, toHour]] of Object.entries(WINDOWS)) {
    for (const g of GROUPINGS) {
      const q = { ...g, fromHour, toHour };
      const report = spend(db, q);
      const times = Array.from({ length: RUNS }, () => {
        const t0 = performance.now();
        spend(db, q);
        return performance.now() - t0;
      });
      console.log(
        `query  ${window.padEnd(9)} ${label(g).padEnd(24)} ${median(times).toFixed(1).padStart(7)} ms  ${String(report.groups.length).padStart(7)} groups, ${report.total.requests} requests`,
      );
    }
  }
  db.close();
}

async function http() {
  const { url, proc } = await server(DB);
  try {
    for (const [window, [fromHour]] of Object.entries(WINDOWS)) {
      for (const g of GROUPINGS) {
        const q = new URLSearchParams({ ...g, from: new Date(fromHour * HOUR_MS).toISOString() });
        await get(`${url}/api/stats?${q}`);
        const runs = [];
        for (let i = 0; i < RUNS; i++) runs.push(await get(`${url}/api/stats?${q}`));
        const bytes = runs[0].bytes;
        console.log(
          `GET    ${window.padEnd(9)} ${label(g).padEnd(24)} ${median(runs.map((r) => r.ms))
            .toFixed(1)
            .padStart(7)} ms  ${bytes} bytes`,
        );
      }
    }
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
    console.log(`server RSS ${(Number(rss[1]) / 1024).toFixed(0)} MB`);
  } finally {
    proc.kill('SIGTERM');
  }
}

if (!existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url)))) throw new Error('run `npm run build` first');
fill(DB, N);
queries();
await http();
