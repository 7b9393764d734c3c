// JSONL both ways, through the API and the CLI: export → import into a fresh database → export gives
// the same bytes; Phoenix's decoder rules accept every line; bad lines are counted, never fatal.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dirname } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { phoenixMicroseconds } from '../../src/phoenix/isotime.js';
import { toPhoenixLine } from '../../src/phoenix/span-json.js';
import type { Span } from '../../src/record/span.js';
import { exportJsonl, getJson, type PhoenixSpan, postJsonl } from '../support/api.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { chatBody, rawRequest } from '../support/http.js';
import { type InProcess, runCli, startLlmtap, tempDbPath } from '../support/llmtap.js';
import { decodeLikePhoenix } from '../support/phoenix-decoder.js';
import { readSpans, sampleSpan, waitForSpan } from '../support/spans.js';

const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const WEATHER_TOOL = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
};

let fake: FakeOpenAI;
let source: InProcess;

/** Every kind of span the proxy records: plain, streamed, tool calls, images, context headers, failures. */
async function recordVariety(llmtap: InProcess): Promise<string[]> {
  const calls: [Record<string, unknown>, Record<string, string>][] = [
    [
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello ünïcode 你好' },
        ],
      },
      { 'x-llmtap-session-id': 's-1', 'x-llmtap-user-id': 'u-1' },
    ],
    [
      { stream: true, stream_options: { include_usage: true } },
      { 'x-llmtap-metadata': '{"team":"search","tier":2}', 'x-llmtap-tags': 'a,b' },
    ],
    [{ tools: [WEATHER_TOOL], stream: true }, { traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01` }],
    [
      {
        tools: [WEATHER_TOOL],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this image?' },
              { type: 'image_url', image_url: { url: PNG } },
            ],
          },
        ],
      },
      {},
    ],
    [{ n: 2 }, {}],
    [{}, { 'x-fake-behavior': 'error-429' }],
    [{ stream: true }, { 'x-fake-behavior': 'error-event' }],
  ];
  const ids: string[] = [];
  for (const [body, headers] of calls) {
    const r = await rawRequest(`${llmtap.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: chatBody(body),
    });
    ids.push(r.headers['x-llmtap-span-id'] as string);
  }
  for (const id of ids) await waitForSpan(llmtap.dbPath, id);
  return ids;
}

/** A time at the microsecond Phoenix makes of it (isoformat's precision). */
const micro = (ns: bigint): bigint => {
  const { seconds, micros } = phoenixMicroseconds(ns);
  return BigInt(seconds) * 1_000_000_000n + BigInt(micros) * 1000n;
};
/** What survives the JSONL round trip: everything, times to the microsecond. */
const atMicroseconds = (s: Span): Span => ({
  ...s,
  startNs: micro(s.startNs),
  endNs: micro(s.endNs),
  events: s.events.map((e) => ({ ...e, timeNs: micro(e.timeNs) })),
});

beforeAll(async () => {
  fake = await startFakeOpenAI();
  source = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '10' });
  await recordVariety(source);
});
afterAll(async () => {
  await source.shutdown();
  await fake.close();
});

describe('JSONL over the API', () => {
  it('export → import into a fresh database → export gives identical bytes; every line reads as Phoenix reads it', async () => {
    const first = await exportJsonl(source.url);
    const lines = first.trimEnd().split('\n');
    expect(lines).toHaveLength(7);
    expect(first.endsWith('\n')).toBe(true);
    for (const line of lines) decodeLikePhoenix(line);
    const spans = lines.map((l) => JSON.parse(l) as PhoenixSpan);
    // Oldest first, nested attributes as Phoenix holds them.
    expect(spans.map((s) => s.start_time)).toEqual([...spans.map((s) => s.start_time)].sort());
    const llm = spans[0]!.attributes.llm as { input_messages: { message: { role: string; content: string } }[] };
    expect(llm.input_messages).toEqual([{ message: { role: 'system', content: 'Be brief.' } }, { message: { role: 'user', content: 'Hello ünïcode 你好' } }]);
    expect(spans[1]!.attributes.metadata).toEqual({ team: 'search', tier: 2 });
    expect((spans[1]!.attributes.tag as { tags: string[] }).tags).toEqual(['a', 'b']);
    expect(spans[5]!.status_code).toBe('ERROR');
    expect(spans[5]!.events[0]!.attributes['exception.message']).toBe('Rate limit reached for gpt-4o-mini.');

    const target = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url });
    try {
      const imported = await postJsonl<Record<string, unknown>>(`${target.url}/api/spans/import`, first);
      expect(imported.status).toBe(200);
      expect(imported.body).toEqual({ imported: 7, duplicates: 0, rejected: 0, rejections: [] });
      const second = await exportJsonl(target.url);
      expect(second).toBe(first);
      // The stored spans are the same spans, times to the microsecond.
      expect(readSpans(target.dbPath)).toEqual(readSpans(source.dbPath).map(atMicroseconds));
      // Idempotent on span id.
      const again = await postJsonl<Record<string, unknown>>(`${target.url}/api/spans/import`, first);
      expect(again.body).toMatchObject({ imported: 0, duplicates: 7, rejected: 0 });
      expect(readSpans(target.dbPath)).toHaveLength(7);
    } finally {
      await target.shutdown();
    }
  });

  it('the export takes the list filters', async () => {
    const errors = (await exportJsonl(source.url, 'status=ERROR')).trimEnd().split('\n');
    expect(errors.map((l) => (JSON.parse(l) as PhoenixSpan).status_code)).toEqual(['ERROR', 'ERROR']);
    expect(await exportJsonl(source.url, 'since=2100-01-01')).toBe('');
    const bad = await getJson<{ error: { message: string } }>(`${source.url}/api/spans?format=jsonl&since=soon`);
    expect(bad.status).toBe(400);
  });

  it('a file with malformed lines: the good spans are stored, the bad lines counted with their line number and reason', async () => {
    const target = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_MAX_BODY_BYTES: '4096' });
    try {
      const good = (i: number): string => toPhoenixLine(sampleSpan({ spanId: `aaaaaaaaaaaaaa0${i}` }));
      const body = [
        good(1),
        'this is not json',
        '{"name":"half a span"}',
        JSON.stringify({ ...JSON.parse(good(9)), extra: true }),
        '',
        good(2).replace('"status_code":"OK"', '"status_code":"MAYBE"'),
        `${good(3)}\r`,
        good(1),
        JSON.stringify({ ...JSON.parse(good(4)), attributes: { 'input.value': 'y'.repeat(5000) } }),
        '[1,2,3]',
        good(5),
      ].join('\n');
      const r = await postJsonl<{ imported: number; duplicates: number; rejected: number; rejections: { line: number; reason: string }[] }>(
        `${target.url}/api/spans/import`,
        body,
      );
      expect(r.status).toBe(200);
      expect(r.body).toEqual({
        imported: 3,
        duplicates: 1,
        rejected: 6,
        rejections: [
          { line: 2, reason: expect.stringMatching(/^not JSON: /) as unknown as string },
          {
            line: 3,
            reason: 'missing keys: context, span_kind, parent_id, start_time, end_time, status_code, status_message, attributes, events, conversation',
          },
          { line: 4, reason: 'unexpected key: extra' },
          { line: 6, reason: 'status_code is not OK, ERROR or UNSET' },
          { line: 9, reason: 'line too long' },
          { line: 10, reason: 'not a JSON object' },
        ],
      });
      const stored = readSpans(target.dbPath).map((s) => s.spanId);
      expect(stored).toEqual(['aaaaaaaaaaaaaa01', 'aaaaaaaaaaaaaa03', 'aaaaaaaaaaaaaa05']);
    } finally {
      await target.shutdown();
    }
  });
});

describe('llmtap export / llmtap import', () => {
  it('export reads the file of a running server; import into a fresh file; export again gives the same bytes', async () => {
    const dir = dirname(tempDbPath());
    const out = join(dir, 'spans.jsonl');
    const api = await exportJsonl(source.url);
    const exported = await runCli({ LLMTAP_DB_PATH: source.dbPath }, ['export', '--out', out]);
    expect(exported.code).toBe(0);
    expect(exported.output).toContain('llmtap export: 7 spans written to');
    expect(readFileSync(out, 'utf8')).toBe(api);

    const fresh = join(dir, 'fresh.db');
    const imported = await runCli({ LLMTAP_DB_PATH: fresh }, ['import', out]);
    expect(imported.output).toContain(`llmtap import: 7 imported into ${fresh}, 0 duplicates, 0 rejected`);
    expect(imported.code).toBe(0);
    const again = await runCli({ LLMTAP_DB_PATH: fresh }, ['export']);
    expect(again.code).toBe(0);
    expect(again.output.slice(0, api.length)).toBe(api); // stdout, then the summary on stderr
    expect(again.output.slice(api.length)).toBe('llmtap export: 7 spans written to standard output\n');

    const dup = await runCli({ LLMTAP_DB_PATH: fresh }, ['import', out]);
    expect(dup.output).toContain(`0 imported into ${fresh}, 7 duplicates, 0 rejected`);
  });

  it('export --since/--until; import reports rejected lines and exits 1; bad command lines exit 2 with a message', async () => {
    const dir = dirname(tempDbPath());
    const db = join(dir, 'cli.db');
    const file = join(dir, 'in.jsonl');
    const at = (i: number, iso: string): string => {
      const ns = BigInt(Date.parse(iso)) * 1_000_000n;
      return toPhoenixLine(sampleSpan({ spanId: `bbbbbbbbbbbbbb0${i}`, startNs: ns, endNs: ns + 1000n, events: [] }));
    };
    writeFileSync(file, [at(1, '2020-01-01T00:00:00Z'), at(2, '2020-06-01T00:00:00Z'), 'oops', at(3, '2021-01-01T00:00:00Z')].join('\n'));
    const imported = await runCli({ LLMTAP_DB_PATH: db }, ['import', file]);
    expect(imported.code).toBe(1);
    expect(imported.output).toContain(`3 imported into ${db}, 0 duplicates, 1 rejected`);
    expect(imported.output).toMatch(/line 3: not JSON/);

    const window = await runCli({ LLMTAP_DB_PATH: db }, ['export', '--since', '2020-03-01', '--until', '2020-12-31T23:59:59+00:00']);
    expect(window.code).toBe(0);
    expect(
      window.output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as PhoenixSpan).context.span_id),
    ).toEqual(['bbbbbbbbbbbbbb02']);

    for (const [args, message] of [
      [['export', '--since', 'last week'], /--since must be an ISO-8601 time/],
      [['export', '--bogus'], /Unknown option '--bogus'/],
      [['import'], /import takes exactly one FILE/],
    ] as const) {
      const r = await runCli({ LLMTAP_DB_PATH: db }, [...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.output).toMatch(message);
      expect(r.output).not.toContain('    at ');
    }
  });

  it('--help for each command', async () => {
    const ex = await runCli({}, ['export', '--help']);
    expect(ex.code).toBe(0);
    expect(ex.output).toContain('usage: llmtap export [--since ISO] [--until ISO] [--out FILE]');
    const im = await runCli({}, ['import', '--help']);
    expect(im.code).toBe(0);
    expect(im.output).toContain('usage: llmtap import FILE');
    const top = await runCli({}, ['--help']);
    expect(top.output).toContain('llmtap export');
  });
});
