// Which path goes where. The request target is normalised first (proxy/target.ts); then Hono routes,
// and the proxy paths work on Node's own request/response.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import type { Registry } from 'prom-client';

import { apiAccess, uiAccess } from './api/access.js';
import { type ApiDeps, apiRoutes } from './api/routes.js';
import { openAIError, sendFailure } from './proxy/errors.js';
import type { Forwarder } from './proxy/forward.js';
import { normalizeTarget } from './proxy/target.js';
import type { Health } from './storage-thread/protocol.js';
import { uiRoutes } from './ui/routes.js';

export interface AppDeps {
  forwarder: Forwarder;
  /** What /readyz reports: storage decides readiness; export is shown but never makes llmtap unready. */
  health: () => Health;
  /** The registry to serve at /metrics, read at each scrape. */
  metrics: () => Promise<Registry>;
  api: ApiDeps;
  /** LLMTAP_ADMIN_TOKEN ('' = loopback clients only). */
  adminToken: string;
  /** LLMTAP_ALLOWED_HOSTS: without a token, names besides loopback ones that /api and /ui answer to. */
  allowedHosts: string[];
}

export type App = Hono<{ Bindings: HttpBindings }>;

export function createApp({ forwarder, health, metrics, api, adminToken, allowedHosts }: AppDeps): App {
  const app: App = new Hono();

  const forward = (c: Context<{ Bindings: HttpBindings }>): Response => {
    forwarder.handle(c.env.incoming, c.env.outgoing);
    return RESPONSE_ALREADY_SENT;
  };
  app.all('/v1/*', forward);
  app.all('/openai/*', forward); // Azure OpenAI's paths

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', (c) => {
    const { storage, export: exporter } = health();
    const checks: Record<string, string> = { storage: storage.detail };
    if (exporter) {
      const state = exporter.ok ? exporter.detail : `retrying (${exporter.detail})`;
      checks.export = `${state}; ${exporter.pending} waiting, ${exporter.parked} parked; to ${exporter.target}`;
    }
    return c.json({ status: storage.ok ? 'ready' : 'not ready', checks }, storage.ok ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    const registry = await metrics();
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });

  app.use('/api/*', apiAccess(adminToken, allowedHosts));
  app.route('/api', apiRoutes(api));
  app.use('/ui/*', uiAccess(adminToken, allowedHosts));
  app.use('/ui', uiAccess(adminToken, allowedHosts));
  app.route('/', uiRoutes());

  app.notFound((c) =>
    c.body(
      openAIError(
        `llmtap: no route for ${c.req.method} ${c.req.path}; OpenAI calls go under /v1/ (Azure OpenAI under /openai/)`,
        'invalid_request_error',
        'not_found',
      ),
      404,
      {
        'content-type': 'application/json',
      },
    ),
  );

  return app;
}

/** The server's request handler: the target normalised once, then the app. */
export function requestListener(app: App): (req: IncomingMessage, res: ServerResponse) => void {
  // An HTTP/1.0 request may come without a Host header: the app's URLs then name localhost.
  const toApp = getRequestListener(app.fetch, { hostname: 'localhost' });
  return (req, res) => {
    const target = normalizeTarget(req.url ?? '/');
    if (typeof target !== 'string') {
      sendFailure(res, { status: 400, type: 'invalid_request_error', code: 'invalid_request_target', message: `llmtap: ${target.reason}` });
      return;
    }
    req.url = target;
    void toApp(req, res);
  };
}
