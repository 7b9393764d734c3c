// The page's address: `#/<view>[/<id>]?<filters>&window=…&span=<id>`. The filters and the window live
// there, so a link reopens the same view; `span` opens a span's detail over any view.

/** The filters every view shares, as /api/spans and /api/stats name them. */
export const FILTERS = ['q', 'model', 'endpoint', 'status', 'user_id', 'session_id', 'project', 'tag'];

export function current() {
  // The first viewer's addresses (#span/<id>) still open their span.
  const legacy = /^#span\/([0-9a-f]+)$/.exec(location.hash);
  if (legacy) return { view: 'requests', id: undefined, params: new URLSearchParams({ span: legacy[1] }) };
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [view = 'dashboard', ...rest] = path.split('/').filter(Boolean);
  return { view, id: rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined, params: new URLSearchParams(query) };
}

/** The hash of a view, with `params` (empty values left out). */
export function href(view, id, params = new URLSearchParams()) {
  const query = new URLSearchParams([...params].filter(([, v]) => v !== ''));
  return `#/${view}${id ? `/${encodeURIComponent(id)}` : ''}${query.size > 0 ? `?${query}` : ''}`;
}

/** The current address with some parameters changed (null removes one). */
export function withParams(changes) {
  const { view, id, params } = current();
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === '') params.delete(k);
    else params.set(k, v);
  }
  return href(view, id, params);
}

/** Only the filters (for /api), from the address. */
export function filterParams(params) {
  return new URLSearchParams(FILTERS.flatMap((k) => (params.get(k) ? [[k, params.get(k)]] : [])));
}

const HOUR = 3_600_000;
/** The dashboard's windows: how far back, and the bucket their charts use. */
export const WINDOWS = {
  '1h': { ms: HOUR, bucket: 'minute' },
  '24h': { ms: 24 * HOUR, bucket: 'hour' },
  '7d': { ms: 168 * HOUR, bucket: 'hour' },
  '30d': { ms: 720 * HOUR, bucket: 'day' },
};

/** The address's filters and window, as /api/stats takes them. */
export function statsParams(params) {
  const w = windowOf(params);
  return [...filterParams(params), ['from', w.from], ...(w.to ? [['to', w.to]] : [])];
}

/** The window of the address: from, to (ISO) and bucket; `custom` reads its from and to. */
export function windowOf(params) {
  const name = params.get('window') ?? '24h';
  if (name === 'custom' && params.get('from')) {
    const from = new Date(params.get('from'));
    const to = params.get('to') ? new Date(params.get('to')) : new Date();
    const span = to - from;
    const bucket = span <= 2 * HOUR ? 'minute' : span <= 72 * HOUR ? 'hour' : 'day';
    return { name, from: from.toISOString(), to: to.toISOString(), bucket };
  }
  const w = WINDOWS[name] ?? WINDOWS['24h'];
  return { name: WINDOWS[name] ? name : '24h', from: new Date(Date.now() - w.ms).toISOString(), to: undefined, bucket: w.bucket };
}
