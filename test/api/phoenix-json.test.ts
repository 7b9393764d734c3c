// The Phoenix span JSON codec: nesting rules, isoformat times, and reading Phoenix's own lines.
import { spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { flatten, nest } from '../../src/phoenix/attributes.js';
import { PhoenixFormatError } from '../../src/phoenix/format-error.js';
import { isoToNs, nsToIso } from '../../src/phoenix/isotime.js';
import { fromPhoenix, toPhoenix, toPhoenixLine } from '../../src/phoenix/span-json.js';
import { decodeLikePhoenix } from '../support/phoenix-decoder.js';
import { sampleSpan } from '../support/spans.js';

/** CPython, when the machine has it, to check the rounding against the real thing. */
const hasPython = spawnSync('python3', ['-c', 'import datetime']).status === 0;

describe('attributes: flat ⇄ nested (Phoenix unflatten rules)', () => {
  it('each dot opens a level; an all-digit segment followed by more is a list index', () => {
    expect(
      nest({
        'llm.input_messages.0.message.role': 'user',
        'llm.input_messages.0.message.content': 'hi',
        'llm.input_messages.1.message.contents.0.message_content.type': 'text',
        'llm.token_count.prompt': 10,
        'openinference.span.kind': 'LLM',
      }),
    ).toEqual({
      llm: {
        input_messages: [{ message: { role: 'user', content: 'hi' } }, { message: { contents: [{ message_content: { type: 'text' } }] } }],
        token_count: { prompt: 10 },
      },
      openinference: { span: { kind: 'LLM' } },
    });
  });

  it('compacts lists, keeps a trailing digit as a key, keeps value and children side by side, keeps plain arrays', () => {
    expect(nest({ 'a.5.x': 1, 'a.2.x': 2 })).toEqual({ a: [{ x: 2 }, { x: 1 }] });
    expect(nest({ 'b.0': 'zero', 'b.c': 1 })).toEqual({ b: { '0': 'zero', c: 1 } });
    expect(nest({ c: 1, 'c.d': 2 })).toEqual({ c: 1, 'c.d': 2 });
    expect(nest({ 'tag.tags': ['x', 'y'] })).toEqual({ tag: { tags: ['x', 'y'] } });
    expect(nest({ 'e.01.f': 1, 'e.1.g': 2 })).toEqual({ e: [{ f: 1, g: 2 }] }); // leading zeros normalised
  });

  it('parses metadata (and the other JSON-string keys Phoenix parses); flatten turns them back into the same strings', () => {
    const flat = { metadata: '{"team":"search","n":[1,2]}', 'llm.prompt_template.variables': '{"city":"Paris"}', 'llm.invocation_parameters': '{"model":"x"}' };
    const nested = nest(flat);
    expect(nested).toEqual({
      metadata: { team: 'search', n: [1, 2] },
      llm: { prompt_template: { variables: { city: 'Paris' } }, invocation_parameters: '{"model":"x"}' },
    });
    expect(flatten(nested)).toEqual(flat);
    expect(nest({ metadata: 'not json' })).toEqual({ metadata: 'not json' });
  });

  it('flatten reads the 2023 flat form (lists of flat dicts) too', () => {
    expect(flatten({ 'llm.input_messages': [{ 'message.role': 'user', 'message.content': 'hi' }], 'input.mime_type': 'application/json' })).toEqual({
      'llm.input_messages.0.message.role': 'user',
      'llm.input_messages.0.message.content': 'hi',
      'input.mime_type': 'application/json',
    });
  });
});

describe('times as Python isoformat', () => {
  it('writes UTC with +00:00, microseconds only when non-zero', () => {
    expect(nsToIso(1_704_842_717_000_001_000n)).toBe('2024-01-09T23:25:17.000001+00:00');
    expect(nsToIso(1_704_842_717_000_000_000n)).toBe('2024-01-09T23:25:17+00:00');
  });

  // Each expected value is what Phoenix's decoder, datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
  // in CPython, gives for the same nanoseconds.
  it('rounds nanoseconds to the microsecond as Phoenix’s OTLP decoder does', () => {
    expect(nsToIso(1_704_842_717_982_858_123n)).toBe('2024-01-09T23:25:17.982858+00:00');
    expect(nsToIso(1_704_842_717_982_858_700n)).toBe('2024-01-09T23:25:17.982859+00:00'); // up, not truncated
    expect(nsToIso(1_704_842_717_000_000_999n)).toBe('2024-01-09T23:25:17.000001+00:00');
    expect(nsToIso(1_704_842_717_000_000_400n)).toBe('2024-01-09T23:25:17+00:00');
    expect(nsToIso(1_704_842_717_999_999_600n)).toBe('2024-01-09T23:25:18+00:00'); // into the next second
    // Within a quarter microsecond of a half, the double Phoenix computes in decides, not exact rounding.
    expect(nsToIso(1_704_842_717_999_999_400n)).toBe('2024-01-09T23:25:18+00:00');
    expect(nsToIso(1_780_106_012_127_733_550n)).toBe('2026-05-30T01:53:32.127733+00:00');
    expect(nsToIso(1_708_880_977_787_844_480n)).toBe('2024-02-25T17:09:37.787845+00:00');
  });

  it('a time of whole microseconds (an imported one) is written back unchanged, from 2000 to 2100', () => {
    let micros = 946_684_800_000_000n; // 2000-01-01
    const step = 2_629_800_000_001n; // a month, plus a microsecond so that every digit varies
    for (let i = 0; i < 1200; i++, micros += step) {
      const iso = nsToIso(micros * 1000n);
      expect(isoToNs(iso), iso).toBe(micros * 1000n);
    }
  });

  it.runIf(hasPython)('matches CPython’s datetime.fromtimestamp(ns / 1e9) on 20,000 times near half microseconds', async () => {
    const times = Array.from({ length: 20_000 }, (_, i) => 1_700_000_000_000_000_000n + BigInt(i) * 7_919_233_017n + 380n + BigInt((i * 37) % 240));
    const script = 'import sys, datetime\nfor l in sys.stdin: print(datetime.datetime.fromtimestamp(int(l) / 1e9, tz=datetime.timezone.utc).isoformat())';
    const python = spawnSync('python3', ['-c', script], { input: times.join('\n'), encoding: 'utf8' });
    expect(python.stdout.trim().split('\n')).toEqual(times.map(nsToIso));
  });

  it('reads isoformat, Z, other offsets, naive times (as UTC), dates; refuses the rest', () => {
    expect(isoToNs('2024-01-09T23:25:17.982858+00:00')).toBe(1_704_842_717_982_858_000n);
    expect(isoToNs('2024-01-09T23:25:17Z')).toBe(1_704_842_717_000_000_000n);
    expect(isoToNs('2024-01-10T01:25:17.5+02:00')).toBe(1_704_842_717_500_000_000n);
    expect(isoToNs('2024-01-09T23:25:17.123456789')).toBe(1_704_842_717_123_456_789n);
    expect(isoToNs('2024-01-09')).toBe(1_704_758_400_000_000_000n);
    for (const bad of ['', 'yesterday', '2024-13-01', '2024-02-30T00:00:00Z', '2024-01-09T25:00:00Z', '1704842717', '2024-01-09T23:25:17+25:00'])
      expect(isoToNs(bad), bad).toBeUndefined();
  });
});

describe('span ⇄ Phoenix span JSON', () => {
  it('writes the 11 keys in order, hex ids, nested attributes, events with their own times, conversation null', () => {
    const span = sampleSpan({
      parentSpanId: '00f067aa0ba902b7',
      attributes: { 'openinference.span.kind': 'LLM', 'llm.token_count.total': 12, metadata: '{"a":1}' },
    });
    const line = toPhoenixLine(span);
    const decoded = decodeLikePhoenix(line);
    expect(decoded).toEqual({
      name: 'OpenAI Chat Completions',
      context: { trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' },
      span_kind: 'LLM',
      parent_id: '00f067aa0ba902b7',
      start_time: '2023-11-14T22:13:20.123457+00:00', // …20.123456789: rounded, as Phoenix does
      end_time: '2023-11-14T22:13:21.987654+00:00',
      status_code: 'OK',
      status_message: '',
      attributes: { openinference: { span: { kind: 'LLM' } }, llm: { token_count: { total: 12 } }, metadata: { a: 1 } },
      events: [{ name: 'First Token Stream Event', attributes: {}, timestamp: '2023-11-14T22:13:20.523457+00:00' }],
      conversation: null,
    });
  });

  it('reads back what it writes, times to the microsecond', () => {
    const span = sampleSpan({
      statusCode: 'ERROR',
      statusMessage: 'RateLimitError: slow down',
      events: [
        {
          name: 'exception',
          timeNs: 1_700_000_001_987_654_321n,
          attributes: { 'exception.type': 'RateLimitError', 'exception.message': 'slow down', 'exception.escaped': true },
        },
      ],
    });
    const back = fromPhoenix(JSON.parse(toPhoenixLine(span)), 'default');
    expect(back).toEqual({
      ...span,
      startNs: 1_700_000_000_123_457_000n,
      endNs: 1_700_000_001_987_654_000n,
      events: span.events.map((e) => ({ ...e, timeNs: 1_700_000_001_987_654_000n })),
    });
    expect(toPhoenixLine(back)).toBe(toPhoenixLine(span));
  });

  it("reads Phoenix's own lines (Python json.dumps spacing, nested attributes, lower-case status)", () => {
    const line =
      '{"name": "ChatCompletion", "context": {"trace_id": "6b0f9cd4c1cb1ef7d0e0d3f5a2f0e6e1", "span_id": "5f1a9e2c3d4b6a70"}, "span_kind": "LLM", "parent_id": null, ' +
      '"start_time": "2024-01-11T23:45:17.982858+00:00", "end_time": "2024-01-11T23:45:19+00:00", "status_code": "ok", "status_message": "", ' +
      '"attributes": {"llm": {"input_messages": [{"message": {"role": "user", "content": "hi"}}], "model_name": "gpt-4", "token_count": {"prompt": 10}}, ' +
      '"input": {"value": "{}", "mime_type": "application/json"}, "openinference": {"span": {"kind": "LLM"}}, "metadata": {"a": 1}}, "events": [], "conversation": null}';
    const span = fromPhoenix(JSON.parse(line), 'imported');
    expect(span).toMatchObject({
      traceId: '6b0f9cd4c1cb1ef7d0e0d3f5a2f0e6e1',
      spanId: '5f1a9e2c3d4b6a70',
      kind: 'LLM',
      statusCode: 'OK',
      startNs: 1_705_016_717_982_858_000n,
      endNs: 1_705_016_719_000_000_000n,
      project: 'imported',
      attributes: {
        'llm.input_messages.0.message.role': 'user',
        'llm.input_messages.0.message.content': 'hi',
        'llm.model_name': 'gpt-4',
        'llm.token_count.prompt': 10,
        'input.value': '{}',
        'input.mime_type': 'application/json',
        'openinference.span.kind': 'LLM',
        metadata: '{"a":1}',
      },
    });
    expect(span.parentSpanId).toBeUndefined();
  });

  it('reads the 2023 form: UUID ids, naive times, flat attributes, events as a JSON string, unknown kinds', () => {
    const line = JSON.stringify({
      name: 'openai.ChatCompletion.create',
      context: { trace_id: 'EF4A1F37-8C33-4A8E-BB4A-2F9F44B0D1C5', span_id: '0c8e6b2d-9f3a-4b1e-8d7c-6a5b4c3d2e1f' },
      span_kind: 'llm',
      parent_id: '1c8e6b2d-9f3a-4b1e-8d7c-6a5b4c3d2e1f',
      start_time: '2023-09-26T14:36:07.123456',
      end_time: '2023-09-26T14:36:08.654321',
      status_code: 'ERROR',
      status_message: '',
      attributes: { 'llm.input_messages': [{ 'message.role': 'user', 'message.content': 'hi' }], 'input.mime_type': 'application/json' },
      events: JSON.stringify([{ name: 'exception', attributes: { 'exception.message': 'boom' }, timestamp: '2023-09-26T14:36:08.654321' }]),
      conversation: { conversation_id: '2b3c' },
    });
    const span = fromPhoenix(JSON.parse(line), 'default');
    expect(span).toMatchObject({
      traceId: 'ef4a1f378c334a8ebb4a2f9f44b0d1c5',
      spanId: '0c8e6b2d9f3a4b1e8d7c6a5b4c3d2e1f',
      parentSpanId: '1c8e6b2d9f3a4b1e8d7c6a5b4c3d2e1f',
      kind: 'LLM',
      startNs: 1_695_738_967_123_456_000n,
      attributes: { 'llm.input_messages.0.message.role': 'user', 'llm.input_messages.0.message.content': 'hi', 'input.mime_type': 'application/json' },
      events: [{ name: 'exception', timeNs: 1_695_738_968_654_321_000n, attributes: { 'exception.message': 'boom' } }],
    });
    expect(fromPhoenix({ ...JSON.parse(line), span_kind: 'workflow' }, 'default').kind).toBe('UNKNOWN');
  });

  it('says what is wrong with a line that is not a span', () => {
    const good = toPhoenix(sampleSpan()) as unknown as Record<string, unknown>;
    const cases: [unknown, RegExp][] = [
      [[1, 2], /not a JSON object/],
      [{ ...good, extra: 1 }, /unexpected key: extra/],
      [{ name: 'x' }, /missing keys: context, span_kind/],
      [{ ...good, context: { trace_id: 'xyz', span_id: 'b7ad6b7169203331' } }, /context.trace_id is not a hex id of 32 digits/],
      [{ ...good, start_time: 'noon' }, /start_time is not an ISO-8601 time/],
      [{ ...good, status_code: 'FINE' }, /status_code is not OK, ERROR or UNSET/],
      [{ ...good, events: {} }, /events is not a list/],
      [{ ...good, events: [{ name: 'e', timestamp: 'never' }] }, /events\[0\].timestamp is not an ISO-8601 time/],
      [{ ...good, attributes: 'x' }, /attributes is not an object/],
      [{ ...good, end_time: '2000-01-01T00:00:00+00:00' }, /end_time is before start_time/],
    ];
    for (const [value, reason] of cases) expect(() => fromPhoenix(value, 'default')).toThrow(reason);
    expect(() => fromPhoenix([], 'default')).toThrow(PhoenixFormatError);
  });
});
