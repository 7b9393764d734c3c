// Which path goes where. Hono routes; the proxy paths then work on Node's own request/response.
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { apiAccess, uiAccess } from './api/access.js';
import { apiRoutes, type ApiDeps } from './api/routes.js';
import { uiRoutes } from './api/ui.js';
import type { Forwarder } from './proxy/forward.js';
import { openAIError } from './proxy/errors.js';

export interface ReadinessCheck {
  name: string;
  /** Undefined when healthy, else a short reason. */
  problem(): string | undefined;
}

export interface AppDeps {
  forwarder: Forwarder;
  readiness: readonly ReadinessCheck[];
  api: ApiDeps;
  /** LLMTAP_ADMIN_TOKEN ('' = loopback clients only). */
  adminToken: string;
}

export type App = Hono<{ Bindings: HttpBindings }>;

export function createApp({ forwarder, readiness, api, adminToken }: AppDeps): App {
  const app: App = new Hono();

  app.all('/v1/*', (c) => {
    forwarder.handle(c.env.incoming, c.env.outgoing);
    return RESPONSE_ALREADY_SENT;
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', (c) => {
    const checks: Record<string, string> = {};
    let ready = true;
    for (const check of readiness) {
      const problem = check.problem();
      checks[check.name] = problem ?? 'ok';
      if (problem) ready = false;
    }
    return c.json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503);
  });

  app.use('/api/*', apiAccess(adminToken));
  app.route('/api', apiRoutes(api));
  app.use('/ui/*', uiAccess(adminToken));
  app.use('/ui', uiAccess(adminToken));
  app.route('/', uiRoutes());

  app.notFound((c) =>
    c.body(openAIError(`llmtap: no route for ${c.req.method} ${c.req.path}; OpenAI calls go under /v1/`, 'invalid_request_error', 'not_found'), 404, {
      'content-type': 'application/json',
    }),
  );

  return app;
}
