// Storage thread. Reads a Realtime session's events, both ways and in the order llmtap relayed them, into
// what its spans need: the session's settings, the conversation's items, each response from
// response.created to response.done (the input that led to it, its output, usage, first token, audio
// size) and each input transcription that reported usage. Beta and GA event names are both understood.
// Bounded: only recent items are kept, and text assembled from deltas stops at the capture limit. Audio
// never reaches this thread: only its size (capture.ts).
import { asArray, isObject, type Json } from '../../json.js';

export interface RealtimeError {
  atNs: bigint;
  type: string;
  code?: string;
  message: string;
}

export interface Audio {
  /** Decoded bytes… */
  bytes: number;
  /** …and how long they play, from the session's audio format. */
  ms: number;
}

/** A response, finished, or cut short by the end of the session. */
export interface FinishedResponse {
  kind: 'response';
  id: string;
  startNs: bigint;
  endNs: bigint;
  /** The first text, transcript, audio or function-call delta. */
  firstTokenNs?: bigint;
  /** What led to it, as a Responses API request: the model and settings in force, and its input items. */
  request: Json;
  /** The response object of response.done; when that never came, the last one seen with the output so far. */
  response: Json;
  done: boolean;
  /** `error` events while it ran that named no client event. */
  errors: RealtimeError[];
  /** How long the user's audio among its input items plays. */
  inputAudioMs: number;
  outputAudio: Audio;
  /** Some of its input or output was left out (bounds). */
  truncated: boolean;
}

/** The transcription of one input audio item, when the API reported its usage. */
export interface FinishedTranscription {
  kind: 'transcription';
  itemId: string;
  /** From the commit of the audio to the transcript. */
  startNs: bigint;
  endNs: bigint;
  model?: string;
  transcript: string;
  usage: Json;
  audioMs?: number;
}

export type Finished = FinishedResponse | FinishedTranscription;

const ITEMS_KEPT = 512;
const INPUT_KEPT = 64;
const CREATES_KEPT = 16;
const OPEN_KEPT = 64;
const ERRORS_KEPT = 100;
/** Responses held back for their input's transcript at most; past it the oldest is written without. */
const WAITING_KEPT = 16;
/** Fields of a session object that say which session it is, not how it behaves. */
const IDENTITY = new Set(['id', 'object', 'expires_at', 'client_secret']);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Bytes per second of an audio format: GA `{type, rate}` objects and beta names; 24 kHz 16-bit mono PCM by default. */
function bytesPerSecond(format: unknown): number {
  const type = isObject(format) ? format.type : format;
  if (type === 'audio/pcmu' || type === 'audio/pcma' || type === 'g711_ulaw' || type === 'g711_alaw') return 8000;
  const rate = isObject(format) && typeof format.rate === 'number' && format.rate > 0 ? format.rate : 24_000;
  return rate * 2;
}

const msOf = (bytes: number, format: unknown): number => Math.round((bytes * 1000) / bytesPerSecond(format));

/** `settings.audio.<way>` (GA) as an object, or {}. */
const audioSettings = (s: Json, way: 'input' | 'output'): Json => (isObject(s.audio) && isObject(s.audio[way]) ? s.audio[way] : {});

const inputFormat = (s: Json): unknown => audioSettings(s, 'input').format ?? s.input_audio_format;
const outputFormat = (s: Json): unknown => audioSettings(s, 'output').format ?? s.output_audio_format;
/** The input transcription settings (GA `audio.input.transcription`, beta `input_audio_transcription`), if on. */
const transcription = (s: Json): Json | undefined => {
  const t = audioSettings(s, 'input').transcription ?? s.input_audio_transcription;
  return isObject(t) ? t : undefined;
};

const awaitsTranscript = (item: Json): boolean => asArray(item.content).some((p) => isObject(p) && p.type === 'input_audio' && !p.transcript);

/** The content part at `index` of an item, made when its `added` event was missed. */
function partOf(item: Json, index: unknown, type: string): Json {
  if (!Array.isArray(item.content)) item.content = [];
  const parts = item.content as unknown[];
  const i = Number(index ?? 0);
  const existing = parts[i];
  return isObject(existing) ? existing : (parts[i] = { type });
}

interface Open {
  id: string;
  startNs: bigint;
  firstTokenNs?: bigint;
  /** The session's settings when it began… */
  settings: Json;
  /** …and the client's response.create parameters, when it asked for this response. */
  params: Json;
  /** Items added to the conversation before it began… */
  inputIds: string[];
  /** …or the input its response.create gave (an out-of-band response). */
  explicitInput?: unknown[];
  /** The latest response object (response.created, then response.done). */
  snapshot: Json;
  /** Output items by output_index, assembled from the events. */
  items: Map<number, Json>;
  errors: RealtimeError[];
  audioBytes: number;
  /** Characters appended from deltas (bounded by the capture limit). */
  chars: number;
  truncated: boolean;
  endNs?: bigint;
  done?: boolean;
}

export class Conversation {
  /** The Realtime API's own session id. */
  realtimeId: string | undefined;
  model: string | undefined;
  /** The session's settings as the upstream last stated them (session.created, session.updated), without its identity. */
  settings: Json = {};
  /** All the audio the client sent (decoded bytes). */
  inputAudioBytes = 0;
  /** All the audio of the responses written so far. */
  readonly outputAudio: Audio = { bytes: 0, ms: 0 };
  responses = 0;
  /** `error` events and failed transcriptions, all of them… */
  errorCount = 0;
  /** …and those that concern the session rather than a response (the first ERRORS_KEPT). */
  readonly errors: RealtimeError[] = [];

  readonly #items = new Map<string, Json>();
  readonly #itemAudioMs = new Map<string, number>();
  readonly #speechStart = new Map<string, number>();
  readonly #committedNs = new Map<string, bigint>();
  /** Items whose transcript is still to come. */
  readonly #awaiting = new Set<string>();
  /** Items a response produced: output, never input. */
  readonly #outputIds = new Set<string>();
  #input: string[] = [];
  #inputDropped = false;
  #pendingAudio = 0;
  readonly #creates: { eventId?: string; params: Json }[] = [];
  readonly #open = new Map<string, Open>();
  #waiting: Open[] = [];

  constructor(
    /** Characters of text a response may assemble from deltas (LLMTAP_CAPTURE_MAX_BYTES). */
    private readonly limit: number,
    private readonly emit: (finished: Finished) => void,
  ) {}

  /** How long all the audio the client sent plays. */
  inputAudioMs(): number {
    return msOf(this.inputAudioBytes, inputFormat(this.settings));
  }

  /** One event; `audio` is the decoded size of the audio the server thread left out of it. */
  event(e: Json, fromClient: boolean, atNs: bigint, audio: number): void {
    const type = str(e.type) ?? '';
    if (fromClient) return this.#clientEvent(type, e, audio);
    switch (type) {
      case 'session.created':
      case 'session.updated':
      case 'transcription_session.created':
      case 'transcription_session.updated':
        return this.#session(e.session);
      case 'input_audio_buffer.speech_started':
        if (str(e.item_id) && typeof e.audio_start_ms === 'number') this.#speechStart.set(e.item_id as string, e.audio_start_ms);
        return;
      case 'input_audio_buffer.speech_stopped': {
        const start = this.#speechStart.get(str(e.item_id) ?? '');
        if (start !== undefined && typeof e.audio_end_ms === 'number') this.#itemAudioMs.set(e.item_id as string, e.audio_end_ms - start);
        return;
      }
      case 'input_audio_buffer.committed': {
        const id = str(e.item_id);
        if (id) {
          this.#committedNs.set(id, atNs);
          if (!this.#itemAudioMs.has(id)) this.#itemAudioMs.set(id, msOf(this.#pendingAudio, inputFormat(this.settings)));
        }
        this.#pendingAudio = 0;
        return;
      }
      case 'input_audio_buffer.cleared':
        this.#pendingAudio = 0;
        return;
      case 'conversation.item.created':
      case 'conversation.item.added':
      case 'conversation.item.done':
      case 'conversation.item.retrieved':
        return this.#item(e.item);
      case 'conversation.item.input_audio_transcription.completed':
        return this.#transcribed(e, atNs);
      case 'conversation.item.input_audio_transcription.failed':
        this.#awaiting.delete(str(e.item_id) ?? '');
        this.#error(e.error, atNs, false);
        return this.#flush();
      case 'response.created':
        if (isObject(e.response) && str(e.response.id) && !this.#open.has(e.response.id as string)) this.#start(e.response, atNs, true);
        return;
      case 'response.done':
        return this.#done(e.response, atNs);
      case 'error':
        return this.#error(e.error, atNs, true);
      default:
        if (type.startsWith('response.')) this.#progress(type, e, atNs, audio);
    }
  }

  /** The session ended: responses still running are written as cut short, and those waiting for a transcript as they are. */
  end(atNs: bigint): void {
    for (const r of [...this.#open.values()]) this.#finish(r, atNs, false);
    this.#flush(true);
  }

  #clientEvent(type: string, e: Json, audio: number): void {
    this.inputAudioBytes += audio;
    if (type === 'input_audio_buffer.append') this.#pendingAudio += audio;
    else if (type === 'response.create') {
      this.#creates.push({ eventId: str(e.event_id), params: isObject(e.response) ? e.response : {} });
      if (this.#creates.length > CREATES_KEPT) this.#creates.shift();
    }
  }

  #session(s: unknown): void {
    if (!isObject(s)) return;
    this.realtimeId ??= str(s.id);
    this.model = str(s.model) ?? this.model;
    this.settings = Object.fromEntries(Object.entries(s).filter(([k]) => !IDENTITY.has(k)));
  }

  #item(raw: unknown): void {
    if (!isObject(raw) || !str(raw.id)) return;
    const id = raw.id as string;
    const known = this.#items.get(id);
    if (known) {
      // A later copy of an item (…done) must not lose the transcript an earlier event brought.
      asArray(raw.content).forEach((part, i) => {
        const before = asArray(known.content)[i];
        if (isObject(part) && isObject(before) && !part.transcript && before.transcript) part.transcript = before.transcript;
      });
      this.#items.set(id, raw);
      return;
    }
    this.#items.set(id, raw);
    if (!this.#outputIds.has(id)) {
      this.#input.push(id);
      if (this.#input.length > INPUT_KEPT) {
        this.#input.shift();
        this.#inputDropped = true;
      }
    }
    if (transcription(this.settings) && awaitsTranscript(raw)) this.#awaiting.add(id);
    if (this.#items.size > ITEMS_KEPT) this.#forget(this.#items.keys().next().value!);
  }

  #forget(id: string): void {
    this.#items.delete(id);
    this.#itemAudioMs.delete(id);
    this.#speechStart.delete(id);
    this.#committedNs.delete(id);
    this.#awaiting.delete(id);
  }

  #transcribed(e: Json, atNs: bigint): void {
    const id = str(e.item_id);
    if (!id) return;
    const transcript = str(e.transcript) ?? '';
    const item = this.#items.get(id);
    if (item) partOf(item, e.content_index, 'input_audio').transcript = transcript;
    this.#awaiting.delete(id);
    if (isObject(e.usage)) {
      const done: FinishedTranscription = {
        kind: 'transcription',
        itemId: id,
        startNs: this.#committedNs.get(id) ?? atNs,
        endNs: atNs,
        transcript,
        usage: e.usage,
      };
      const model = str(transcription(this.settings)?.model);
      if (model) done.model = model;
      const audioMs = this.#itemAudioMs.get(id);
      if (audioMs !== undefined) done.audioMs = audioMs;
      this.emit(done);
    }
    this.#flush();
  }

  /** A response begins; `created`: on its response.created (else an event about it came first). */
  #start(response: Json, atNs: bigint, created: boolean): Open {
    const id = response.id as string;
    // The client's response.create comes first; a response the server started itself (voice activity) has none.
    const params = (created && this.#creates.shift()?.params) || {};
    const open: Open = {
      id,
      startNs: atNs,
      settings: this.settings,
      params,
      inputIds: [],
      snapshot: response,
      items: new Map(),
      errors: [],
      audioBytes: 0,
      chars: 0,
      truncated: false,
    };
    if (Array.isArray(params.input)) open.explicitInput = params.input;
    else {
      open.inputIds = this.#input;
      open.truncated = this.#inputDropped;
      this.#input = [];
      this.#inputDropped = false;
    }
    this.#open.set(id, open);
    if (this.#open.size > OPEN_KEPT) this.#finish(this.#open.values().next().value!, atNs, false);
    return open;
  }

  #progress(type: string, e: Json, atNs: bigint, audio: number): void {
    const id = str(e.response_id);
    if (!id) return;
    const r = this.#open.get(id) ?? this.#start({ id }, atNs, false);
    const index = Number(e.output_index ?? 0);
    const item = (kind: string): Json => {
      let it = r.items.get(index);
      if (!it)
        r.items.set(
          index,
          (it = kind === 'function_call' ? { id: e.item_id, type: kind, call_id: e.call_id } : { id: e.item_id, type: kind, role: 'assistant' }),
        );
      return it;
    };
    switch (type) {
      case 'response.output_item.added':
      case 'response.output_item.done':
        if (!isObject(e.item)) return;
        r.items.set(index, e.item);
        if (str(e.item.id)) this.#output(e.item.id as string);
        return;
      case 'response.content_part.added':
      case 'response.content_part.done':
        if (isObject(e.part)) asArray((item('message').content ??= []))[Number(e.content_index ?? 0)] = e.part;
        return;
      case 'response.output_text.delta':
      case 'response.text.delta':
        return this.#append(r, atNs, partOf(item('message'), e.content_index, type === 'response.text.delta' ? 'text' : 'output_text'), 'text', e.delta);
      case 'response.output_text.done':
      case 'response.text.done':
        partOf(item('message'), e.content_index, type === 'response.text.done' ? 'text' : 'output_text').text = str(e.text) ?? '';
        return;
      case 'response.output_audio_transcript.delta':
      case 'response.audio_transcript.delta':
        return this.#append(
          r,
          atNs,
          partOf(item('message'), e.content_index, type.startsWith('response.audio') ? 'audio' : 'output_audio'),
          'transcript',
          e.delta,
        );
      case 'response.output_audio_transcript.done':
      case 'response.audio_transcript.done':
        partOf(item('message'), e.content_index, type.startsWith('response.audio') ? 'audio' : 'output_audio').transcript = str(e.transcript) ?? '';
        return;
      case 'response.output_audio.delta':
      case 'response.audio.delta':
        r.firstTokenNs ??= atNs;
        r.audioBytes += audio;
        return;
      case 'response.function_call_arguments.delta':
        return this.#append(r, atNs, item('function_call'), 'arguments', e.delta);
      case 'response.function_call_arguments.done': {
        const call = item('function_call');
        call.arguments = str(e.arguments) ?? call.arguments;
        call.name = str(e.name) ?? call.name;
        call.call_id = str(e.call_id) ?? call.call_id;
        return;
      }
    }
  }

  /** A delta: the first token of its response, appended while the response stays under the limit. */
  #append(r: Open, atNs: bigint, into: Json, field: string, delta: unknown): void {
    if (typeof delta !== 'string' || delta === '') return;
    r.firstTokenNs ??= atNs;
    if (r.chars + delta.length > this.limit) {
      r.truncated = true;
      return;
    }
    r.chars += delta.length;
    into[field] = (str(into[field]) ?? '') + delta;
  }

  #output(id: string): void {
    this.#outputIds.add(id);
    if (this.#outputIds.size > ITEMS_KEPT) this.#outputIds.delete(this.#outputIds.values().next().value!);
  }

  #done(response: unknown, atNs: bigint): void {
    if (!isObject(response) || !str(response.id)) return;
    const r = this.#open.get(response.id as string) ?? this.#start(response, atNs, false);
    r.snapshot = response;
    this.#finish(r, atNs, true);
  }

  #finish(r: Open, endNs: bigint, done: boolean): void {
    this.#open.delete(r.id);
    this.responses++;
    r.endNs = endNs;
    r.done = done;
    this.#waiting.push(r);
    this.#flush();
  }

  /** Writes the finished responses whose input has its transcripts (all of them, `all`). */
  #flush(all = false): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const r of waiting) {
      const blocked = !all && r.inputIds.some((id) => this.#awaiting.has(id));
      if (blocked && this.#waiting.length < WAITING_KEPT) this.#waiting.push(r);
      else this.emit(this.#finished(r));
    }
  }

  #finished(r: Open): FinishedResponse {
    const ids = r.inputIds.filter((id) => !this.#outputIds.has(id) && this.#items.has(id));
    const input = r.explicitInput
      ? r.explicitInput.map((it) => (isObject(it) && it.type === 'item_reference' && str(it.id) ? (this.#items.get(it.id as string) ?? it) : it))
      : ids.map((id) => this.#items.get(id)!);
    const request: Json = { ...r.settings, ...r.params, input };
    if (this.model) request.model = this.model;
    const assembled = [...r.items].sort((a, b) => a[0] - b[0]).map(([, item]) => item);
    // response.done lists the output; when it never came (or listed none), what the events assembled stands in.
    const response = Array.isArray(r.snapshot.output) && r.snapshot.output.length > 0 ? r.snapshot : { ...r.snapshot, output: assembled };
    const inputMs = ids.reduce((sum, id) => sum + (this.#itemAudioMs.get(id) ?? 0), 0);
    const outputAudio: Audio = { bytes: r.audioBytes, ms: msOf(r.audioBytes, outputFormat({ ...r.settings, ...r.params })) };
    this.outputAudio.bytes += outputAudio.bytes;
    this.outputAudio.ms += outputAudio.ms;
    const finished: FinishedResponse = {
      kind: 'response',
      id: r.id,
      startNs: r.startNs,
      endNs: r.endNs!,
      request,
      response,
      done: r.done!,
      errors: r.errors,
      inputAudioMs: inputMs,
      outputAudio,
      truncated: r.truncated,
    };
    if (r.firstTokenNs !== undefined) finished.firstTokenNs = r.firstTokenNs;
    return finished;
  }

  /** An `error` event (`response`: it may belong to the response running), or a failed transcription. */
  #error(raw: unknown, atNs: bigint, response: boolean): void {
    const err = isObject(raw) ? raw : {};
    const e: RealtimeError = { atNs, type: str(err.type) ?? 'error', message: str(err.message) ?? JSON.stringify(raw ?? null) };
    if (str(err.code)) e.code = err.code as string;
    this.errorCount++;
    // An error about a client event (a response.create the server refused, …) is the session's.
    const about = str(err.event_id);
    if (about) {
      const refused = this.#creates.findIndex((c) => c.eventId === about);
      if (refused >= 0) this.#creates.splice(refused, 1);
    }
    const running = !about && response ? [...this.#open.values()].at(-1) : undefined;
    if (running) {
      if (running.errors.length < ERRORS_KEPT) running.errors.push(e);
    } else if (this.errors.length < ERRORS_KEPT) this.errors.push(e);
  }
}
