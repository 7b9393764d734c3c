// A trace: its spans as a waterfall, each a bar from its start to its end on the trace's time line,
// indented under its parent (a parent outside llmtap — the caller's span — leaves it at the top).
import { traceSpans } from './api.js';
import { h, message, statusBadge } from './dom.js';
import { ms, timeEl } from './format.js';
import { endpointLabel } from './list.js';
import { withParams } from './route.js';

export function traceView(root, route, ctx) {
  const id = route.id;
  root.replaceChildren(h('h1', {}, 'Trace ', h('code', {}, id)), message('Loading…'));
  traceSpans(id)
    .then((data) => {
      if (data.length === 0) return root.replaceChildren(h('h1', {}, 'Trace ', h('code', {}, id)), message('No spans of this trace are stored.'));
      const start = Math.min(...data.map((s) => Date.parse(s.start_time)));
      const end = Math.max(...data.map((s) => Date.parse(s.end_time)));
      const total = Math.max(1, end - start);
      const byId = new Map(data.map((s) => [s.span_id, s]));
      const depth = (s, seen = 0) => (s.parent_id && byId.has(s.parent_id) && seen < 50 ? 1 + depth(byId.get(s.parent_id), seen + 1) : 0);
      const rows = data.map((s) => {
        const left = ((Date.parse(s.start_time) - start) / total) * 100;
        const width = Math.max(0.4, ((Date.parse(s.end_time) - Date.parse(s.start_time)) / total) * 100);
        return h(
          'li',
          { class: `wf-row${s.status_code === 'ERROR' ? ' error' : ''}`, 'data-span-id': s.span_id },
          h(
            'a',
            { class: 'wf-name', href: withParams({ span: s.span_id }), style: `padding-left: ${depth(s) * 16}px` },
            h('span', {}, s.name),
            h('span', { class: 'muted' }, ` ${endpointLabel(s)}${s.model ? ` · ${s.model}` : ''}`),
          ),
          h('span', { class: 'wf-status' }, statusBadge(s.status_code, s.http_status)),
          h(
            'span',
            { class: 'wf-track', 'aria-hidden': 'true' },
            h(
              'span',
              { class: 'wf-bar', style: `left: ${left.toFixed(2)}%; width: ${width.toFixed(2)}%` },
              s.ttft_ms ? h('span', { class: 'wf-ttft', style: `width: ${Math.min(100, (s.ttft_ms / Math.max(1, s.duration_ms)) * 100).toFixed(1)}%` }) : null,
            ),
          ),
          h('span', { class: 'wf-time num' }, `+${ms(Date.parse(s.start_time) - start)} · ${ms(s.duration_ms)}`),
        );
      });
      root.replaceChildren(
        h('h1', {}, 'Trace ', h('code', {}, id)),
        h(
          'p',
          { class: 'muted' },
          `${data.length} span${data.length > 1 ? 's' : ''}, from `,
          timeEl(data[0].start_time),
          `, ${ms(total)} in all. The lighter part of a bar is the wait for the first token.`,
        ),
        h('ol', { class: 'waterfall', 'aria-label': 'Spans of the trace on its time line' }, ...rows),
      );
      ctx.loaded();
      ctx.online();
    })
    .catch((err) => root.replaceChildren(message(err.message, 'error')));
  return {};
}
