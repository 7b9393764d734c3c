// Storage thread. POST /v1/embeddings → the attributes @arizeai/openinference-instrumentation-openai writes (kind
// EMBEDDING, the model, the input, each text and vector), and more, as the Python instrumentation does:
// vectors of base64 responses decoded to floats (the openai npm client asks for base64 unless told
// otherwise, and decodes them the same way), the invocation parameters and the token counts.
import { MimeType, OpenInferenceSpanKind, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { asArray, isObject } from '../../json.js';
import { SPAN_NAMES } from '../route.js';
import { OI, put } from '../span.js';
import { type Endpoint } from './endpoint.js';

const EE = SC.EMBEDDING_EMBEDDINGS;

export const embeddings: Endpoint = {
  spanName: SPAN_NAMES.embeddings[0],
  spanKind: OpenInferenceSpanKind.EMBEDDING,
  modelKey: SC.EMBEDDING_MODEL_NAME,

  request(body, attrs) {
    const { input, ...invocation } = body;
    put(attrs, SC.EMBEDDING_MODEL_NAME, body.model);
    put(attrs, OI.EMBEDDING_INVOCATION_PARAMETERS, JSON.stringify(invocation));
    if (typeof input === 'string') {
      put(attrs, SC.INPUT_VALUE, input);
      put(attrs, SC.INPUT_MIME_TYPE, MimeType.TEXT);
      put(attrs, `${EE}.0.${SC.EMBEDDING_TEXT}`, input);
      return;
    }
    put(attrs, SC.INPUT_VALUE, JSON.stringify(input));
    put(attrs, SC.INPUT_MIME_TYPE, MimeType.JSON);
    // Token-id inputs (arrays of numbers) have no text to record.
    asArray(input).forEach((text, i) => typeof text === 'string' && put(attrs, `${EE}.${i}.${SC.EMBEDDING_TEXT}`, text));
  },

  response(body, attrs) {
    put(attrs, SC.EMBEDDING_MODEL_NAME, body.model || undefined);
    asArray(body.data).forEach((item, position) => {
      if (!isObject(item)) return;
      const index = typeof item.index === 'number' ? item.index : position;
      put(attrs, `${EE}.${index}.${SC.EMBEDDING_VECTOR}`, vector(item.embedding));
    });
    if (isObject(body.usage)) {
      put(attrs, SC.LLM_TOKEN_COUNT_PROMPT, body.usage.prompt_tokens);
      put(attrs, SC.LLM_TOKEN_COUNT_TOTAL, body.usage.total_tokens);
    }
  },
};

/** A float vector, or (`encoding_format: "base64"`) little-endian float32s in base64. */
function vector(embedding: unknown): number[] | undefined {
  if (Array.isArray(embedding)) return embedding.every((x) => typeof x === 'number') ? embedding : undefined;
  if (typeof embedding !== 'string') return undefined;
  const bytes = Buffer.from(embedding, 'base64');
  return Array.from({ length: bytes.length >> 2 }, (_, i) => bytes.readFloatLE(i * 4));
}
