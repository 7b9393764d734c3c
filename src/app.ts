// Which path goes where. Hono routes; the proxy paths then work on Node's own request/response.
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import type { Registry } from 'prom-client';

import { apiAccess, uiAccess } from './api/access.js';
import { type ApiDeps, apiRoutes } from './api/routes.js';
import { uiRoutes } from './api/ui.js';
import { openAIError } from './proxy/errors.js';
import type { Forwarder } from './proxy/forward.js';

export interface ReadinessCheck {
  name: string;
  /** `ready: false` makes /readyz answer 503; the detail is shown either way. */
  status(): { ready: boolean; detail: string };
}

export interface AppDeps {
  forwarder: Forwarder;
  readiness: readonly ReadinessCheck[];
  /** The registry to serve at /metrics, read at each scrape. */
  metrics: () => Promise<Registry>;
  api: ApiDeps;
  /** LLMTAP_ADMIN_TOKEN ('' = loopback clients only). */
  adminToken: string;
}

export type App = Hono<{ Bindings: HttpBindings }>;

export function createApp({ forwarder, readiness, metrics, api, adminToken }: AppDeps): App {
  const app: App = new Hono();

  const forward = (c: Context<{ Bindings: HttpBindings }>): Response => {
    forwarder.handle(c.env.incoming, c.env.outgoing);
    return RESPONSE_ALREADY_SENT;
  };
  app.all('/v1/*', forward);
  app.all('/openai/*', forward); // Azure OpenAI's paths

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', (c) => {
    const checks: Record<string, string> = {};
    let ready = true;
    for (const check of readiness) {
      const s = check.status();
      checks[check.name] = s.detail;
      ready &&= s.ready;
    }
    return c.json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    const registry = await metrics();
    return c.body(await registry.metrics(), 200, { 'content-type': registry.contentType });
  });

  app.use('/api/*', apiAccess(adminToken));
  app.route('/api', apiRoutes(api));
  app.use('/ui/*', uiAccess(adminToken));
  app.use('/ui', uiAccess(adminToken));
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
