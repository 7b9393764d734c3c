// Which headers cross the proxy. Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the
// message, so each side of the proxy sets its own; everything else passes unchanged.
import { STATUS_CODES } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

// Not hop-by-hop, but never forwarded: undici sets `host` from the upstream origin and does not
// support `expect` (Node's server has already answered any 100-continue).
const REQUEST_ONLY_DROP = new Set(['host', 'expect']);

/** Header names the `Connection` header lists are hop-by-hop for this message too. */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1]!.split(',')) {
      const name = t.trim().toLowerCase();
      if (name) (tokens ??= new Set()).add(name);
    }
  }
  return tokens;
}

/**
 * Filters a flat raw header list ([name, value, name, value, …]) as received, keeping order, case and
 * repeated headers. `drop` removes further names (already lower-cased) such as llmtap's own headers.
 */
function filterRaw(raw: readonly string[], always: ReadonlySet<string>, drop?: (name: string) => boolean): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || always.has(lower) || listed?.has(lower) || drop?.(lower)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

// A WebSocket handshake's own headers (RFC 6455 §4): each leg of a relayed session negotiates its own
// key, version and extensions; the `ws` client sends the subprotocol list it is given itself.
const WEBSOCKET_HANDSHAKE = new Set([
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'sec-websocket-accept',
]);
const UPGRADE_REQUEST_DROP = new Set([...REQUEST_ONLY_DROP, ...WEBSOCKET_HANDSHAKE]);

const NOTHING = new Set<string>();

export const upstreamRequestHeaders = (raw: readonly string[], drop?: (name: string) => boolean): string[] => filterRaw(raw, REQUEST_ONLY_DROP, drop);

export const clientResponseHeaders = (raw: readonly string[]): string[] => filterRaw(raw, NOTHING);

export const upstreamUpgradeHeaders = (raw: readonly string[], drop?: (name: string) => boolean): string[] => filterRaw(raw, UPGRADE_REQUEST_DROP, drop);

/** The upstream's answer to an upgrade, as the client gets it beside its own handshake headers. */
export const clientUpgradeHeaders = (raw: readonly string[]): string[] => filterRaw(raw, WEBSOCKET_HANDSHAKE);

/** A flat raw header list as an object (a repeated name becomes a list), for APIs that take one. */
export function rawToObject(raw: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const names = new Map<string, string>();
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    const name = names.get(lower);
    if (name === undefined) {
      names.set(lower, raw[i]!);
      out[raw[i]!] = raw[i + 1]!;
    } else out[name] = [out[name]!, raw[i + 1]!].flat();
  }
  return out;
}

/** An HTTP/1.1 response head, for answers written straight to a socket (an upgrade request has no ServerResponse). */
export function responseHead(status: number, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** undici hands raw headers over as Buffers; Node's writeHead wants strings. */
export function rawToStrings(raw: readonly (Buffer | string)[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i]!.toString('latin1');
  return out;
}

/** First value of a header in a flat raw list, lower-cased name lookup. */
export function rawHeader(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/** Removes every occurrence of a header (lower-cased name) from a flat raw list, in place. */
export function removeHeader(raw: string[], name: string): void {
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === name) raw.splice(i, 2);
}
