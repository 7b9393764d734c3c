// The dashboard: over the window and filters of the address, tiles of the totals, charts over time
// (requests and errors, tokens, cost, latency and time to first token) drawn with uPlot, and the top ten
// models, users and sessions. Every number comes from /api/stats.
import { api } from './api.js';
import { h, link, message, tile } from './dom.js';
import { between, int, ms, percent, usd } from './format.js';
import { href, statsParams, windowOf, withParams } from './route.js';

const STEP_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

function tiles(t) {
  return h(
    'div',
    { class: 'tiles', role: 'group', 'aria-label': 'Totals' },
    tile('Requests', int(t.requests), `${int(t.errors)} errors (${percent(t.errors, t.requests) || '0%'})`, t.requests),
    tile(
      'Tokens',
      int(t.tokens.prompt + t.tokens.completion),
      `${int(t.tokens.prompt)} prompt (${int(t.tokens.cached)} cached) · ${int(t.tokens.completion)} completion (${int(t.tokens.reasoning)} reasoning)`,
      t.tokens.prompt + t.tokens.completion,
    ),
    tile('Cost', usd(t.cost_usd), 'calls of models with a known price', t.cost_usd),
    tile('Latency', `${ms(t.latency_ms.p50) || '–'}`, `p50 · p95 ${ms(t.latency_ms.p95) || '–'}`, t.latency_ms.p50 ?? ''),
    tile('Time to first token', `${ms(t.ttft_ms.p50) || '–'}`, `p50 · p95 ${ms(t.ttft_ms.p95) || '–'} (streams)`, t.ttft_ms.p50 ?? ''),
  );
}

/** Every bucket of the window, with the report's values (counts 0, percentiles null where there was nothing). */
function series(report, step) {
  const byTime = new Map(report.groups.map((g) => [Date.parse(g.bucket), g]));
  const xs = [];
  for (let t = Date.parse(report.from); t < Date.parse(report.to); t += step) xs.push(t);
  const of = (pick, none = 0) => xs.map((t) => (byTime.has(t) ? pick(byTime.get(t)) : none));
  return {
    x: xs.map((t) => t / 1000),
    requests: of((g) => g.requests),
    errors: of((g) => g.errors),
    prompt: of((g) => g.tokens.prompt),
    completion: of((g) => g.tokens.completion),
    cached: of((g) => g.tokens.cached),
    reasoning: of((g) => g.tokens.reasoning),
    cost: of((g) => g.cost_usd),
    p50: of((g) => g.latency_ms.p50, null),
    p95: of((g) => g.latency_ms.p95, null),
    ttft50: of((g) => g.ttft_ms.p50, null),
    ttft95: of((g) => g.ttft_ms.p95, null),
  };
}

const COLORS = ['#3b5bdb', '#e03131', '#2b8a3e', '#f08c00', '#7048e8', '#0c8599'];

/** A uPlot chart that follows its box's width; `lines`: [label, values, format]. */
function chart(title, x, lines, format) {
  const box = h('figure', { class: 'chart', 'aria-label': title }, h('figcaption', {}, title));
  const plot = h('div', {
    class: 'plot',
    role: 'img',
    'aria-label': `${title}: ${lines.map(([label, v]) => `${label} ${format(v.reduce((a, b) => (b === null ? a : a + b), 0))}`).join(', ')} in all`,
  });
  box.append(plot);
  const make = (width) =>
    new window.uPlot(
      {
        width,
        height: 180,
        series: [
          {},
          ...lines.map(([label], i) => ({ label, stroke: COLORS[i], width: 1.5, spanGaps: false, value: (_u, v) => (v === null ? '–' : format(v)) })),
        ],
        axes: [{}, { values: (_u, ticks) => ticks.map(format), size: 64 }],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      [x, ...lines.map(([, v]) => v)],
      plot,
    );
  let u;
  new ResizeObserver(([entry]) => {
    const width = Math.max(240, Math.floor(entry.contentRect.width));
    if (!u) {
      u = make(width);
      plot.dataset.drawn = 'true';
    } else if (Math.abs(u.width - width) > 2) u.setSize({ width, height: 180 });
  }).observe(plot);
  return box;
}

/** A top-ten table: click a name to filter on it (a session opens its page). */
function topTable(title, by, report) {
  const name = { model: 'Model', user: 'User', session: 'Session' }[by];
  const target = (value) => (by === 'session' ? href('sessions', value) : withParams({ [by === 'user' ? 'user_id' : 'model']: value, span: null }));
  const rows = report.groups.map((g) => {
    const value = g[by];
    return h(
      'tr',
      {},
      h('th', { scope: 'row', class: 'name' }, value === null ? h('span', { class: 'muted' }, `(no ${by})`) : link(target(value), value)),
      h('td', { class: 'num' }, int(g.requests)),
      h('td', { class: 'num' }, percent(g.errors, g.requests) || '0%'),
      h('td', { class: 'num' }, int(g.tokens.prompt + g.tokens.completion)),
      h('td', { class: 'num' }, usd(g.cost_usd)),
      h('td', { class: 'num' }, ms(g.latency_ms.p95)),
    );
  });
  return h(
    'section',
    { class: 'top', 'aria-label': title },
    h('h2', {}, title),
    h(
      'table',
      { 'data-top': by },
      h(
        'thead',
        {},
        h('tr', {}, ...[name, 'Requests', 'Errors', 'Tokens', 'Cost', 'p95'].map((t, i) => h('th', { scope: 'col', class: i ? 'num' : undefined }, t))),
      ),
      h('tbody', {}, ...rows),
    ),
    rows.length === 0 ? message('Nothing in this window.') : null,
    report.more ? message('The ten costliest; there are more.') : null,
  );
}

export function dashboardView(root, route, ctx) {
  const w = windowOf(route.params);
  const base = statsParams(route.params);
  root.replaceChildren(h('h1', { class: 'visually-hidden' }, 'Dashboard'), message('Loading…'));
  let stopped = false;
  Promise.all([
    api('stats', new URLSearchParams([...base, ['bucket', w.bucket]])),
    ...['model', 'user', 'session'].map((by) => api('stats', new URLSearchParams([...base, ['by', by], ['limit', '10']]))),
  ])
    .then(([over, models, users, sessions]) => {
      if (stopped) return;
      ctx.online();
      const s = series(over, STEP_MS[w.bucket]);
      root.replaceChildren(
        h('h1', { class: 'visually-hidden' }, 'Dashboard'),
        h('p', { class: 'window-note muted' }, `${between(over.from, over.to)}, by ${w.bucket}${over.source === 'spans' ? ' (added up from the spans)' : ''}.`),
        tiles(over.total),
        h(
          'div',
          { class: 'charts' },
          chart(
            'Requests and errors',
            s.x,
            [
              ['requests', s.requests],
              ['errors', s.errors],
            ],
            int,
          ),
          chart(
            'Tokens',
            s.x,
            [
              ['prompt', s.prompt],
              ['completion', s.completion],
              ['cached', s.cached],
              ['reasoning', s.reasoning],
            ],
            int,
          ),
          chart('Cost (USD)', s.x, [['cost', s.cost]], usd),
          chart(
            'Latency and time to first token',
            s.x,
            [
              ['p50', s.p50],
              ['p95', s.p95],
              ['TTFT p50', s.ttft50],
              ['TTFT p95', s.ttft95],
            ],
            ms,
          ),
        ),
        h(
          'div',
          { class: 'tops' },
          topTable('Top models', 'model', models),
          topTable('Top users', 'user', users),
          topTable('Top sessions', 'session', sessions),
        ),
      );
      ctx.loaded();
    })
    .catch((err) => {
      if (!stopped) root.replaceChildren(message(err.message, 'error'));
    });
  return {
    stop() {
      stopped = true;
    },
  };
}
