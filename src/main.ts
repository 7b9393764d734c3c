// Start-up and shutdown: config in, storage open, export started, server listening. SIGTERM drains
// in-flight streams, writes the queued spans, makes a last export attempt, then exits.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createAdaptorServer } from '@hono/node-server';
import { AggregatorRegistry } from 'prom-client';

import { accessMode } from './api/access.js';
import { createApp } from './app.js';
import { type Config, maskSettings } from './config.js';
import { describeTarget, exportTarget } from './export/target.js';
import type { Logging } from './log.js';
import { Metrics } from './metrics.js';
import { Forwarder } from './proxy/forward.js';
import { providers } from './record/provider.js';
import { Recorder } from './record/recorder.js';
import { reportExchange } from './report.js';
import { StoreClient } from './storage-thread/client.js';
import { VERSION } from './version.js';

export interface Running {
  url: string;
  port: number;
  metrics: Metrics;
  /** Stops accepting, lets in-flight exchanges finish (bounded by the shutdown timeout), flushes, releases everything. */
  shutdown(): Promise<void>;
}

export async function start(config: Config, logging: Logging): Promise<Running> {
  const { log } = logging;
  const metrics = new Metrics({ processMetrics: true });
  const target = exportTarget(config);
  const project = config.project || config.projectName;
  const store = await StoreClient.start(
    {
      dbPath: config.dbPath,
      logLevel: config.logLevel,
      maxQueue: config.writeQueueMax,
      flushIntervalMs: config.flushIntervalMs,
      retentionDays: config.retentionDays,
      assemble: {
        providers: providers(config.provider, config.upstreamUrl),
        project,
        captureMaxBytes: config.captureMaxBytes,
        mask: maskSettings(config),
        prices: config.prices,
      },
      ...(target && {
        export: {
          url: target.url.href,
          headers: target.headers,
          resource: { serviceName: config.serviceName, attributes: config.resourceAttributes, scope: { name: 'llmtap', version: VERSION } },
          batchSize: config.exportBatchSize,
          intervalMs: config.exportIntervalMs,
          concurrency: config.exportConcurrency,
          maxBacklog: config.exportMaxBacklog,
          timeoutMs: config.otlpTimeoutMs,
        },
      }),
    },
    logging,
    metrics,
  );
  if (target) {
    log.info({ target: describeTarget(target) }, 'exporting spans over OTLP');
  } else {
    log.info('export off: set PHOENIX_COLLECTOR_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT) to mirror spans');
  }
  const recorder = new Recorder(
    { captureMaxBytes: config.captureMaxBytes, streamUsage: config.streamUsage, recordOther: config.recordOther },
    store,
    (result) => reportExchange(log, metrics, result),
    log,
    metrics,
  );
  const forwarder = new Forwarder(config, recorder);
  const app = createApp({
    forwarder,
    health: () => store.health(),
    // The storage thread counts what it does in a registry of its own; a scrape sums both.
    metrics: async () => AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), await store.call('metrics')]),
    api: { store, project, maxLineBytes: config.maxBodyBytes, log },
    adminToken: config.adminToken,
  });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await store.close(Date.now());
    throw err;
  }
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
      // Storage and export get at least a second, even when draining used up the timeout.
      await store.close(Math.max(deadline, Date.now() + 1000));
      log.info('stopped');
    })());

  return { url, port, metrics, shutdown };
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
