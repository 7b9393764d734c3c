// Storage thread. OpenInference's masking variables, with the meanings of the Python and JS instrumentations combined
// (neither implements the whole set, and both read the environment themselves, which llmtap leaves to
// config.ts). Rules are tried in order on the flat keys; the first that matches decides.
import { AUDIO_TRANSCRIPT, OpenInferenceSpanKind, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import type { MaskConfig } from '../config.js';
import { isObject } from '../json.js';
import { type Attributes, type AttributeValue, OI } from './span.js';

export const REDACTED = '__REDACTED__';

const DROP = Symbol('drop');
type Verdict = AttributeValue | typeof DROP;

const inInput = (k: string): boolean => k.includes(SC.LLM_INPUT_MESSAGES);
const inOutput = (k: string): boolean => k.includes(SC.LLM_OUTPUT_MESSAGES);
/** A message's text: its content, a text part, or the transcript of an audio part (the Realtime API). */
const isMessageText = (k: string): boolean =>
  (k.includes(SC.MESSAGE_CONTENT) && !k.includes(SC.MESSAGE_CONTENTS)) || k.includes(SC.MESSAGE_CONTENT_TEXT) || k.endsWith(AUDIO_TRANSCRIPT);
const isLongBase64Image = (v: AttributeValue, max: number): boolean =>
  typeof v === 'string' && v.startsWith('data:image/') && v.includes('base64') && v.length > max;

/** `embedding`: the attributes are an embedding span's, whose `input.value` is the embedded texts. */
function rule(c: MaskConfig, key: string, value: AttributeValue, embedding: boolean): Verdict {
  if (c.hideInvocationParameters && key === SC.LLM_INVOCATION_PARAMETERS) return DROP;
  if (c.hideLlmTools && key.includes(SC.LLM_TOOLS)) return DROP;
  if (c.hideInputs) {
    if (key === SC.INPUT_VALUE) return REDACTED;
    if (key === SC.INPUT_MIME_TYPE || inInput(key) || key.includes(SC.LLM_TOOLS)) return DROP;
    if (key.includes(SC.LLM_PROMPTS)) return REDACTED;
  }
  if (c.hideOutputs) {
    if (key === SC.OUTPUT_VALUE) return REDACTED;
    if (key === SC.OUTPUT_MIME_TYPE || inOutput(key)) return DROP;
    if (key.includes(OI.LLM_CHOICES)) return REDACTED;
  }
  if (c.hideInputMessages && inInput(key)) return DROP;
  if (c.hideOutputMessages && inOutput(key)) return DROP;
  if (c.hideInputImages && inInput(key) && key.includes(SC.MESSAGE_CONTENT_IMAGE)) return DROP;
  if (c.hideInputText && inInput(key) && isMessageText(key)) return REDACTED;
  if (c.hideOutputText && inOutput(key) && isMessageText(key)) return REDACTED;
  if (c.hidePrompts && key.includes(SC.LLM_PROMPTS)) return REDACTED;
  if (c.hideChoices && key.includes(OI.LLM_CHOICES)) return REDACTED;
  if ((c.hideEmbeddingVectors || c.hideEmbeddingsVectors) && key.includes(SC.EMBEDDING_EMBEDDINGS) && key.endsWith(SC.EMBEDDING_VECTOR)) return DROP;
  if (c.hideEmbeddingsText && key.includes(SC.EMBEDDING_EMBEDDINGS) && key.endsWith(SC.EMBEDDING_TEXT)) return REDACTED;
  if (c.hideEmbeddingsText && embedding && key === SC.INPUT_VALUE) return REDACTED;
  if (key.endsWith(SC.IMAGE_URL) && (inInput(key) || inOutput(key)) && isLongBase64Image(value, c.base64ImageMaxLength)) return REDACTED;
  if (key === SC.INPUT_VALUE && typeof value === 'string') return maskImagesInInput(c, value);
  return value;
}

/** Image URLs inside the request JSON of `input.value`: hidden, or redacted when base64 and too long. */
function maskImagesInInput(c: MaskConfig, value: string): string {
  if (!value.includes('image_url')) return value;
  if (!c.hideInputImages && !value.includes('data:image/')) return value;
  let changed = false;
  const redact = (url: unknown): boolean => typeof url === 'string' && (c.hideInputImages || isLongBase64Image(url, c.base64ImageMaxLength));
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isObject(node)) {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'image_url' && redact(v)) {
          node[k] = REDACTED; // Responses API: image_url is the URL itself
          changed = true;
        } else if (k === 'image_url' && isObject(v) && redact(v.url)) {
          v.url = REDACTED; // Chat Completions: image_url: {url}
          changed = true;
        } else walk(v);
      }
    }
  };
  try {
    const parsed: unknown = JSON.parse(value);
    walk(parsed);
    return changed ? JSON.stringify(parsed) : value;
  } catch {
    return value;
  }
}

/** Applies the rules in place (each span's attributes are its own) and returns the attributes. */
export function maskAttributes(c: MaskConfig, attrs: Attributes): Attributes {
  const embedding = attrs[SC.OPENINFERENCE_SPAN_KIND] === OpenInferenceSpanKind.EMBEDDING;
  for (const key in attrs) {
    const value = attrs[key]!;
    const verdict = rule(c, key, value, embedding);
    if (verdict === DROP) delete attrs[key];
    else if (verdict !== value) attrs[key] = verdict;
  }
  return attrs;
}
