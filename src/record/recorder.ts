// Server thread. The tap on each exchange: it sees the request, then every response chunk after the
// client got it, copying it (bounded) with its time into buffers of the exchange's own (capture.ts).
// When the exchange is over it hands the lot to the storage thread, which builds the span
// (assemble.ts) and reports the request (its log line and metrics).
import type { IncomingMessage } from 'node:http';

import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ExchangeObserver, ExchangeResult, ExchangeRewriter, ExchangeTap, ExchangeWatcher, ResponseFilter } from '../proxy/exchange.js';
import { rawHeader, removeHeader } from '../proxy/headers.js';
import { Capture, type CapturedExchange, exactCopy } from './capture.js';
import { isContextHeader, readContext, type RequestContext, upstreamTraceparent } from './context.js';
import { acceptsStreamUsage, type Route, routeFor } from './route.js';
import { refusesUsage, requestUsage, StreamUsage, type StreamUsageMode, UsageChunkFilter } from './usage-inject.js';

export interface RecorderOptions {
  captureMaxBytes: number;
  /** LLMTAP_STREAM_USAGE. */
  streamUsage: StreamUsageMode;
  /** A light span for requests no endpoint module records. */
  recordOther: boolean;
}

/** Where recorded exchanges go (the storage thread, which also reports them). */
export interface ExchangeSink {
  record(exchange: CapturedExchange): void;
}

/** Where an unrecorded request is reported (its log line and metrics). */
export type Report = (result: ExchangeResult) => void;

export class Recorder implements ExchangeObserver {
  readonly #streamUsage: StreamUsage;

  constructor(
    private readonly opts: RecorderOptions,
    private readonly sink: ExchangeSink,
    private readonly report: Report,
    private readonly log: Logger,
    metrics: Metrics,
  ) {
    this.#streamUsage = new StreamUsage(opts.streamUsage, log, metrics);
  }

  isOwnHeader(name: string): boolean {
    return isContextHeader(name);
  }

  begin(req: IncomingMessage, body: Buffer): ExchangeTap {
    const route = routeFor(req.method ?? '', req.url ?? '');
    if (!route.endpoint && !this.opts.recordOther) return this.#unrecorded();
    const ctx = readContext(req.headers);
    if (ctx.ignored.length > 0) this.log.warn({ path: route.path, ignored: ctx.ignored }, 'ignored bad llmtap request headers');
    if (!ctx.record) return this.#unrecorded();
    const recording = new Recording(route, req, ctx, body, this.opts, (captured) =>
      captured.result.outcome === 'rejected' ? this.report(captured.result) : this.sink.record(captured),
    );
    const responseHeaders = ['x-llmtap-trace-id', ctx.traceId, 'x-llmtap-span-id', ctx.spanId];
    // A light span leaves the request exactly as the client sent it.
    if (!route.endpoint) return { responseHeaders, watch: recording };
    const usage = this.opts.streamUsage !== 'off' && acceptsStreamUsage(route.endpoint) ? this.#streamUsage : undefined;
    return { responseHeaders, watch: recording, rewrite: new Rewrite(ctx, route, usage) };
  }

  #unrecorded(): ExchangeTap {
    return { responseHeaders: [], watch: { end: (r) => this.report(r) } };
  }
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

  request(headers: string[], body: Buffer): Buffer {
    // The upstream sees llmtap's span as the parent of whatever it traces.
    removeHeader(headers, 'traceparent');
    headers.push('traceparent', upstreamTraceparent(this.ctx));
    const rewritten = this.usage && requestUsage(body);
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
    private readonly done: (captured: CapturedExchange) => void,
  ) {}

  responseStart(status: number, raw: readonly string[]): void {
    this.#contentType = rawHeader(raw, 'content-type')?.toLowerCase() ?? '';
    this.#contentEncoding = rawHeader(raw, 'content-encoding');
    // A light span keeps only an error's body, for its message.
    if (this.route.endpoint || status >= 400) this.#capture = new Capture(this.opts.captureMaxBytes);
  }

  responseChunk(chunk: Buffer, atNs: bigint): void {
    this.#capture?.add(chunk, atNs);
  }

  end(result: ExchangeResult): void {
    const requestBody = this.body.subarray(0, this.opts.captureMaxBytes);
    const captured: CapturedExchange = {
      method: this.req.method ?? 'GET',
      url: this.req.url ?? '/',
      ctx: this.ctx,
      requestBody: exactCopy([requestBody], requestBody.length),
      requestBytes: this.body.length,
      result,
      contentType: this.#contentType,
    };
    if (this.#contentEncoding) captured.contentEncoding = this.#contentEncoding;
    if (this.#capture) captured.response = this.#capture.seal();
    this.done(captured);
  }
}
