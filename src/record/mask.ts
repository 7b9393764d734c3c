// Storage thread. OpenInference's masking variables, with the meanings of the Python and JS instrumentations combined
// (neither implements the whole set, and both read the environment themselves, which llmtap leaves to
// config.ts), extended to every place a request's text reaches: embedded texts, and the instructions,
// tools and predicted output that the invocation parameters carry. Rules are tried in order on the flat
// keys; the first that matches decides. Masking fails closed: a value it cannot look into (a body nested
// too deep to walk, text that is not the JSON it should be) is dropped, never kept as it came.
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
  const invocation = key === SC.LLM_INVOCATION_PARAMETERS || key === OI.EMBEDDING_INVOCATION_PARAMETERS;
  if (c.hideInvocationParameters && invocation) return DROP;
  if (c.hideLlmTools && key.includes(SC.LLM_TOOLS)) return DROP;
  if (c.hideInputs) {
    if (key === SC.INPUT_VALUE) return REDACTED;
    if (key === SC.INPUT_MIME_TYPE || inInput(key) || key.includes(SC.LLM_TOOLS)) return DROP;
    if (key.includes(SC.LLM_PROMPTS)) return REDACTED;
    if (key.includes(SC.EMBEDDING_EMBEDDINGS) && key.endsWith(SC.EMBEDDING_TEXT)) return REDACTED;
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
  if (key === SC.LLM_INVOCATION_PARAMETERS && typeof value === 'string') return maskInvocation(c, value);
  return value;
}

/**
 * Request fields besides the messages that carry a request's text, as the invocation parameters hold
 * them: what each is hidden with. `instructions` are the system message of a Responses call, tools carry
 * descriptions and schemas, a prediction the expected answer, a prompt template its variables, a legacy
 * completion its suffix.
 */
const INVOCATION_TEXT: [field: string, hidden: (c: MaskConfig) => boolean, redact?: (c: MaskConfig) => boolean][] = [
  ['instructions', (c) => c.hideInputs || c.hideInputMessages, (c) => c.hideInputText],
  ['tools', (c) => c.hideInputs || c.hideLlmTools],
  ['functions', (c) => c.hideInputs || c.hideLlmTools],
  ['prediction', (c) => c.hideInputs || c.hideInputMessages || c.hideInputText],
  ['prompt', (c) => c.hideInputs || c.hideInputMessages || c.hideInputText],
  ['suffix', (c) => c.hideInputs || c.hidePrompts],
];

/** The invocation parameters without the request text the configuration hides. */
function maskInvocation(c: MaskConfig, value: string): Verdict {
  const edits = INVOCATION_TEXT.filter(([, hidden, redact]) => hidden(c) || redact?.(c));
  if (edits.length === 0) return value;
  const parsed: unknown = JSON.parse(value); // a failure drops the attribute (maskAttributes)
  if (!isObject(parsed)) return DROP;
  let changed = false;
  for (const [field, hidden] of edits) {
    if (!(field in parsed)) continue;
    if (hidden(c)) delete parsed[field];
    else parsed[field] = REDACTED;
    changed = true;
  }
  return changed ? JSON.stringify(parsed) : value;
}

/**
 * Image URLs inside the request JSON of `input.value`: hidden, or redacted when base64 and too long.
 * Text that cannot be walked (not JSON, or nested too deep) is dropped when images are to be hidden;
 * otherwise its long base64 images are redacted where they stand.
 */
function maskImagesInInput(c: MaskConfig, value: string): Verdict {
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
    if (c.hideInputImages) return DROP;
    return value.replace(LONG_BASE64_IMAGE, (url) => (url.length > c.base64ImageMaxLength ? REDACTED : url));
  }
}

const LONG_BASE64_IMAGE = /data:image\/[\w.+-]+;base64,[A-Za-z0-9+/=]+/g;

/** Applies the rules in place (each span's attributes are its own) and returns the attributes. */
export function maskAttributes(c: MaskConfig, attrs: Attributes): Attributes {
  const embedding = attrs[SC.OPENINFERENCE_SPAN_KIND] === OpenInferenceSpanKind.EMBEDDING;
  for (const key in attrs) {
    const value = attrs[key]!;
    let verdict: Verdict;
    try {
      verdict = rule(c, key, value, embedding);
    } catch {
      verdict = DROP; // masking could not run on this value: it is not kept as it came
    }
    if (verdict === DROP) delete attrs[key];
    else if (verdict !== value) attrs[key] = verdict;
  }
  return attrs;
}
