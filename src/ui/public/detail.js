// A span in detail, for every kind: chat and Responses conversations (text, images, audio transcripts,
// reasoning summaries, refusals, tool calls), legacy completions (prompts and choices), embeddings (each
// input and its vector's size, never the vector), light spans of other paths, Realtime sessions, errors;
// then its fields (tokens, cost, tags, metadata…), parameters, tools, its trace, and the raw JSON.
import { api, traceSpans } from './api.js';
import { field, h, link, message, pretty, section, statusBadge } from './dom.js';
import { int, ms, timeEl, usd } from './format.js';
import { endpointLabel } from './list.js';
import { href, withParams } from './route.js';

function imageView(url) {
  // Only images: a data: URL of an image or an http(s) link; anything else is shown as text.
  if (!/^(data:image\/|https?:)/i.test(url)) return h('div', { class: 'text' }, url);
  const img = h('img', { class: 'thumb', alt: 'image from the prompt', loading: 'lazy' });
  img.src = url;
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, img);
}

/** One message: its text, parts and tool calls. */
export function messageView(role, m) {
  const body = [];
  if (m.content !== undefined) body.push(h('div', { class: 'text' }, String(m.content)));
  for (const part of m.contents ?? []) {
    const c = part.message_content ?? {};
    if (c.image?.image?.url) body.push(imageView(c.image.image.url));
    else if (c.type === 'audio')
      body.push(h('div', { class: 'text' }, h('span', { class: 'muted' }, 'audio: '), String(c.audio?.audio?.transcript ?? '(no transcript)')));
    else if (c.type === 'reasoning')
      body.push(h('div', { class: 'reasoning' }, h('span', { class: 'muted' }, 'Reasoning summary: '), String(c.text ?? '(none)')));
    else if (c.type === 'refusal') body.push(h('div', { class: 'text refusal' }, h('span', { class: 'muted' }, 'Refusal: '), String(c.text ?? '')));
    else if (c.text !== undefined) body.push(h('div', { class: 'text' }, String(c.text)));
  }
  for (const call of m.tool_calls ?? []) {
    const t = call.tool_call ?? {};
    body.push(
      h(
        'div',
        { class: 'tool-call' },
        h('div', { class: 'tool-name' }, t.function?.name ?? 'tool call', t.id ? h('span', { class: 'muted' }, `  ${t.id}`) : null),
        t.function?.arguments !== undefined ? h('pre', {}, pretty(t.function.arguments)) : null,
      ),
    );
  }
  const who = [role, m.name && `(${m.name})`, m.tool_call_id && `→ ${m.tool_call_id}`].filter(Boolean).join(' ');
  return h('div', { class: `message ${role.split(' ')[0]}` }, h('div', { class: 'role' }, who), ...body);
}

export const inputMessages = (a) => (a.llm?.input_messages ?? []).map((m) => m.message ?? {});
export const outputMessages = (a) => (a.llm?.output_messages ?? []).map((m) => m.message ?? {});

/** What the call said and answered, as the kind of span has it. */
function content(span, a) {
  const parts = [];
  const llm = a.llm ?? {};
  const inputs = inputMessages(a);
  const outputs = outputMessages(a);
  if (inputs.length > 0 || outputs.length > 0) {
    parts.push(
      section(
        'Conversation',
        h(
          'div',
          { class: 'conversation' },
          ...inputs.map((m) => messageView(m.role ?? 'unknown', m)),
          ...outputs.map((m) => messageView(`${m.role ?? 'assistant'} (output)`, m)),
        ),
      ),
    );
  }
  if (llm.prompts?.length || a.llm?.choices?.length) {
    parts.push(
      section(
        'Completion',
        h(
          'div',
          { class: 'conversation' },
          ...(llm.prompts ?? []).map((p, i) => messageView(`prompt ${i}`, { content: p.prompt?.text ?? '' })),
          ...(llm.choices ?? []).map((c, i) => messageView(`choice ${i} (output)`, { content: c.completion?.text ?? '' })),
        ),
      ),
    );
  }
  const embeddings = a.embedding?.embeddings ?? [];
  if (embeddings.length > 0) {
    parts.push(
      section(
        `Embeddings (${embeddings.length})`,
        h(
          'ol',
          { class: 'embeddings' },
          ...embeddings.map((e) => {
            const v = e.embedding?.vector;
            return h(
              'li',
              {},
              h('div', { class: 'text' }, e.embedding?.text ?? h('span', { class: 'muted' }, '(no text: token ids, or hidden)')),
              h(
                'div',
                { class: 'muted' },
                Array.isArray(v)
                  ? `vector of ${v.length} dimensions: [${v
                      .slice(0, 3)
                      .map((x) => x.toFixed(4))
                      .join(', ')}, …]`
                  : 'no vector recorded',
              ),
            );
          }),
        ),
      ),
    );
  }
  if (a.http?.request?.method || a.url?.path) {
    parts.push(
      section(
        'Request',
        h('dl', { class: 'fields' }, field('Method', a.http?.request?.method), field('Path', a.url?.path), field('HTTP status', a.http?.response?.status_code)),
        message('A light span (LLMTAP_RECORD_OTHER): no bodies are recorded for other paths.'),
      ),
    );
  }
  if (parts.length === 0 && a.output?.value) parts.push(section('Output', h('pre', {}, pretty(a.output.value))));
  if (parts.length === 0 && a.input?.value) parts.push(section('Input', h('pre', {}, pretty(a.input.value))));
  return parts;
}

/** What a Realtime session's span (and its responses) say beyond an LLM span's fields. */
function realtimeFields(rt) {
  const audio = (x) => (x?.duration_ms === undefined ? null : ms(x.duration_ms) + (x.bytes === undefined ? '' : ` (${int(x.bytes)} bytes)`));
  const t = rt.token_count;
  return [
    field('Response', rt.response?.status && `${rt.response.status}${rt.response.status_reason ? ` (${rt.response.status_reason})` : ''}`),
    field('Responses', rt.responses === undefined ? null : `${int(rt.responses)}, ${int(rt.errors)} error events`),
    field('Session tokens', t?.total === undefined ? null : `${int(t.prompt)} prompt + ${int(t.completion)} completion = ${int(t.total)}`),
    field('Session cost', rt.cost?.total === undefined ? null : usd(rt.cost.total)),
    field('Audio in', audio(rt.input_audio)),
    field('Audio out', audio(rt.output_audio)),
    field('Closed', rt.close && `${rt.close.code}${rt.close.reason ? ` "${rt.close.reason}"` : ''} by the ${rt.close.by}`),
    field('Realtime session', rt.session_id),
  ];
}

/** The raw span, embedding vectors cut to their size. */
function rawJson(span) {
  return JSON.stringify(span, (key, value) => (key === 'vector' && Array.isArray(value) ? `[${value.length} numbers]` : value), 2);
}

const invocation = (a) => a.llm?.invocation_parameters ?? a.embedding?.invocation_parameters;
const isStream = (a) => /"stream"\s*:\s*true/.test(invocation(a) ?? '');

/** Renders span `spanId` into `pane` (`close`: its close button); resolves once drawn. */
export async function showSpan(pane, spanId, close) {
  pane.replaceChildren(message('Loading…'));
  let span;
  try {
    span = await api(`spans/${encodeURIComponent(spanId)}`);
  } catch (err) {
    pane.replaceChildren(message(err.message, 'error'));
    return;
  }
  const a = span.attributes;
  const llm = a.llm ?? {};
  const tokens = llm.token_count ?? {};
  const cost = llm.cost ?? {};
  const durationMs = new Date(span.end_time) - new Date(span.start_time);
  const ttft = a.llmtap?.time_to_first_token_ms;
  const exception = span.events.find((e) => e.name === 'exception');
  const httpStatus = a.http?.response?.status_code;
  const trace = await traceSpans(span.context.trace_id);
  const item = trace.find((s) => s.span_id === spanId);
  const metadata = a.metadata && typeof a.metadata === 'object' ? Object.entries(a.metadata) : [];

  const parts = [
    h(
      'div',
      { class: 'detail-head' },
      h('h2', { id: 'detail-title' }, span.name),
      statusBadge(span.status_code, httpStatus),
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close the detail (Escape)', onclick: close }, '×'),
    ),
  ];
  if (span.status_code === 'ERROR') {
    const [type, ...rest] = (span.status_message || '').split(': ');
    parts.push(
      h(
        'div',
        { class: 'error-box', role: 'alert' },
        h('strong', {}, exception?.attributes['exception.type'] ?? (rest.length ? type : 'Error')),
        httpStatus ? ` (HTTP ${httpStatus})` : '',
        ': ',
        exception?.attributes['exception.message'] ?? (rest.length ? rest.join(': ') : span.status_message) ?? 'unknown error',
      ),
    );
  }
  parts.push(
    h(
      'dl',
      { class: 'fields' },
      field('Endpoint', item ? endpointLabel(item) : span.span_kind),
      field('Model', llm.model_name ?? a.embedding?.model_name),
      field('Provider', llm.provider),
      field('Started', timeEl(span.start_time)),
      field('Duration', ms(durationMs)),
      field('Stream', isStream(a) ? `yes${ttft === undefined ? '' : `, first token after ${ms(ttft)}`}` : null),
      field('Time to first token', ttft === undefined || isStream(a) ? null : ms(ttft)),
      field('HTTP status', httpStatus),
      field(
        'Tokens',
        tokens.total === undefined ? null : `${int(tokens.prompt ?? 0)} prompt + ${int(tokens.completion ?? 0)} completion = ${int(tokens.total)}`,
      ),
      field('Cached prompt tokens', tokens.prompt_details?.cache_read),
      field('Reasoning tokens', tokens.completion_details?.reasoning),
      field('Token counts', { upstream: 'from the API', estimate: 'estimated by llmtap (the API sent none)' }[a.llmtap?.token_count?.source]),
      field('Cost', cost.total === undefined ? null : `${usd(cost.total)} (${usd(cost.prompt ?? 0)} prompt + ${usd(cost.completion ?? 0)} completion)`),
      field('Finish reason', llm.finish_reason),
      ...realtimeFields(a.llmtap?.realtime ?? {}),
      field('Session', a.session?.id && link(href('sessions', a.session.id), a.session.id)),
      field('User', a.user?.id),
      field('Project', item?.project),
      field(
        'Tags',
        (Array.isArray(a.tag?.tags) ? a.tag.tags : []).map((t) => h('span', { class: 'chip' }, t)),
      ),
      field('Input truncated', a.llmtap?.input?.truncated ? 'yes: the request was larger than LLMTAP_CAPTURE_MAX_BYTES' : null),
      field('Output truncated', a.llmtap?.output?.truncated ? 'yes: the response was larger than LLMTAP_CAPTURE_MAX_BYTES' : null),
      field('Trace', link(href('traces', span.context.trace_id), `${span.context.trace_id}${trace.length > 1 ? ` (${trace.length} spans)` : ''}`)),
      field('Span id', span.context.span_id),
      field('Parent span', span.parent_id),
    ),
  );
  if (metadata.length > 0) {
    parts.push(section('Metadata', h('dl', { class: 'fields' }, ...metadata.map(([k, v]) => field(k, typeof v === 'string' ? v : JSON.stringify(v))))));
  }
  parts.push(...content(span, a));
  if (invocation(a)) parts.push(section('Invocation parameters', h('pre', {}, pretty(invocation(a)))));
  if (llm.tools?.length) {
    parts.push(
      h(
        'details',
        { class: 'part' },
        h('summary', {}, `Tools (${llm.tools.length})`),
        ...llm.tools.map((t) => h('pre', {}, pretty(t.tool?.json_schema ?? ''))),
      ),
    );
  }
  if (trace.length > 1) {
    parts.push(
      section(
        'Trace',
        h(
          'ol',
          { class: 'trace-list' },
          ...trace.map((s) =>
            h(
              'li',
              { 'aria-current': s.span_id === spanId ? 'true' : undefined },
              h('a', { href: withParams({ span: s.span_id }) }, s.name),
              ' ',
              statusBadge(s.status_code, s.http_status),
              h('span', { class: 'muted' }, ' ', timeEl(s.start_time), ` · ${ms(s.duration_ms)}`),
            ),
          ),
        ),
      ),
    );
  }
  parts.push(h('details', { class: 'part raw' }, h('summary', {}, 'Raw span JSON'), h('pre', {}, rawJson(span))));
  pane.replaceChildren(...parts);
  pane.scrollTop = 0;
}
