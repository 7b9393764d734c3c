// The viewer's route: plain static files (no build server) from public/ next to this module —
// src/ui/public when run from source, dist/ui/public once built (the build copies them, and the
// vendored files of vendor.ts into public/vendor/).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import type { HttpBindings } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';

import { VENDOR } from './vendor.js';

const ROOT = fileURLToPath(new URL('./public/', import.meta.url));
const HEADERS = (c: { header(name: string, value: string): void }): void => {
  c.header('cache-control', 'no-cache');
  c.header('content-security-policy', CSP);
  c.header('x-content-type-options', 'nosniff');
};

// The viewer renders recorded prompts and outputs: no inline script, nothing loaded from elsewhere
// except images (a prompt's image URLs are shown as thumbnails).
const CSP = "default-src 'self'; img-src 'self' data: blob: http: https:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

export function uiRoutes(): Hono<{ Bindings: HttpBindings }> {
  const ui = new Hono<{ Bindings: HttpBindings }>();
  // Relative, so that a path prefix added by a reverse proxy survives. The root is the viewer too, for
  // whoever opens llmtap's address in a browser (302: the root may serve something else one day).
  ui.get('/', (c) => c.redirect('ui/', 302));
  ui.get('/ui', (c) => c.redirect('ui/', 301));
  ui.get(
    '/ui/*',
    serveStatic({
      root: ROOT,
      rewriteRequestPath: (path) => path.slice('/ui'.length),
      onFound: (_path, c) => HEADERS(c),
    }),
  );
  // Run from the sources (public/vendor/ is the build's): the vendored files from node_modules.
  ui.get('/ui/vendor/:file', async (c) => {
    const from = VENDOR[c.req.param('file')];
    if (!from) return c.notFound();
    const body = await readFile(createRequire(import.meta.url).resolve(from));
    HEADERS(c);
    return c.body(body, 200, { 'content-type': from.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8' });
  });
  return ui;
}
