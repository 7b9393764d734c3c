// Server thread. What a Realtime session's tap keeps for its spans: each text message with its direction
// and the time it was sent on, copied into blocks of the session's own (capture.ts), at most
// LLMTAP_CAPTURE_MAX_BYTES between two hand-overs and within the memory budget (memory-budget.ts). Audio never: the base64 payloads of audio events are
// left out, and only their decoded size is kept. They are found with a few native byte searches, without
// parsing JSON (the storage thread parses). What a session captured goes to the storage thread at the end
// of each tick, so an hour-long session never piles up here: its responses become spans as they finish.
import { type Hold, type MemoryBudget } from '../../memory-budget.js';
import type { SessionResult, SessionWatcher } from '../../proxy/session.js';
import { Capture, type Captured } from '../capture.js';
import type { RequestContext } from '../context.js';

/** Who the session is, sent with each of its parts: a storage thread that restarted meanwhile picks it up from any. */
export interface SessionStart {
  ctx: RequestContext;
  /** The path without its query, which may hold a key (Azure's browser clients put it there). */
  path: string;
  /** The query parameters the spans use. */
  query: { model?: string; deployment?: string; callId?: string };
  /** The Realtime API's endpoint, whose events are traced; else a light span (LLMTAP_RECORD_OTHER). */
  realtime: boolean;
}

export interface CapturedMessages extends Captured {
  /** Per message: 1 from the client, 0 from the upstream. */
  fromClient: number[];
  /** Per message: decoded bytes of the audio left out. */
  audio: number[];
  /** Messages that did not fit. */
  dropped: number;
}

/** What a session's tap hands over at the end of a tick: plain data, for the storage thread. */
export interface SessionPart {
  session: SessionStart;
  messages?: CapturedMessages;
  /** Bytes of the memory budget the messages hold; the storage thread gives them back once it read them. */
  heldBytes: number;
  end?: SessionResult;
}

/** A session with news: the sink takes it (once) when it next posts to the storage thread. */
export interface SessionFeed {
  take(): SessionPart;
}

export interface SessionSink {
  recordSession(feed: SessionFeed): void;
}

export class SessionRecording implements SessionWatcher, SessionFeed {
  #capture: Capture | undefined;
  #hold: Hold | undefined;
  #fromClient: number[] = [];
  #audio: number[] = [];
  #dropped = 0;
  #end: SessionResult | undefined;
  #queued = false;

  constructor(
    private readonly start: SessionStart,
    private readonly limit: number,
    private readonly budget: MemoryBudget,
    private readonly sink: SessionSink,
    /** Where a session llmtap refused itself goes instead (it is reported, not recorded). */
    private readonly rejected: (result: SessionResult) => void,
  ) {}

  message(fromClient: boolean, data: Buffer, isBinary: boolean, atNs: bigint): void {
    // The Realtime API speaks JSON text; binary messages, and other endpoints' messages, are only counted.
    if (isBinary || !this.start.realtime) return;
    const { parts, audio } = withoutAudio(data);
    this.#capture ??= new Capture(this.limit, (this.#hold = this.budget.hold()));
    if (this.#capture.addWhole(parts, atNs)) {
      this.#fromClient.push(fromClient ? 1 : 0);
      this.#audio.push(audio);
    } else this.#dropped++;
    this.#queue();
  }

  end(result: SessionResult): void {
    if (result.outcome === 'rejected') return this.rejected(result);
    this.#end = result;
    this.#queue();
  }

  take(): SessionPart {
    this.#queued = false;
    const part: SessionPart = { session: this.start, heldBytes: this.#hold?.detach() ?? 0 };
    this.#hold = undefined;
    if (this.#capture) {
      part.messages = { ...this.#capture.seal(), fromClient: this.#fromClient, audio: this.#audio, dropped: this.#dropped };
      this.#capture = undefined;
      this.#fromClient = [];
      this.#audio = [];
      this.#dropped = 0;
    }
    if (this.#end) part.end = this.#end;
    return part;
  }

  #queue(): void {
    if (this.#queued) return;
    this.#queued = true;
    this.sink.recordSession(this);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const AUDIO_KEY = Buffer.from('"audio"');
const DELTA_KEY = Buffer.from('"delta"');
const TYPE_KEY = Buffer.from('"type"');
/** Events whose `delta` is audio (GA and beta names, and GA's translation sessions). */
const AUDIO_DELTAS = new Set(['response.output_audio.delta', 'response.audio.delta', 'session.output_audio.delta']);

const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/** The [start, end) of the string value after a key that ends at `at` (`"key"` `:` `"…"`), if it is one. */
function stringValue(buf: Buffer, at: number): [number, number] | undefined {
  while (isSpace(buf[at])) at++;
  if (buf[at] !== COLON) return undefined;
  at++;
  while (isSpace(buf[at])) at++;
  if (buf[at] !== QUOTE) return undefined;
  const start = at + 1;
  for (let end = buf.indexOf(QUOTE, start); end >= 0; end = buf.indexOf(QUOTE, end + 1)) {
    let slashes = 0;
    while (buf[end - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return [start, end];
  }
  return undefined;
}

/** Bytes a base64 string of this extent decodes to. */
function decodedLength(buf: Buffer, [start, end]: [number, number]): number {
  const padding = (buf[end - 1] === 0x3d ? 1 : 0) + (buf[end - 2] === 0x3d ? 1 : 0);
  return Math.max(0, Math.floor(((end - start) * 3) / 4) - padding);
}

/**
 * A Realtime event without its audio: every string value of an `audio` key (appended input audio, audio
 * parts of items) and the `delta` of an audio delta event are left out, leaving `""`. Returns the pieces
 * that remain and the decoded size of what was left out. An escaped quote never ends a value, and a key
 * inside a string is escaped (`\"audio\"`), so it is never taken for one.
 */
export function withoutAudio(buf: Buffer): { parts: Buffer[]; audio: number } {
  const cuts: [number, number][] = [];
  for (let at = buf.indexOf(AUDIO_KEY); at >= 0;) {
    const value = stringValue(buf, at + AUDIO_KEY.length);
    if (value) cuts.push(value);
    at = buf.indexOf(AUDIO_KEY, value ? value[1] : at + 1);
  }
  const typeAt = buf.indexOf(TYPE_KEY);
  const type = typeAt >= 0 ? stringValue(buf, typeAt + TYPE_KEY.length) : undefined;
  if (type && type[1] - type[0] < 40 && AUDIO_DELTAS.has(buf.toString('latin1', type[0], type[1]))) {
    const deltaAt = buf.indexOf(DELTA_KEY);
    const delta = deltaAt >= 0 ? stringValue(buf, deltaAt + DELTA_KEY.length) : undefined;
    if (delta) cuts.push(delta);
  }
  if (cuts.length === 0) return { parts: [buf], audio: 0 };
  cuts.sort((a, b) => a[0] - b[0]);
  const parts: Buffer[] = [];
  let audio = 0;
  let from = 0;
  for (const cut of cuts) {
    parts.push(buf.subarray(from, cut[0]));
    audio += decodedLength(buf, cut);
    from = cut[1];
  }
  parts.push(buf.subarray(from));
  return { parts, audio };
}
