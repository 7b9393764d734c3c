// Storage thread. Builds the span of one finished exchange from what the tap captured, after the
// response ended: nothing here touches the hot path.
import { LLMSystem, MimeType, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import type { MaskConfig } from '../config.js';
import { isObject, type Json } from '../json.js';
import type { Captured, CapturedExchange } from './capture.js';
import type { RequestContext } from './context.js';
import type { Pricing } from './cost.js';
import { bufferOf } from './decode.js';
import type { Endpoint, StreamOutcome } from './endpoints/endpoint.js';
import { ENDPOINTS } from './endpoints/index.js';
import { estimateTokens } from './estimate.js';
import { type Failure, httpFailure, transportFailure } from './failure.js';
import { maskAttributes } from './mask.js';
import type { PriceOverrides } from './price-file.js';
import type { Providers } from './provider.js';
import { routeFor } from './route.js';
import { type Attributes, LLMTAP, put, type Span, type SpanEvent } from './span.js';
import { readStream } from './sse.js';

/** The Python instrumentation's name for the first streamed token. */
export const FIRST_TOKEN_EVENT = 'First Token Stream Event';

/** Phoenix's span kind for a span without an OpenInference kind (the light spans of LLMTAP_RECORD_OTHER). */
export const OTHER_KIND = 'UNKNOWN';

export interface AssembleOptions {
  providers: Providers;
  project: string;
  captureMaxBytes: number;
  mask: MaskConfig;
  /** LLMTAP_PRICES (the storage thread's Pricing prices with them). */
  prices: PriceOverrides;
}

/** The span of an exchange whose response is as the client's library reads it (decode.ts: plainResponse). */
export function assembleSpan(exchange: CapturedExchange, opts: AssembleOptions, pricing: Pricing): Span {
  const { ctx, result } = exchange;
  const route = routeFor(exchange.method, exchange.url);
  const endpoint = route.endpoint && ENDPOINTS[route.endpoint];
  const attrs: Attributes = {};
  let request: Json | undefined;
  if (endpoint) {
    attrs[SC.OPENINFERENCE_SPAN_KIND] = endpoint.spanKind;
    attrs[SC.LLM_SYSTEM] = LLMSystem.OPENAI;
    attrs[SC.LLM_PROVIDER] = route.azure ? opts.providers.azure : opts.providers.upstream;
    request = readRequest(endpoint, exchange, attrs);
    // Azure OpenAI: the deployment decides the model, whatever the body says; a response naming it wins.
    put(attrs, endpoint.modelKey, route.deployment);
  } else {
    // LLMTAP_RECORD_OTHER: a light span of the HTTP exchange, no bodies (never the query: it may hold secrets).
    attrs[LLMTAP.HTTP_METHOD] = result.method;
    attrs[LLMTAP.URL_PATH] = route.path;
  }
  const response = exchange.response;

  let failure = transportFailure(result);
  let stream: StreamOutcome = {};
  if (result.status >= 400) {
    // A transport failure (e.g. llmtap's own 504) says more than the status.
    failure ??= httpFailure(result.status, response && bufferOf(response));
  } else if (endpoint && response && result.status > 0) {
    stream = readResponse(endpoint, exchange.contentType, response, attrs);
  }
  if (stream.error && !failure) failure = { type: 'APIError', message: stream.error.message };
  if (endpoint && result.status >= 200 && result.status < 300) {
    countTokens(attrs, endpoint);
    pricing.price(attrs, endpoint.modelKey, result.startNs);
  }
  if (response?.truncated) put(attrs, LLMTAP.OUTPUT_TRUNCATED, true);
  if (result.status > 0) put(attrs, LLMTAP.HTTP_STATUS, result.status);

  putContext(attrs, ctx, typeof request?.user === 'string' ? request.user : undefined);

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

function readRequest(endpoint: Endpoint, exchange: CapturedExchange, attrs: Attributes): Json | undefined {
  const { requestBody: body, requestBytes } = exchange;
  if (requestBytes === 0) return undefined;
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (body.length === requestBytes) {
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

/** What the caller's headers say of the span: session, user (else `user`), metadata, tags. */
export function putContext(attrs: Attributes, ctx: RequestContext, user?: string): void {
  put(attrs, SC.SESSION_ID, ctx.sessionId);
  put(attrs, SC.USER_ID, ctx.userId ?? user);
  if (ctx.metadata) put(attrs, SC.METADATA, JSON.stringify(ctx.metadata));
  put(attrs, SC.TAG_TAGS, ctx.tags);
}

/** The upstream's counts, or, when it gave none (see estimate.ts), estimated ones; either way saying which. */
function countTokens(attrs: Attributes, endpoint: Endpoint): void {
  if (attrs[SC.LLM_TOKEN_COUNT_PROMPT] !== undefined || attrs[SC.LLM_TOKEN_COUNT_COMPLETION] !== undefined) {
    attrs[LLMTAP.TOKEN_SOURCE] = 'upstream';
    return;
  }
  const model = attrs[endpoint.modelKey];
  const { prompt, completion } = estimateTokens(attrs, typeof model === 'string' ? model : '');
  if (prompt === undefined && completion === undefined) return;
  put(attrs, SC.LLM_TOKEN_COUNT_PROMPT, prompt);
  put(attrs, SC.LLM_TOKEN_COUNT_COMPLETION, completion);
  attrs[SC.LLM_TOKEN_COUNT_TOTAL] = (prompt ?? 0) + (completion ?? 0);
  attrs[LLMTAP.TOKEN_SOURCE] = 'estimate';
}

/** `escaped`: the failure ended the span (an error the span lived on after is not). */
export function exceptionEvent(f: Failure, atNs: bigint, escaped = true): SpanEvent {
  return {
    name: 'exception',
    timeNs: atNs,
    attributes: { 'exception.type': f.type, 'exception.message': f.message, 'exception.escaped': escaped },
  };
}
