// One way to write times, durations, counts and money everywhere: local time, with the date when it is not
// today (and the year when not this one); the ISO time on hover.

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const dayYear = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', year: 'numeric' });

/** "14:03:21", "Mar 3, 14:03:21", "Mar 3, 2024, 14:03:21"; `dated` writes the date even today. */
export function when(iso, dated = false) {
  const d = new Date(iso);
  const now = new Date();
  if (!dated && d.toDateString() === now.toDateString()) return clock.format(d);
  return `${(d.getFullYear() === now.getFullYear() ? day : dayYear).format(d)}, ${clock.format(d)}`;
}

/** "From … to …": both dated when they fall on different days, so a day's window never reads as an hour. */
export function between(fromIso, toIso) {
  const dated = new Date(fromIso).toDateString() !== new Date(toIso).toDateString();
  return `From ${when(fromIso, dated)} to ${when(toIso, dated)}`;
}

/** A <time> element: the local time, its ISO form on hover. */
export function timeEl(iso) {
  const el = document.createElement('time');
  el.dateTime = iso;
  el.title = new Date(iso).toISOString();
  el.textContent = when(iso);
  return el;
}

export const ms = (v) =>
  v === null || v === undefined
    ? ''
    : v < 1000
      ? `${v.toFixed(v < 10 ? 1 : 0)} ms`
      : v < 60_000
        ? `${(v / 1000).toFixed(2)} s`
        : `${(v / 60_000).toFixed(1)} min`;
export const int = (n) => (n === null || n === undefined ? '' : Math.round(n).toLocaleString());
/** USD with the precision small amounts need: $0.00042, $1.25. */
export const usd = (n) =>
  n === null || n === undefined ? '' : `$${n !== 0 && Math.abs(n) < 0.01 ? n.toFixed(Math.min(12, 1 - Math.floor(Math.log10(Math.abs(n))))) : n.toFixed(2)}`;
export const percent = (part, whole) => (whole ? `${((100 * part) / whole).toFixed(part && part < whole / 100 ? 1 : 0)}%` : '');
