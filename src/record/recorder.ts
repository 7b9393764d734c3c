// The tap on each exchange: it sees the request, then every response chunk after the client got it,
// copying it (bounded) with its time into buffers of the exchange's own (capture.ts). When the exchange is over it hands the lot to the
// storage thread, which builds the span (record/assemble.ts) and writes the request's log line.
import type { IncomingMessage } from 'node:http';

import type { Logger } from '../log.js';
import type { ExchangeObserver, ExchangeResult, ExchangeTap } from '../proxy/forward.js';
import { rawHeader, removeHeader } from '../proxy/headers.js';
import type { Exchange } from './assemble.js';
import { Capture, exactCopy } from './capture.js';
import { isContextHeader, readContext, type RequestContext, upstreamTraceparent } from './context.js';
import { type Route, routeFor } from './route.js';
import { requestUsage, UsageChunkFilter } from './usage-inject.js';

export interface RecorderOptions {
  captureMaxBytes: number;
  injectStreamUsage: boolean;
  /** A light span for requests no endpoint module records. */
  recordOther: boolean;
}

/** Where recorded exchanges go (the storage thread, which also reports them). */
export interface ExchangeSink {
  record(x: Exchange): void;
}

/** Where an unrecorded request is reported (its log line and metrics). */
export type Report = (result: ExchangeResult) => void;

export class Recorder implements ExchangeObserver {
  constructor(
    private readonly opts: RecorderOptions,
    private readonly sink: ExchangeSink,
    private readonly report: Report,
    private readonly log: Logger,
  ) {}

  isOwnHeader(name: string): boolean {
    return isContextHeader(name);
  }

  begin(req: IncomingMessage, body: Buffer): ExchangeTap {
    const route = routeFor(req.method ?? '', req.url ?? '');
    if (!route.endpoint && !this.opts.recordOther) return this.#unrecorded();
    const ctx = readContext(req.headers);
    if (ctx.ignored.length > 0) this.log.warn({ path: route.path, ignored: ctx.ignored }, 'ignored bad llmtap request headers');
    if (!ctx.record) return this.#unrecorded();
    return new Recording(route, req, ctx, body, this.opts, (x) => (x.result.outcome === 'rejected' ? this.report(x.result) : this.sink.record(x)));
  }

  #unrecorded(): ExchangeTap {
    return { responseHeaders: [], end: (r) => this.report(r) };
  }
}

class Recording implements ExchangeTap {
  readonly responseHeaders: readonly string[];
  #capture: Capture | undefined;
  #contentType = '';
  #contentEncoding: string | undefined;
  #filter: UsageChunkFilter | undefined;
  #injected = false;

  constructor(
    private readonly route: Route,
    private readonly req: IncomingMessage,
    private readonly ctx: RequestContext,
    private readonly body: Buffer,
    private readonly opts: RecorderOptions,
    private readonly done: (x: Exchange) => void,
  ) {
    this.responseHeaders = ['x-llmtap-trace-id', ctx.traceId, 'x-llmtap-span-id', ctx.spanId];
  }

  prepareUpstream(headers: string[], body: Buffer): Buffer {
    const { endpoint } = this.route;
    // A light span leaves the request exactly as the client sent it.
    if (!endpoint) return body;
    // The upstream sees llmtap's span as the parent of whatever it traces.
    removeHeader(headers, 'traceparent');
    headers.push('traceparent', upstreamTraceparent(this.ctx));
    if (!this.opts.injectStreamUsage || !endpoint.streamUsageOption) return body;
    const rewritten = requestUsage(body);
    if (!rewritten) return body;
    this.#injected = true;
    removeHeader(headers, 'content-length');
    return rewritten;
  }

  responseStart(status: number, raw: readonly string[]): void {
    this.#contentType = rawHeader(raw, 'content-type')?.toLowerCase() ?? '';
    this.#contentEncoding = rawHeader(raw, 'content-encoding');
    if (this.#injected && this.#contentType.startsWith('text/event-stream')) this.#filter = new UsageChunkFilter();
    // A light span keeps only an error's body, for its message.
    if (this.route.endpoint || status >= 400) this.#capture = new Capture(this.opts.captureMaxBytes);
  }

  responseChunk(chunk: Buffer, atNs: bigint): void {
    this.#capture?.add(chunk, atNs);
  }

  filterChunk(chunk: Buffer): Buffer {
    return this.#filter ? this.#filter.filter(chunk) : chunk;
  }

  filterEnd(): Buffer | undefined {
    return this.#filter?.end();
  }

  end(result: ExchangeResult): void {
    const requestBody = this.body.subarray(0, this.opts.captureMaxBytes);
    const x: Exchange = {
      method: this.req.method ?? 'GET',
      url: this.req.url ?? '/',
      ctx: this.ctx,
      requestBody: exactCopy([requestBody], requestBody.length),
      requestBytes: this.body.length,
      result,
      contentType: this.#contentType,
    };
    if (this.#contentEncoding) x.contentEncoding = this.#contentEncoding;
    if (this.#capture) x.response = this.#capture.seal();
    this.done(x);
  }
}
