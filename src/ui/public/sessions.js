// Sessions (x-llmtap-session-id): the list, most recently active first (from /api/stats by session), and
// a session's page: its totals, and its calls in order as one conversation, each call's new messages and
// its answer.
import { api } from './api.js';
import { inputMessages, messageView, outputMessages } from './detail.js';
import { h, link, message, statusBadge, tile } from './dom.js';
import { int, ms, percent, timeEl, usd } from './format.js';
import { endpointLabel } from './list.js';
import { href, statsParams, withParams } from './route.js';

const PAGE = 50;

export function sessionsView(root, route, ctx) {
  const rows = h('tbody', {});
  const more = h('button', { type: 'button', class: 'more' }, 'More sessions');
  more.hidden = true;
  const empty = message('No sessions in this window. Calls join a session with the x-llmtap-session-id header.');
  empty.hidden = true;
  root.replaceChildren(
    h('h1', {}, 'Sessions'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'sessions', 'aria-label': 'Sessions, most recently active first. j and k move, Enter opens.' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Session', 'First call', 'Last call', 'Calls', 'Errors', 'Tokens', 'Cost', 'p95'].map((t, i) =>
              h('th', { scope: 'col', class: i > 2 ? 'num' : undefined }, t),
            ),
          ),
        ),
        rows,
      ),
    ),
    empty,
    more,
  );
  const items = [];
  let selected = -1;
  let offset = 0;
  const load = async () => {
    const report = await api(
      'stats',
      new URLSearchParams([...statsParams(route.params), ['by', 'session'], ['sort', 'last'], ['limit', String(PAGE)], ['offset', String(offset)]]),
    );
    for (const g of report.groups) {
      if (g.session === null) continue; // calls without a session
      items.push(g.session);
      rows.append(
        h(
          'tr',
          { tabindex: '-1', 'data-session': g.session, onclick: () => (location.hash = href('sessions', g.session)) },
          h('th', { scope: 'row', class: 'name' }, link(href('sessions', g.session), g.session)),
          h('td', {}, timeEl(g.first_time)),
          h('td', {}, timeEl(g.last_time)),
          h('td', { class: 'num' }, int(g.requests)),
          h('td', { class: 'num' }, g.errors ? `${int(g.errors)} (${percent(g.errors, g.requests)})` : '0'),
          h('td', { class: 'num' }, int(g.tokens.prompt + g.tokens.completion)),
          h('td', { class: 'num' }, usd(g.cost_usd)),
          h('td', { class: 'num' }, ms(g.latency_ms.p95)),
        ),
      );
    }
    offset += PAGE;
    more.hidden = !report.more;
    empty.hidden = items.length > 0;
    ctx.loaded();
  };
  more.onclick = () => load().catch(ctx.offline);
  load().then(ctx.online, ctx.offline);
  return {
    onKey(key) {
      const trs = [...rows.querySelectorAll('tr')];
      if (key === 'j' || key === 'k') {
        selected = Math.max(0, Math.min(trs.length - 1, selected + (key === 'j' ? 1 : -1)));
        trs.forEach((tr, i) => tr.setAttribute('aria-selected', String(i === selected)));
        trs[selected]?.focus();
      } else if (key === 'Enter' && trs[selected]) location.hash = href('sessions', items[selected]);
    },
  };
}

/** The messages a call added to the conversation: the first call's all, later ones' after the last assistant message. */
function newInputs(messages, first) {
  if (first) return messages;
  const last = messages.findLastIndex((m) => m.role === 'assistant');
  return messages.slice(last + 1);
}

export function sessionView(root, route, ctx) {
  const id = route.id;
  const totals = h('div', { class: 'tiles' }, message('Loading…'));
  const calls = h('ol', { class: 'calls' });
  const more = h('button', { type: 'button', class: 'more' }, 'Later calls');
  more.hidden = true;
  root.replaceChildren(
    h('p', {}, link(href('sessions', undefined, route.params), '← Sessions')),
    h('h1', {}, 'Session ', h('code', {}, id)),
    totals,
    h('h2', {}, 'Calls'),
    calls,
    more,
  );
  let stopped = false;
  api('stats', { session_id: id, from: '1970-01-01T00:00:00Z' })
    .then(({ total: t }) => {
      totals.replaceChildren(
        ...[
          ['Calls', int(t.requests), `${int(t.errors)} errors`],
          ['First call', t.first_time ? timeEl(t.first_time) : '–', ''],
          ['Last call', t.last_time ? timeEl(t.last_time) : '–', ''],
          ['Tokens', int(t.tokens.prompt + t.tokens.completion), `${int(t.tokens.prompt)} prompt · ${int(t.tokens.completion)} completion`],
          ['Cost', usd(t.cost_usd), ''],
          ['Latency', ms(t.latency_ms.p50) || '–', `p50 · p95 ${ms(t.latency_ms.p95) || '–'}`],
        ].map(([label, value, detail]) => tile(label, value, detail)),
      );
    })
    .catch(ctx.offline);

  let cursor;
  let index = 0;
  const load = async () => {
    const page = await api('spans', { session_id: id, order: 'asc', limit: '50', ...(cursor && { cursor }) });
    cursor = page.next_cursor;
    more.hidden = !cursor;
    const items = page.data.map((item) => {
      const body = h('div', { class: 'call-body' }, message('Loading…'));
      const li = h(
        'li',
        { class: 'call', 'data-span-id': item.span_id },
        h(
          'div',
          { class: 'call-head' },
          h('a', { href: withParams({ span: item.span_id }) }, timeEl(item.start_time)),
          ` ${endpointLabel(item)} · ${item.model ?? ''} `,
          statusBadge(item.status_code, item.http_status),
          h('span', { class: 'muted' }, ` ${ms(item.duration_ms)} · ${int(item.total_tokens)} tokens · ${usd(item.cost_usd)}`),
        ),
        body,
      );
      return { item, body, li, first: index++ === 0 };
    });
    calls.append(...items.map((c) => c.li));
    // Each call's messages, four at a time, in order.
    for (let i = 0; i < items.length && !stopped; i += 4) {
      await Promise.all(
        items.slice(i, i + 4).map(async ({ item, body, first }) => {
          const span = await api(`spans/${item.span_id}`);
          const a = span.attributes;
          const shown = [
            ...newInputs(inputMessages(a), first).map((m) => messageView(m.role ?? 'unknown', m)),
            ...outputMessages(a).map((m) => messageView(`${m.role ?? 'assistant'} (output)`, m)),
          ];
          if (shown.length === 0 && item.status_code === 'ERROR') shown.push(message(item.status_message, 'error'));
          if (shown.length === 0) shown.push(message([item.input_preview, item.output_preview].filter(Boolean).join(' → ') || 'No messages recorded.'));
          body.replaceChildren(h('div', { class: 'conversation' }, ...shown));
        }),
      );
    }
    ctx.loaded();
  };
  more.onclick = () => load().catch(ctx.offline);
  load().catch(ctx.offline);
  return {
    stop() {
      stopped = true;
    },
  };
}
