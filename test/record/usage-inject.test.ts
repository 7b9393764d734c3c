// Usage injection, as pure logic: the request edit, the refusal test, and the filter that gives the client
// the bytes it would have received without the option, however the events are cut into chunks.
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { refusesUsage, requestUsage, UsageChunkFilter } from '../../src/record/usage-inject.js';

describe('requestUsage', () => {
  const edit = (body: string) => requestUsage(Buffer.from(body));

  it('adds the option right after the opening brace, every other byte as the client sent it', () => {
    const body = ' {"model":"gpt-4o-mini","seed":12345678901234567890,"temperature":1.0,"stream":true,"messages":[]}';
    const r = edit(body)!;
    expect(r.body.toString()).toBe(
      ' {"stream_options":{"include_usage":true},"model":"gpt-4o-mini","seed":12345678901234567890,"temperature":1.0,"stream":true,"messages":[]}',
    );
    expect(r.model).toBe('gpt-4o-mini');
  });

  it('adds include_usage inside the stream_options the client sent', () => {
    expect(edit('{"stream":true,"stream_options" : { "include_obfuscation":false}}')!.body.toString()).toBe(
      '{"stream":true,"stream_options" : {"include_usage":true, "include_obfuscation":false}}',
    );
    expect(edit('{"stream":true,"stream_options":{}}')!.body.toString()).toBe('{"stream":true,"stream_options":{"include_usage":true}}');
  });

  it('leaves alone what needs no change or cannot be changed exactly', () => {
    for (const body of [
      '{"model":"gpt-4o-mini","messages":[]}', // not a stream
      '{"stream":false}',
      '{"stream":true,"stream_options":{"include_usage":true}}', // asked already
      '{"stream":true,"stream_options":{"include_usage":false}}', // the client's explicit choice
      '{"stream":true,"tools":[{"parameters":{"properties":{"include_usage":{}}}}]}', // mentioned: not looked into
      '{"stream":true,"stream_options":null}',
      '{"stream":true,"stream_options":{},"tools":[{"parameters":{"properties":{"stream_options":{}}}}]}', // which one?
      '{"stream":true', // not JSON
      '[{"stream":true}]',
    ]) {
      expect(edit(body), body).toBeUndefined();
    }
  });
});

describe('refusesUsage', () => {
  const error = JSON.stringify({
    error: { message: 'Unrecognized request argument supplied: stream_options', type: 'invalid_request_error', param: null, code: null },
  });

  it('is a 4xx whose error names the option, compressed or not', () => {
    expect(refusesUsage(400, [], Buffer.from(error))).toBe(true);
    expect(refusesUsage(422, ['Content-Encoding', 'gzip'], gzipSync(error))).toBe(true);
    expect(refusesUsage(400, [], Buffer.from('{"error":{"message":"Unknown field include_usage"}}'))).toBe(true);
  });

  it('is not any other error', () => {
    expect(refusesUsage(400, [], Buffer.from('{"error":{"message":"messages is required"}}'))).toBe(false);
    expect(refusesUsage(500, [], Buffer.from(error))).toBe(false);
    expect(refusesUsage(200, [], Buffer.from(error))).toBe(false);
  });
});

// ---- the filter ---------------------------------------------------------------------------------

// Chunks as OpenAI serializes them (envoyproxy/ai-gateway's recorded cassettes, gpt-5-nano, 2025-08-14):
// compact JSON, `usage` after `choices` with `obfuscation` last, and, in some tool-call chunks, before
// `choices`. Each event exists with the option (`"usage":null`) and without (no usage member at all).
const HEAD =
  '"id":"chatcmpl-C4Hq5a6K3RaPMymUv70btQNYv6SvY","object":"chat.completion.chunk","created":1755137921,"model":"gpt-5-nano-2025-08-07","service_tier":"default","system_fingerprint":null';

interface Pair {
  withOption: string;
  without: string;
}

const after = (choices: string, obfuscation?: string): Pair => {
  const tail = obfuscation === undefined ? '}' : `,"obfuscation":"${obfuscation}"}`;
  return { withOption: `{${HEAD},"choices":${choices},"usage":null${tail}`, without: `{${HEAD},"choices":${choices}${tail}` };
};
const before = (choices: string, obfuscation: string): Pair => ({
  withOption: `{${HEAD},"usage":null,"choices":${choices},"obfuscation":"${obfuscation}"}`,
  without: `{${HEAD},"choices":${choices},"obfuscation":"${obfuscation}"}`,
});
const untouched = (json: string): Pair => ({ withOption: json, without: json });

const CHAT: Pair[] = [
  after('[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}]', 'WuQNX'),
  after('[{"index":0,"delta":{"content":"Héllo 👋, \\"usage\\":null"},"finish_reason":null}]', 'UC'),
  before(
    '[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]',
    'a1',
  ),
  before('[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":\\"Paris\\"}"}}]},"finish_reason":null}]', 'Zq9'),
  after('[{"index":0,"delta":{},"finish_reason":"tool_calls"}]'),
];
const USAGE_ONLY = `{${HEAD},"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":100,"total_tokens":112,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":100,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":"t9"}`;

// Legacy completions (babbage-002, 2025-09-29): `usage` last, and the usage chunk orders its keys differently.
const LEGACY_HEAD = '"id":"cmpl-CKzHhit4D82m3cp2zRTC2fpTNlJCX","object":"text_completion","created":1759118173';
const LEGACY: Pair[] = [' +', ' 2', ''].map((text) => ({
  withOption: `{${LEGACY_HEAD},"choices":[{"text":"${text}","index":0,"logprobs":null,"finish_reason":null}],"model":"babbage:2023-07-21-v2","usage":null}`,
  without: `{${LEGACY_HEAD},"choices":[{"text":"${text}","index":0,"logprobs":null,"finish_reason":null}],"model":"babbage:2023-07-21-v2"}`,
}));
const LEGACY_USAGE = `{${LEGACY_HEAD},"model":"babbage:2023-07-21-v2","usage":{"prompt_tokens":31,"completion_tokens":25,"total_tokens":56},"choices":[]}`;

/** The stream as the upstream sends it with the option, and as it would without. */
function streams(pairs: Pair[], usage: string, eol = '\n'): { upstream: string; client: string } {
  const event = (json: string): string => `data: ${json}${eol}${eol}`;
  const done = event('[DONE]');
  return {
    upstream: pairs.map((p) => event(p.withOption)).join('') + event(usage) + done,
    client: pairs.map((p) => event(p.without)).join('') + done,
  };
}

/** What the client receives when the upstream's bytes arrive in these chunks. */
function filtered(chunks: Buffer[]): Buffer {
  const filter = new UsageChunkFilter();
  const out = chunks.map((c) => filter.chunk(c));
  out.push(filter.end());
  return Buffer.concat(out);
}

const cutAt = (bytes: Buffer, ...at: number[]): Buffer[] =>
  [0, ...at, bytes.length].slice(1).map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1], end));

describe('UsageChunkFilter', () => {
  const cases = {
    'chat, LF': streams(CHAT, USAGE_ONLY),
    'chat, CRLF': streams(CHAT, USAGE_ONLY, '\r\n'),
    'legacy completions': streams(LEGACY, LEGACY_USAGE),
  };

  for (const [name, { upstream, client }] of Object.entries(cases)) {
    it(`${name}: the client gets the stream without the option, in one chunk or two cut at any byte`, () => {
      const bytes = Buffer.from(upstream);
      const expected = Buffer.from(client);
      expect(filtered([bytes]).toString()).toBe(client);
      for (let at = 0; at <= bytes.length; at++) {
        expect(filtered(cutAt(bytes, at)).equals(expected), `cut at ${at}`).toBe(true);
      }
    });

    it(`${name}: one byte at a time`, () => {
      const bytes = Buffer.from(upstream);
      const ones = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
      expect(filtered(ones).toString()).toBe(client);
    });
  }

  it('the usage event cut in three, with other events around the cuts', () => {
    const { upstream, client } = streams(CHAT, USAGE_ONLY);
    const bytes = Buffer.from(upstream);
    const start = upstream.indexOf(`data: ${USAGE_ONLY}`);
    expect(filtered(cutAt(bytes, start - 7, start + 40, start + 300)).toString()).toBe(client);
  });

  it('passes every event it cannot edit exactly through as it came', () => {
    const odd = [
      untouched(`{${HEAD},"choices":[],"usage": null}`), // not compact
      untouched(`{${HEAD},"choices":[{"index":0,"delta":{"usage":null}}]}`), // not the top-level member
      untouched(`{${HEAD},"choices":[{"index":0,"delta":{}}],"usage":null,"usage":null}`), // twice
      untouched(`{${HEAD},"choices":[{"index":0,"delta":{}}],"usage":null,"obfuscation":"a\\"b"}`), // an escape after it
      untouched(`{"usage":null,${HEAD},"choices":[]}`), // first member: no form OpenAI writes
      untouched(`{${HEAD},"choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null,"x":{"y":1}}`), // nested on both sides
      untouched('not json,"usage":null}'),
    ];
    const { upstream, client } = streams([...odd, ...CHAT], USAGE_ONLY);
    expect(filtered([Buffer.from(upstream)]).toString()).toBe(client);
    // An event of two data lines is left whole too.
    const twoLines = `data: {${HEAD},\ndata: "choices":[],"usage":null}\n\n`;
    expect(filtered([Buffer.from(twoLines)]).toString()).toBe(twoLines);
  });

  it('an event longer than a mebibyte passes through unheld and unchanged, and the events after it are edited again', () => {
    const long = `data: {${HEAD},"choices":[{"index":0,"delta":{"content":"${'x'.repeat(1_200_000)}"}}],"usage":null}\n\n`;
    const { upstream, client } = streams(CHAT, USAGE_ONLY);
    const bytes = Buffer.from(long + upstream);
    const filter = new UsageChunkFilter();
    const first = filter.chunk(bytes.subarray(0, 1_100_000));
    expect(first.length).toBe(1_100_000); // not held back
    const rest = filter.chunk(bytes.subarray(1_100_000));
    expect(Buffer.concat([first, rest, filter.end()]).toString()).toBe(long + client);
  });

  it('keeps what follows the last complete event for the end of the response', () => {
    const filter = new UsageChunkFilter();
    expect(filter.chunk(Buffer.from('data: {"a":1}\n\ndata: {"b"')).toString()).toBe('data: {"a":1}\n\n');
    expect(filter.end().toString()).toBe('data: {"b"');
  });
});
