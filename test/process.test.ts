// The real `llmtap` process: start-up validation, SIGTERM drain, and memory under many slow streams.
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually } from './support/eventually.js';
import { type FakeOpenAI, startFakeOpenAI } from './support/fake-openai.js';
import { chatBody, rawRequest } from './support/http.js';
import { runCli, spawnLlmtap } from './support/llmtap.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

describe('start-up', () => {
  it('refuses an invalid configuration with a message naming the variable', async () => {
    const r = await runCli({ LLMTAP_PORT: '99999', LLMTAP_UPSTREAM_URL: 'ftp://example.com' });
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('LLMTAP_PORT');
    expect(r.output).toContain('LLMTAP_UPSTREAM_URL');
    expect(r.output).not.toContain('    at '); // a message, not a stack trace
  });

  it('says clearly when the port is taken: the address, the variables, the reason', async () => {
    const first = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url });
    try {
      const port = new URL(first.url).port;
      const r = await runCli({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_PORT: port });
      expect(r.code).toBe(1);
      expect(r.output).toContain(
        `llmtap: cannot listen on 127.0.0.1:${port} (LLMTAP_HOST, LLMTAP_PORT): address already in use (EADDRINUSE); another process holds the port`,
      );
      expect(r.output).not.toContain('    at ');
    } finally {
      first.proc.kill('SIGTERM');
      await first.exited;
    }
  });

  it('refuses an OTLP protocol it does not speak (grpc) with a message naming the variable', async () => {
    const r = await runCli({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', PHOENIX_COLLECTOR_ENDPOINT: 'http://127.0.0.1:4317' });
    expect(r.code).toBe(2);
    expect(r.output).toContain('OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: llmtap exports over OTLP/HTTP with protobuf only');
    expect(r.output).not.toContain('llmtap listening');
  });

  it('warns at start-up about a variable it does not read, with the nearest name it knows', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_UPSTREAM: 'https://api.openai.com/v1' });
    llmtap.proc.kill('SIGTERM');
    expect(await llmtap.exited).toBe(0);
    const warning = llmtap
      .output()
      .split('\n')
      .map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : {}))
      .find((l) => l.variable === 'LLMTAP_UPSTREAM');
    expect(warning).toMatchObject({
      level: 40,
      nearest: 'LLMTAP_UPSTREAM_URL',
      msg: 'LLMTAP_UPSTREAM is not a variable llmtap reads, ignored: did you mean LLMTAP_UPSTREAM_URL?',
    });
  });

  it('runs its storage thread 10 nice levels below the thread that streams traffic (Linux)', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url });
    try {
      const pid = llmtap.proc.pid!;
      // Field 19 of /proc/<pid>/task/<tid>/stat, counted after the command's closing parenthesis.
      const nice = (tid: string) => {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      };
      const tids = readdirSync(`/proc/${pid}/task`);
      const own = nice(String(pid));
      expect(tids.filter((tid) => nice(tid) === Math.min(19, own + 10))).toHaveLength(1);
      expect(tids.filter((tid) => nice(tid) !== own)).toHaveLength(1);
    } finally {
      llmtap.proc.kill('SIGTERM');
      await llmtap.exited;
    }
  });

  it('prints usage for --help', async () => {
    const r = await runCli({}, ['--help']);
    expect(r.code).toBe(0);
    expect(r.output).toContain('usage: llmtap');
  });
});

describe('shutdown', () => {
  it('SIGTERM during a stream: the stream completes, new connections are refused, then exit 0', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url });
    const upstreamCalls = fake.requests.length;
    let ended = false;
    // About 12 events 100 ms apart: still streaming long after the stop began.
    const streaming = rawRequest(`${llmtap.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fake-delay-ms': '100' },
      body: chatBody({ stream: true }),
    }).finally(() => (ended = true));
    // Once the upstream has the request the stream is in flight; then ask the process to stop.
    await eventually(() => fake.requests.length > upstreamCalls, 'the upstream receiving the request');
    llmtap.proc.kill('SIGTERM');
    const refused = (): Promise<boolean> =>
      rawRequest(`${llmtap.url}/healthz`).then(
        () => false,
        (err: Error) => /ECONNREFUSED/.test(err.message),
      );
    await eventually(refused, 'new connections refused');
    expect(ended).toBe(false);
    const r = await streaming;
    expect(r.complete).toBe(true);
    expect(r.body.toString()).toContain('data: [DONE]');
    expect(await llmtap.exited).toBe(0);
    expect(llmtap.output()).toContain('shutting down');
  });
});

describe('memory', () => {
  // A large download (not an LLM call, so nothing is recorded): what is measured is the proxy's own
  // buffering, not the bounded capture of recorded calls.
  it('200 concurrent streams read by slow clients keep the proxy RSS bounded', async () => {
    const perStream = 8 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 'data: x\n\n'.repeat(1000));
    fake.handler = async (req, res) => {
      if (req.headers['x-fake-behavior'] !== 'big-stream') return false;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let sent = 0; sent < perStream && !res.destroyed; sent += piece.length) {
        if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
      return true;
    };
    // 200 upstream connections opened at once: on a loaded machine some take more than the default 5 s
    // connect timeout to be seen through, which is not what this test is about.
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_CONNECT_TIMEOUT_MS: '60000' });
    const status = (): string => readFileSync(`/proc/${llmtap.proc.pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status())![1]);
    const startRss = kb('VmRSS');
    try {
      let totalBytes = 0;
      const failures: string[] = [];
      const streams = Array.from(
        { length: 200 },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = request(`${llmtap.baseURL}/files/file-big/content`, { headers: { 'x-fake-behavior': 'big-stream' }, agent: false }, (res) => {
              // Slow reader: not a byte for two seconds (more than the kernel's socket buffers can
              // hold arrives meanwhile), then everything.
              res.pause();
              setTimeout(() => {
                let body = '';
                res.on('data', (c: Buffer) => {
                  totalBytes += c.length;
                  if (res.statusCode !== 200) body += c.toString();
                });
                res.on('end', () => {
                  if (res.statusCode !== 200) failures.push(`${res.statusCode} ${body}`);
                  resolve();
                });
                res.resume();
              }, 2000);
            });
            req.on('error', reject);
            req.end();
          }),
      );
      await Promise.all(streams);
      expect(failures).toEqual([]);
      const peakMb = kb('VmHWM') / 1024;
      console.log(
        `memory check: 200 streams × ${perStream / 1048576} MiB; proxy RSS ${Math.round(startRss / 1024)} MB at start, peak ${Math.round(peakMb)} MB`,
      );
      expect(totalBytes).toBe(200 * perStream);
      // Without backpressure the proxy would hold most of 1.6 GiB; with it, it stays near its idle footprint.
      expect(peakMb).toBeLessThan(300);
    } finally {
      fake.handler = undefined;
      llmtap.proc.kill('SIGTERM');
      await llmtap.exited;
    }
  }, 180_000); // memory is what is measured; moving 1.6 GB takes minutes on a loaded machine
});
