// Builds the span of one finished exchange from what the tap captured. Runs after the response ended,
// off the hot path.
import { LLMSystem, MimeType, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';
import type { ExchangeResult } from '../proxy/forward.js';
import { decoded, type Capture } from './capture.js';
import type { RequestContext } from './context.js';
import { isObject, type Endpoint, type Json, type StreamOutcome } from './endpoint.js';
import { httpFailure, transportFailure, type Failure } from './failure.js';
import { maskAttributes, type MaskConfig } from './mask.js';
import type { Providers } from './provider.js';
import type { Route } from './route.js';
import { LLMTAP, put, type Attributes, type Span, type SpanEvent } from './span.js';
import { SSEReader } from './sse.js';

/** The Python instrumentation's name for the first streamed token. */
export const FIRST_TOKEN_EVENT = 'First Token Stream Event';

/** Phoenix's span kind for a span without an OpenInference kind (the light spans of LLMTAP_RECORD_OTHER). */
const OTHER_KIND = 'UNKNOWN';

export interface Exchange {
  route: Route;
  ctx: RequestContext;
  requestBody: Buffer;
  result: ExchangeResult;
  contentType: string;
  contentEncoding?: string;
  /** A stream read as it passed… */
  stream?: SSEReader;
  /** …or the response bytes, kept up to the capture limit. */
  response?: Capture;
}

export interface AssembleOptions {
  providers: Providers;
  project: string;
  captureMaxBytes: number;
  mask: MaskConfig;
}

export function assembleSpan(x: Exchange, opts: AssembleOptions): Span {
  const { route, ctx, result } = x;
  const { endpoint } = route;
  const attrs: Attributes = {};
  let request: Json | undefined;
  if (endpoint) {
    attrs[SC.OPENINFERENCE_SPAN_KIND] = endpoint.spanKind;
    attrs[SC.LLM_SYSTEM] = LLMSystem.OPENAI;
    attrs[SC.LLM_PROVIDER] = route.azure ? opts.providers.azure : opts.providers.upstream;
    request = readRequest(endpoint, x, opts, attrs);
    // Azure OpenAI: the deployment decides the model, whatever the body says; a response naming it wins.
    put(attrs, endpoint.modelKey, route.deployment);
  } else {
    // LLMTAP_RECORD_OTHER: a light span of the HTTP exchange, no bodies (never the query: it may hold secrets).
    attrs[LLMTAP.HTTP_METHOD] = result.method;
    attrs[LLMTAP.URL_PATH] = route.path;
  }
  const response = x.response && decoded(x.response, x.contentEncoding, opts.captureMaxBytes);

  let failure = transportFailure(result);
  let stream: StreamOutcome = {};
  if (result.status >= 400) {
    // A transport failure (e.g. llmtap's own 504) says more than the status.
    failure ??= httpFailure(result.status, response?.toBuffer());
  } else if (x.stream) {
    stream = x.stream.finish(attrs);
  } else if (endpoint && response && result.status > 0) {
    stream = readResponse(endpoint, x.contentType, response, attrs, opts.captureMaxBytes);
  }
  if (stream.error && !failure) failure = { type: 'APIError', message: stream.error.message };
  if (x.stream?.truncated || response?.truncated) put(attrs, LLMTAP.OUTPUT_TRUNCATED, true);
  if (result.status > 0) put(attrs, LLMTAP.HTTP_STATUS, result.status);

  put(attrs, SC.SESSION_ID, ctx.sessionId);
  put(attrs, SC.USER_ID, ctx.userId ?? (typeof request?.user === 'string' ? request.user : undefined));
  if (ctx.metadata) put(attrs, SC.METADATA, JSON.stringify(ctx.metadata));
  put(attrs, SC.TAG_TAGS, ctx.tags);

  const events: SpanEvent[] = [];
  if (stream.firstTokenNs !== undefined) {
    events.push({ name: FIRST_TOKEN_EVENT, timeNs: stream.firstTokenNs, attributes: {} });
    put(attrs, LLMTAP.TTFT_MS, Number(stream.firstTokenNs - result.startNs) / 1e6);
  }
  if (failure) events.push(exceptionEvent(failure, result.endNs));

  const span: Span = {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    name: endpoint ? endpoint.spanName : `${result.method} ${route.path}`,
    kind: endpoint ? endpoint.spanKind : OTHER_KIND,
    startNs: result.startNs,
    endNs: result.endNs,
    statusCode: failure ? 'ERROR' : 'OK',
    statusMessage: failure ? `${failure.type}: ${failure.message}` : '',
    attributes: maskAttributes(opts.mask, attrs),
    events,
    project: ctx.project ?? opts.project,
  };
  if (ctx.parentSpanId) span.parentSpanId = ctx.parentSpanId;
  if (ctx.traceState) span.traceState = ctx.traceState;
  return span;
}

function readRequest(endpoint: Endpoint, x: Exchange, opts: AssembleOptions, attrs: Attributes): Json | undefined {
  const body = x.requestBody;
  if (body.length === 0) return undefined;
  if (body.length <= opts.captureMaxBytes) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (isObject(parsed)) {
        endpoint.request(parsed, attrs);
        return parsed;
      }
    } catch {
      // Not JSON: the upstream will say so; the span keeps the raw text below.
    }
  } else put(attrs, LLMTAP.INPUT_TRUNCATED, true);
  put(attrs, SC.INPUT_VALUE, body.subarray(0, opts.captureMaxBytes).toString('utf8'));
  put(attrs, SC.INPUT_MIME_TYPE, MimeType.TEXT);
  return undefined;
}

function readResponse(endpoint: Endpoint, contentType: string, response: Capture, attrs: Attributes, limit: number): StreamOutcome {
  const body = response.toBuffer();
  if (contentType.startsWith('text/event-stream') && endpoint.stream) {
    // A compressed stream, decoded whole at the end: its events share the first chunk's time.
    const reader = new SSEReader(endpoint.stream(), limit);
    reader.feed(body, response.times[0] ?? 0n);
    return reader.finish(attrs);
  }
  if (body.length === 0) return {};
  if (!response.truncated && contentType.includes('json')) {
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'));
      if (isObject(parsed)) {
        endpoint.response(parsed, attrs);
        return {};
      }
    } catch {
      // Kept as text below.
    }
  }
  put(attrs, SC.OUTPUT_VALUE, body.toString('utf8'));
  put(attrs, SC.OUTPUT_MIME_TYPE, MimeType.TEXT);
  return {};
}

function exceptionEvent(f: Failure, atNs: bigint): SpanEvent {
  return {
    name: 'exception',
    timeNs: atNs,
    attributes: { 'exception.type': f.type, 'exception.message': f.message, 'exception.escaped': true },
  };
}
