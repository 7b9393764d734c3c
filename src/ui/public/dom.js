// Building the page. Everything recorded is set with textContent (through h): prompts and outputs are
// data, never markup.

/** h('td', { class: 'x', onclick }, 'text', child…): an element; props of null, undefined or false are left out. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'style')
      el.style.cssText = v; // through the CSSOM: the page's CSP allows no style attributes
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** An OK/ERROR badge, or the HTTP status when there is one (coloured by its class). */
export function statusBadge(code, httpStatus) {
  const error = code === 'ERROR' || httpStatus >= 400;
  const text = httpStatus ? String(httpStatus) : code;
  return h('span', { class: `badge ${error ? 'error' : code === 'OK' ? 'ok' : ''}`, title: httpStatus ? `${code}, HTTP ${httpStatus}` : code }, text);
}

/** A total in a tile: its label, value and a line of detail; `raw`, the number itself (data-value). */
export const tile = (label, value, detail, raw) =>
  h(
    'div',
    { class: 'tile', 'data-tile': label, 'data-value': raw ?? '' },
    h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value' }, value),
    h('div', { class: 'tile-detail' }, detail ?? ''),
  );

/** A labelled value, or nothing when there is no value. */
export function field(label, ...value) {
  const v = value.flat().filter((x) => x !== undefined && x !== null && x !== '');
  return v.length === 0 ? null : h('div', { class: 'field' }, h('dt', {}, label), h('dd', {}, ...v));
}

export const section = (title, ...content) => h('section', { class: 'part', 'aria-label': title }, h('h3', {}, title), ...content);

export const message = (text, kind = 'muted') => h('p', { class: kind, role: kind === 'error' ? 'alert' : undefined }, text);

/** JSON text pretty-printed, or the text as it is. */
export function pretty(text) {
  try {
    return JSON.stringify(typeof text === 'string' ? JSON.parse(text) : text, null, 2);
  } catch {
    return String(text);
  }
}

/** A link inside the viewer (its hash route). */
export const link = (hash, ...children) => h('a', { href: hash }, ...children);
