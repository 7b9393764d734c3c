// The read side at scale, run by hand after `npm run build` (minutes, not for CI):
//
//   node bench/read-side.mjs [SPANS=1000000] [DB=/tmp/llmtap-bench/spans.db]
//
// Fills a database with SPANS realistic chat spans (once; reused when it already holds them), then
// measures `llmtap export` (time, peak RSS of the process), the HTTP export of a running server
// (peak RSS of the server), and the time of the API queries the viewer makes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { openDatabase } from '../dist/store/db.js';
import { spanInserter } from '../dist/store/spans.js';

const N = Number(process.argv[2] ?? 1_000_000);
const DB = process.argv[3] ?? '/tmp/llmtap-bench/spans.db';
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const MODELS = ['gpt-4o-mini-2024-07-18', 'gpt-4o-2024-08-06', 'gpt-4.1-nano-2025-04-14'];
const WORDS =
  'the weather report for paris shows rain later today while the tides along the atlantic coast stay calm and the refund policy covers thirty days'.split(' ');

const hex = (n, len) => n.toString(16).padStart(len, '0');
const sentence = (i, words) => Array.from({ length: words }, (_, k) => WORDS[(i * 7 + k * 13) % WORDS.length]).join(' ');

function span(i, nowNs) {
  const start = nowNs - BigInt(N - i) * 600_000_000n; // one every 0.6 s, up to now
  const question = `${sentence(i, 25)} (request ${i})`;
  const answer = sentence(i + 1, 60);
  const model = MODELS[i % MODELS.length];
  const error = i % 20 === 0;
  const request_ = {
    model: model.slice(0, -11),
    messages: [
      { role: 'system', content: 'You are a concise assistant.' },
      { role: 'user', content: question },
    ],
    temperature: 0.2,
  };
  return {
    traceId: hex(i + 1, 32),
    spanId: hex(i + 1, 16),
    name: 'OpenAI Chat Completions',
    kind: 'LLM',
    startNs: start,
    endNs: start + BigInt(200 + (i % 900)) * 1_000_000n,
    statusCode: error ? 'ERROR' : 'OK',
    statusMessage: error ? 'RateLimitError: Rate limit reached' : '',
    attributes: {
      'openinference.span.kind': 'LLM',
      'llm.system': 'openai',
      'llm.provider': 'openai',
      'llm.model_name': model,
      'input.value': JSON.stringify(request_),
      'input.mime_type': 'application/json',
      'llm.invocation_parameters': JSON.stringify({ model: request_.model, temperature: 0.2 }),
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.content': 'You are a concise assistant.',
      'llm.input_messages.1.message.role': 'user',
      'llm.input_messages.1.message.content': question,
      ...(error
        ? {}
        : {
            'output.value': JSON.stringify({
              id: `chatcmpl-${i}`,
              model,
              choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
            }),
            'output.mime_type': 'application/json',
            'llm.output_messages.0.message.role': 'assistant',
            'llm.output_messages.0.message.content': answer,
            'llm.finish_reason': 'stop',
            'llm.token_count.prompt': 40 + (i % 50),
            'llm.token_count.completion': 80 + (i % 120),
            'llm.token_count.total': 120 + (i % 50) + (i % 120),
          }),
      'session.id': `session-${i % 1000}`,
      'user.id': `user-${i % 97}`,
      'http.response.status_code': error ? 429 : 200,
    },
    events: [],
    project: 'default',
  };
}

function fill() {
  mkdirSync(dirname(DB), { recursive: true });
  const db = openDatabase(DB);
  const have = db.prepare('SELECT count(*) AS n FROM spans').get().n;
  if (have >= N) {
    db.close();
    return console.log(`database: ${DB} already holds ${have} spans`);
  }
  const insert = spanInserter(db, { outbox: false });
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const t0 = performance.now();
  for (let i = have; i < N; i += 5000) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 5000); j++) batch.push(span(j, nowNs));
    insert(batch);
    if ((i / 5000) % 20 === 0) process.stderr.write(`  filled ${i + batch.length}\r`);
  }
  db.close();
  console.log(`database: ${N - have} spans written in ${((performance.now() - t0) / 1000).toFixed(0)} s (${(statSync(DB).size / 1e9).toFixed(2)} GB)`);
}

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

function get(url) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    request(url, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes, ms: performance.now() - t0 }));
    })
      .on('error', reject)
      .end();
  });
}

async function server() {
  const proc = spawn(process.execPath, [CLI], {
    env: { ...process.env, LLMTAP_DB_PATH: DB, LLMTAP_PORT: '0', LLMTAP_RETENTION_DAYS: '0', LLMTAP_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /"url":"(http:[^"]+)".*"msg":"llmtap listening"/.exec(out);
      if (m) resolve(m[1]);
    });
  });
  return { url, proc };
}

async function api() {
  const { url, proc } = await server();
  try {
    const queries = [
      'spans?limit=100',
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
      const r = await get(`${url}/api/${q}`);
      console.log(`GET /api/${q.padEnd(58)} ${r.status} ${r.ms.toFixed(1).padStart(7)} ms  ${r.bytes} bytes`);
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
fill();
await cliExport();
await api();
