// The llmtap viewer: a dashboard, the requests, sessions and traces, and a span's detail beside any of
// them. The address holds the view, its filters and the open span (route.js); this file wires the filter
// bar, the views and the keys (j/k move, Enter opens, Escape closes, / searches).
import { api } from './api.js';
import { dashboardView } from './dashboard.js';
import { showSpan } from './detail.js';
import { h } from './dom.js';
import { requestsView } from './list.js';
import { current, FILTERS, href, withParams } from './route.js';
import { sessionsView, sessionView } from './sessions.js';
import { traceView } from './trace.js';

const $ = (id) => document.getElementById(id);
const main = $('main');
const detail = $('detail');
const form = $('filters');

const live = $('live');
const ctx = {
  online() {
    live.textContent = 'live';
    live.title = 'New spans appear as they are recorded';
    live.classList.remove('down');
  },
  offline(err) {
    live.textContent = 'offline';
    live.title = err.message;
    live.classList.add('down');
  },
  /** Opens a span's detail over the current view; `replace`: without a new history entry (j/k). */
  openSpan(spanId, replace = false) {
    const target = withParams({ span: spanId });
    if (!replace) return void (location.hash = target);
    history.replaceState(null, '', target);
    route();
  },
  noteModel,
};

const models = new Set();
function noteModel(model) {
  if (!model || models.has(model)) return;
  models.add(model);
  form.model.append(h('option', { value: model }, model));
}

const VIEWS = { dashboard: dashboardView, requests: requestsView, sessions: sessionsView, traces: traceView };

let view = { key: '', root: null, instance: {} };
let openSpan = null;

/** Draws what the address says: the view (again only when it or its filters changed), then the detail. */
function route() {
  const r = current();
  const make = r.view === 'sessions' && r.id ? sessionView : VIEWS[r.view];
  if (!make) return void (location.hash = href('dashboard'));
  const params = new URLSearchParams(r.params);
  params.delete('span');
  const key = `${r.view}/${r.id ?? ''}?${params}`;
  if (key !== view.key) {
    view.instance.stop?.();
    syncForm(r);
    for (const a of document.querySelectorAll('nav a')) {
      a.setAttribute('aria-current', a.dataset.view === r.view ? 'page' : 'false');
      a.href = href(a.dataset.view, undefined, carried(params));
    }
    // Each view draws into a root of its own: an answer that comes after it was left lands in a detached
    // root, and says "loaded" only while its view is the one shown.
    const root = h('div', { class: 'view' });
    main.replaceChildren(root);
    delete main.dataset.loaded;
    const loaded = () => {
      if (view.root === root) main.dataset.loaded = 'true';
    };
    view = { key, root, instance: make(root, r, { ...ctx, loaded }) ?? {} };
    document.body.dataset.view = r.view;
  }
  const spanId = r.params.get('span');
  view.instance.select?.(spanId);
  if (spanId && spanId !== openSpan) {
    openSpan = spanId;
    detail.hidden = false;
    document.body.classList.add('with-detail');
    showSpan(detail, spanId, closeDetail).then(() => {
      if (openSpan === spanId) detail.dataset.spanId = spanId;
    });
  } else if (!spanId && openSpan) {
    openSpan = null;
    detail.hidden = true;
    delete detail.dataset.spanId;
    document.body.classList.remove('with-detail');
  }
}

/** What goes along to another view: the filters and the window. */
const carried = (params) => new URLSearchParams([...params].filter(([k]) => [...FILTERS, 'window', 'from', 'to'].includes(k)));

const closeDetail = () => (location.hash = withParams({ span: null }));

// ---- the filter bar: the address's filters, and back -------------------------------------------------

function syncForm(r) {
  for (const name of [...FILTERS, 'window']) {
    const el = form.elements[name];
    const value = r.params.get(name) ?? (name === 'window' ? '24h' : '');
    if (el.tagName === 'SELECT' && value && ![...el.options].some((o) => o.value === value)) el.append(h('option', { value }, value));
    if (el !== document.activeElement) el.value = value;
  }
  const local = (iso) => (iso ? new Date(new Date(iso) - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : '');
  form.elements.from.value = local(r.params.get('from'));
  form.elements.to.value = local(r.params.get('to'));
  $('custom-window').hidden = form.elements.window.value !== 'custom';
  $('window').hidden = !['dashboard', 'sessions'].includes(r.view) || Boolean(r.id);
}

function applyForm() {
  const changes = {};
  for (const name of [...FILTERS, 'window']) changes[name] = form.elements[name].value.trim() || null;
  if (changes.window === '24h') changes.window = null;
  const custom = form.elements.window.value === 'custom';
  changes.from = custom && form.elements.from.value ? new Date(form.elements.from.value).toISOString() : null;
  changes.to = custom && form.elements.to.value ? new Date(form.elements.to.value).toISOString() : null;
  $('custom-window').hidden = !custom;
  const target = withParams(changes);
  if (target !== location.hash) location.hash = target;
}

let debounce;
form.addEventListener('input', (e) => {
  clearTimeout(debounce);
  debounce = setTimeout(applyForm, e.target.tagName === 'SELECT' ? 0 : 300);
});
form.addEventListener('submit', (e) => e.preventDefault());
form.addEventListener('reset', (e) => {
  e.preventDefault();
  location.hash = href(current().view, current().id);
});

// ---- keys ----------------------------------------------------------------------------------------------

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName) || e.target.isContentEditable;
  if (e.key === 'Escape') {
    if ($('token-dialog').open) return;
    if (openSpan) closeDetail();
    else if (typing) e.target.blur();
    return;
  }
  if (typing) return;
  if (e.key === '/') {
    e.preventDefault();
    form.elements.q.focus();
  } else if (['j', 'k', 'Enter'].includes(e.key) && view.instance.onKey) {
    if (e.key === 'Enter' && e.target.tagName === 'A') return;
    e.preventDefault();
    view.instance.onKey(e.key, Boolean(openSpan));
  }
});

window.addEventListener('hashchange', route);
// The first view waits for uPlot (a deferred classic script), which runs before DOMContentLoaded.
const start = () => {
  route();
  api('models').then(({ data }) => data.forEach(noteModel), ctx.offline);
};
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
