// Storage thread. POST /v1/chat/completions → the attributes @arizeai/openinference-instrumentation-openai writes,
// and more: every choice and parallel tool call kept apart in streams (merged by index, as the Python
// instrumentation does), refusals, and token counts for streams.
import { MimeType, OpenInferenceSpanKind, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { asArray, isObject, type Json } from '../../json.js';
import { SPAN_NAMES } from '../route.js';
import { type Attributes, put } from '../span.js';
import { ChoiceStream, completionUsage } from './choices.js';
import { type Endpoint, putLlmRequest } from './endpoint.js';

const IN = SC.LLM_INPUT_MESSAGES;
const OUT = SC.LLM_OUTPUT_MESSAGES;

export const chatCompletions: Endpoint = {
  spanName: SPAN_NAMES.chat[0],
  spanKind: OpenInferenceSpanKind.LLM,
  modelKey: SC.LLM_MODEL_NAME,

  request(body, attrs) {
    putLlmRequest(attrs, body, 'messages');
    asArray(body.messages).forEach((m, i) => isObject(m) && inputMessage(attrs, `${IN}.${i}.`, m));
  },

  response(body, attrs) {
    put(attrs, SC.OUTPUT_VALUE, JSON.stringify(body));
    put(attrs, SC.OUTPUT_MIME_TYPE, MimeType.JSON);
    put(attrs, SC.LLM_MODEL_NAME, body.model || undefined);
    for (const choice of asArray(body.choices)) {
      if (!isObject(choice) || !isObject(choice.message)) continue;
      const prefix = `${OUT}.${Number(choice.index ?? 0)}.`;
      const m = choice.message;
      put(attrs, prefix + SC.MESSAGE_ROLE, m.role);
      if (m.content) put(attrs, prefix + SC.MESSAGE_CONTENT, m.content);
      putRefusal(attrs, prefix, m.refusal);
      toolCalls(attrs, prefix, asArray(m.tool_calls));
      functionCall(attrs, prefix, m.function_call);
      if (choice.index === 0 || choice.index === undefined) put(attrs, SC.LLM_FINISH_REASON, choice.finish_reason);
    }
    completionUsage(attrs, body.usage);
  },

  stream: () => new ChatStream(),
};

function inputMessage(attrs: Attributes, prefix: string, m: Json): void {
  put(attrs, prefix + SC.MESSAGE_ROLE, m.role);
  if (typeof m.content === 'string') put(attrs, prefix + SC.MESSAGE_CONTENT, m.content);
  else {
    asArray(m.content).forEach((part, j) => {
      if (!isObject(part)) return;
      const p = `${prefix}${SC.MESSAGE_CONTENTS}.${j}.`;
      if (part.type === 'text') {
        put(attrs, p + SC.MESSAGE_CONTENT_TYPE, 'text');
        put(attrs, p + SC.MESSAGE_CONTENT_TEXT, part.text);
      } else if (part.type === 'image_url' && isObject(part.image_url)) {
        put(attrs, p + SC.MESSAGE_CONTENT_TYPE, 'image');
        put(attrs, `${p}${SC.MESSAGE_CONTENT_IMAGE}.${SC.IMAGE_URL}`, part.image_url.url);
      }
    });
  }
  put(attrs, prefix + SC.MESSAGE_NAME, m.name);
  // The JS instrumentation records a `function` message's name as the function call name.
  if (m.role === 'function') put(attrs, prefix + SC.MESSAGE_FUNCTION_CALL_NAME, m.name);
  put(attrs, prefix + SC.MESSAGE_TOOL_CALL_ID, m.tool_call_id);
  toolCalls(attrs, prefix, asArray(m.tool_calls));
  functionCall(attrs, prefix, m.function_call);
}

function toolCalls(attrs: Attributes, prefix: string, calls: unknown[]): void {
  calls.forEach((call, k) => {
    if (!isObject(call)) return;
    const p = `${prefix}${SC.MESSAGE_TOOL_CALLS}.${k}.`;
    if (call.id) put(attrs, p + SC.TOOL_CALL_ID, call.id);
    if (isObject(call.function)) {
      put(attrs, p + SC.TOOL_CALL_FUNCTION_NAME, call.function.name);
      put(attrs, p + SC.TOOL_CALL_FUNCTION_ARGUMENTS_JSON, call.function.arguments);
    }
  });
}

function functionCall(attrs: Attributes, prefix: string, call: unknown): void {
  if (!isObject(call)) return;
  put(attrs, prefix + SC.MESSAGE_FUNCTION_CALL_NAME, call.name);
  put(attrs, prefix + SC.MESSAGE_FUNCTION_CALL_ARGUMENTS_JSON, call.arguments);
}

/** Refusals have no key of their own in OpenInference; like the JS Responses instrumentation, they
 * become a message content of type `refusal`. */
function putRefusal(attrs: Attributes, prefix: string, refusal: unknown): void {
  if (typeof refusal !== 'string' || !refusal) return;
  const p = `${prefix}${SC.MESSAGE_CONTENTS}.0.`;
  put(attrs, p + SC.MESSAGE_CONTENT_TYPE, 'refusal');
  put(attrs, p + SC.MESSAGE_CONTENT_TEXT, refusal);
}

interface MergedCall {
  id: string;
  name: string;
  args: string;
}

interface MergedChoice {
  role: string;
  content: string;
  refusal: string;
  calls: Map<number, MergedCall>;
  functionCall?: { name: string; args: string };
  finishReason?: string;
}

/** Merges `chat.completion.chunk` deltas by choice index and tool-call index. */
class ChatStream extends ChoiceStream<MergedChoice> {
  protected newChoice(): MergedChoice {
    return { role: 'assistant', content: '', refusal: '', calls: new Map() };
  }

  /** A token is content, a refusal or a tool call. */
  protected merge(merged: MergedChoice, c: Json): boolean {
    if (c.finish_reason) merged.finishReason = String(c.finish_reason);
    const d = isObject(c.delta) ? c.delta : {};
    if (typeof d.role === 'string' && d.role) merged.role = d.role;
    let token = false;
    if (typeof d.content === 'string' && d.content) {
      merged.content += d.content;
      token = true;
    }
    if (typeof d.refusal === 'string' && d.refusal) {
      merged.refusal += d.refusal;
      token = true;
    }
    for (const tc of asArray(d.tool_calls)) {
      if (!isObject(tc)) continue;
      const k = Number(tc.index ?? 0);
      let call = merged.calls.get(k);
      if (!call) merged.calls.set(k, (call = { id: '', name: '', args: '' }));
      // Ids and names come once (some compatible servers repeat them): the first one counts.
      if (typeof tc.id === 'string' && !call.id) call.id = tc.id;
      const fn = isObject(tc.function) ? tc.function : {};
      if (typeof fn.name === 'string' && !call.name) call.name = fn.name;
      if (typeof fn.arguments === 'string') call.args += fn.arguments;
      token = true;
    }
    if (isObject(d.function_call)) {
      merged.functionCall ??= { name: '', args: '' };
      if (typeof d.function_call.name === 'string') merged.functionCall.name += d.function_call.name;
      if (typeof d.function_call.arguments === 'string') merged.functionCall.args += d.function_call.arguments;
      token = true;
    }
    return token;
  }

  protected record(attrs: Attributes, choices: [number, MergedChoice][]): void {
    const first = choices.find(([index]) => index === 0)?.[1];
    if (first && !first.content && (first.calls.size > 0 || first.functionCall)) {
      // An answer of tool calls only: the assembled message, as the non-streamed response has it
      // (the JS instrumentation leaves output.value empty, and Phoenix then shows no output at all).
      put(attrs, SC.OUTPUT_VALUE, JSON.stringify(assembledMessage(first)));
      put(attrs, SC.OUTPUT_MIME_TYPE, MimeType.JSON);
    } else {
      // As the JS instrumentation: the assembled text of the first choice, as plain text.
      put(attrs, SC.OUTPUT_VALUE, first?.content ?? '');
      put(attrs, SC.OUTPUT_MIME_TYPE, MimeType.TEXT);
    }
    for (const [index, c] of choices) {
      const prefix = `${OUT}.${index}.`;
      put(attrs, prefix + SC.MESSAGE_ROLE, c.role);
      put(attrs, prefix + SC.MESSAGE_CONTENT, c.content);
      putRefusal(attrs, prefix, c.refusal);
      toolCalls(attrs, prefix, sortedCalls(c));
      if (c.functionCall) functionCall(attrs, prefix, { name: c.functionCall.name, arguments: c.functionCall.args });
    }
    put(attrs, SC.LLM_FINISH_REASON, first?.finishReason);
  }
}

/** A choice's tool calls in index order, in the response's shape. */
const sortedCalls = (c: MergedChoice): Json[] =>
  [...c.calls].sort((a, b) => a[0] - b[0]).map(([, call]) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.args } }));

/** The message a non-streamed response would have carried for this choice. */
function assembledMessage(c: MergedChoice): Json {
  return {
    role: c.role,
    content: null,
    ...(c.refusal ? { refusal: c.refusal } : {}),
    ...(c.calls.size > 0 ? { tool_calls: sortedCalls(c) } : {}),
    ...(c.functionCall ? { function_call: { name: c.functionCall.name, arguments: c.functionCall.args } } : {}),
  };
}
