// A list item: what the viewer's table and a quick `curl` need, without the span's bulk.
import { AUDIO_TRANSCRIPT, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { nsToIso } from '../phoenix/isotime.js';
import { endpointOfSpan, type SpanEndpoint } from '../record/route.js';
import { type Attributes, LLMTAP } from '../record/span.js';
import type { Row } from '../store/queries.js';

export interface SpanListItem {
  seq: number;
  span_id: string;
  trace_id: string;
  parent_id: string | null;
  name: string;
  kind: string;
  /** chat, responses, embeddings, completions, realtime or other (light spans, imported spans). */
  endpoint: SpanEndpoint;
  /** The request asked for a stream. */
  stream: boolean;
  /** What the client got (none when it got no answer). */
  http_status: number | null;
  tags: string[];
  start_time: string;
  end_time: string;
  duration_ms: number;
  status_code: string;
  status_message: string;
  project: string;
  session_id: string | null;
  user_id: string | null;
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  /** `upstream` or `estimate` (llmtap.token_count.source); null without counts. */
  token_source: string | null;
  /** `llm.cost.total`; null when the model has no known price. */
  cost_usd: number | null;
  ttft_ms: number | null;
  /** The first 200 characters of the last input message… */
  input_preview: string;
  /** …and of the output (for embeddings: how many vectors of how many dimensions). */
  output_preview: string;
}

const PREVIEW = 200;
const int = (v: bigint | null): number | null => (v === null ? null : Number(v));

export function listItem(r: Row): SpanListItem {
  const attrs = JSON.parse(r.attributes) as Attributes;
  return {
    seq: Number(r.seq),
    span_id: r.span_id,
    trace_id: r.trace_id,
    parent_id: r.parent_id,
    name: r.name,
    kind: r.kind,
    endpoint: endpointOfSpan(r.name),
    stream: /"stream"\s*:\s*true/.test(text(attrs, SC.LLM_INVOCATION_PARAMETERS)),
    http_status: typeof attrs[LLMTAP.HTTP_STATUS] === 'number' ? (attrs[LLMTAP.HTTP_STATUS] as number) : null,
    tags: Array.isArray(attrs[SC.TAG_TAGS]) ? (attrs[SC.TAG_TAGS] as unknown[]).map(String) : [],
    start_time: nsToIso(r.start_ns),
    end_time: nsToIso(r.end_ns),
    duration_ms: Number(r.end_ns - r.start_ns) / 1e6,
    status_code: r.status_code,
    status_message: r.status_message,
    project: r.project,
    session_id: r.session_id,
    user_id: r.user_id,
    model: r.model,
    prompt_tokens: int(r.prompt_tokens),
    completion_tokens: int(r.completion_tokens),
    total_tokens: int(r.total_tokens),
    token_source: typeof attrs[LLMTAP.TOKEN_SOURCE] === 'string' ? (attrs[LLMTAP.TOKEN_SOURCE] as string) : null,
    cost_usd: r.cost_usd,
    ttft_ms: r.ttft_ms,
    input_preview: clip(lastMessageText(attrs, SC.LLM_INPUT_MESSAGES) ?? text(attrs, SC.INPUT_VALUE)),
    output_preview: clip(messageText(attrs, `${SC.LLM_OUTPUT_MESSAGES}.0.`) ?? (text(attrs, SC.OUTPUT_VALUE) || vectors(attrs))),
  };
}

const text = (attrs: Attributes, key: string): string => (typeof attrs[key] === 'string' ? (attrs[key] as string) : '');

function lastMessageText(attrs: Attributes, list: string): string | undefined {
  let last = -1;
  const index = new RegExp(`^${list.replaceAll('.', '\\.')}\\.(\\d+)\\.`);
  for (const key of Object.keys(attrs)) {
    const m = index.exec(key);
    if (m) last = Math.max(last, Number(m[1]));
  }
  return last < 0 ? undefined : messageText(attrs, `${list}.${last}.`);
}

/** A message as one line of text: its content, its text parts (an audio part's transcript), or its tool calls. */
function messageText(attrs: Attributes, prefix: string): string | undefined {
  const content = attrs[prefix + SC.MESSAGE_CONTENT];
  if (typeof content === 'string' && content !== '') return content;
  const parts: string[] = [];
  const calls: string[] = [];
  for (const [key, value] of Object.entries(attrs)) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    if (rest.endsWith(`.${SC.MESSAGE_CONTENT_TEXT}`) || rest.endsWith(`.${AUDIO_TRANSCRIPT}`)) parts.push(String(value));
    else if (rest.endsWith(`.${SC.MESSAGE_CONTENT_IMAGE}.${SC.IMAGE_URL}`)) parts.push('[image]');
    else if (rest.endsWith(`.${SC.TOOL_CALL_FUNCTION_NAME}`)) calls.push(`${String(value)}(${String(attrs[key.replace(/name$/, 'arguments')] ?? '')})`);
  }
  const joined = [...parts, ...calls].join(' ');
  return joined === '' ? undefined : joined;
}

/** "3 vectors of 1536 dimensions": what an embeddings call answered, never the numbers. */
function vectors(attrs: Attributes): string {
  let count = 0;
  let dimensions = 0;
  for (const [key, value] of Object.entries(attrs)) {
    if (!key.startsWith(`${SC.EMBEDDING_EMBEDDINGS}.`) || !key.endsWith(`.${SC.EMBEDDING_VECTOR}`) || !Array.isArray(value)) continue;
    count++;
    dimensions = Math.max(dimensions, value.length);
  }
  return count === 0 ? '' : `${count} vector${count > 1 ? 's' : ''} of ${dimensions} dimensions`;
}

/** The first characters (code points, so an emoji is never cut in half). */
function clip(s: string): string {
  if (s.length <= PREVIEW) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    if (n++ === PREVIEW) break;
    out += ch;
  }
  return out;
}
