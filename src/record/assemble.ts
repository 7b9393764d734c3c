// Builds the span of one finished exchange from what the tap captured. Runs on the storage thread,
// after the response ended: nothing here touches the hot path.
import { LLMSystem, MimeType, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import type { ExchangeResult } from '../proxy/forward.js';
import { bufferOf, type Captured, decoded } from './capture.js';
import type { RequestContext } from './context.js';
import { type Endpoint, isObject, type Json, type StreamOutcome } from './endpoint.js';
import { type Failure, httpFailure, transportFailure } from './failure.js';
import { maskAttributes, type MaskConfig } from './mask.js';
import type { Providers } from './provider.js';
import { routeFor } from './route.js';
import { type Attributes, LLMTAP, put, type Span, type SpanEvent } from './span.js';
import { readStream } from './sse.js';

/** The Python instrumentation's name for the first streamed token. */
const FIRST_TOKEN_EVENT = 'First Token Stream Event';

/** Phoenix's span kind for a span without an OpenInference kind (the light spans of LLMTAP_RECORD_OTHER). */
const OTHER_KIND = 'UNKNOWN';

/** A finished exchange as the tap saw it: plain data, sent from the server thread to the storage thread. */
export interface Exchange {
  method: string;
  url: string;
  ctx: RequestContext;
  /** The request body, up to the capture limit (`requestBytes` says how long it was). */
  requestBody: Uint8Array;
  requestBytes: number;
  result: ExchangeResult;
  contentType: string;
  contentEncoding?: string;
  /** The response bytes, up to the capture limit (for a light span, only an error's). */
  response?: Captured;
}

export interface AssembleOptions {
  providers: Providers;
  project: string;
  captureMaxBytes: number;
  mask: MaskConfig;
}

export function assembleSpan(x: Exchange, opts: AssembleOptions): Span {
  const { ctx, result } = x;
  const route = routeFor(x.method, x.url);
  const { endpoint } = route;
  const attrs: Attributes = {};
  let request: Json | undefined;
  if (endpoint) {
    attrs[SC.OPENINFERENCE_SPAN_KIND] = endpoint.spanKind;
    attrs[SC.LLM_SYSTEM] = LLMSystem.OPENAI;
    attrs[SC.LLM_PROVIDER] = route.azure ? opts.providers.azure : opts.providers.upstream;
    request = readRequest(endpoint, x, attrs);
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
    failure ??= httpFailure(result.status, response && bufferOf(response));
  } else if (endpoint && response && result.status > 0) {
    stream = readResponse(endpoint, x.contentType, response, attrs);
  }
  if (stream.error && !failure) failure = { type: 'APIError', message: stream.error.message };
  if (response?.truncated) put(attrs, LLMTAP.OUTPUT_TRUNCATED, true);
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

function readRequest(endpoint: Endpoint, x: Exchange, attrs: Attributes): Json | undefined {
  if (x.requestBytes === 0) return undefined;
  const text = Buffer.from(x.requestBody.buffer, x.requestBody.byteOffset, x.requestBody.byteLength).toString('utf8');
  if (x.requestBody.length === x.requestBytes) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (isObject(parsed)) {
        endpoint.request(parsed, attrs);
        return parsed;
      }
    } catch {
      // Not JSON: the upstream will say so; the span keeps the raw text below.
    }
  } else put(attrs, LLMTAP.INPUT_TRUNCATED, true);
  put(attrs, SC.INPUT_VALUE, text);
  put(attrs, SC.INPUT_MIME_TYPE, MimeType.TEXT);
  return undefined;
}

function readResponse(endpoint: Endpoint, contentType: string, response: Captured, attrs: Attributes): StreamOutcome {
  if (contentType.startsWith('text/event-stream') && endpoint.stream) return readStream(response, endpoint.stream(), attrs);
  const body = bufferOf(response);
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
