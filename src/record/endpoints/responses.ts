// Storage thread. POST /v1/responses (the Responses API) → the attributes @arizeai/openinference-instrumentation-openai
// writes: input messages from `instructions` and `input` (messages, function calls and their outputs,
// reasoning), output messages from the response's items, the response JSON, token counts with cached
// and reasoning tokens. For streams it reads the final response from `response.completed`, as the JS
// instrumentation does; llmtap also assembles the items from the deltas, so a stream that broke off still
// shows what had streamed, and marks the first token, and records `response.failed` and `error` events.
// The Realtime API's items have the same shape (with audio parts, and beta's `text`), so its responses are
// read here too (realtime/spans.ts).
import { AUDIO_TRANSCRIPT, MimeType, OpenInferenceSpanKind, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { asArray, isObject, type Json } from '../../json.js';
import { SPAN_NAMES } from '../route.js';
import { type Attributes, put } from '../span.js';
import { type Endpoint, putLlmRequest, type StreamOutcome, type StreamReader } from './endpoint.js';

const TOOL_CALL = `${SC.MESSAGE_TOOL_CALLS}.0.`;

export const responses: Endpoint = {
  spanName: SPAN_NAMES.responses[0],
  spanKind: OpenInferenceSpanKind.LLM,
  modelKey: SC.LLM_MODEL_NAME,

  request(body, attrs) {
    putLlmRequest(attrs, body, 'input');
    const items: unknown[] = [];
    if (body.instructions) items.push({ role: 'system', content: body.instructions });
    if (typeof body.input === 'string') items.push({ role: 'user', content: body.input });
    else items.push(...asArray(body.input));
    items.forEach((item, i) => putItem(attrs, `${SC.LLM_INPUT_MESSAGES}.${i}.`, item));
  },

  response: putResponse,
  stream: () => new ResponsesStream(),
};

function putResponse(body: Json, attrs: Attributes): void {
  put(attrs, SC.OUTPUT_VALUE, JSON.stringify(body));
  put(attrs, SC.OUTPUT_MIME_TYPE, MimeType.JSON);
  put(attrs, SC.LLM_MODEL_NAME, body.model || undefined);
  asArray(body.output).forEach((item, i) => putItem(attrs, `${SC.LLM_OUTPUT_MESSAGES}.${i}.`, item));
  const usage = body.usage;
  if (!isObject(usage)) return;
  put(attrs, SC.LLM_TOKEN_COUNT_PROMPT, usage.input_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_COMPLETION, usage.output_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_TOTAL, usage.total_tokens);
  if (isObject(usage.input_tokens_details)) put(attrs, SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ, usage.input_tokens_details.cached_tokens);
  if (isObject(usage.output_tokens_details)) put(attrs, SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING, usage.output_tokens_details.reasoning_tokens);
}

/** One input or output item as a message: a string is a user message; items without a role by type. */
function putItem(attrs: Attributes, prefix: string, raw: unknown): void {
  const m = typeof raw === 'string' ? { role: 'user', content: raw } : raw;
  if (!isObject(m)) return;
  if (!('role' in m)) return putToolItem(attrs, prefix, m);
  put(attrs, prefix + SC.MESSAGE_ROLE, m.role);
  if (typeof m.content === 'string') put(attrs, prefix + SC.MESSAGE_CONTENT, m.content);
  else asArray(m.content).forEach((part, j) => isObject(part) && putPart(attrs, `${prefix}${SC.MESSAGE_CONTENTS}.${j}.`, part));
}

function putPart(attrs: Attributes, p: string, part: Json): void {
  switch (part.type) {
    case 'input_text':
    case 'output_text':
    case 'text': // the Realtime API's beta name of output_text
      put(attrs, p + SC.MESSAGE_CONTENT_TYPE, part.type);
      put(attrs, p + SC.MESSAGE_CONTENT_TEXT, part.text);
      break;
    case 'input_audio':
    case 'output_audio':
    case 'audio': // Realtime: the audio itself is never recorded, only its transcript
      put(attrs, p + SC.MESSAGE_CONTENT_TYPE, 'audio');
      put(attrs, `${p}${SC.MESSAGE_CONTENT_AUDIO}.${AUDIO_TRANSCRIPT}`, part.transcript || undefined);
      break;
    case 'input_image':
      put(attrs, p + SC.MESSAGE_CONTENT_TYPE, 'input_image');
      if (part.image_url) put(attrs, `${p}${SC.MESSAGE_CONTENT_IMAGE}.${SC.IMAGE_URL}`, part.image_url);
      break;
    case 'refusal':
      put(attrs, p + SC.MESSAGE_CONTENT_TYPE, 'refusal');
      put(attrs, p + SC.MESSAGE_CONTENT_TEXT, part.refusal);
      break;
  }
}

/** Items that are not messages: calls become assistant tool calls, their outputs tool messages. */
function putToolItem(attrs: Attributes, prefix: string, item: Json): void {
  const role = (r: string): void => put(attrs, prefix + SC.MESSAGE_ROLE, r);
  const call = (id: unknown, name: unknown, args: unknown): void => {
    role('assistant');
    put(attrs, prefix + TOOL_CALL + SC.TOOL_CALL_ID, id);
    put(attrs, prefix + TOOL_CALL + SC.TOOL_CALL_FUNCTION_NAME, name);
    put(attrs, prefix + TOOL_CALL + SC.TOOL_CALL_FUNCTION_ARGUMENTS_JSON, args);
  };
  const output = (callId: unknown, content: unknown): void => {
    role('tool');
    put(attrs, prefix + SC.MESSAGE_TOOL_CALL_ID, callId);
    put(attrs, prefix + SC.MESSAGE_CONTENT, content);
  };
  switch (item.type) {
    case 'function_call':
      return call(item.call_id, item.name, item.arguments);
    case 'function_call_output':
      return output(item.call_id, typeof item.output === 'string' ? item.output : JSON.stringify(item.output));
    case 'reasoning': {
      role('assistant');
      const p = `${prefix}${SC.MESSAGE_CONTENTS}.0.`;
      put(attrs, p + SC.MESSAGE_CONTENT_TYPE, 'reasoning');
      const texts = asArray(item.summary).flatMap((s) => (isObject(s) && s.type === 'summary_text' ? [s.text] : []));
      if (texts.length > 0) put(attrs, p + SC.MESSAGE_CONTENT_TEXT, texts.join('\n'));
      if (item.encrypted_content) put(attrs, p + SC.MESSAGE_CONTENT_ENCRYPTED_CONTENT, item.encrypted_content);
      return;
    }
    case 'file_search_call':
      return item.results ? output(item.id, JSON.stringify(item.results)) : call(item.id, item.type, JSON.stringify(item.queries));
    case 'computer_call':
      return call(item.id, item.type, JSON.stringify(item.action));
    case 'computer_call_output':
      return output(item.call_id, JSON.stringify(item.output));
    case 'web_search_call':
      return call(item.id, item.type, undefined); // its arguments are not shared with the caller
  }
}

const FINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);
const SNAPSHOT = new Set(['response.created', 'response.queued', 'response.in_progress']);

/** Keeps the latest response snapshot and assembles its output items from the deltas. */
class ResponsesStream implements StreamReader {
  readonly #outcome: StreamOutcome = {};
  readonly #items = new Map<number, Json>();
  #response: Json | undefined;
  #final = false;

  event(e: Json, atNs: bigint, name?: string): void {
    const type = typeof e.type === 'string' ? e.type : name;
    if (type === undefined) return;
    if (SNAPSHOT.has(type) || FINAL.has(type)) {
      if (isObject(e.response)) this.#response = e.response;
      this.#final ||= FINAL.has(type);
      if (type === 'response.failed') this.#fail(isObject(e.response) ? e.response.error : undefined);
      return;
    }
    if (type === 'error') return this.#fail(e);
    const index = Number(e.output_index ?? 0);
    if (type === 'response.output_item.added' || type === 'response.output_item.done') {
      if (isObject(e.item)) this.#items.set(index, e.item);
      return;
    }
    const item = this.#items.get(index);
    const delta = typeof e.delta === 'string' ? e.delta : '';
    if (!item || !delta) return;
    switch (type) {
      case 'response.output_text.delta':
        appendTo(item, 'content', e.content_index, 'output_text', 'text', delta);
        break;
      case 'response.refusal.delta':
        appendTo(item, 'content', e.content_index, 'refusal', 'refusal', delta);
        break;
      case 'response.function_call_arguments.delta':
        item.arguments = (typeof item.arguments === 'string' ? item.arguments : '') + delta;
        break;
      case 'response.reasoning_summary_text.delta':
        appendTo(item, 'summary', e.summary_index, 'summary_text', 'text', delta);
        return; // reasoning is not an answer token
      default:
        return;
    }
    this.#outcome.firstTokenNs ??= atNs;
  }

  #fail(error: unknown): void {
    const message = isObject(error) && typeof error.message === 'string' ? error.message : JSON.stringify(error ?? 'response failed');
    this.#outcome.error = { type: 'APIError', message };
  }

  finish(attrs: Attributes): StreamOutcome {
    if (this.#final && this.#response) putResponse(this.#response, attrs);
    else if (this.#response || this.#items.size > 0) {
      // Cut short: the last snapshot with the items streamed so far.
      const output = [...this.#items].sort((a, b) => a[0] - b[0]).map(([, item]) => item);
      putResponse({ ...this.#response, output }, attrs);
    }
    return this.#outcome;
  }
}

/** Appends a delta to `item[list][index][field]`, creating the part when its `added` event was missed. */
function appendTo(item: Json, list: string, index: unknown, type: string, field: string, delta: string): void {
  if (!Array.isArray(item[list])) item[list] = [];
  const parts = item[list] as unknown[];
  const i = Number(index ?? 0);
  const existing = parts[i];
  const part: Json = isObject(existing) ? existing : (parts[i] = { type, [field]: '' });
  part[field] = (typeof part[field] === 'string' ? part[field] : '') + delta;
}
