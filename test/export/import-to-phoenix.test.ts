// `llmtap import FILE --to-phoenix`: a saved JSONL file loaded into Phoenix over OTLP.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { toPhoenixLine } from '../../src/phoenix/span-json.js';
import { runCli } from '../support/llmtap.js';
import { type OtlpReceiver, plain, startOtlpReceiver } from '../support/otlp-receiver.js';
import { sampleSpan } from '../support/spans.js';

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(() => receiver.stop());

const spans = [
  sampleSpan({ spanId: '00000000000000a1' }),
  sampleSpan({ spanId: '00000000000000a2', parentSpanId: '00000000000000a1', statusCode: 'ERROR', statusMessage: 'RateLimitError: slow down' }),
];

function jsonlFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'llmtap-import-')), 'spans.jsonl');
  writeFileSync(file, `${spans.map(toPhoenixLine).join('\n')}\nnot a span\n`);
  return file;
}

describe('import --to-phoenix', () => {
  it('sends every span of the file, in the project configured, and reports the lines it could not read', async () => {
    const r = await runCli({ PHOENIX_COLLECTOR_ENDPOINT: receiver.url, PHOENIX_PROJECT_NAME: 'imported' }, ['import', jsonlFile(), '--to-phoenix']);
    expect(r.output).toContain(`2 sent to ${receiver.url}/v1/traces, 0 duplicates, 1 rejected`);
    expect(r.code).toBe(1); // the bad line
    const got = receiver.accepted();
    expect(got.map((s) => s.spanId)).toEqual(['00000000000000a1', '00000000000000a2']);
    for (const [i, s] of got.entries()) {
      expect(plain(s.attributes)).toEqual(spans[i]!.attributes);
      // JSONL carries microseconds: …00.123456789 was written as Phoenix rounds it, …00.123457.
      expect(s.startNs).toBe(1_700_000_000_123_457_000n);
      expect(plain(s.resource)['openinference.project.name']).toBe('imported');
    }
    expect(got[1]!.parentSpanId).toBe('00000000000000a1');
    expect(got[1]!.status).toEqual({ code: 2, message: 'RateLimitError: slow down' });
    expect(receiver.requests[0]!.headers['content-type']).toBe('application/x-protobuf');
  });

  it('retries a busy Phoenix, and stops with its message when it refuses', async () => {
    receiver.answer = (n) => (n === 0 ? { status: 503 } : { status: 401, body: '{"detail":"Invalid API key"}' });
    const r = await runCli({ PHOENIX_COLLECTOR_ENDPOINT: receiver.url }, ['import', jsonlFile(), '--to-phoenix']);
    expect(r.code).toBe(1);
    expect(r.output).toContain('refused the spans: HTTP 401: {"detail":"Invalid API key"}');
    expect(receiver.requests.length).toBe(2);
  });

  it('needs an export target', async () => {
    const r = await runCli({}, ['import', jsonlFile(), '--to-phoenix']);
    expect(r.code).toBe(2);
    expect(r.output).toContain('--to-phoenix needs PHOENIX_COLLECTOR_ENDPOINT');
  });
});
