// Delivery end to end, with the real OTLP receiver: nothing lost through receiver outages and restarts,
// parking without retry storms, a bounded backlog, and export never slowing traffic. The policy itself
// (backoff, Retry-After, splitting) is unit-tested on fake timers in delivery-loop.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { eventually } from '../support/eventually.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { chatBody, rawRequest } from '../support/http.js';
import { type InProcess, logLine, runCli, spawnLlmtap, startLlmtap, tempDbPath } from '../support/llmtap.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import { scrape } from '../support/prometheus.js';
import { readSpans } from '../support/spans.js';

let fake: FakeOpenAI;
let receiver: OtlpReceiver;
const running: InProcess[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());
afterEach(async () => {
  for (const p of running.splice(0)) await p.shutdown();
  await receiver?.stop().catch(() => undefined);
});

async function proxyTo(env: Record<string, string> = {}): Promise<InProcess> {
  const p = await startLlmtap({
    LLMTAP_UPSTREAM_URL: fake.url,
    LLMTAP_FLUSH_INTERVAL_MS: '10',
    LLMTAP_EXPORT_INTERVAL_MS: '50',
    PHOENIX_COLLECTOR_ENDPOINT: receiver.url,
    ...env,
  });
  running.push(p);
  return p;
}

/** Sends n chat calls; returns their span ids. */
async function calls(p: { baseURL: string }, n: number): Promise<string[]> {
  const rs = await Promise.all(
    Array.from({ length: n }, () =>
      rawRequest(`${p.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() }),
    ),
  );
  return rs.map((r) => r.headers['x-llmtap-span-id'] as string);
}

const acceptedIds = (): Set<string> => new Set(receiver.accepted().map((s) => s.spanId));
const allAccepted = (ids: string[]) => (): boolean => {
  const got = acceptedIds();
  return ids.every((id) => got.has(id));
};

describe('delivery', () => {
  it('receiver down for a while, then up: every span arrives', async () => {
    receiver = await startOtlpReceiver();
    const p = await proxyTo();
    await receiver.stop();
    const ids = await calls(p, 20);
    // Phoenix being down is reported, but does not make llmtap unready.
    const ready = await eventually(async () => {
      const r = await rawRequest(`${p.url}/readyz`);
      return /^retrying \(ECONNREFUSED.*20 waiting/.test(String(JSON.parse(r.body.toString()).checks.export)) && r;
    }, 'the export problem on /readyz');
    expect(ready.status).toBe(200);
    expect((await scrape(p.url)).value('llmtap_export_failures_total')).toBeGreaterThan(0);
    expect((await scrape(p.url)).value('llmtap_export_backlog_spans')).toBe(20);
    await receiver.restart();
    await eventually(allAccepted(ids), 'every span accepted', 35_000);
    expect((await scrape(p.url)).value('llmtap_export_spans_sent_total')).toBe(20);
  });

  it('… and with a proxy restart in between: the outbox survives and resumes', async () => {
    receiver = await startOtlpReceiver();
    await receiver.stop();
    const dbPath = tempDbPath();
    const env = {
      LLMTAP_UPSTREAM_URL: fake.url,
      LLMTAP_DB_PATH: dbPath,
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      LLMTAP_EXPORT_INTERVAL_MS: '50',
      LLMTAP_SHUTDOWN_TIMEOUT_MS: '500',
      PHOENIX_COLLECTOR_ENDPOINT: receiver.url,
    };
    const first = await spawnLlmtap(env);
    const ids = await calls(first, 10);
    first.proc.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('stay in the outbox for the next start');
    await receiver.restart();
    const second = await spawnLlmtap(env);
    try {
      await eventually(allAccepted(ids), 'every span accepted', 10_000);
    } finally {
      second.proc.kill('SIGTERM');
      await second.exited;
    }
  });

  it('SIGTERM sends what is queued before exit', async () => {
    receiver = await startOtlpReceiver();
    const llmtap = await spawnLlmtap({
      LLMTAP_UPSTREAM_URL: fake.url,
      LLMTAP_EXPORT_INTERVAL_MS: '600000', // no export tick would come for ten minutes
      LLMTAP_EXPORT_BATCH_SIZE: '100',
      PHOENIX_COLLECTOR_ENDPOINT: receiver.url,
    });
    const ids = await calls(llmtap, 5);
    llmtap.proc.kill('SIGTERM');
    expect(await llmtap.exited).toBe(0);
    expect(allAccepted(ids)()).toBe(true);
  });

  it('credentials in the endpoint URL are sent as basic auth, and appear in no log line and not on /readyz', async () => {
    receiver = await startOtlpReceiver();
    const url = new URL(receiver.url);
    url.username = 'phoenix';
    url.password = 's3cret-pass';
    const p = await proxyTo({ PHOENIX_COLLECTOR_ENDPOINT: url.href });
    const ids = await calls(p, 1);
    await eventually(allAccepted(ids), 'the span accepted');
    expect(receiver.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('phoenix:s3cret-pass').toString('base64')}`);
    const ready = await rawRequest(`${p.url}/readyz`);
    expect(ready.body.toString()).toContain(`to ${receiver.url}/v1/traces`);
    expect(ready.body.toString()).not.toContain('s3cret');
    expect(JSON.stringify(p.logs)).not.toContain('s3cret');
  });

  it('Retry-After: 0 on a 503 does not make a retry storm: at most one request a second', async () => {
    receiver = await startOtlpReceiver();
    const times: number[] = [];
    receiver.answer = () => {
      times.push(Date.now());
      return { status: 503, headers: { 'retry-after': '0' } };
    };
    const p = await proxyTo();
    await calls(p, 20);
    await eventually(() => times.length >= 4, 'four export requests', 10_000);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(990);
  });

  it('400: the batch is parked and logged, never sent again; `llmtap outbox retry` sends it again', async () => {
    receiver = await startOtlpReceiver();
    let reject = true;
    receiver.answer = () => (reject ? { status: 400, body: '{"detail":"Request body is invalid ExportTraceServiceRequest"}' } : { status: 200 });
    const p = await proxyTo();
    const parked = async (): Promise<number> => (await scrape(p.url)).value('llmtap_export_spans_parked_total');
    const ids = await calls(p, 5);
    await eventually(async () => (await parked()) === 5, 'five spans parked');
    // A barrier: a later span parked too means the loop went on meanwhile; none of the first five went twice.
    ids.push(...(await calls(p, 1)));
    await eventually(async () => (await parked()) === 6, 'the later span parked');
    const sent = receiver.requests.flatMap((r) => r.spans.map((s) => s.spanId));
    expect(sent.sort()).toEqual([...ids].sort());
    const logged = await logLine(p, (l) => String(l.msg).startsWith('export rejected'));
    expect(logged.answers).toEqual(['HTTP 400: {"detail":"Request body is invalid ExportTraceServiceRequest"}']);

    const status = await runCli({ LLMTAP_DB_PATH: p.dbPath }, ['outbox']);
    expect(status.output).toContain('0 spans waiting for export, 6 parked');
    expect(status.output).toContain('HTTP 400: {"detail":"Request body is invalid ExportTraceServiceRequest"}');
    reject = false;
    const retry = await runCli({ LLMTAP_DB_PATH: p.dbPath }, ['outbox', 'retry']);
    expect(retry.code).toBe(0);
    expect(retry.output).toContain('6 parked spans queued for export again');
    await eventually(allAccepted(ids), 'every span accepted', 10_000);
  });

  it('a bounded backlog: past it the oldest spans are left unexported (still stored) and counted', async () => {
    receiver = await startOtlpReceiver();
    await receiver.stop();
    const p = await proxyTo({ LLMTAP_EXPORT_MAX_BACKLOG: '4' });
    const older = await calls(p, 6);
    const newer = await calls(p, 4);
    await eventually(() => readSpans(p.dbPath).length === 10, 'ten spans stored', 10_000);
    await eventually(async () => (await scrape(p.url)).value('llmtap_export_spans_skipped_total') === 6, 'six spans skipped');
    await receiver.restart();
    await eventually(allAccepted(newer), 'every span accepted', 10_000);
    const got = acceptedIds();
    expect(older.filter((id) => got.has(id))).toEqual([]);
    expect(readSpans(p.dbPath).length).toBe(10);
  });

  it('a receiver that does not answer holds no request up: traffic flows while an export waits', async () => {
    receiver = await startOtlpReceiver();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    receiver.answer = () => ({ status: 200, after: held });
    const p = await proxyTo({ LLMTAP_EXPORT_BATCH_SIZE: '20', LLMTAP_SHUTDOWN_TIMEOUT_MS: '500' });
    await calls(p, 20);
    await eventually(() => receiver.requests.length > 0, 'an export request, held by the receiver', 10_000);
    // Export waiting on the receiver in the request path would leave these hanging until the test times out.
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await rawRequest(`${p.baseURL}/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: chatBody({ stream: true }),
          });
          expect(res.status).toBe(200);
        }),
      );
    }
    expect(receiver.accepted()).toHaveLength(0); // all of it happened while the export was held
    release();
    await eventually(() => receiver.accepted().length >= 120, 'every span once the receiver answers', 20_000);
  });
});
