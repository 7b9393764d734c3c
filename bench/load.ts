// Load generation. Debian's wrk (C, one thread) when installed, so the load generator does not take
// the proxy's CPU; autocannon in this process only as a fallback.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import autocannon from 'autocannon';

export interface HttpLoad {
  connections: number;
  durationS: number;
  body: string;
  headers: Record<string, string>;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function haveWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

/** wrk if it is installed or can be installed (as root, from Debian's packages), else autocannon. */
export function pickTool(): 'wrk' | 'autocannon' {
  if (haveWrk()) return 'wrk';
  if (process.getuid?.() === 0) {
    console.error('bench: installing wrk (apt-get install -y wrk) …');
    spawnSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'ignore' });
    if (haveWrk()) return 'wrk';
  }
  console.error('bench: wrk is not installed (apt-get install wrk); falling back to autocannon, which shares the CPU with this process');
  return 'autocannon';
}

const luaString = (s: string): string => `[==[${s}]==]`;

function wrkScript(load: HttpLoad): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmtap-bench-'));
  const file = join(dir, 'load.lua');
  writeFileSync(
    file,
    [
      'wrk.method = "POST"',
      `wrk.body = ${luaString(load.body)}`,
      ...Object.entries(load.headers).map(([k, v]) => `wrk.headers[ ${luaString(k)} ] = ${luaString(v)}`),
      'done = function(summary, latency, requests)',
      '  local e = summary.errors',
      '  io.write(string.format(\'\\nRESULT {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\\n\',',
      '    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,',
      '    latency:percentile(50), latency:percentile(99)))',
      'end',
    ].join('\n'),
  );
  return file;
}

export async function httpLoad(tool: 'wrk' | 'autocannon', url: string, load: HttpLoad): Promise<LoadResult> {
  if (tool === 'wrk') {
    const out = execFileSync('wrk', ['-t1', `-c${load.connections}`, `-d${load.durationS}s`, '--timeout', '10s', '-s', wrkScript(load), url], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    const r = JSON.parse(/RESULT (\{.*\})/.exec(out)![1]!) as { requests: number; duration_us: number; errors: number; p50_us: number; p99_us: number };
    return { requests: r.requests, rps: r.requests / (r.duration_us / 1e6), p50Ms: r.p50_us / 1000, p99Ms: r.p99_us / 1000, errors: r.errors };
  }
  const r = await autocannon({ url, method: 'POST', body: load.body, headers: load.headers, connections: load.connections, duration: load.durationS });
  return {
    requests: r.requests.total,
    rps: r.requests.total / load.durationS,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.non2xx + r.timeouts,
  };
}

/** Time to the first body byte of a stream, one request at a time. */
export async function ttfb(url: string, count: number, body: string, headers: Record<string, string>): Promise<{ p50Ms: number; p99Ms: number }> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    times.push(
      await new Promise<number>((resolve, reject) => {
        const t0 = performance.now();
        const req = request(url, { method: 'POST', headers }, (res) => {
          res.once('data', () => resolve(performance.now() - t0));
          res.resume();
        });
        req.on('error', reject);
        req.end(body);
      }),
    );
  }
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) };
}

/**
 * Opens `count` streams, one every `everyMs`, and reads them to the end: how long each took, and the
 * proxy's peak memory meanwhile. Not all at the same instant: a burst of a thousand connections overflows
 * the listen queue (Node's default backlog is 511), and the SYNs the kernel drops are retried a second
 * later, which would make the p99 measure the kernel's queue rather than the proxy.
 */
export async function pacedStreams(
  url: string,
  count: number,
  everyMs: number,
  body: string,
  headers: Record<string, string>,
  sampleRssMb: () => number,
): Promise<{ p50Ms: number; p99Ms: number; peakRssMb: number; errors: number; completed: number }> {
  let peak = sampleRssMb();
  const sampler = setInterval(() => (peak = Math.max(peak, sampleRssMb())), 100);
  let errors = 0;
  const times: number[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      new Promise<void>((resolve) => setTimeout(resolve, i * everyMs)).then(
        () =>
          new Promise<void>((resolve) => {
            const t0 = performance.now();
            const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
              if (res.statusCode !== 200) errors++;
              res.on('data', () => {});
              res.on('end', () => {
                times.push(performance.now() - t0);
                resolve();
              });
              res.on('error', () => {
                errors++;
                resolve();
              });
            });
            req.on('error', () => {
              errors++;
              resolve();
            });
            req.end(body);
          }),
      ),
    ),
  );
  clearInterval(sampler);
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), peakRssMb: Math.max(peak, sampleRssMb()), errors, completed: times.length };
}

export function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

export const median = (xs: number[]): number => percentile(xs, 50);
