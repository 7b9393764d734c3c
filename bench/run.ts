// `npm run bench [-- --quick]`: llmtap against a bare pass-through proxy and against the upstream
// itself, in interleaved rounds (direct, reference, llmtap, direct, …), on loopback, bounded in time.
// Prints a table and writes bench/results/<date>.json. Never asserts timings: it measures.
// `--only id,id` runs just those scenarios (throughput ids, `ttfb`, `paced`, `sustained`); `--baseline DIR` adds another llmtap build (DIR's
// dist/cli.js, e.g. the main branch built elsewhere) to their rounds, to compare two versions on a shared,
// noisy machine under the same conditions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { httpLoad, type LoadResult, median, pacedStreams, pickTool, ttfb } from './load.js';
import { cpuMs, type Proc, rssMb, startHelper, startLlmtap } from './procs.js';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean' }, rounds: { type: 'string' }, seconds: { type: 'string' }, only: { type: 'string' }, baseline: { type: 'string' } },
});
const quick = args.quick ?? false;
const want = (id: string): boolean => !args.only || args.only.split(',').includes(id);
const ROUNDS = Number(args.rounds ?? (quick ? 1 : 3));
const RUN_S = Number(args.seconds ?? (quick ? 2 : 8));
const SUSTAINED_SPANS = quick ? 10_000 : 100_000;
const PACED_STREAMS = quick ? 200 : 1000;
const PACED_TOKENS = 20; // one every 100 ms: 2 s a stream
/** The paced streams open within this time (then all are open at once for a second). */
const PACED_OPEN_MS = 1000;
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
/** 50 tokens asking for usage: a role event, 50 token events, a finish and a usage event (53), then [DONE]. */
const STREAM_50 = { ...HEADERS, 'x-bench-tokens': '50' };

interface Target {
  name: 'direct' | 'reference' | 'baseline' | 'llmtap' | 'llmtap-off';
  url: string;
  /** The proxy's process (the upstream's own for direct, whose CPU is not reported). */
  pid: number | undefined;
  /** Sent with every request: `x-llmtap-record: off` for llmtap-off, the same process as llmtap's. */
  headers?: Record<string, string>;
  /** An llmtap: its /metrics says what its server thread went through. */
  llmtap: boolean;
}

/** What llmtap's server thread went through during a run, from its /metrics before and after. */
interface ServerThread {
  /** Event-loop delay p99 (prom-client's monitorEventLoopDelay, less its 10 ms sampling interval). */
  loopDelayP99Ms: number;
  /** Garbage collection pauses: their total, and how many. */
  gcMs: number;
  gcCount: number;
}

interface RunStats extends LoadResult, Partial<ServerThread> {
  cpuUsPerRequest: number | undefined;
}

interface PacedStats extends RunStats {
  completed: number;
  peakRssMb: number;
  idleRssMb: number;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until llmtap has stored and exported everything (at most a minute). */
async function settled(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const text = await metricsText(url);
    if (sample(text, 'llmtap_write_queue_spans') + sample(text, 'llmtap_export_backlog_spans') === 0) return;
    await pause(100);
  }
}

/** /metrics (a fresh connection each time: llmtap may close an idle one at any moment). */
function metricsText(url: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    get(`${url}/metrics`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** The sum of a metric's samples (all labels). */
const sample = (text: string, name: string): number =>
  [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);

const scrapeCounter = async (url: string, name: string): Promise<number> => sample(await metricsText(url), name);

/**
 * Measures llmtap's server thread over what `run` does. A scrape resets prom-client's event-loop delay
 * histogram, so the one after the run reads the run's delays alone.
 */
async function serverThread<T>(url: string, run: () => Promise<T>): Promise<[T, ServerThread]> {
  const before = await metricsText(url);
  const result = await run();
  const after = await metricsText(url);
  const gc = (text: string, part: 'sum' | 'count'): number => sample(text, `llmtap_nodejs_gc_duration_seconds_${part}`);
  return [
    result,
    {
      loopDelayP99Ms: Math.max(0, sample(after, 'llmtap_nodejs_eventloop_lag_p99_seconds') * 1000 - 10),
      gcMs: (gc(after, 'sum') - gc(before, 'sum')) * 1000,
      gcCount: gc(after, 'count') - gc(before, 'count'),
    },
  ];
}

/** How a run went, as one table line. */
function row(
  name: string,
  what: string,
  r: { rps?: number; p50Ms: number; p99Ms: number; cpu?: number; errors: number },
  direct?: { p50Ms: number; p99Ms: number },
): string {
  const added = (k: 'p50Ms' | 'p99Ms'): string => (direct ? (r[k] - direct[k]).toFixed(2) : '-').padStart(8);
  return (
    `${what.padEnd(18)} ${name.padEnd(10)} ${r.rps === undefined ? '      -' : r.rps.toFixed(0).padStart(7)} ${r.p50Ms.toFixed(2).padStart(9)} ${r.p99Ms.toFixed(2).padStart(8)} ` +
    `${added('p50Ms')} ${added('p99Ms')}  ${r.cpu === undefined ? '         -' : r.cpu.toFixed(0).padStart(10)}  ${String(r.errors).padStart(6)}`
  );
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
  const startProxies = async (): Promise<[Proc, Proc, Proc | undefined]> => [
    await startHelper('reference', here('./reference-proxy.ts'), [upstream.url]),
    await startLlmtap(here('../dist/cli.js'), llmtapEnv('llmtap.db')),
    args.baseline ? await startLlmtap(join(args.baseline, 'dist', 'cli.js'), llmtapEnv('baseline.db')) : undefined,
  ];
  let [reference, llmtap, baseline] = await startProxies();
  const procs = (): Proc[] => [reference, llmtap, ...(baseline ? [baseline] : []), sink, upstream];
  /** `off`: with llmtap-off, the same llmtap asked not to record. */
  const targetsOf = (off: boolean): Target[] => [
    { name: 'direct', url: upstream.url, pid: undefined, llmtap: false },
    { name: 'reference', url: reference.url, pid: reference.pid, llmtap: false },
    ...(baseline ? [{ name: 'baseline' as const, url: baseline.url, pid: baseline.pid, llmtap: true }] : []),
    { name: 'llmtap', url: llmtap.url, pid: llmtap.pid, llmtap: true },
    ...(off ? [{ name: 'llmtap-off' as const, url: llmtap.url, pid: llmtap.pid, headers: { 'x-llmtap-record': 'off' }, llmtap: true }] : []),
  ];
  const results: Record<string, unknown> = {};
  const lines: string[] = [];
  const log = (s: string): void => {
    lines.push(s);
    console.log(s);
  };
  const header = (): void => log('scenario           target       req/s    p50 ms   p99 ms  +p50 ms  +p99 ms  CPU µs/req  errors');
  /** The ratios and the server thread's figures of a scenario, printed under its rows. */
  const summarize = (med: (name: string, key: keyof RunStats) => number, names: string[], summary: Record<string, unknown>, throughput: boolean): void => {
    const ratio = (name: string, key: keyof RunStats): number => med(name, key) / med('reference', key);
    for (const name of names.filter((n) => n !== 'direct' && n !== 'reference')) {
      const ratios = {
        ...(throughput && { throughput: ratio(name, 'rps') }),
        p99: ratio(name, 'p99Ms'),
        cpu: ratio(name, 'cpuUsPerRequest'),
      };
      const thread = { loopDelayP99Ms: med(name, 'loopDelayP99Ms'), gcMs: med(name, 'gcMs'), gcCount: med(name, 'gcCount') };
      summary[`${name}OverReference`] = ratios;
      summary[`${name}ServerThread`] = thread;
      log(
        `${''.padEnd(18)} ${`${name}/reference:`.padEnd(22)} ${throughput ? `throughput ×${ratios.throughput!.toFixed(2)}, ` : ''}p99 ×${ratios.p99.toFixed(2)}, CPU ×${ratios.cpu.toFixed(2)}; ` +
          `server thread: loop delay p99 ${thread.loopDelayP99Ms.toFixed(1)} ms, GC ${thread.gcMs.toFixed(0)} ms in ${thread.gcCount.toFixed(0)} pauses`,
      );
    }
    if (names.includes('baseline')) {
      const cpu = med('llmtap', 'cpuUsPerRequest') / med('baseline', 'cpuUsPerRequest');
      summary.llmtapOverBaseline = { cpu };
      log(`${''.padEnd(18)} llmtap/baseline: CPU per request ×${cpu.toFixed(3)} (${((cpu - 1) * 100).toFixed(1)} %)`);
    }
  };

  try {
    // ---- throughput and latency, interleaved rounds --------------------------------------------
    const httpScenarios = [
      { id: 'nonstream-c1', connections: 1, body: CHAT, headers: HEADERS, off: false },
      { id: 'nonstream-c50', connections: 50, body: CHAT, headers: HEADERS, off: false },
      { id: 'nonstream-c100', connections: 100, body: CHAT, headers: HEADERS, off: true },
      { id: 'nonstream-c256', connections: 256, body: CHAT, headers: HEADERS, off: false },
      { id: 'stream50-c50', connections: 50, body: STREAM, headers: STREAM_50, off: false },
      { id: 'stream50-c100', connections: 100, body: STREAM, headers: STREAM_50, off: true },
      { id: 'stream50-c256', connections: 256, body: STREAM, headers: STREAM_50, off: false },
      { id: 'stream50-plain-c50', connections: 50, body: STREAM_PLAIN, headers: STREAM_50, off: false },
    ].filter((s) => want(s.id));
    log(`llmtap benchmark — ${tool}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, ${ROUNDS} round(s) of ${RUN_S} s`);
    log(
      `load average at the start: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}`,
    );
    log('');
    header();
    for (const s of httpScenarios) {
      const targets = targetsOf(s.off);
      const runs: Record<string, RunStats[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of targets) {
          const before = t.pid ? cpuMs(t.pid) : 0;
          const load = (): Promise<LoadResult> =>
            httpLoad(tool, `${t.url}/v1/chat/completions`, {
              connections: s.connections,
              durationS: RUN_S,
              body: s.body,
              headers: { ...s.headers, ...t.headers },
            });
          const [r, thread] = t.llmtap ? await serverThread(t.url, load) : [await load(), undefined];
          // llmtap stores and exports after the responses: its CPU counts until that work is done too.
          if (t.llmtap) await settled(t.url);
          const cpu = t.pid ? ((cpuMs(t.pid) - before) * 1000) / Math.max(1, r.requests) : undefined;
          runs[t.name]!.push({ ...r, ...thread, cpuUsPerRequest: cpu });
          await pause(300);
        }
      }
      const med = (name: string, key: keyof RunStats): number => median(runs[name]!.map((r) => r[key] as number));
      const summary: Record<string, unknown> = {};
      const direct = { p50Ms: med('direct', 'p50Ms'), p99Ms: med('direct', 'p99Ms') };
      for (const t of targets) {
        const stats = {
          rps: med(t.name, 'rps'),
          p50Ms: med(t.name, 'p50Ms'),
          p99Ms: med(t.name, 'p99Ms'),
          addedP50Ms: med(t.name, 'p50Ms') - direct.p50Ms,
          addedP99Ms: med(t.name, 'p99Ms') - direct.p99Ms,
          cpuUsPerRequest: t.pid ? med(t.name, 'cpuUsPerRequest') : undefined,
          errors: runs[t.name]!.reduce((n, r) => n + r.errors, 0),
          rounds: runs[t.name],
        };
        summary[t.name] = stats;
        log(row(t.name, s.id, { ...stats, cpu: stats.cpuUsPerRequest }, t.name === 'direct' ? undefined : direct));
      }
      summarize(
        med,
        targets.map((t) => t.name),
        summary,
        true,
      );
      results[s.id] = summary;
    }

    // ---- time to first byte of a stream, one request at a time -------------------------------------
    if (want('ttfb')) {
      log('');
      const ttfbTargets = targetsOf(true);
      const ttfbRuns: Record<string, { p50Ms: number; p99Ms: number }[]> = Object.fromEntries(ttfbTargets.map((t) => [t.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of ttfbTargets) {
          ttfbRuns[t.name]!.push(
            await ttfb(`${t.url}/v1/chat/completions`, TTFB_SAMPLES, STREAM, { ...HEADERS, 'x-bench-tokens': '5', 'x-bench-delay-ms': '2', ...t.headers }),
          );
        }
      }
      const ttfbMed = (name: string, k: 'p50Ms' | 'p99Ms'): number => median(ttfbRuns[name]!.map((r) => r[k]));
      const ttfbSummary = Object.fromEntries(
        ttfbTargets.map((t) => [
          t.name,
          { p50Ms: ttfbMed(t.name, 'p50Ms'), p99Ms: ttfbMed(t.name, 'p99Ms'), addedP50Ms: ttfbMed(t.name, 'p50Ms') - ttfbMed('direct', 'p50Ms') },
        ]),
      );
      results['ttfb-c1'] = ttfbSummary;
      for (const t of ttfbTargets) {
        const { p50Ms, p99Ms, addedP50Ms } = ttfbSummary[t.name]!;
        log(
          `stream TTFB, c=1    ${t.name.padEnd(10)} p50 ${p50Ms.toFixed(3)} ms  p99 ${p99Ms.toFixed(3)} ms${t.name === 'direct' ? '' : `  (+${addedP50Ms.toFixed(3)} ms at p50)`}`,
        );
      }
    }

    // ---- many paced streams at once: latency, CPU and memory -----------------------------------------
    if (want('paced')) {
      // On freshly started proxies: what the streams cost, not the heap the throughput runs left behind.
      for (const p of [reference, llmtap, baseline]) await p?.stop();
      [reference, llmtap, baseline] = await startProxies();
      log('');
      header();
      const pacedTargets = targetsOf(true);
      const pacedRuns: Record<string, PacedStats[]> = Object.fromEntries(pacedTargets.map((t) => [t.name, []]));
      const pacedHeaders = { ...HEADERS, 'x-bench-tokens': String(PACED_TOKENS), 'x-bench-delay-ms': '100' };
      for (let round = 0; round < ROUNDS; round++) {
        for (const t of pacedTargets) {
          const before = t.pid ? cpuMs(t.pid) : 0;
          const idleRssMb = t.pid ? rssMb(t.pid) : 0;
          const streams = () =>
            pacedStreams(`${t.url}/v1/chat/completions`, PACED_STREAMS, PACED_OPEN_MS / PACED_STREAMS, STREAM, { ...pacedHeaders, ...t.headers }, () =>
              t.pid ? rssMb(t.pid) : 0,
            );
          const [r, thread] = t.llmtap ? await serverThread(t.url, streams) : [await streams(), undefined];
          if (t.llmtap) await settled(t.url);
          const cpu = t.pid ? ((cpuMs(t.pid) - before) * 1000) / PACED_STREAMS : undefined;
          pacedRuns[t.name]!.push({ ...r, ...thread, requests: r.completed, rps: 0, cpuUsPerRequest: cpu, idleRssMb });
          await pause(500);
        }
      }
      const pacedMed = (name: string, key: keyof PacedStats): number => median(pacedRuns[name]!.map((r) => r[key] as number));
      const paced: Record<string, unknown> = {};
      const pacedDirect = { p50Ms: pacedMed('direct', 'p50Ms'), p99Ms: pacedMed('direct', 'p99Ms') };
      const what = `paced ${PACED_STREAMS}×${PACED_TOKENS}`;
      for (const t of pacedTargets) {
        const stats = {
          p50Ms: pacedMed(t.name, 'p50Ms'),
          p99Ms: pacedMed(t.name, 'p99Ms'),
          addedP99Ms: pacedMed(t.name, 'p99Ms') - pacedDirect.p99Ms,
          cpuUsPerRequest: t.pid ? pacedMed(t.name, 'cpuUsPerRequest') : undefined,
          peakRssMb: pacedMed(t.name, 'peakRssMb'),
          idleRssMb: pacedMed(t.name, 'idleRssMb'),
          errors: pacedRuns[t.name]!.reduce((n, r) => n + r.errors + (PACED_STREAMS - r.completed), 0),
          rounds: pacedRuns[t.name],
        };
        paced[t.name] = stats;
        log(
          `${row(t.name, what, { ...stats, cpu: stats.cpuUsPerRequest }, t.name === 'direct' ? undefined : pacedDirect)}` +
            (t.pid ? `  peak RSS ${stats.peakRssMb.toFixed(0)} MB (idle ${stats.idleRssMb.toFixed(0)})` : ''),
        );
      }
      summarize(
        pacedMed,
        pacedTargets.map((t) => t.name),
        paced,
        false,
      );
      results[`paced-${PACED_STREAMS}`] = paced;
    }

    // ---- sustained: spans written per second, drops, export backlog --------------------------------
    if (want('sustained')) {
      log('');
      await settled(llmtap.url); // the paced streams' spans are written first
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
        `sustained          llmtap     ${sustained.requests} requests at ${sustained.rps.toFixed(0)}/s; ${sustained.spansStored} spans stored at ${sustained.spansPerSecond.toFixed(0)}/s, ` +
          `${sustained.spansDropped} dropped; export backlog ${sustained.exportBacklogAtEnd} at end, ${sustained.exportBacklogAfterDrain} after ${sustained.exportDrainSeconds.toFixed(1)} s`,
      );
    }

    // ---- targets -----------------------------------------------------------------------------------
    if (!args.only) {
      type Ratios = { throughput: number; p99: number; cpu: number };
      const over = (id: string, name = 'llmtap'): Ratios => (results[id] as Record<string, Ratios>)[`${name}OverReference`]!;
      const c1 = results['nonstream-c1'] as { llmtap: { addedP50Ms: number } };
      const paced = results[`paced-${PACED_STREAMS}`] as Record<string, unknown>;
      const ttfbSummary = results['ttfb-c1'] as Record<string, { addedP50Ms: number }>;
      const sustained = results.sustained as { spansDropped: number };
      const pacedLlmtap = paced.llmtap as { addedP99Ms: number; peakRssMb: number; errors: number };
      const pacedOver = paced.llmtapOverReference as Ratios;
      const checks = [
        // issue 17: tail latency and CPU per request
        ['non-streaming c=100: p99 ≤ 2 × reference', over('nonstream-c100').p99, over('nonstream-c100').p99 <= 2],
        ['stream of 53 events c=100: p99 ≤ 2 × reference', over('stream50-c100').p99, over('stream50-c100').p99 <= 2],
        [`${PACED_STREAMS} paced streams: p99 ≤ 2 × reference`, pacedOver.p99, pacedOver.p99 <= 2],
        [`${PACED_STREAMS} paced streams: added p99 (over direct) ≤ 150 ms`, pacedLlmtap.addedP99Ms, pacedLlmtap.addedP99Ms <= 150],
        ['non-streaming c=100: CPU per request ≤ 2 × reference', over('nonstream-c100').cpu, over('nonstream-c100').cpu <= 2],
        ['stream of 53 events c=100: CPU per request ≤ 2 × reference', over('stream50-c100').cpu, over('stream50-c100').cpu <= 2],
        [`${PACED_STREAMS} paced streams: CPU per request ≤ 1.25 × reference`, pacedOver.cpu, pacedOver.cpu <= 1.25],
        [`${PACED_STREAMS} paced streams: peak RSS ≤ 200 MB, no errors`, pacedLlmtap.peakRssMb, pacedLlmtap.peakRssMb <= 200 && pacedLlmtap.errors === 0],
        ['stream TTFB added p50 ≤ 0.7 ms', ttfbSummary.llmtap!.addedP50Ms, ttfbSummary.llmtap!.addedP50Ms <= 0.7],
        [
          'recording off, non-streaming c=100: CPU ≤ 1.15 × reference',
          over('nonstream-c100', 'llmtap-off').cpu,
          over('nonstream-c100', 'llmtap-off').cpu <= 1.15,
        ],
        ['recording off, stream c=100: CPU ≤ 1.15 × reference', over('stream50-c100', 'llmtap-off').cpu, over('stream50-c100', 'llmtap-off').cpu <= 1.15],
        ['sustained: zero spans dropped', sustained.spansDropped, sustained.spansDropped === 0],
        // the first benchmark's
        ['non-streaming c=100 throughput ≥ 0.7 × reference', over('nonstream-c100').throughput, over('nonstream-c100').throughput >= 0.7],
        ['added p50 latency at c=1 ≤ 0.5 ms', c1.llmtap.addedP50Ms, c1.llmtap.addedP50Ms <= 0.5],
      ] as const;
      log('');
      for (const [what, value, met] of checks) log(`${met ? 'MET    ' : 'NOT MET'}  ${what}: ${value.toFixed(2)}`);
      results.targets = checks.map(([what, value, met]) => ({ what, value, met }));
    }

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
          machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadAverage: os.loadavg() },
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
