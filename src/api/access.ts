// Who may read traces. Prompts are sensitive: with LLMTAP_ADMIN_TOKEN set, /api needs it as a bearer
// token; without it, /api and the viewer answer only what comes from this machine, for this machine:
// the socket's address must be loopback (never judged by x-forwarded-for, which any client can write),
// and so must the name the request was sent to (its Host) — a web page whose own name an attacker
// points at 127.0.0.1 (DNS rebinding) would otherwise read every stored prompt through the browser.
// Writes also need a JSON or NDJSON content type, which a cross-site page cannot send without asking
// first (a CORS preflight, never granted), and an Origin, when there is one, of llmtap itself.
import { BlockList, isIP } from 'node:net';

import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { every } from 'hono/combine';
import { ipRestriction } from 'hono/ip-restriction';

import { apiError as error } from './errors.js';

const loopbackSocket = ipRestriction(getConnInfo, { allowList: ['127.0.0.0/8', '::1'] }, (remote, c: Context) =>
  c.json(error(`llmtap: ${c.req.path} answers loopback clients only (this request came from ${remote.addr}); set LLMTAP_ADMIN_TOKEN to allow others`), 403),
);

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** The name in a Host header (or an Origin's host), lower case, without port or brackets. */
function hostName(host: string): string {
  const name = host.trim().toLowerCase();
  if (name.startsWith('[')) return name.slice(1, name.indexOf(']'));
  return name.replace(/:\d*$/, '');
}

function isLoopbackName(name: string): boolean {
  const ip = isIP(name);
  if (ip) return LOOPBACK.check(name, ip === 6 ? 'ipv6' : 'ipv4');
  return name === 'localhost' || name.endsWith('.localhost');
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const WRITE_TYPES = new Set(['application/json', 'application/x-ndjson', 'application/ndjson', 'application/jsonl']);

/** Without a token: a loopback Host (or one of `allowedHosts`), and writes only as JSON from llmtap's own origin. */
function localRequests(allowedHosts: readonly string[]): MiddlewareHandler {
  const allowed = new Set(allowedHosts.map(hostName));
  const forThisMachine: MiddlewareHandler = async (c, next) => {
    const host = c.req.header('host') ?? '';
    const name = hostName(host);
    if (!isLoopbackName(name) && !allowed.has(name)) {
      return c.json(
        error(
          `llmtap: ${c.req.path} answers requests sent to a loopback name only (this one was sent to "${host}"); add the name to LLMTAP_ALLOWED_HOSTS, or set LLMTAP_ADMIN_TOKEN`,
        ),
        403,
      );
    }
    if (!SAFE_METHODS.has(c.req.method)) {
      const type = c.req.header('content-type')?.split(';', 1)[0]!.trim().toLowerCase() ?? '';
      if (!WRITE_TYPES.has(type)) {
        return c.json(error(`llmtap: send the body as JSON or NDJSON (content-type: application/x-ndjson), not "${type}"`), 415);
      }
      const origin = c.req.header('origin');
      if (origin !== undefined && originHost(origin) !== originHost(`http://${host}`)) {
        return c.json(error(`llmtap: ${c.req.path} refuses requests from other sites (Origin: ${origin})`), 403);
      }
    }
    await next();
  };
  return every(loopbackSocket, forThisMachine);
}

/** `host:port` of an origin; '' for `null` or anything unreadable. */
function originHost(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return '';
  }
}

/** The rule for /api/*. */
export function apiAccess(token: string, allowedHosts: readonly string[]): MiddlewareHandler {
  if (!token) return localRequests(allowedHosts);
  const message = error('llmtap: this API needs the admin token: send "authorization: Bearer <LLMTAP_ADMIN_TOKEN>"');
  return bearerAuth({
    token,
    noAuthenticationHeader: { message },
    invalidAuthenticationHeader: { message },
    invalidToken: { message: error('llmtap: wrong admin token') },
  });
}

/**
 * The rule for the viewer's files. With a token they load for anyone — they hold no data, and the page
 * must load to ask for the token, which every data request then carries.
 */
export function uiAccess(token: string, allowedHosts: readonly string[]): MiddlewareHandler {
  return token ? (_c, next) => next() : localRequests(allowedHosts);
}

/** The start-up log line: which rule is in force. */
export const accessMode = (token: string): string =>
  token ? '/api and /ui: admin token required (LLMTAP_ADMIN_TOKEN)' : '/api and /ui: loopback clients only (set LLMTAP_ADMIN_TOKEN to open them to others)';
