// Start-up and shutdown: config in, server listening, SIGTERM drains in-flight streams before exit.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Forwarder, type ExchangeObserver } from './proxy/forward.js';
import { logExchange } from './request-log.js';

export interface Running {
  url: string;
  port: number;
  /** Stops accepting, lets in-flight exchanges finish (bounded by the shutdown timeout), then releases everything. */
  shutdown(): Promise<void>;
}

export async function start(config: Config, log: Logger): Promise<Running> {
  const observer: ExchangeObserver = {
    isOwnHeader: () => false,
    begin: () => ({ responseHeaders: [], end: (r) => logExchange(log, r) }),
  };
  const forwarder = new Forwarder(config, observer);
  const app = createApp({ forwarder, readiness: [] });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, upstream: config.upstreamUrl.href }, 'llmtap listening');

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      log.info({ inFlight: forwarder.inFlight }, 'shutting down: draining in-flight requests');
      server.close();
      // Keep-alive connections become idle as their responses end; close them as they do.
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      const drained = await waitUntil(forwarder.idle(), config.shutdownTimeoutMs);
      clearInterval(reaper);
      if (!drained) {
        log.warn({ inFlight: forwarder.inFlight }, 'shutdown timeout reached: cutting the remaining requests');
        await forwarder.destroy();
        server.closeAllConnections();
      } else {
        await forwarder.close();
      }
      log.info('stopped');
    })());

  return { url, port, shutdown };
}

async function waitUntil(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
