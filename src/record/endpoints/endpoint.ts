// Storage thread. The shape every recorded endpoint has: request → attributes, response or stream → attributes.
import { MimeType, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { asArray, type Json } from '../../json.js';
import { type Attributes, put } from '../span.js';

export interface StreamOutcome {
  /** When the first content or tool delta reached the client. */
  firstTokenNs?: bigint;
  /** An error event inside a 200 stream. */
  error?: { type: string; message: string };
}

/** Accumulates a streamed response event by event, keeping only what the span needs. */
export interface StreamReader {
  event(data: Json, atNs: bigint, name?: string): void;
  finish(attrs: Attributes): StreamOutcome;
}

export interface Endpoint {
  spanName: string;
  /** OpenInference span kind. */
  spanKind: string;
  /** The attribute naming the model (an Azure deployment's name goes there when the response names none). */
  modelKey: string;
  request(body: Json, attrs: Attributes): void;
  response(body: Json, attrs: Attributes): void;
  /** Absent for an endpoint that never streams. */
  stream?(): StreamReader;
}

/**
 * What the JS instrumentation records of a chat or Responses request besides its messages: the model, the
 * body as JSON, the body without its `messagesKey` as invocation parameters (tools stay), and each tool.
 */
export function putLlmRequest(attrs: Attributes, body: Json, messagesKey: string): void {
  const { [messagesKey]: _messages, ...invocation } = body;
  put(attrs, SC.LLM_MODEL_NAME, body.model);
  put(attrs, SC.INPUT_VALUE, JSON.stringify(body));
  put(attrs, SC.INPUT_MIME_TYPE, MimeType.JSON);
  put(attrs, SC.LLM_INVOCATION_PARAMETERS, JSON.stringify(invocation));
  asArray(body.tools).forEach((tool, i) => put(attrs, `${SC.LLM_TOOLS}.${i}.${SC.TOOL_JSON_SCHEMA}`, JSON.stringify(tool)));
}
