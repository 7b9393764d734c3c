// The read side at scale, run by hand after `npm run build` (minutes, not for CI):
//
//   node bench/read-side.mjs [SPANS=1000000] [DB=/tmp/llmtap-bench/spans.db] [--api]
//
// Fills a database with SPANS realistic chat spans (once; reused when it already holds them), then
// measures `llmtap export` (time, peak RSS of the process), the HTTP export of a running server
// (peak RSS of the server), and the time of the API queries the viewer makes (only those with --api).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fill, get, hex, server } from './stored.mjs';

const N = Number(process.argv[2] ?? 1_000_000);
const DB = process.argv[3] ?? '/tmp/llmtap-bench/spans.db';
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
/** Peak RSS (VmHWM) of a process, read from /proc while it runs. */
function watchPeak(pid) {
  let peak = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  };
  const timer = setInterval(read, 50);
  return () => {
    read();
    clearInterval(timer);
    return peak;
  };
}

const mb = (b) => `${(b / 1024 / 1024).toFixed(0)} MB`;

async function cliExport() {
  const out = join(dirname(DB), 'export.jsonl');
  const t0 = performance.now();
  const proc = spawn(process.execPath, [CLI, 'export', '--out', out], { env: { ...process.env, LLMTAP_DB_PATH: DB }, stdio: ['ignore', 'ignore', 'inherit'] });
  const peak = watchPeak(proc.pid);
  const code = await new Promise((r) => proc.on('exit', r));
  const ms = performance.now() - t0;
  console.log(
    `llmtap export: exit ${code}, ${(ms / 1000).toFixed(1)} s, ${((N / ms) * 1000).toFixed(0)} spans/s, peak RSS ${mb(peak())}, ${(statSync(out).size / 1e9).toFixed(2)} GB written`,
  );
}

async function api() {
  const { url, proc } = await server(DB);
  try {
    const queries = [
      'spans?limit=100',
      'spans?limit=50',
      'spans?limit=50&order=asc',
      'spans?limit=50&endpoint=embeddings',
      'spans?limit=50&endpoint=other',
      'spans?limit=50&project=default',
      'spans?limit=50&tag=eval',
      'spans?limit=50&session_id=session-7&order=asc',
      `spans?limit=1000&trace_id=${hex(500, 32)}&order=asc`,
      'spans?limit=100&model=gpt-4o-2024-08-06',
      'spans?limit=100&status=ERROR',
      'spans?limit=100&session_id=session-7',
      'spans?limit=100&q=tides%20paris',
      'spans?limit=100&q=request%20123456',
      `spans?limit=100&since=${new Date(Date.now() - 3_600_000).toISOString()}`,
      'spans?limit=100&after_seq=999990',
      `traces/${hex(500, 32)}`,
      `spans/${hex(500, 16)}`,
      'stats',
      'stats?since=1970-01-01T00:00:00Z',
    ];
    for (const q of queries) {
      await get(`${url}/api/${q}`); // warm
      const runs = [];
      for (let i = 0; i < 5; i++) runs.push(await get(`${url}/api/${q}`));
      const r = { ...runs[0], ms: runs.map((x) => x.ms).sort((a, b) => a - b)[2] }; // the median of 5
      console.log(`GET /api/${q.padEnd(70)} ${r.status} ${r.ms.toFixed(1).padStart(7)} ms  ${r.bytes} bytes`);
    }
    // A deep page: follow the cursor 50 pages down.
    let cursor = '';
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) {
      const body = await new Promise((resolve) =>
        request(`${url}/api/spans?limit=100${cursor && `&cursor=${cursor}`}`, (res) => {
          let s = '';
          res.on('data', (c) => (s += c));
          res.on('end', () => resolve(JSON.parse(s)));
        }).end(),
      );
      cursor = body.next_cursor;
    }
    console.log(`50 pages of 100 through the cursor: ${((performance.now() - t0) / 50).toFixed(1)} ms per page`);
    if (process.argv.includes('--api')) return;

    const base = (() => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return Number(m[1]) * 1024;
    })();
    writeFileSync(`/proc/${proc.pid}/clear_refs`, '5'); // resets the peak (VmHWM) to the current RSS (Linux)
    const peak = watchPeak(proc.pid);
    const r = await get(`${url}/api/spans?format=jsonl`);
    console.log(
      `GET /api/spans?format=jsonl: ${r.status}, ${(r.ms / 1000).toFixed(1)} s, ${(r.bytes / 1e9).toFixed(2)} GB; server RSS before ${mb(base)}, peak ${mb(peak())}`,
    );
  } finally {
    proc.kill('SIGTERM');
  }
}

if (!existsSync(CLI)) throw new Error('run `npm run build` first');
fill(DB, N);
if (!process.argv.includes('--api')) await cliExport();
await api();
