// `npm run bench [-- --quick]`: llmtap against a bare pass-through proxy and against the upstream
// itself, in interleaved rounds (direct, reference, llmtap, direct, …), on loopback, bounded in time.
// Prints a table and writes bench/results/<date>.json. Never asserts timings: it measures.
// `--only id,id` runs just those throughput scenarios; `--baseline DIR` adds another llmtap build (DIR's
// dist/cli.js, e.g. the main branch built elsewhere) to their rounds, to compare two versions on a shared,
// noisy machine under the same conditions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { httpLoad, type LoadResult, median, pickTool, slowStreams, ttfb } from './load.js';
import { cpuMs, type Proc, rssMb, startHelper, startLlmtap } from './procs.js';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean' }, rounds: { type: 'string' }, seconds: { type: 'string' }, only: { type: 'string' }, baseline: { type: 'string' } },
});
const quick = args.quick ?? false;
const ROUNDS = Number(args.rounds ?? (quick ? 1 : 3));
const RUN_S = Number(args.seconds ?? (quick ? 2 : 8));
const SUSTAINED_SPANS = quick ? 10_000 : 100_000;
const SLOW_STREAMS = quick ? 200 : 1000;
const SLOW_TOKENS = quick ? 20 : 100; // one every 50 ms
const TTFB_SAMPLES = quick ? 50 : 300;

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const HEADERS = { 'content-type': 'application/json', authorization: 'Bearer sk-bench-not-a-real-key' };
const messages = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Say hello in one short sentence.' },
];
const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages, temperature: 0.2 });
const STREAM = JSON.stringify({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } });
/** A stream as the SDKs send it by default: no stream_options (llmtap's LLMTAP_STREAM_USAGE=auto adds it). */
const STREAM_PLAIN = JSON.stringify({ model: 'gpt-4o-mini', messages, stream: true });

interface Target {
  name: 'direct' | 'reference' | 'baseline' | 'llmtap';
  url: string;
  /** The proxy's process (the upstream's own for direct, whose CPU is not reported). */
  pid: number | undefined;
}

interface RunStats extends LoadResult {
  cpuUsPerRequest: number | undefined;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until llmtap has stored and exported everything (at most a minute). */
async function settled(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const queued = (await scrapeCounter(url, 'llmtap_write_queue_spans')) + (await scrapeCounter(url, 'llmtap_export_backlog_spans'));
    if (queued === 0) return;
    await pause(100);
  }
}

/** A counter's value from /metrics (a fresh connection each time: llmtap may close an idle one at any moment). */
async function scrapeCounter(url: string, name: string): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    get(`${url}/metrics`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
}

async function main(): Promise<void> {
  const tool = pickTool();
  const dataDir = mkdtempSync(join(os.tmpdir(), 'llmtap-bench-'));
  const upstream = await startHelper('upstream', here('./upstream.ts'), []);
  const sink = await startHelper('otlp-sink', here('./otlp-sink.ts'), []);
  const llmtapEnv = (db: string): Record<string, string> => ({
    LLMTAP_UPSTREAM_URL: upstream.url,
    LLMTAP_DB_PATH: join(dataDir, db),
    PHOENIX_COLLECTOR_ENDPOINT: sink.url,
    // The upstream plays OpenAI: spans are priced as OpenAI's would be (a loopback host has no prices).
    LLMTAP_PROVIDER: 'openai',
  });
  const startProxies = async (): Promise<[Proc, Proc]> => [
    await startHelper('reference', here('./reference-proxy.ts'), [upstream.url]),
    await startLlmtap(here('../dist/cli.js'), llmtapEnv('llmtap.db')),
  ];
  let [reference, llmtap] = await startProxies();
  const baseline = args.baseline ? await startLlmtap(join(args.baseline, 'dist', 'cli.js'), llmtapEnv('baseline.db')) : undefined;
  const procs = (): Proc[] => [reference, llmtap, ...(baseline ? [baseline] : []), sink, upstream];
  const targetsOf = (): Target[] => [
    { name: 'direct', url: upstream.url, pid: undefined },
    { name: 'reference', url: reference.url, pid: reference.pid },
    ...(baseline ? [{ name: 'baseline' as const, url: baseline.url, pid: baseline.pid }] : []),
    { name: 'llmtap', url: llmtap.url, pid: llmtap.pid },
  ];
  let targets = targetsOf();
  const results: Record<string, unknown> = {};
  const lines: string[] = [];
  const log = (s: string): void => {
    lines.push(s);
    console.log(s);
  };

  try {
    // ---- throughput and latency, interleaved rounds --------------------------------------------
    const httpScenarios = [
      { id: 'nonstream-c1', connections: 1, body: CHAT, headers: HEADERS },
      { id: 'nonstream-c50', connections: 50, body: CHAT, headers: HEADERS },
      { id: 'nonstream-c100', connections: 100, body: CHAT, headers: HEADERS },
      { id: 'nonstream-c256', connections: 256, body: CHAT, headers: HEADERS },
      { id: 'stream50-c50', connections: 50, body: STREAM, headers: { ...HEADERS, 'x-bench-tokens': '50' } },
      { id: 'stream50-c256', connections: 256, body: STREAM, headers: { ...HEADERS, 'x-bench-tokens': '50' } },
      { id: 'stream50-plain-c50', connections: 50, body: STREAM_PLAIN, headers: { ...HEADERS, 'x-bench-tokens': '50' } },
    ].filter((s) => !args.only || args.only.split(',').includes(s.id));
    log(`llmtap benchmark — ${tool}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, ${ROUNDS} round(s) of ${RUN_S} s`);
    log('');
    log('scenario        target     req/s    p50 ms   p99 ms  +p50 ms  +p99 ms  CPU µs/req  errors');
    for (const s of httpScenarios) {
      const runs: Record<string, RunStats[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of targets) {
          const before = t.pid ? cpuMs(t.pid) : 0;
          const r = await httpLoad(tool, `${t.url}/v1/chat/completions`, { connections: s.connections, durationS: RUN_S, body: s.body, headers: s.headers });
          // llmtap stores and exports after the responses: its CPU counts until that work is done too.
          if (t.name === 'llmtap' || t.name === 'baseline') await settled(t.url);
          const cpu = t.pid ? ((cpuMs(t.pid) - before) * 1000) / Math.max(1, r.requests) : undefined;
          runs[t.name]!.push({ ...r, cpuUsPerRequest: cpu });
          await pause(300);
        }
      }
      const med = (name: string, key: keyof RunStats): number => median(runs[name]!.map((r) => r[key] as number));
      const summary: Record<string, unknown> = {};
      for (const t of targets) {
        const row = {
          rps: med(t.name, 'rps'),
          p50Ms: med(t.name, 'p50Ms'),
          p99Ms: med(t.name, 'p99Ms'),
          addedP50Ms: med(t.name, 'p50Ms') - med('direct', 'p50Ms'),
          addedP99Ms: med(t.name, 'p99Ms') - med('direct', 'p99Ms'),
          cpuUsPerRequest: t.pid ? med(t.name, 'cpuUsPerRequest') : undefined,
          errors: runs[t.name]!.reduce((n, r) => n + r.errors, 0),
          rounds: runs[t.name],
        };
        summary[t.name] = row;
        log(
          `${s.id.padEnd(15)} ${t.name.padEnd(9)} ${row.rps.toFixed(0).padStart(7)} ${row.p50Ms.toFixed(2).padStart(9)} ${row.p99Ms.toFixed(2).padStart(8)} ` +
            `${t.name === 'direct' ? '      -' : row.addedP50Ms.toFixed(2).padStart(7)}  ${t.name === 'direct' ? '      -' : row.addedP99Ms.toFixed(2).padStart(7)}  ` +
            `${row.cpuUsPerRequest === undefined ? '         -' : row.cpuUsPerRequest.toFixed(0).padStart(10)}  ${String(row.errors).padStart(6)}`,
        );
      }
      const ratios = {
        throughput: med('llmtap', 'rps') / med('reference', 'rps'),
        cpu: med('llmtap', 'cpuUsPerRequest') / med('reference', 'cpuUsPerRequest'),
      };
      summary.llmtapOverReference = ratios;
      log(`${''.padEnd(15)} llmtap/reference: throughput ×${ratios.throughput.toFixed(2)}, CPU per request ×${ratios.cpu.toFixed(2)}`);
      if (baseline) {
        const cpu = med('llmtap', 'cpuUsPerRequest') / med('baseline', 'cpuUsPerRequest');
        summary.llmtapOverBaseline = { cpu };
        log(`${''.padEnd(15)} llmtap/baseline: CPU per request ×${cpu.toFixed(3)} (${((cpu - 1) * 100).toFixed(1)} %)`);
      }
      results[s.id] = summary;
    }
    if (args.only) return save();

    // ---- time to first byte of a stream ------------------------------------------------------------
    log('');
    const ttfbRuns: Record<string, { p50Ms: number; p99Ms: number }[]> = { direct: [], reference: [], llmtap: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        ttfbRuns[t.name]!.push(
          await ttfb(`${t.url}/v1/chat/completions`, TTFB_SAMPLES, STREAM, { ...HEADERS, 'x-bench-tokens': '5', 'x-bench-delay-ms': '2' }),
        );
      }
    }
    const ttfbMed = (name: string, k: 'p50Ms' | 'p99Ms'): number => median(ttfbRuns[name]!.map((r) => r[k]));
    const ttfbSummary = Object.fromEntries(
      targets.map((t) => [
        t.name,
        { p50Ms: ttfbMed(t.name, 'p50Ms'), p99Ms: ttfbMed(t.name, 'p99Ms'), addedP50Ms: ttfbMed(t.name, 'p50Ms') - ttfbMed('direct', 'p50Ms') },
      ]),
    );
    results['ttfb-c1'] = ttfbSummary;
    for (const t of targets)
      log(`stream TTFB c=1  ${t.name.padEnd(9)} p50 ${ttfbMed(t.name, 'p50Ms').toFixed(3)} ms  p99 ${ttfbMed(t.name, 'p99Ms').toFixed(3)} ms`);

    // ---- many slow streams at once: memory ---------------------------------------------------------
    // On freshly started proxies: what the streams cost, not the heap the throughput runs left behind.
    for (const p of [reference, llmtap]) await p.stop();
    [reference, llmtap] = await startProxies();
    targets = targetsOf();
    log('');
    const slow: Record<string, unknown> = {};
    for (const t of targets.filter((x) => x.pid)) {
      const idle = rssMb(t.pid!);
      const r = await slowStreams(
        `${t.url}/v1/chat/completions`,
        SLOW_STREAMS,
        STREAM,
        { ...HEADERS, 'x-bench-tokens': String(SLOW_TOKENS), 'x-bench-delay-ms': '50' },
        () => rssMb(t.pid!),
      );
      slow[t.name] = { ...r, idleRssMb: idle };
      log(
        `${SLOW_STREAMS} slow streams   ${t.name.padEnd(9)} peak RSS ${r.peakRssMb.toFixed(0)} MB (idle ${idle.toFixed(0)} MB), ${r.completed} completed, ${r.errors} errors`,
      );
      await pause(500);
    }
    results[`slow-streams-${SLOW_STREAMS}`] = slow;

    // ---- sustained: spans written per second, drops, export backlog --------------------------------
    log('');
    await settled(llmtap.url); // the slow streams' spans are written first
    const stored0 = await scrapeCounter(llmtap.url, 'llmtap_spans_stored_total');
    const dropped0 = await scrapeCounter(llmtap.url, 'llmtap_spans_dropped_total');
    // In runs of 10 s (5 s quick) until the spans are there: recording and export share the CPU with the load.
    const t0 = Date.now();
    const load = { requests: 0, seconds: 0 };
    while (load.requests < SUSTAINED_SPANS) {
      const run = await httpLoad(tool, `${llmtap.url}/v1/chat/completions`, { connections: 64, durationS: quick ? 5 : 10, body: CHAT, headers: HEADERS });
      load.requests += run.requests;
      load.seconds += run.requests / run.rps;
    }
    const backlogAtEnd = await scrapeCounter(llmtap.url, 'llmtap_export_backlog_spans');
    let stored = (await scrapeCounter(llmtap.url, 'llmtap_spans_stored_total')) - stored0;
    while (stored < load.requests && Date.now() - t0 < (load.seconds + 30) * 1000) {
      await pause(50);
      stored = (await scrapeCounter(llmtap.url, 'llmtap_spans_stored_total')) - stored0;
    }
    const writerSeconds = (Date.now() - t0) / 1000;
    const drainStart = Date.now();
    while ((await scrapeCounter(llmtap.url, 'llmtap_export_backlog_spans')) > 0 && Date.now() - drainStart < 60_000) await pause(200);
    const sustained = {
      requests: load.requests,
      rps: load.requests / load.seconds,
      spansStored: stored,
      spansPerSecond: stored / writerSeconds,
      spansDropped: (await scrapeCounter(llmtap.url, 'llmtap_spans_dropped_total')) - dropped0,
      exportBacklogAtEnd: backlogAtEnd,
      exportDrainSeconds: (Date.now() - drainStart) / 1000,
      exportBacklogAfterDrain: await scrapeCounter(llmtap.url, 'llmtap_export_backlog_spans'),
      exportedSpans: await scrapeCounter(llmtap.url, 'llmtap_export_spans_sent_total'),
    };
    results.sustained = sustained;
    log(
      `sustained       llmtap    ${sustained.requests} requests at ${sustained.rps.toFixed(0)}/s; ${sustained.spansStored} spans stored at ${sustained.spansPerSecond.toFixed(0)}/s, ` +
        `${sustained.spansDropped} dropped; export backlog ${sustained.exportBacklogAtEnd} at end, ${sustained.exportBacklogAfterDrain} after ${sustained.exportDrainSeconds.toFixed(1)} s`,
    );

    // ---- targets -----------------------------------------------------------------------------------
    const c100 = results['nonstream-c100'] as { llmtapOverReference: { throughput: number; cpu: number } };
    const c1 = results['nonstream-c1'] as { llmtap: { addedP50Ms: number } };
    const slowLlmtap = slow.llmtap as { peakRssMb: number; errors: number };
    const checks = [
      ['non-streaming c=100 throughput ≥ 0.7 × reference', c100.llmtapOverReference.throughput, c100.llmtapOverReference.throughput >= 0.7],
      ['non-streaming c=100 CPU per request ≤ 1.5 × reference', c100.llmtapOverReference.cpu, c100.llmtapOverReference.cpu <= 1.5],
      ['added p50 latency at c=1 ≤ 0.5 ms', c1.llmtap.addedP50Ms, c1.llmtap.addedP50Ms <= 0.5],
      ['stream TTFB added p50 ≤ 1 ms', ttfbSummary.llmtap!.addedP50Ms, ttfbSummary.llmtap!.addedP50Ms <= 1],
      [`${SLOW_STREAMS} slow streams: peak RSS ≤ 250 MB, no errors`, slowLlmtap.peakRssMb, slowLlmtap.peakRssMb <= 250 && slowLlmtap.errors === 0],
      ['sustained: zero spans dropped', sustained.spansDropped, sustained.spansDropped === 0],
    ] as const;
    log('');
    for (const [what, value, met] of checks) log(`${met ? 'MET    ' : 'NOT MET'}  ${what}: ${value.toFixed(2)}`);
    results.targets = checks.map(([what, value, met]) => ({ what, value, met }));
    save();
  } finally {
    for (const p of procs()) await p.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  function save(): void {
    const file = here(`./results/${new Date().toISOString().slice(0, 10)}${quick ? '-quick' : args.only ? '-only' : ''}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          quick,
          rounds: ROUNDS,
          secondsPerRun: RUN_S,
          tool,
          machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
          results,
          report: lines,
        },
        null,
        2,
      ),
    );
    console.log(`\nwritten: ${file}`);
  }
}

await main();
