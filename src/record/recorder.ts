// Watches each exchange through a tap, then — after the response ended, off the hot path — builds its
// span, hands it to storage and writes the request's log line.
import type { IncomingMessage } from 'node:http';
import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ExchangeObserver, ExchangeResult, ExchangeTap } from '../proxy/forward.js';
import { rawHeader, removeHeader } from '../proxy/headers.js';
import type { SpanSummary } from '../request-log.js';
import { assembleSpan, type AssembleOptions, type Exchange } from './assemble.js';
import { Capture } from './capture.js';
import { isContextHeader, readContext, upstreamTraceparent, type RequestContext } from './context.js';
import { routeFor, type Route } from './route.js';
import { LLMTAP, type Span } from './span.js';
import { SSEReader } from './sse.js';
import { requestUsage, UsageChunkFilter } from './usage-inject.js';

export interface RecorderOptions extends AssembleOptions {
  injectStreamUsage: boolean;
  /** A light span for requests no endpoint module records. */
  recordOther: boolean;
}

export interface SpanSink {
  enqueue(span: Span): void;
}

/** Where a finished request is reported (its log line and metrics). */
export type Report = (result: ExchangeResult, span?: SpanSummary) => void;

export class Recorder implements ExchangeObserver {
  constructor(
    private readonly opts: RecorderOptions,
    private readonly sink: SpanSink,
    private readonly report: Report,
    private readonly log: Logger,
    private readonly metrics: Metrics,
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
    return new Recording(this, route, ctx, body, this.opts);
  }

  #unrecorded(): ExchangeTap {
    return { responseHeaders: [], end: (r) => this.report(r) };
  }

  /** Called by a recording once its exchange is over; the span is built on a later tick. */
  finish(rec: Recording, result: ExchangeResult): void {
    if (result.outcome === 'rejected') return this.report(result);
    setImmediate(() => {
      let summary: SpanSummary | undefined;
      try {
        const span = assembleSpan({ ...rec.exchange(), result }, this.opts);
        this.sink.enqueue(span);
        this.metrics.spansRecorded.inc();
        summary = summarize(span);
      } catch (err) {
        // A bug in span assembly must never reach the traffic; it is counted and logged.
        this.metrics.spanErrors.inc();
        this.log.error({ err: (err as Error).message, path: result.path.split('?', 1)[0] }, 'span assembly failed');
      }
      this.report(result, summary);
    });
  }
}

class Recording implements ExchangeTap {
  readonly responseHeaders: readonly string[];
  #capture: Capture | undefined;
  #stream: SSEReader | undefined;
  #contentType = '';
  #contentEncoding: string | undefined;
  #filter: UsageChunkFilter | undefined;
  #injected = false;

  constructor(
    private readonly recorder: Recorder,
    private readonly route: Route,
    private readonly ctx: RequestContext,
    private readonly body: Buffer,
    private readonly opts: RecorderOptions,
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
    const sse = this.#contentType.startsWith('text/event-stream');
    if (this.#injected && sse) this.#filter = new UsageChunkFilter();
    const { endpoint } = this.route;
    // A plain successful stream is read as it passes; anything else is kept (bounded) for the end, but a
    // light span keeps only an error's body, for its message.
    if (endpoint?.stream && sse && status < 400 && !this.#contentEncoding) this.#stream = new SSEReader(endpoint.stream(), this.opts.captureMaxBytes);
    else if (endpoint || status >= 400) this.#capture = new Capture(this.opts.captureMaxBytes);
  }

  responseChunk(chunk: Buffer, atNs: bigint): void {
    if (this.#stream) this.#stream.feed(chunk, atNs);
    else this.#capture?.add(chunk, atNs);
  }

  filterChunk(chunk: Buffer): Buffer {
    return this.#filter ? this.#filter.filter(chunk) : chunk;
  }

  filterEnd(): Buffer | undefined {
    return this.#filter?.end();
  }

  end(result: ExchangeResult): void {
    this.recorder.finish(this, result);
  }

  exchange(): Omit<Exchange, 'result'> {
    const x: Omit<Exchange, 'result'> = { route: this.route, ctx: this.ctx, requestBody: this.body, contentType: this.#contentType };
    if (this.#stream) x.stream = this.#stream;
    if (this.#capture) x.response = this.#capture;
    if (this.#contentEncoding) x.contentEncoding = this.#contentEncoding;
    return x;
  }
}

function summarize(span: Span): SpanSummary {
  const a = span.attributes;
  const summary: SpanSummary = { spanId: span.spanId };
  const model = a[SC.LLM_MODEL_NAME] ?? a[SC.EMBEDDING_MODEL_NAME];
  if (typeof model === 'string') summary.model = model;
  const n = (k: string): number | undefined => (typeof a[k] === 'number' ? (a[k] as number) : undefined);
  const prompt = n(SC.LLM_TOKEN_COUNT_PROMPT);
  const completion = n(SC.LLM_TOKEN_COUNT_COMPLETION);
  const total = n(SC.LLM_TOKEN_COUNT_TOTAL);
  const ttft = n(LLMTAP.TTFT_MS);
  if (prompt !== undefined) summary.promptTokens = prompt;
  if (completion !== undefined) summary.completionTokens = completion;
  if (total !== undefined) summary.totalTokens = total;
  if (ttft !== undefined) summary.ttftMs = Math.round(ttft * 100) / 100;
  return summary;
}
