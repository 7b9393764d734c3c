// The requests view: a page of spans at a time, newest first (the server paginates, so a million stored
// spans cost no more than a hundred), new ones polled and merged in live; j/k move, enter opens, and the
// detail opens beside the list without taking any column away.
import { api } from './api.js';
import { h, message, statusBadge } from './dom.js';
import { int, ms, timeEl, usd } from './format.js';
import { filterParams } from './route.js';

const PAGE = 50;
const POLL_MS = 2000;

/** What a span was: its endpoint (and "stream"), or for other paths the method and path. */
export function endpointLabel(item) {
  if (item.endpoint === 'other') return item.name;
  const realtime = item.endpoint === 'realtime' ? item.name.replace(/^OpenAI Realtime /, '').toLowerCase() : '';
  return [item.endpoint, realtime, item.stream ? 'stream' : ''].filter(Boolean).join(' · ');
}

/** The one-line output: the output preview, else the error. */
const outputText = (item) => item.output_preview || (item.status_code === 'ERROR' ? item.status_message : '');

const COLUMNS = [
  ['Time', 'time'],
  ['Endpoint', 'endpoint'],
  ['Model', 'model'],
  ['Status', 'status'],
  ['Duration', 'num'],
  ['TTFT', 'num ttft'],
  ['Tokens', 'num tokens'],
  ['Cost', 'num cost'],
  ['Input', 'text'],
  ['Output', 'text output'],
];

export function requestsView(root, route, ctx) {
  const rows = h('tbody', {});
  const empty = message('No spans match. Send a request through the proxy and it appears here.');
  const more = h('button', { type: 'button', class: 'more', onclick: () => loadMore().catch(ctx.offline) }, 'Load older spans');
  empty.hidden = true;
  more.hidden = true;
  root.replaceChildren(
    h('h1', { class: 'visually-hidden' }, 'Requests'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'spans', 'aria-label': 'Requests, newest first. j and k move, Enter opens, Escape closes.' },
        h('thead', {}, h('tr', {}, ...COLUMNS.map(([label, cls]) => h('th', { class: cls, scope: 'col' }, label)))),
        rows,
      ),
    ),
    empty,
    more,
  );

  const filters = filterParams(route.params);
  const state = { items: [], ids: new Set(), nextCursor: null, lastSeq: 0, stopped: false, selected: route.params.get('span') };

  function row(item) {
    const tr = h(
      'tr',
      {
        'data-span-id': item.span_id,
        class: item.status_code === 'ERROR' ? 'error' : undefined,
        tabindex: '-1',
        'aria-selected': String(item.span_id === state.selected),
        onclick: () => ctx.openSpan(item.span_id),
      },
      h('td', { class: 'time' }, timeEl(item.start_time)),
      h('td', { class: 'endpoint' }, endpointLabel(item)),
      h('td', { class: 'model', title: item.model ?? '' }, item.model ?? ''),
      h('td', { class: 'status' }, statusBadge(item.status_code, item.http_status)),
      h('td', { class: 'num' }, ms(item.duration_ms)),
      h('td', { class: 'num ttft' }, ms(item.ttft_ms)),
      h(
        'td',
        {
          class: 'num tokens',
          title:
            item.total_tokens === null
              ? ''
              : `${item.prompt_tokens} prompt + ${item.completion_tokens} completion${item.token_source === 'estimate' ? ' (estimated)' : ''}`,
        },
        int(item.total_tokens),
      ),
      h('td', { class: 'num cost' }, usd(item.cost_usd)),
      h('td', { class: 'text' }, item.input_preview),
      h('td', { class: 'text output' }, outputText(item)),
    );
    return tr;
  }

  const render = () => {
    empty.hidden = state.items.length > 0;
    more.hidden = !state.nextCursor;
  };

  async function load() {
    const page = await api('spans', new URLSearchParams([...filters, ['limit', String(PAGE)]]));
    if (state.stopped) return;
    state.items = page.data;
    state.ids = new Set(page.data.map((i) => i.span_id));
    state.nextCursor = page.next_cursor;
    state.lastSeq = page.last_seq;
    rows.replaceChildren(...page.data.map(row));
    render();
    ctx.loaded();
  }

  async function loadMore() {
    if (!state.nextCursor) return;
    const page = await api('spans', new URLSearchParams([...filters, ['limit', String(PAGE)], ['cursor', state.nextCursor]]));
    if (state.stopped) return;
    for (const item of page.data) {
      if (state.ids.has(item.span_id)) continue;
      state.ids.add(item.span_id);
      state.items.push(item);
      rows.append(row(item));
    }
    state.nextCursor = page.next_cursor;
    render();
  }

  /** Newest first: by start time (the server's ISO times sort as text), then by storage order. */
  const before = (a, b) => a.start_time > b.start_time || (a.start_time === b.start_time && a.seq > b.seq);

  /** Spans stored since the last look go where they belong; older than what is loaded, they wait for "load older". */
  async function poll() {
    const page = await api('spans', new URLSearchParams([...filters, ['limit', '1000'], ['after_seq', String(state.lastSeq)]]));
    if (state.stopped) return;
    if (page.next_cursor) return load(); // a burst larger than one answer: start over
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
      ctx.noteModel(item.model);
    }
    render();
  }

  let timer;
  const tick = async () => {
    await poll().then(ctx.online, ctx.offline);
    if (!state.stopped) timer = setTimeout(tick, POLL_MS);
  };
  load()
    .then(() => {
      if (!state.stopped) timer = setTimeout(tick, POLL_MS);
    })
    .catch(ctx.offline);

  function select(spanId, focus = false) {
    state.selected = spanId;
    for (const tr of rows.querySelectorAll('tr[aria-selected="true"]')) tr.setAttribute('aria-selected', 'false');
    const tr = rows.querySelector(`tr[data-span-id="${CSS.escape(spanId ?? '')}"]`);
    if (!tr) return;
    tr.setAttribute('aria-selected', 'true');
    tr.scrollIntoView({ block: 'nearest' });
    if (focus) tr.focus({ preventScroll: true });
  }

  return {
    stop() {
      state.stopped = true;
      clearTimeout(timer);
    },
    /** j/k: the next or previous span (its detail follows when open); enter: open it. */
    onKey(key, detailOpen) {
      const at = state.items.findIndex((i) => i.span_id === state.selected);
      if (key === 'j' || key === 'k') {
        const next = state.items[Math.max(0, Math.min(state.items.length - 1, at + (key === 'j' ? 1 : -1)))] ?? state.items[0];
        if (!next) return;
        select(next.span_id, true);
        if (detailOpen) ctx.openSpan(next.span_id, true);
        if (key === 'j' && at >= state.items.length - 2) loadMore().catch(ctx.offline);
      } else if (key === 'Enter' && state.selected) ctx.openSpan(state.selected);
    },
    select,
  };
}
