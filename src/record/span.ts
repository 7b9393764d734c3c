// Both threads. The span llmtap records: everything needed to rebuild it exactly for storage, OTLP and JSONL.
import { randomFillSync } from 'node:crypto';

export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];
export type Attributes = Record<string, AttributeValue>;

/** Attribute keys of llmtap's own, beyond OpenInference. */
export const LLMTAP = {
  TTFT_MS: 'llmtap.time_to_first_token_ms',
  /** Where the span's `llm.token_count.*` come from: `upstream` (the API's usage) or `estimate` (estimate.ts). */
  TOKEN_SOURCE: 'llmtap.token_count.source',
  INPUT_TRUNCATED: 'llmtap.input.truncated',
  OUTPUT_TRUNCATED: 'llmtap.output.truncated',
  HTTP_STATUS: 'http.response.status_code',
  /** The light span of LLMTAP_RECORD_OTHER (OpenTelemetry HTTP names). */
  HTTP_METHOD: 'http.request.method',
  URL_PATH: 'url.path',
  /** Token counts a price needs that OpenInference has no key for (the Realtime API reports them). */
  PROMPT_TEXT_TOKENS: 'llmtap.token_count.prompt_details.text',
  PROMPT_IMAGE_TOKENS: 'llmtap.token_count.prompt_details.image',
  CACHE_READ_TEXT_TOKENS: 'llmtap.token_count.prompt_details.cache_read_text',
  CACHE_READ_AUDIO_TOKENS: 'llmtap.token_count.prompt_details.cache_read_audio',
  COMPLETION_TEXT_TOKENS: 'llmtap.token_count.completion_details.text',
} as const;

/** Keys of the OpenInference spec (and the Python instrumentation) that the JS conventions package lacks. */
export const OI = {
  LLM_CHOICES: 'llm.choices',
  PROMPT_TEXT: 'prompt.text',
  COMPLETION_TEXT: 'completion.text',
  EMBEDDING_INVOCATION_PARAMETERS: 'embedding.invocation_parameters',
} as const;

export interface SpanEvent {
  name: string;
  timeNs: bigint;
  attributes: Attributes;
}

export type StatusCode = 'UNSET' | 'OK' | 'ERROR';

export interface Span {
  traceId: string; // 32 lowercase hex
  spanId: string; // 16 lowercase hex
  parentSpanId?: string;
  traceState?: string;
  name: string;
  /** OpenInference span kind (LLM, EMBEDDING, …). */
  kind: string;
  startNs: bigint;
  endNs: bigint;
  statusCode: StatusCode;
  statusMessage: string;
  attributes: Attributes;
  events: SpanEvent[];
  /** Phoenix project (the resource's `openinference.project.name`). */
  project: string;
}

/** About how many bytes a span's attributes take (their text, and 8 per number): to bound memory by size. */
export function approximateSize(span: Span): number {
  let n = 0;
  for (const value of Object.values(span.attributes)) {
    if (typeof value === 'string') n += value.length;
    else if (Array.isArray(value)) for (const v of value) n += typeof v === 'string' ? v.length : 8;
    else n += 8;
  }
  return n;
}

/** Sets an attribute unless the value is absent: OpenInference never records nulls. */
export function put(attrs: Attributes, key: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') attrs[key] = value;
  else if (Array.isArray(value)) attrs[key] = value as AttributeValue;
  else attrs[key] = JSON.stringify(value);
}

// Ids come from one random pool refilled in bulk: cheaper than a crypto call per id.
const pool = Buffer.alloc(4096);
let offset = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const hex = pool.toString('hex', offset, (offset += bytes));
    if (!/^0+$/.test(hex)) return hex; // all-zero ids are invalid in W3C trace context
  }
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);
