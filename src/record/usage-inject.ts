// Server thread. LLMTAP_STREAM_USAGE: a Chat Completions or legacy Completions stream the client asked for
// without usage is requested upstream with `stream_options.include_usage`, so its span gets the upstream's
// exact token counts, and the client still receives exactly the bytes it would have received without it:
// the usage-only event is dropped whole, and the `"usage":null` member the option adds to every other
// event is cut where it stands in the form OpenAI serializes it. An event that cannot be edited exactly
// passes through as it came; nothing is ever re-serialized. In `auto` mode an upstream that refuses the
// option gets the client's own request instead (forward.ts holds that answer back), and is not asked again
// for that model.
import { isObject } from '../json.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ResponseFilter } from '../proxy/exchange.js';
import { rawHeader } from '../proxy/headers.js';
import { decompressSmall } from './decode.js';

export type StreamUsageMode = 'auto' | 'inject' | 'off';

// ---- the request --------------------------------------------------------------------------------

const STREAM_KEY = Buffer.from('"stream"');
const INCLUDE_USAGE_KEY = Buffer.from('"include_usage"');
const OPTIONS_KEY = Buffer.from('"stream_options"');
const ADD_OPTIONS = Buffer.from('"stream_options":{"include_usage":true},');
const ADD_USAGE = Buffer.from('"include_usage":true');
const COMMA = Buffer.from(',');

const isSpace = (byte: number | undefined): boolean => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;

function skipSpaces(buf: Buffer, at: number): number {
  while (isSpace(buf[at])) at++;
  return at;
}

/** Where the body of the one `"stream_options": {` object starts (just past its brace), or -1 unless there is exactly one. */
function optionsObject(body: Buffer): number {
  let found = -1;
  for (let at = body.indexOf(OPTIONS_KEY); at >= 0; at = body.indexOf(OPTIONS_KEY, at + 1)) {
    const colon = skipSpaces(body, at + OPTIONS_KEY.length);
    if (body[colon] !== 0x3a) continue; // a string value, not a key
    const brace = skipSpaces(body, colon + 1);
    if (found >= 0 || body[brace] !== 0x7b) return -1;
    found = brace + 1;
  }
  return found;
}

/**
 * The body to send upstream when a stream did not ask for usage — the client's bytes with the option
 * inserted — and the model it names; undefined when it needs no change or cannot be changed exactly
 * (a request that has an `include_usage` member anywhere is left as the client wrote it).
 */
export function requestUsage(body: Buffer): { body: Buffer; model: string } | undefined {
  // Only a stream that does not mention include_usage is parsed: most requests are neither.
  if (!body.includes(STREAM_KEY) || body.includes(INCLUDE_USAGE_KEY)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || parsed.stream !== true) return undefined;
  const model = typeof parsed.model === 'string' ? parsed.model : '';
  const options = parsed.stream_options;
  if (options === undefined) {
    const brace = skipSpaces(body, 0);
    // Right after the opening brace: the object has other members (`stream`), hence the comma.
    return { body: Buffer.concat([body.subarray(0, brace + 1), ADD_OPTIONS, body.subarray(brace + 1)]), model };
  }
  if (!isObject(options)) return undefined;
  const at = optionsObject(body);
  if (at < 0) return undefined; // the key also appears nested somewhere: no exact place to edit
  const parts = [body.subarray(0, at), ADD_USAGE, body.subarray(at)];
  if (Object.keys(options).length > 0) parts.splice(2, 0, COMMA);
  return { body: Buffer.concat(parts), model };
}

// ---- an upstream that refuses the option ----------------------------------------------------------

/** Bytes of an error answer read to judge it (OpenAI's are a few hundred). */
export const REFUSAL_MAX_BYTES = 64 * 1024;
const NAMES_OPTION = /stream_options|include_usage/i;

/** Whether an answer to an injected request says the upstream does not take the option: a 4xx naming it. */
export function refusesUsage(status: number, rawHeaders: readonly string[], body: Buffer): boolean {
  if (status < 400 || status >= 500) return false;
  const plain = decompressSmall(body, rawHeader(rawHeaders, 'content-encoding'), REFUSAL_MAX_BYTES) ?? body;
  return NAMES_OPTION.test(plain.toString('utf8'));
}

/** Models not asked again; the oldest is forgotten past this many (model names come from clients). */
const REMEMBERED = 1000;

/** The mode, and the models whose upstream refused the option. */
export class StreamUsage {
  readonly #refused = new Set<string>();

  constructor(
    readonly mode: StreamUsageMode,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Whether to add the option for this model (`model`: the request's, or an Azure deployment). */
  injects(model: string): boolean {
    return this.mode === 'inject' || (this.mode === 'auto' && !this.#refused.has(model));
  }

  /** The upstream refused the option for this model: logged and counted once, not asked again. */
  refused(model: string): void {
    if (this.#refused.has(model)) return;
    if (this.#refused.size >= REMEMBERED) this.#refused.delete(this.#refused.values().next().value!);
    this.#refused.add(model);
    this.metrics.streamUsageRefused.inc();
    this.log.warn({ model }, 'the upstream refused stream_options.include_usage: this model is no longer asked for it (its stream spans get estimated counts)');
  }
}

// ---- the response ---------------------------------------------------------------------------------

const LF2 = Buffer.from('\n\n');
const CRLF2 = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const USAGE_KEY = '"usage":';
const NULL_USAGE = '"usage":null';
const USAGE_OBJECT = '"usage":{';

/** An event longer than this (never seen in a chat stream) passes through as it comes, unheld. */
const MAX_EVENT_BYTES = 1024 * 1024;

// Flat members of a compact JSON object: strings without escapes, numbers, literals. Members on one side
// of `"usage":null` that are all flat prove it a member of the top-level object.
const SCALAR = '(?:"[^"\\\\]*"|-?[0-9][0-9.eE+-]*|null|true|false)';
const MEMBER = `"[^"\\\\]*":${SCALAR}`;
const FLAT_HEAD = new RegExp(`^\\{${MEMBER}(?:,${MEMBER})*$`);
const FLAT_TAIL = new RegExp(`^(?:,${MEMBER})*\\}$`);

/** End of the last complete event in `buf` (just past its blank line), or 0. */
function lastBoundary(buf: Buffer): number {
  const n = buf.length;
  // Most chunks end with an event: no search.
  if (buf[n - 1] === 0x0a && (buf[n - 2] === 0x0a || (buf[n - 2] === 0x0d && buf[n - 3] === 0x0a && buf[n - 4] === 0x0d))) return n;
  const lf = buf.lastIndexOf(LF2);
  const crlf = buf.lastIndexOf(CRLF2);
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

/** Just past the first blank line at or after `from` in `text`, or -1 (`crlf` false: it has no CRLF blank line). */
function nextBoundary(text: string, from: number, crlf: boolean): number {
  const lf = text.indexOf('\n\n', from);
  const cr = crlf ? text.indexOf('\r\n\r\n', from) : -1;
  if (lf < 0) return cr < 0 ? -1 : cr + 4;
  return cr < 0 || lf + 2 < cr + 4 ? lf + 2 : cr + 4;
}

/** The JSON of an event that is one `data:` line, as [start, end) of `text`; undefined otherwise. */
function singleData(text: string, start: number, end: number): [number, number] | undefined {
  if (!text.startsWith('data:', start)) return undefined;
  const from = text.charCodeAt(start + 5) === 0x20 ? start + 6 : start + 5;
  const to = end - (text.charCodeAt(end - 2) === 0x0d ? 4 : 2);
  const lf = text.indexOf('\n', from);
  const cr = text.indexOf('\r', from);
  if ((lf >= 0 && lf < to) || (cr >= 0 && cr < to)) return undefined;
  return [from, to];
}

/**
 * The bytes of one event that the option added, as [start, end) of `text`: the whole event when it is
 * the usage-only one (`"choices":[]` and a usage object), its `,"usage":null` member when that is provably
 * the top-level member, else undefined (the event stays as it came). `usage`: where its one `"usage":` is.
 * Proof of the member: the event is one `data:` line holding a compact object, with only flat members
 * before `"usage":null` (as in OpenAI's tool-call chunks) or after it (`…}],"usage":null,"obfuscation":"…"}`,
 * and legacy completions' `…,"usage":null}`).
 */
function added(text: string, events: Buffer, start: number, end: number, usage: number): [number, number] | undefined {
  const data = singleData(text, start, end);
  if (!data || text.charCodeAt(data[0]) !== 0x7b || usage < data[0]) return undefined;
  if (text.startsWith(USAGE_OBJECT, usage)) {
    try {
      const chunk: unknown = JSON.parse(events.toString('utf8', data[0], data[1]));
      return isObject(chunk) && Array.isArray(chunk.choices) && chunk.choices.length === 0 && isObject(chunk.usage) ? [start, end] : undefined;
    } catch {
      return undefined;
    }
  }
  if (!text.startsWith(NULL_USAGE, usage) || text.charCodeAt(usage - 1) !== 0x2c) return undefined;
  const after = usage + NULL_USAGE.length;
  return FLAT_TAIL.test(text.slice(after, data[1])) || FLAT_HEAD.test(text.slice(data[0], usage - 1)) ? [usage - 1, after] : undefined;
}

/** Gives the client an injected stream as the upstream would have sent it without the option. */
export class UsageChunkFilter implements ResponseFilter {
  /** An incomplete event, copied (a view would pin the socket's larger buffer). */
  #pending: Buffer = EMPTY;
  /** Inside an event longer than MAX_EVENT_BYTES: its bytes pass as they come, up to its end. */
  #passing = false;

  chunk(chunk: Buffer): Buffer {
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    const out: Buffer[] = [];
    if (this.#passing) {
      const lf = data.indexOf(LF2);
      const crlf = data.indexOf(CRLF2);
      const end = Math.min(lf < 0 ? Infinity : lf + 2, crlf < 0 ? Infinity : crlf + 4);
      if (end === Infinity) return data;
      out.push(data.subarray(0, end));
      data = data.subarray(end);
      this.#passing = false;
    }
    const complete = lastBoundary(data);
    this.#pending = EMPTY;
    if (data.length - complete > MAX_EVENT_BYTES) this.#passing = true;
    else if (complete < data.length) this.#pending = Buffer.from(data.subarray(complete));
    edit(data.subarray(0, complete), out);
    if (this.#passing) out.push(data.subarray(complete));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** Whatever the upstream sent after its last complete event. */
  end(): Buffer {
    return this.#pending;
  }
}

/**
 * Appends the complete events of `events` to `out`, each as the client would have received it. They are
 * searched as one latin1 string (a byte per character, so positions are byte offsets) and cut only where
 * the option added something.
 */
function edit(events: Buffer, out: Buffer[]): void {
  const text = events.toString('latin1');
  let usage = text.indexOf(USAGE_KEY);
  if (usage < 0) {
    out.push(events);
    return;
  }
  const crlf = text.includes('\r\n\r\n');
  let kept = 0;
  let start = 0;
  while (usage >= 0) {
    // The event holding `usage`: the events before it are passed over, forward.
    let end: number;
    while ((end = nextBoundary(text, start, crlf)) >= 0 && end <= usage) start = end;
    if (end < 0) end = text.length;
    let other = text.indexOf(USAGE_KEY, usage + USAGE_KEY.length);
    // `"usage"` only once in the event, or it is left alone.
    const cut = other < 0 || other >= end ? added(text, events, start, end, usage) : undefined;
    if (cut) {
      out.push(events.subarray(kept, cut[0]));
      kept = cut[1];
    }
    while (other >= 0 && other < end) other = text.indexOf(USAGE_KEY, other + USAGE_KEY.length);
    usage = other;
    start = end;
  }
  out.push(events.subarray(kept));
}
