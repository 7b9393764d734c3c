// Storage thread. The spans of a Realtime session, all in one trace: an LLM span per response (its request
// and response read as the Responses API's, whose items the Realtime API shares), one per input audio
// transcription that reported usage, and, when the session ends, the session's root CHAIN span with the
// totals of its children. Token counts use OpenInference's keys where it has them (prompt, completion,
// total, audio, cached) and llmtap's for the details a price also needs (text, image, cached by modality).
// The root's totals live under llmtap's own keys: Phoenix and llmtap's stats add up the children's
// `llm.token_count.*`, which the same numbers on the root would count twice.
import { LLMSystem, MimeType, OpenInferenceSpanKind, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import type { MaskConfig } from '../../config.js';
import { isObject } from '../../json.js';
import type { SessionResult } from '../../proxy/session.js';
import { exceptionEvent, FIRST_TOKEN_EVENT, OTHER_KIND, putContext } from '../assemble.js';
import type { RequestContext } from '../context.js';
import type { Pricing } from '../cost.js';
import { responses } from '../endpoints/responses.js';
import { type Failure, httpFailure, transportFailure } from '../failure.js';
import { maskAttributes } from '../mask.js';
import { SPAN_NAMES } from '../route.js';
import { type Attributes, LLMTAP, newSpanId, put, type Span, type SpanEvent } from '../span.js';
import type { SessionStart } from './capture.js';
import type { Conversation, FinishedResponse, FinishedTranscription, RealtimeError } from './conversation.js';

/** llmtap's attribute keys for Realtime sessions and their responses. */
export const RT = {
  SESSION_ID: 'llmtap.realtime.session_id',
  RESPONSE_ID: 'llmtap.realtime.response.id',
  RESPONSE_STATUS: 'llmtap.realtime.response.status',
  RESPONSE_STATUS_REASON: 'llmtap.realtime.response.status_reason',
  ITEM_ID: 'llmtap.realtime.item_id',
  CLOSE_CODE: 'llmtap.realtime.close.code',
  CLOSE_REASON: 'llmtap.realtime.close.reason',
  CLOSED_BY: 'llmtap.realtime.close.by',
  RESPONSES: 'llmtap.realtime.responses',
  ERRORS: 'llmtap.realtime.errors',
  CLIENT_MESSAGES: 'llmtap.realtime.client.messages',
  CLIENT_BYTES: 'llmtap.realtime.client.bytes',
  UPSTREAM_MESSAGES: 'llmtap.realtime.upstream.messages',
  UPSTREAM_BYTES: 'llmtap.realtime.upstream.bytes',
  /** Messages the capture limit left out of the trace (they were relayed all the same). */
  MESSAGES_DROPPED: 'llmtap.realtime.messages_dropped',
  INPUT_AUDIO_MS: 'llmtap.realtime.input_audio.duration_ms',
  INPUT_AUDIO_BYTES: 'llmtap.realtime.input_audio.bytes',
  OUTPUT_AUDIO_MS: 'llmtap.realtime.output_audio.duration_ms',
  OUTPUT_AUDIO_BYTES: 'llmtap.realtime.output_audio.bytes',
  /** A transcription billed by duration. */
  TRANSCRIPTION_SECONDS: 'llmtap.realtime.transcription.seconds',
  /** The session's totals: `llmtap.realtime.token_count.total` is the sum of its spans' `llm.token_count.total`. */
  TOTALS: 'llmtap.realtime.',
} as const;

export const [SESSION_SPAN, RESPONSE_SPAN, TRANSCRIPTION_SPAN] = SPAN_NAMES.realtime;

/** What every span of a session shares. */
export interface SessionSpans {
  ctx: RequestContext;
  project: string;
  provider: string;
  mask: MaskConfig;
  pricing: Pricing;
}

/** A session's spans say `session.id`: the caller's (x-llmtap-session-id), else the Realtime API's. */
const withSessionId = (ctx: RequestContext, realtimeId: string | undefined): RequestContext =>
  ctx.sessionId || !realtimeId ? ctx : { ...ctx, sessionId: realtimeId };

/** `root`: the session's own span, the caller's child (traceparent); the others are its children. */
function span(
  s: SessionSpans,
  root: boolean,
  name: string,
  kind: string,
  startNs: bigint,
  endNs: bigint,
  attrs: Attributes,
  events: SpanEvent[],
  failure?: Failure,
): Span {
  const out: Span = {
    traceId: s.ctx.traceId,
    spanId: root ? s.ctx.spanId : newSpanId(),
    name,
    kind,
    startNs,
    endNs,
    statusCode: failure ? 'ERROR' : 'OK',
    statusMessage: failure ? `${failure.type}: ${failure.message}` : '',
    attributes: maskAttributes(s.mask, attrs),
    events,
    project: s.ctx.project ?? s.project,
  };
  const parent = root ? s.ctx.parentSpanId : s.ctx.spanId;
  if (parent) out.parentSpanId = parent;
  if (s.ctx.traceState) out.traceState = s.ctx.traceState;
  return out;
}

function llmAttributes(s: SessionSpans, conversation: Conversation): Attributes {
  const attrs: Attributes = {};
  attrs[SC.OPENINFERENCE_SPAN_KIND] = OpenInferenceSpanKind.LLM;
  attrs[SC.LLM_SYSTEM] = LLMSystem.OPENAI;
  attrs[SC.LLM_PROVIDER] = s.provider;
  putContext(attrs, withSessionId(s.ctx, conversation.realtimeId));
  return attrs;
}

const errorFailure = (e: RealtimeError): Failure => ({ type: e.type, message: e.code ? `${e.message} (${e.code})` : e.message });
const errorEvents = (errors: RealtimeError[]): SpanEvent[] => errors.map((e) => exceptionEvent(errorFailure(e), e.atNs, false));

/** The Realtime API's usage details, beyond the totals the Responses reader already put. */
function putUsageDetails(attrs: Attributes, usage: unknown): void {
  if (!isObject(usage)) return;
  const input = isObject(usage.input_token_details) ? usage.input_token_details : {};
  const cached = isObject(input.cached_tokens_details) ? input.cached_tokens_details : {};
  const output = isObject(usage.output_token_details) ? usage.output_token_details : {};
  put(attrs, SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_AUDIO, input.audio_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ, input.cached_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_AUDIO, output.audio_tokens);
  put(attrs, LLMTAP.PROMPT_TEXT_TOKENS, input.text_tokens);
  put(attrs, LLMTAP.PROMPT_IMAGE_TOKENS, input.image_tokens);
  put(attrs, LLMTAP.CACHE_READ_TEXT_TOKENS, cached.text_tokens);
  put(attrs, LLMTAP.CACHE_READ_AUDIO_TOKENS, cached.audio_tokens);
  put(attrs, LLMTAP.COMPLETION_TEXT_TOKENS, output.text_tokens);
}

/** The upstream's counts say so, and what they cost (cost.ts), as for any other call. */
function putSpend(s: SessionSpans, attrs: Attributes, startNs: bigint): void {
  if (attrs[SC.LLM_TOKEN_COUNT_PROMPT] === undefined && attrs[SC.LLM_TOKEN_COUNT_COMPLETION] === undefined) return;
  attrs[LLMTAP.TOKEN_SOURCE] = 'upstream';
  s.pricing.price(attrs, SC.LLM_MODEL_NAME, startNs);
}

/** Why a response failed: its status (failed, cancelled), an `error` event while it ran, or the session ending first. */
function responseFailure(r: FinishedResponse): Failure | undefined {
  const status = r.response.status;
  const details = isObject(r.response.status_details) ? r.response.status_details : {};
  if (status === 'failed') {
    const error = isObject(details.error) ? details.error : {};
    const what = [error.type, error.code].filter((v) => typeof v === 'string').join(', ');
    return { type: 'OpenAIRealtimeError', message: `response failed${what ? ` (${what})` : ''}` };
  }
  if (status === 'cancelled') return { type: 'OpenAIRealtimeError', message: `response cancelled${details.reason ? ` (${String(details.reason)})` : ''}` };
  if (r.errors[0]) return errorFailure(r.errors[0]);
  if (!r.done) return { type: 'OpenAIRealtimeError', message: 'the session ended before response.done' };
  return undefined;
}

/**
 * One response as an LLM span. Its per-response token counts (and any price derived from them) are put
 * here; `addTotals` then adds them to the session's.
 */
export function responseSpan(s: SessionSpans, conversation: Conversation, r: FinishedResponse, model: string | undefined): Span {
  const attrs = llmAttributes(s, conversation);
  responses.request(r.request, attrs);
  responses.response(r.response, attrs);
  putUsageDetails(attrs, r.response.usage);
  if (attrs[SC.LLM_MODEL_NAME] === undefined) put(attrs, SC.LLM_MODEL_NAME, model);
  putSpend(s, attrs, r.startNs);
  put(attrs, RT.RESPONSE_ID, r.id);
  put(attrs, RT.RESPONSE_STATUS, r.response.status);
  if (isObject(r.response.status_details)) put(attrs, RT.RESPONSE_STATUS_REASON, r.response.status_details.reason);
  if (r.inputAudioMs > 0) put(attrs, RT.INPUT_AUDIO_MS, r.inputAudioMs);
  if (r.outputAudio.bytes > 0) {
    put(attrs, RT.OUTPUT_AUDIO_BYTES, r.outputAudio.bytes);
    put(attrs, RT.OUTPUT_AUDIO_MS, r.outputAudio.ms);
  }
  if (r.truncated) put(attrs, LLMTAP.OUTPUT_TRUNCATED, true);
  const events: SpanEvent[] = [];
  if (r.firstTokenNs !== undefined) {
    events.push({ name: FIRST_TOKEN_EVENT, timeNs: r.firstTokenNs, attributes: {} });
    put(attrs, LLMTAP.TTFT_MS, Number(r.firstTokenNs - r.startNs) / 1e6);
  }
  events.push(...errorEvents(r.errors));
  const failure = responseFailure(r);
  if (failure && r.errors.length === 0) events.push(exceptionEvent(failure, r.endNs));
  return span(s, false, RESPONSE_SPAN, OpenInferenceSpanKind.LLM, r.startNs, r.endNs, attrs, events, failure);
}

/** The transcription of one input audio item, as an LLM span of the transcription model. */
export function transcriptionSpan(s: SessionSpans, conversation: Conversation, t: FinishedTranscription): Span {
  const attrs = llmAttributes(s, conversation);
  put(attrs, SC.LLM_MODEL_NAME, t.model);
  put(attrs, `${SC.LLM_INPUT_MESSAGES}.0.${SC.MESSAGE_ROLE}`, 'user');
  put(attrs, `${SC.LLM_INPUT_MESSAGES}.0.${SC.MESSAGE_CONTENTS}.0.${SC.MESSAGE_CONTENT_TYPE}`, 'audio');
  put(attrs, `${SC.LLM_OUTPUT_MESSAGES}.0.${SC.MESSAGE_ROLE}`, 'assistant');
  put(attrs, `${SC.LLM_OUTPUT_MESSAGES}.0.${SC.MESSAGE_CONTENT}`, t.transcript);
  put(attrs, SC.OUTPUT_VALUE, t.transcript);
  put(attrs, SC.OUTPUT_MIME_TYPE, MimeType.TEXT);
  const usage = t.usage;
  put(attrs, SC.LLM_TOKEN_COUNT_PROMPT, usage.input_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_COMPLETION, usage.output_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_TOTAL, usage.total_tokens);
  putUsageDetails(attrs, usage);
  putSpend(s, attrs, t.startNs);
  if (usage.type === 'duration') put(attrs, RT.TRANSCRIPTION_SECONDS, usage.seconds);
  put(attrs, RT.ITEM_ID, t.itemId);
  put(attrs, RT.INPUT_AUDIO_MS, t.audioMs);
  return span(s, false, TRANSCRIPTION_SPAN, OpenInferenceSpanKind.LLM, t.startNs, t.endNs, attrs, []);
}

/** Keys whose values add up over a session's spans into its totals. */
const TOTALED = /^(?:llm|llmtap)\.((?:token_count\.(?!source$)|cost\.).+)$/;

/** Adds a span's token counts and cost to its session's totals: the one place where per-span figures become the session's. */
export function addTotals(totals: Map<string, number>, attrs: Attributes): void {
  for (const [key, value] of Object.entries(attrs)) {
    const m = TOTALED.exec(key);
    if (m && typeof value === 'number') totals.set(m[1]!, (totals.get(m[1]!) ?? 0) + value);
  }
}

/** A close that says something went wrong (not a normal one, Going Away, none given, or an application's own code). */
const abnormalClose = (code: number): boolean => code > 1001 && code < 3000 && code !== 1005;

function sessionFailure(result: SessionResult, conversation: Conversation | undefined): Failure | undefined {
  const transport = transportFailure(result);
  if (transport) return transport;
  if (result.status >= 400) return httpFailure(result.status, result.refusal && Buffer.from(result.refusal));
  if (conversation?.errors[0]) return errorFailure(conversation.errors[0]);
  const close = result.close;
  if (close && abnormalClose(close.code)) {
    return { type: 'OpenAIRealtimeError', message: `closed by the ${close.by} with ${close.code}${close.reason ? ` (${close.reason})` : ''}` };
  }
  return undefined;
}

/**
 * The session's span, from the upgrade request to the close: a CHAIN span with its children's totals for
 * the Realtime API, a light span (LLMTAP_RECORD_OTHER) for any other WebSocket endpoint.
 */
export function sessionSpan(
  s: SessionSpans,
  start: SessionStart,
  result: SessionResult,
  conversation: Conversation | undefined,
  totals: Map<string, number>,
  dropped: number,
): Span {
  const attrs: Attributes = {};
  if (start.realtime) {
    attrs[SC.OPENINFERENCE_SPAN_KIND] = OpenInferenceSpanKind.CHAIN;
    attrs[SC.LLM_SYSTEM] = LLMSystem.OPENAI;
    attrs[SC.LLM_PROVIDER] = s.provider;
    put(attrs, SC.LLM_MODEL_NAME, conversation?.model ?? start.query.model ?? start.query.deployment);
  } else attrs[LLMTAP.HTTP_METHOD] = 'GET';
  attrs[LLMTAP.URL_PATH] = start.path;
  if (result.status > 0) attrs[LLMTAP.HTTP_STATUS] = result.status;
  if (result.close) {
    attrs[RT.CLOSE_CODE] = result.close.code;
    put(attrs, RT.CLOSE_REASON, result.close.reason || undefined);
    attrs[RT.CLOSED_BY] = result.close.by;
  }
  if (conversation) {
    put(attrs, RT.SESSION_ID, conversation.realtimeId);
    if (Object.keys(conversation.settings).length > 0) put(attrs, SC.LLM_INVOCATION_PARAMETERS, JSON.stringify(conversation.settings));
    attrs[RT.RESPONSES] = conversation.responses;
    attrs[RT.ERRORS] = conversation.errorCount;
    attrs[RT.CLIENT_MESSAGES] = result.messages.fromClient;
    attrs[RT.CLIENT_BYTES] = result.messages.bytesFromClient;
    attrs[RT.UPSTREAM_MESSAGES] = result.messages.fromUpstream;
    attrs[RT.UPSTREAM_BYTES] = result.messages.bytesFromUpstream;
    if (conversation.inputAudioBytes > 0) {
      attrs[RT.INPUT_AUDIO_BYTES] = conversation.inputAudioBytes;
      attrs[RT.INPUT_AUDIO_MS] = conversation.inputAudioMs();
    }
    if (conversation.outputAudio.bytes > 0) {
      attrs[RT.OUTPUT_AUDIO_BYTES] = conversation.outputAudio.bytes;
      attrs[RT.OUTPUT_AUDIO_MS] = conversation.outputAudio.ms;
    }
    if (dropped > 0) attrs[RT.MESSAGES_DROPPED] = dropped;
    for (const [key, total] of totals) attrs[RT.TOTALS + key] = total;
  }
  putContext(attrs, withSessionId(s.ctx, conversation?.realtimeId));
  const failure = sessionFailure(result, conversation);
  const events = errorEvents(conversation?.errors ?? []);
  if (failure && !conversation?.errors.length) events.push(exceptionEvent(failure, result.endNs));
  const name = start.realtime ? SESSION_SPAN : `GET ${start.path}`;
  return span(s, true, name, start.realtime ? OpenInferenceSpanKind.CHAIN : OTHER_KIND, result.startNs, result.endNs, attrs, events, failure);
}
