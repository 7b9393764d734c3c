// Start-up and shutdown: config in, storage open, server listening; SIGTERM drains in-flight streams,
// then flushes what is queued, before exit.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { accessMode } from './api/access.js';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { Forwarder } from './proxy/forward.js';
import { Recorder } from './record/recorder.js';
import { openDatabase } from './store/db.js';
import { startRetention } from './store/retention.js';
import { SpanWriter } from './store/writer.js';

export interface Running {
  url: string;
  port: number;
  /** Stops accepting, lets in-flight exchanges finish (bounded by the shutdown timeout), flushes, releases everything. */
  shutdown(): Promise<void>;
}

export async function start(config: Config, log: Logger): Promise<Running> {
  const writer = new SpanWriter(openDatabase(config.dbPath), {
    path: config.dbPath,
    maxQueue: config.writeQueueMax,
    flushIntervalMs: config.flushIntervalMs,
    log,
  });
  const stopRetention = startRetention(() => writer.db, config.retentionDays, log);
  const recorder = new Recorder(
    {
      provider: 'openai',
      project: config.projectName,
      captureMaxBytes: config.captureMaxBytes,
      mask: config,
      injectStreamUsage: config.streamUsage === 'inject',
    },
    writer,
    log,
  );
  const forwarder = new Forwarder(config, recorder);
  const app = createApp({
    forwarder,
    readiness: [{ name: 'storage', problem: () => writer.problem() }],
    api: { db: () => writer.db, dbPath: config.dbPath, project: config.projectName, maxLineBytes: config.maxBodyBytes, log },
    adminToken: config.adminToken,
  });
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
  log.info({ url, upstream: config.upstreamUrl.href, db: config.dbPath }, 'llmtap listening');
  log.info({ viewer: `${url}/ui/` }, accessMode(config.adminToken));

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      const deadline = Date.now() + config.shutdownTimeoutMs;
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
      // Spans of the last exchanges are assembled on the next ticks; let them reach the queue.
      await new Promise((r) => setImmediate(r));
      stopRetention();
      await writer.close(Math.max(1000, deadline - Date.now()));
      log.info({ spansWritten: writer.stats.written }, 'stopped');
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
