// Spend and the dashboard at scale, run by hand after `npm run build` (minutes the first time, to fill the file):
//
//   node bench/stats.mjs [SPANS=1000000] [DB=/tmp/llmtap-bench/spans.db]
//
// Fills a database with SPANS spans (read-side.mjs's, shared; reused when it holds them), then times
// /api/stats: each grouping over the whole file and over the last day, and the requests the viewer's
// dashboard makes for each of its windows (the series behind its tiles and charts, the top ten models,
// users and sessions, the sessions list), unfiltered and with a filter: the query itself (what the storage
// thread runs) and the HTTP answer of a running server. Medians of 7, after one warm-up each.
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

/** The dashboard's requests for a window (as the viewer asks them), and the filters tried on them. */
const DASHBOARD = {
  '1h': { hours: 1, bucket: 'minute' },
  '24h': { hours: 24, bucket: 'hour' },
  '7d': { hours: 168, bucket: 'hour' },
  '30d': { hours: 720, bucket: 'day' },
};
const PANELS = [{ series: true }, { by: 'model', limit: 10 }, { by: 'user', limit: 10 }, { by: 'session', limit: 10 }];
const FILTERS = [{}, { model: 'gpt-4o-2024-08-06' }, { user_id: 'user-7' }, { tag: 'eval' }, { status: 'ERROR' }];

function dashboardRequests() {
  const out = [];
  const now = Date.now();
  for (const [window, { hours, bucket }] of Object.entries(DASHBOARD)) {
    const from = new Date(now - hours * HOUR_MS).toISOString();
    for (const filter of FILTERS) {
      for (const panel of PANELS) {
        const q = { from, ...filter, ...(panel.series ? { bucket } : { by: panel.by, limit: String(panel.limit) }) };
        out.push({ window, label: `${panel.series ? `series bucket=${bucket}` : `top by=${panel.by}`} ${label(filter)}`, query: new URLSearchParams(q) });
      }
    }
    out.push({ window, label: 'sessions list', query: new URLSearchParams({ from, by: 'session', sort: 'last', limit: '50' }) });
  }
  return out;
}

async function queries() {
  const db = openDatabase(DB, { readonly: true });
  const rollupRows = db.prepare('SELECT count(*) AS n FROM usage_hourly').get().n;
  console.log(`usage_hourly: ${rollupRows} rows for ${N} spans`);
  for (const [window, [fromHour, toHour]] of Object.entries(WINDOWS)) {
    for (const g of GROUPINGS) {
      const q = { ...g, fromMs: fromHour * HOUR_MS, toMs: toHour * HOUR_MS };
      const report = await spend(db, q);
      const times = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        await spend(db, q);
        times.push(performance.now() - t0);
      }
      console.log(
        `query  ${window.padEnd(9)} ${label(g).padEnd(24)} ${median(times).toFixed(1).padStart(7)} ms  ${String(report.groups.length).padStart(7)} groups, ${report.total.requests} requests`,
      );
    }
  }
  db.close();
}

async function timed(url) {
  await get(url);
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await get(url));
  return { ms: median(runs.map((r) => r.ms)), bytes: runs[0].bytes, status: runs[0].status };
}

async function http() {
  const { url, proc } = await server(DB);
  try {
    for (const [window, [fromHour]] of Object.entries(WINDOWS)) {
      for (const g of GROUPINGS) {
        const r = await timed(`${url}/api/stats?${new URLSearchParams({ ...g, from: new Date(fromHour * HOUR_MS).toISOString() })}`);
        console.log(`GET    ${window.padEnd(9)} ${label(g).padEnd(24)} ${r.ms.toFixed(1).padStart(7)} ms  ${r.bytes} bytes`);
      }
    }
    let slowest = 0;
    for (const { window, label: what, query } of dashboardRequests()) {
      const r = await timed(`${url}/api/stats?${query}`);
      const source = JSON.parse(await (await fetch(`${url}/api/stats?${query}`)).text()).source;
      slowest = Math.max(slowest, r.ms);
      console.log(
        `dashboard ${window.padEnd(4)} ${what.padEnd(52)} ${r.status} ${r.ms.toFixed(1).padStart(7)} ms  ${String(r.bytes).padStart(6)} bytes  ${source}`,
      );
    }
    console.log(`slowest dashboard request: ${slowest.toFixed(1)} ms`);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
    console.log(`server RSS ${(Number(rss[1]) / 1024).toFixed(0)} MB`);
  } finally {
    proc.kill('SIGTERM');
  }
}

if (!existsSync(fileURLToPath(new URL('../dist/cli.js', import.meta.url)))) throw new Error('run `npm run build` first');
fill(DB, N);
if (!process.argv.includes('--http-only')) await queries();
await http();
