// Who may read traces. Prompts are sensitive: with LLMTAP_ADMIN_TOKEN set, /api needs it as a bearer
// token; without it, /api and the viewer answer loopback clients only, judged by the socket's address
// (never by x-forwarded-for, which any client can write).
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { ipRestriction } from 'hono/ip-restriction';

import { apiError as error } from './errors.js';

const loopbackOnly = ipRestriction(getConnInfo, { allowList: ['127.0.0.0/8', '::1'] }, (remote, c: Context) =>
  c.json(error(`llmtap: ${c.req.path} answers loopback clients only (this request came from ${remote.addr}); set LLMTAP_ADMIN_TOKEN to allow others`), 403),
);

/** The rule for /api/*. */
export function apiAccess(token: string): MiddlewareHandler {
  if (!token) return loopbackOnly;
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
export function uiAccess(token: string): MiddlewareHandler {
  return token ? (_c, next) => next() : loopbackOnly;
}

/** The start-up log line: which rule is in force. */
export const accessMode = (token: string): string =>
  token ? '/api and /ui: admin token required (LLMTAP_ADMIN_TOKEN)' : '/api and /ui: loopback clients only (set LLMTAP_ADMIN_TOKEN to open them to others)';
