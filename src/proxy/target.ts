// Server thread. The request target, normalised once before anything reads it, so that routing,
// recording and forwarding all see the same path: the absolute form (`POST http://host/v1/…`) reduced to
// its path, percent-encoded unreserved characters decoded (`%76%31` is `v1`, `%2e` is `.`), and dot
// segments resolved (RFC 3986 §6.2.2). An upstream that normalises paths itself would otherwise see a
// different path from the one llmtap routed and recorded, and `..` could climb out of the path prefix of
// LLMTAP_UPSTREAM_URL: a target that would climb above the root is refused, as are separators other
// than `/` (a backslash, `%2F`, `%5C`), which servers read in different ways.

/** Why a target was refused (for a 400). */
export interface BadTarget {
  reason: string;
}

const ABSOLUTE = /^https?:\/\/[^/?#]*/i;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const AMBIGUOUS = /\\|%2f|%5c/i;

/** The target as routed, recorded and forwarded, or why it is refused. */
export function normalizeTarget(raw: string): string | BadTarget {
  let target = raw;
  const absolute = ABSOLUTE.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || '/';
  if (target.startsWith('?')) target = `/${target}`;
  if (!target.startsWith('/')) return { reason: 'the request target must be a path (or an absolute http URL)' };
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  if (AMBIGUOUS.test(path)) return { reason: 'the path holds a backslash or an encoded slash' };
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : escape;
  });
  const out: string[] = [];
  const segments = decoded.split('/').slice(1);
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      if (out.length === 0) return { reason: 'the path climbs above the root with ..' };
      out.pop();
      if (last) out.push('');
    } else out.push(segment);
  }
  return `/${out.join('/')}${query}`;
}
