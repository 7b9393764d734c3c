// Nothing leaked, Realtime edition: an API key sent in `Sec-WebSocket-Protocol` (browsers:
// `openai-insecure-api-key.<key>`), in an Azure query or in `Authorization`, and the ephemeral `ek_…` keys
// that /v1/realtime/client_secrets (and the beta's /v1/realtime/sessions) hand out, appear nowhere llmtap
// writes: its database, WAL and shared-memory files, its logs at trace level, or the spans it exports.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually } from './support/eventually.js';
import { EPHEMERAL_KEY, type FakeRealtime, startFakeRealtime } from './support/fake-realtime.js';
import { spawnLlmtap } from './support/llmtap.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';
import { converse, sdkConnection, wsConnection } from './support/realtime-client.js';
import { readSpans } from './support/spans.js';

const KEY = 'sk-proj-REALTIMEKEY1234567890abcdef';
const SECRETS = [KEY, 'REALTIMEKEY', EPHEMERAL_KEY, 'EPHEMERALSECRET'];

let fake: FakeRealtime;
let receiver: OtlpReceiver;
beforeAll(async () => {
  fake = await startFakeRealtime();
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.stop();
  await fake.close();
});

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

describe('secrets', () => {
  it('Realtime keys and ephemeral keys are in no database file, log line, stored or exported span', async () => {
    const llmtap = await spawnLlmtap({
      LLMTAP_UPSTREAM_URL: fake.url,
      LLMTAP_LOG_LEVEL: 'trace',
      LLMTAP_FLUSH_INTERVAL_MS: '10',
      LLMTAP_RECORD_OTHER: '1',
      PHOENIX_COLLECTOR_ENDPOINT: receiver.url,
      LLMTAP_EXPORT_INTERVAL_MS: '50',
    });
    const ws = llmtap.url.replace(/^http/, 'ws');
    const client = new OpenAI({ apiKey: KEY, baseURL: llmtap.baseURL, maxRetries: 0 });

    // Ephemeral keys, as a server hands them to browsers (GA, then beta).
    expect((await client.realtime.clientSecrets.create({ session: { type: 'realtime', model: 'gpt-realtime' } })).value).toBe(EPHEMERAL_KEY);
    const beta = (await client.post('/realtime/sessions', { body: { model: 'gpt-4o-realtime-preview' } })) as { client_secret: { value: string } };
    expect(beta.client_secret.value).toBe(EPHEMERAL_KEY);

    // Sessions: the key in the subprotocol list (a browser, beta), the ephemeral key there (GA), the key
    // in Azure's query, the key in Authorization (the official client).
    const browser = ['realtime', `openai-insecure-api-key.${KEY}`, 'openai-beta.realtime-v1'];
    await converse(wsConnection(`${ws}/v1/realtime?model=gpt-4o-realtime-preview`, { protocols: browser, headers: {} }), { beta: true });
    await converse(wsConnection(`${ws}/v1/realtime?model=gpt-realtime`, { protocols: ['realtime', `openai-insecure-api-key.${EPHEMERAL_KEY}`], headers: {} }));
    await converse(wsConnection(`${ws}/openai/realtime?api-version=2025-04-01-preview&deployment=gpt-realtime&api-key=${KEY}`, { headers: {} }));
    await converse(sdkConnection(llmtap.baseURL, { apiKey: KEY }));

    // The upstream did get them: the test would be meaningless otherwise.
    const handshakes = fake.sessions.slice(-4).map((s) => json([s.req.url, s.req.headers]));
    expect(handshakes[0]).toContain(`openai-insecure-api-key.${KEY}`);
    expect(handshakes[1]).toContain(`openai-insecure-api-key.${EPHEMERAL_KEY}`);
    expect(handshakes[2]).toContain(`api-key=${KEY}`);
    expect(handshakes[3]).toContain(`Bearer ${KEY}`);

    // Every span stored (four sessions and the two light spans), and every one exported.
    const spans = await eventually(() => {
      const all = readSpans(llmtap.dbPath);
      return all.filter((s) => s.kind === 'CHAIN').length === 4 && all.filter((s) => s.kind === 'UNKNOWN').length === 2 && all;
    }, 'every span stored');
    await eventually(() => receiver.accepted().length === spans.length, 'every span exported');
    expect(spans.filter((s) => s.kind === 'UNKNOWN').map((s) => s.name)).toEqual(['POST /v1/realtime/client_secrets', 'POST /v1/realtime/sessions']);
    for (const secret of SECRETS) {
      expect(json(spans)).not.toContain(secret);
      expect(json(receiver.accepted())).not.toContain(secret);
    }
    // The database, its WAL and shared-memory files, while running and after shutdown's checkpoint.
    const dir = dirname(llmtap.dbPath);
    const grepFiles = (): void => {
      const files = readdirSync(dir);
      expect(files.length).toBeGreaterThan(0);
      for (const f of files) for (const secret of SECRETS) expect(readFileSync(join(dir, f)).includes(secret), `${secret} in ${f}`).toBe(false);
    };
    grepFiles();
    llmtap.proc.kill('SIGTERM');
    expect(await llmtap.exited).toBe(0);
    grepFiles();
    expect(llmtap.output()).toContain('"msg":"realtime session"');
    for (const secret of SECRETS) expect(llmtap.output()).not.toContain(secret);
  });
});
