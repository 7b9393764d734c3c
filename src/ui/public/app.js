// The llmtap viewer: a page of recent spans at a time (the server paginates, so 100,000 stored spans
// cost no more than 100), new spans polled and merged in live, and a detail view per span.
// Everything recorded is shown with textContent: prompts and outputs are data, never markup.

const PAGE = 100;
const POLL_MS = 2000;
const TOKEN_KEY = 'llmtap-admin-token';

const $ = (id) => document.getElementById(id);
const rows = $('rows');
const filtersForm = $('filters');

const state = {
  /** Loaded spans in display order (newest first). */
  items: [],
  ids: new Set(),
  nextCursor: null,
  lastSeq: 0,
  generation: 0,
  selected: null,
};

/** Builds an element: h('td', { class: 'x' }, 'text', child…). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

// ---- API access (with the admin token when the server asks for one) -----------------------------

let tokenPrompt = null;

function askToken(rejected) {
  tokenPrompt ??= new Promise((resolve) => {
    const dialog = $('token-dialog');
    $('token-error').hidden = !rejected;
    dialog.querySelector('form').onsubmit = () => {
      sessionStorage.setItem(TOKEN_KEY, dialog.querySelector('input').value.trim());
      tokenPrompt = null;
      resolve();
    };
    dialog.showModal();
  });
  return tokenPrompt;
}

async function api(path) {
  for (;;) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const res = await fetch(`../api/${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (res.status === 401) {
      await askToken(Boolean(token));
      continue;
    }
    const body = await res.json();
    if (!res.ok) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    return body;
  }
}

// ---- formatting ---------------------------------------------------------------------------------

const fmtMs = (ms) => (ms === null || ms === undefined ? '' : ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtInt = (n) => (n === null || n === undefined ? '' : n.toLocaleString());
/** USD with the precision small amounts need: $0.00042, $1.25. */
const fmtUsd = (n) => (n === null || n === undefined ? '' : `$${n !== 0 && Math.abs(n) < 0.01 ? n.toPrecision(2) : n.toFixed(2)}`);

function fmtTime(iso) {
  const d = new Date(iso);
  const time = d.toLocaleTimeString(undefined, { hour12: false }) + `.${String(d.getMilliseconds()).padStart(3, '0')}`;
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

const statusBadge = (code) => h('span', { class: `badge ${code.toLowerCase()}` }, code);

// ---- the list -----------------------------------------------------------------------------------

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(filtersForm)) if (String(v).trim()) params.set(k, String(v).trim());
  for (const [k, v] of Object.entries(extra)) params.set(k, String(v));
  return params.toString();
}

function row(item) {
  const tr = h(
    'tr',
    { 'data-span-id': item.span_id, class: item.status_code === 'ERROR' ? 'error' : undefined, onclick: () => (location.hash = `#span/${item.span_id}`) },
    h('td', { class: 'time', title: item.start_time }, fmtTime(item.start_time)),
    h('td', { class: 'model' }, item.model ?? ''),
    h('td', { class: 'status' }, statusBadge(item.status_code)),
    h('td', { class: 'num' }, fmtMs(item.duration_ms)),
    h(
      'td',
      {
        class: 'num',
        title:
          item.total_tokens === null
            ? ''
            : `${item.prompt_tokens} prompt + ${item.completion_tokens} completion${item.token_source === 'estimate' ? ' (estimated)' : ''}` +
              (item.cost_usd === null ? '' : `, ${fmtUsd(item.cost_usd)}`),
      },
      fmtInt(item.total_tokens),
    ),
    h('td', { class: 'prompt' }, item.input_preview),
  );
  if (item.span_id === state.selected) tr.classList.add('selected');
  return tr;
}

/** Newest first: by start time (the server's ISO times sort as text), then by storage order. */
const before = (a, b) => a.start_time > b.start_time || (a.start_time === b.start_time && a.seq > b.seq);

function renderEmpty() {
  $('empty').hidden = state.items.length > 0;
  $('more').hidden = !state.nextCursor;
}

async function reload() {
  const generation = ++state.generation;
  const page = await api(`spans?${query({ limit: PAGE })}`);
  if (generation !== state.generation) return; // filters changed meanwhile
  state.items = page.data;
  state.ids = new Set(page.data.map((i) => i.span_id));
  state.nextCursor = page.next_cursor;
  state.lastSeq = page.last_seq;
  rows.replaceChildren(...page.data.map(row));
  page.data.forEach(noteModel);
  renderEmpty();
}

async function loadMore() {
  if (!state.nextCursor) return;
  const generation = state.generation;
  const page = await api(`spans?${query({ limit: PAGE, cursor: state.nextCursor })}`);
  if (generation !== state.generation) return;
  for (const item of page.data) {
    if (state.ids.has(item.span_id)) continue;
    state.ids.add(item.span_id);
    state.items.push(item);
    rows.append(row(item));
  }
  state.nextCursor = page.next_cursor;
  renderEmpty();
}

/** Spans stored since the last look go where they belong in the list; older than what is loaded, they wait for "load older". */
async function poll() {
  const generation = state.generation;
  const page = await api(`spans?${query({ limit: 1000, after_seq: state.lastSeq })}`);
  if (generation !== state.generation) return;
  if (page.next_cursor) return reload(); // a burst larger than one answer: start over
  state.lastSeq = Math.max(state.lastSeq, page.last_seq);
  for (const item of page.data.slice().reverse()) {
    if (state.ids.has(item.span_id)) continue;
    let at = state.items.findIndex((other) => before(item, other));
    if (at === -1) {
      if (state.nextCursor) continue;
      at = state.items.length;
    }
    state.ids.add(item.span_id);
    state.items.splice(at, 0, item);
    const tr = row(item);
    tr.classList.add('fresh');
    rows.insertBefore(tr, rows.children[at] ?? null);
    noteModel(item);
  }
  renderEmpty();
}

const models = new Set();
function noteModel(item) {
  if (!item.model || models.has(item.model)) return;
  models.add(item.model);
  filtersForm.model.append(h('option', { value: item.model }, item.model));
}

async function loadModels() {
  const { data } = await api('models');
  for (const model of data) noteModel({ model });
}

// ---- the detail view ----------------------------------------------------------------------------

function messageView(role, message) {
  const body = [];
  if (message.content !== undefined) body.push(h('div', { class: 'text' }, String(message.content)));
  for (const part of message.contents ?? []) {
    const c = part.message_content ?? {};
    if (c.type === 'image' && c.image?.image?.url) body.push(imageView(c.image.image.url));
    else if (c.type === 'audio')
      body.push(h('div', { class: 'text' }, h('span', { class: 'muted' }, 'audio: '), String(c.audio?.audio?.transcript ?? '(no transcript)')));
    else if (c.text !== undefined) body.push(h('div', { class: 'text' }, String(c.text)));
  }
  for (const call of message.tool_calls ?? []) {
    const t = call.tool_call ?? {};
    body.push(
      h(
        'div',
        { class: 'tool-call' },
        h('div', { class: 'tool-name' }, `${t.function?.name ?? 'tool call'}`, t.id ? h('span', { class: 'muted' }, `  ${t.id}`) : null),
        h('pre', {}, pretty(t.function?.arguments ?? '')),
      ),
    );
  }
  const who = [role, message.name && `(${message.name})`, message.tool_call_id && `→ ${message.tool_call_id}`].filter(Boolean).join(' ');
  return h('div', { class: `message ${role}` }, h('div', { class: 'role' }, who), ...body);
}

function imageView(url) {
  // Only images: a data: URL of an image or an http(s) link; anything else is shown as text.
  if (!/^(data:image\/|https?:)/i.test(url)) return h('div', { class: 'text' }, url);
  const img = h('img', { class: 'thumb', alt: 'image from the prompt', loading: 'lazy' });
  img.src = url;
  return h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, img);
}

function field(label, value) {
  return value === undefined || value === null || value === ''
    ? null
    : h('div', { class: 'field' }, h('span', { class: 'label' }, label), h('span', {}, value));
}

/** What a Realtime session's span (and its responses) say beyond an LLM span's fields. */
function realtimeFields(rt) {
  const audio = (a) => (a?.duration_ms === undefined ? null : fmtMs(a.duration_ms) + (a.bytes === undefined ? '' : ` (${fmtInt(a.bytes)} bytes)`));
  const t = rt.token_count;
  return [
    field('Response', rt.response?.status && `${rt.response.status}${rt.response.status_reason ? ` (${rt.response.status_reason})` : ''}`),
    field('Responses', rt.responses === undefined ? null : `${fmtInt(rt.responses)}, ${fmtInt(rt.errors)} error events`),
    field('Session tokens', t?.total === undefined ? null : `${fmtInt(t.prompt)} prompt + ${fmtInt(t.completion)} completion = ${fmtInt(t.total)}`),
    field('Audio in', audio(rt.input_audio)),
    field('Audio out', audio(rt.output_audio)),
    field('Closed', rt.close && `${rt.close.code}${rt.close.reason ? ` "${rt.close.reason}"` : ''} by the ${rt.close.by}`),
    field('Realtime session', rt.session_id),
  ];
}

function section(title, ...content) {
  return h('section', { class: 'part' }, h('h3', {}, title), ...content);
}

async function showDetail(spanId) {
  state.selected = spanId;
  for (const tr of rows.querySelectorAll('tr.selected')) tr.classList.remove('selected');
  rows.querySelector(`tr[data-span-id="${CSS.escape(spanId)}"]`)?.classList.add('selected');
  const pane = $('detail');
  pane.hidden = false;
  document.body.classList.add('with-detail');
  pane.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  let span;
  try {
    span = await api(`spans/${encodeURIComponent(spanId)}`);
  } catch (err) {
    pane.replaceChildren(h('p', { class: 'error' }, err.message));
    return;
  }
  if (state.selected !== spanId) return;
  const a = span.attributes;
  const llm = a.llm ?? {};
  const tokens = llm.token_count ?? {};
  const cost = llm.cost ?? {};
  const durationMs = new Date(span.end_time) - new Date(span.start_time);
  const ttft = a.llmtap?.time_to_first_token_ms;
  const realtime = a.llmtap?.realtime ?? {};
  const exception = span.events.find((e) => e.name === 'exception');

  const parts = [
    h(
      'div',
      { class: 'detail-head' },
      h('h2', {}, span.name),
      statusBadge(span.status_code),
      h('button', { type: 'button', class: 'close', title: 'Close', onclick: () => (location.hash = '') }, '×'),
    ),
    h(
      'div',
      { class: 'fields' },
      field('Model', llm.model_name),
      field('Started', new Date(span.start_time).toLocaleString()),
      field('Duration', fmtMs(durationMs)),
      field('Time to first token', ttft === undefined ? null : fmtMs(ttft)),
      field(
        'Tokens',
        tokens.total === undefined ? null : `${fmtInt(tokens.prompt)} prompt + ${fmtInt(tokens.completion)} completion = ${fmtInt(tokens.total)}`,
      ),
      field('Token counts', { upstream: 'from the API', estimate: 'estimated by llmtap (the API sent none)' }[a.llmtap?.token_count?.source]),
      field('Cached prompt tokens', tokens.prompt_details?.cache_read),
      field('Reasoning tokens', tokens.completion_details?.reasoning),
      field('Cost', cost.total === undefined ? null : `${fmtUsd(cost.total)} (${fmtUsd(cost.prompt)} prompt + ${fmtUsd(cost.completion)} completion)`),
      field('Finish reason', llm.finish_reason),
      ...realtimeFields(realtime),
      field('Session', a.session?.id),
      field('User', a.user?.id),
      field('Span id', span.context.span_id),
      field('Parent span', span.parent_id),
    ),
  ];
  if (span.status_code === 'ERROR') {
    parts.push(
      h('div', { class: 'error-box' }, h('strong', {}, 'Error: '), span.status_message || exception?.attributes['exception.message'] || 'unknown error'),
    );
  }
  const conversation = [
    ...(llm.input_messages ?? []).map((m) => messageView(m.message?.role ?? 'unknown', m.message ?? {})),
    ...(llm.output_messages ?? []).map((m) => messageView(`${m.message?.role ?? 'assistant'} (output)`, m.message ?? {})),
  ];
  if (conversation.length > 0) parts.push(section('Conversation', h('div', { class: 'conversation' }, ...conversation)));
  else if (a.output?.value) parts.push(section('Output', h('pre', {}, pretty(a.output.value))));
  if (llm.invocation_parameters) parts.push(section('Invocation parameters', h('pre', {}, pretty(llm.invocation_parameters))));
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
  const trace = h('div', { class: 'trace' }, h('p', { class: 'muted' }, 'Loading the trace…'));
  parts.push(section('Trace', field('Trace id', span.context.trace_id), trace));
  parts.push(h('details', { class: 'part raw' }, h('summary', {}, 'Raw span JSON'), h('pre', {}, JSON.stringify(span, null, 2))));
  pane.replaceChildren(...parts);
  pane.scrollTop = 0;

  const { data } = await api(`traces/${span.context.trace_id}`);
  if (state.selected !== spanId) return;
  trace.replaceChildren(
    h(
      'ol',
      {},
      ...data.map((s) =>
        h(
          'li',
          { class: s.context.span_id === spanId ? 'current' : undefined },
          h('a', { href: `#span/${s.context.span_id}` }, s.name),
          ' ',
          statusBadge(s.status_code),
          h('span', { class: 'muted' }, ` ${fmtTime(s.start_time)} · ${fmtMs(new Date(s.end_time) - new Date(s.start_time))} · ${s.context.span_id}`),
        ),
      ),
    ),
  );
}

function route() {
  const m = /^#span\/([0-9a-f]+)$/.exec(location.hash);
  if (m) return showDetail(m[1]);
  state.selected = null;
  $('detail').hidden = true;
  document.body.classList.remove('with-detail');
  for (const tr of rows.querySelectorAll('tr.selected')) tr.classList.remove('selected');
}

// ---- wiring -------------------------------------------------------------------------------------

function showError(err) {
  $('live').textContent = 'offline';
  $('live').title = err.message;
  $('live').classList.add('down');
}

let debounce;
filtersForm.addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(() => reload().catch(showError), 300);
});
filtersForm.addEventListener('submit', (e) => e.preventDefault());
$('more').addEventListener('click', () => loadMore().catch(showError));
window.addEventListener('hashchange', () => route());

async function tick() {
  try {
    await poll();
    $('live').textContent = 'live';
    $('live').classList.remove('down');
  } catch (err) {
    showError(err);
  }
  setTimeout(tick, POLL_MS);
}

reload()
  .then(() => {
    setTimeout(tick, POLL_MS);
    route();
    return loadModels();
  })
  .catch(showError);
