// Server thread. The tap on each exchange: it sees the request, then every response chunk after the
// client got it, copying it (bounded) with its time into buffers of the exchange's own (capture.ts).
// When the exchange is over it hands the lot to the storage thread, which builds the span
// (assemble.ts) and reports the request (its log line and metrics). WebSocket sessions get the same
// treatment, a message at a time (realtime/capture.ts).
import type { IncomingMessage } from 'node:http';

import type { Logger } from '../log.js';
import { type Hold, type MemoryBudget } from '../memory-budget.js';
import type { Metrics } from '../metrics.js';
import type { ExchangeObserver, ExchangeResult, ExchangeRewriter, ExchangeTap, ExchangeWatcher, ResponseFilter } from '../proxy/exchange.js';
import { rawHeader, removeHeader } from '../proxy/headers.js';
import type { SessionObserver, SessionResult, SessionTap } from '../proxy/session.js';
import { Capture, type CapturedExchange, exactCopy } from './capture.js';
import { isContextHeader, readContext, type RequestContext, upstreamTraceparent } from './context.js';
import { SessionRecording, type SessionSink, type SessionStart } from './realtime/capture.js';
import { acceptsStreamUsage, isRealtime, type Route, routeFor } from './route.js';
import { refusesUsage, requestUsage, StreamUsage, type StreamUsageMode, UsageChunkFilter } from './usage-inject.js';

export interface RecorderOptions {
  captureMaxBytes: number;
  /** LLMTAP_STREAM_USAGE. */
  streamUsage: StreamUsageMode;
  /** A light span for requests no endpoint module records. */
  recordOther: boolean;
}

/** Where recorded exchanges and sessions go (the storage thread, which also reports them). */
export interface ExchangeSink extends SessionSink {
  record(exchange: CapturedExchange): void;
}

/** Where an unrecorded request or session is reported (its log line and metrics). */
export interface Report {
  exchange(result: ExchangeResult): void;
  session(result: SessionResult): void;
}

/** How many `x-llmtap-record` value shapes are warned about, once each: a bound on what clients can make llmtap log. */
const RECORD_WARNINGS = 32;

export class Recorder implements ExchangeObserver, SessionObserver {
  readonly #streamUsage: StreamUsage;
  readonly #warnedRecord = new Set<string>();

  constructor(
    private readonly opts: RecorderOptions,
    private readonly sink: ExchangeSink,
    private readonly report: Report,
    private readonly log: Logger,
    private readonly budget: MemoryBudget,
    metrics: Metrics,
  ) {
    this.#streamUsage = new StreamUsage(opts.streamUsage, log, metrics);
  }

  isOwnHeader(name: string): boolean {
    return isContextHeader(name);
  }

  begin(req: IncomingMessage, body: Buffer, _startNs: bigint, hold: Hold): ExchangeTap {
    const route = routeFor(req.method ?? '', req.url ?? '');
    const ctx = route.endpoint || this.opts.recordOther ? this.#context(req, route) : undefined;
    if (!ctx) return { responseHeaders: [], watch: { end: (r) => this.report.exchange(r) } };
    const recording = new Recording(route, req, ctx, body, this.opts, hold, (captured) => {
      if (captured.result.outcome !== 'rejected') return this.sink.record(captured);
      this.budget.give(captured.heldBytes);
      this.report.exchange(captured.result);
    });
    const responseHeaders = spanHeaders(ctx);
    // A light span leaves the request exactly as the client sent it.
    if (!route.endpoint) return { responseHeaders, watch: recording };
    const usage = this.opts.streamUsage !== 'off' && acceptsStreamUsage(route.endpoint) ? this.#streamUsage : undefined;
    return { responseHeaders, watch: recording, rewrite: new Rewrite(ctx, route, usage) };
  }

  /** A WebSocket session: the Realtime API's is traced event by event; any other gets a light span (LLMTAP_RECORD_OTHER). */
  beginSession(req: IncomingMessage): SessionTap {
    const url = req.url ?? '/';
    const route = routeFor(req.method ?? '', url);
    const realtime = isRealtime(route);
    const ctx = realtime || this.opts.recordOther ? this.#context(req, route) : undefined;
    if (!ctx) return { responseHeaders: [], watch: { end: (r) => this.report.session(r) } };
    const params = new URLSearchParams(url.slice(route.path.length));
    const query: SessionStart['query'] = {};
    for (const [key, name] of QUERY) {
      const value = params.get(name);
      if (value) query[key] = value;
    }
    const start: SessionStart = { ctx, path: route.path, query, realtime };
    const recording = new SessionRecording(start, this.opts.captureMaxBytes, this.budget, this.sink, (r) => this.report.session(r));
    return { responseHeaders: spanHeaders(ctx), requestHeaders: (headers) => setTraceparent(headers, ctx), watch: recording };
  }

  /** The caller's context, or undefined when it asked not to be recorded. */
  #context(req: IncomingMessage, route: Route): RequestContext | undefined {
    const ctx = readContext(req.headers);
    if (ctx.ignored.length > 0) this.log.warn({ path: route.path, ignored: ctx.ignored }, 'ignored bad llmtap request headers');
    const shape = ctx.unknownRecord;
    if (shape !== undefined && this.#warnedRecord.size < RECORD_WARNINGS && !this.#warnedRecord.has(shape)) {
      this.#warnedRecord.add(shape);
      this.log.warn({ value: shape }, 'x-llmtap-record: not off/false/0/no nor on/true/1/yes; recorded (warned once per value)');
    }
    return ctx.record ? ctx : undefined;
  }
}

/** The query parameters of a session its spans use: never the whole query, where Azure's browser clients put their key. */
const QUERY = [
  ['model', 'model'],
  ['deployment', 'deployment'],
  ['callId', 'call_id'],
] as const;

const spanHeaders = (ctx: RequestContext): string[] => ['x-llmtap-trace-id', ctx.traceId, 'x-llmtap-span-id', ctx.spanId];

/** The upstream sees llmtap's span as the parent of whatever it traces. */
function setTraceparent(headers: string[], ctx: RequestContext): void {
  removeHeader(headers, 'traceparent');
  headers.push('traceparent', upstreamTraceparent(ctx));
}

/** What a recorded endpoint's exchange changes: the traceparent sent upstream, and usage injection. */
class Rewrite implements ExchangeRewriter {
  /** The model the option was added for (an Azure deployment's name on its paths). */
  #injectedFor: string | undefined;
  readonly retryUnedited?: (status: number, rawHeaders: readonly string[], body: Buffer) => boolean;

  constructor(
    private readonly ctx: RequestContext,
    private readonly route: Route,
    /** Set when this endpoint's streams may get the usage option. */
    private readonly usage: StreamUsage | undefined,
  ) {
    if (usage?.mode === 'auto') this.retryUnedited = (status, raw, body) => this.#refused(status, raw, body);
  }

  request(headers: string[], body: Buffer | undefined): Buffer | undefined {
    setTraceparent(headers, this.ctx);
    const rewritten = this.usage && body && requestUsage(body);
    if (!rewritten) return body;
    const model = this.route.deployment ?? rewritten.model;
    if (!this.usage!.injects(model)) return body;
    this.#injectedFor = model;
    removeHeader(headers, 'content-length');
    return rewritten.body;
  }

  /** In `auto` mode, an upstream that refuses the option gets the client's own request. */
  #refused(status: number, raw: readonly string[], body: Buffer): boolean {
    if (this.#injectedFor === undefined || !refusesUsage(status, raw, body)) return false;
    this.usage!.refused(this.#injectedFor);
    this.#injectedFor = undefined;
    return true;
  }

  response(_status: number, raw: readonly string[]): ResponseFilter | undefined {
    const sse = rawHeader(raw, 'content-type')?.toLowerCase().startsWith('text/event-stream') ?? false;
    return this.#injectedFor !== undefined && sse ? new UsageChunkFilter() : undefined;
  }
}

/** Watches one recorded exchange and keeps its bounded copy. */
class Recording implements ExchangeWatcher {
  #capture: Capture | undefined;
  #contentType = '';
  #contentEncoding: string | undefined;

  constructor(
    private readonly route: Route,
    private readonly req: IncomingMessage,
    private readonly ctx: RequestContext,
    private readonly body: Buffer,
    private readonly opts: RecorderOptions,
    private readonly hold: Hold,
    private readonly done: (captured: CapturedExchange) => void,
  ) {}

  responseStart(status: number, raw: readonly string[]): void {
    this.#contentType = rawHeader(raw, 'content-type')?.toLowerCase() ?? '';
    this.#contentEncoding = rawHeader(raw, 'content-encoding');
    // A light span keeps only an error's body, for its message.
    if (this.route.endpoint || status >= 400) this.#capture = new Capture(this.opts.captureMaxBytes, this.hold);
  }

  responseChunk(chunk: Buffer, atNs: bigint): void {
    this.#capture?.add(chunk, atNs);
  }

  end(result: ExchangeResult): void {
    const requestBody = this.body.subarray(0, this.opts.captureMaxBytes);
    const response = this.#capture?.seal();
    const captured: CapturedExchange = {
      method: this.req.method ?? 'GET',
      url: this.req.url ?? '/',
      ctx: this.ctx,
      requestBody: exactCopy([requestBody], requestBody.length),
      requestBytes: result.bytesIn,
      // All the exchange holds is what travels on: the request body it kept and the capture's blocks.
      heldBytes: this.hold.detach(),
      result,
      contentType: this.#contentType,
    };
    if (this.#contentEncoding) captured.contentEncoding = this.#contentEncoding;
    if (response) captured.response = response;
    this.done(captured);
  }
}
