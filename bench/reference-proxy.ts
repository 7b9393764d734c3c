// The reference: a minimal pass-through proxy with undici and node:http only — no recording, no
// framework. The fastest reasonable Node proxy, llmtap's physical limit on this runtime.
import { createServer } from 'node:http';

import { Pool } from 'undici';

const [port = '0', upstream = ''] = process.argv.slice(2);
const pool = new Pool(upstream);
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'te', 'upgrade', 'proxy-connection']);

createServer((req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
  pool.stream(
    { path: req.url ?? '/', method: (req.method ?? 'GET') as 'GET', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req },
    ({ statusCode, headers: upstreamHeaders }) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upstreamHeaders)) if (v !== undefined && !HOP.has(k)) out[k] = v;
      res.writeHead(statusCode, out);
      return res;
    },
    (err) => {
      if (!err) return;
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    },
  );
  res.on('close', () => req.destroy());
}).listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
