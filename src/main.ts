// Start-up and shutdown: config in, storage open, export started, server listening. SIGTERM drains
// in-flight requests (and those still arriving on kept-alive connections; WebSocket sessions still open
// at the end of the drain are closed with 1001), writes the queued spans, makes a last export attempt
// (briefly: the outbox keeps the rest), then exits. A second signal stops at once.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { AggregatorRegistry } from 'prom-client';

import { accessMode } from './api/access.js';
import { createApp, requestListener } from './app.js';
import { type Config, maskSettings, withoutCredentials } from './config.js';
import { describeTarget, exportTarget } from './export/target.js';
import type { Logging } from './log.js';
import { MemoryBudget } from './memory-budget.js';
import { Metrics } from './metrics.js';
import { Forwarder } from './proxy/forward.js';
import { RealtimeRelay } from './proxy/realtime.js';
import { providers } from './record/provider.js';
import { Recorder } from './record/recorder.js';
import { reportExchange, reportSession } from './report.js';
import { StoreClient } from './storage-thread/client.js';
import { systemReason } from './system-error.js';
import { VERSION } from './version.js';

export interface Running {
  url: string;
  port: number;
  metrics: Metrics;
  /** Stops accepting, lets in-flight exchanges finish (bounded by the shutdown timeout), flushes, releases everything. */
  shutdown(): Promise<void>;
  /** Stops at once: cuts what is in flight and gives the queued spans a second to be written. */
  stopNow(): Promise<void>;
}

/** What the last spans get when the stop is hurried. */
const HURRIED_MS = 1000;

export async function start(config: Config, logging: Logging): Promise<Running> {
  const { log } = logging;
  const metrics = new Metrics({ processMetrics: true });
  const budget = new MemoryBudget(config.captureMemoryBytes);
  metrics.watch({ captureMemory: () => budget.held });
  const target = exportTarget(config);
  const project = config.project || config.projectName;
  const store = await StoreClient.start(
    {
      dbPath: config.dbPath,
      logLevel: config.logLevel,
      maxQueue: config.writeQueueMax,
      flushIntervalMs: config.flushIntervalMs,
      retentionDays: config.retentionDays,
      memory: budget.shared,
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
    budget,
  );
  if (target) {
    log.info({ target: describeTarget(target) }, 'exporting spans over OTLP');
  } else {
    log.info('export off: set PHOENIX_COLLECTOR_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT) to mirror spans');
  }
  const recorder = new Recorder(
    { captureMaxBytes: config.captureMaxBytes, streamUsage: config.streamUsage, recordOther: config.recordOther },
    store,
    { exchange: (result) => reportExchange(log, metrics, result), session: (result) => reportSession(log, result) },
    log,
    budget,
    metrics,
  );
  const forwarder = new Forwarder(config, recorder, budget);
  const realtime = new RealtimeRelay(config, recorder, metrics);
  const app = createApp({
    forwarder,
    health: () => store.health(),
    // The storage thread counts what it does in a registry of its own; a scrape sums both.
    metrics: async () => AggregatorRegistry.aggregate([await metrics.registry.getMetricsAsJSON(), await store.call('metrics')]),
    api: { store, project, maxLineBytes: config.maxBodyBytes, log },
    adminToken: config.adminToken,
    allowedHosts: config.allowedHosts,
  });
  const server = createServer(requestListener(app));
  server.on('upgrade', realtime.upgrade);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await store.close({ writeBy: Date.now(), exportMs: 0 });
    throw listenError(config, err);
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, upstream: withoutCredentials(config.upstreamUrl), db: config.dbPath }, 'llmtap listening');
  log.info({ viewer: `${url}/ui/` }, accessMode(config.adminToken));

  // While draining, every answer closes its connection: a client with a kept-alive connection gets its
  // request answered, then connects elsewhere. The pool closes only once no connection is left.
  let draining = false;
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
  });
  // A second signal hurries the stop: what is in flight is cut, the queued spans get a second to be written.
  let hurriedAt = 0;
  let hurry = (): void => {};
  const hurried = new Promise<void>((resolve) => (hurry = resolve));

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (stopping ??= (async () => {
      const deadline = Date.now() + config.shutdownTimeoutMs;
      // WebSocket sessions: no new ones from now; those still open at the deadline are closed with 1001.
      const sessionsClosed = realtime.close(deadline);
      draining = true;
      // The server closes once every connection has: kept-alive ones as their answers end, sessions at the deadline.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      log.info({ inFlight: forwarder.inFlight, forMs: config.shutdownTimeoutMs }, 'shutting down: finishing the requests in flight');
      // Connections whose answer was under way with keep-alive become idle as it ends: close them then.
      const reaper = setInterval(() => server.closeIdleConnections(), 50);
      const waiting = setInterval(() => log.info({ inFlight: forwarder.inFlight }, 'shutting down: still waiting for requests in flight'), 5000);
      const drained = await waitUntil(
        closed.then(() => forwarder.idle()),
        config.shutdownTimeoutMs,
        hurried,
      );
      clearInterval(reaper);
      clearInterval(waiting);
      if (!drained) {
        if (forwarder.inFlight > 0) log.warn({ inFlight: forwarder.inFlight }, 'shutting down: cutting the requests still in flight');
        server.closeAllConnections();
        await forwarder.destroy();
      } else {
        await forwarder.close();
      }
      await sessionsClosed;
      // Spans of the last exchanges are assembled on the next ticks; let them reach the queue.
      await new Promise((r) => setImmediate(r));
      // Writing the queued spans gets at least a second, even when draining used up the timeout; export
      // gets a short while of its own (the outbox keeps what it does not send for the next start).
      await store.close(
        hurriedAt ? { writeBy: hurriedAt + HURRIED_MS, exportMs: 0 } : { writeBy: Math.max(deadline, Date.now() + 1000), exportMs: config.shutdownExportMs },
      );
      log.info('stopped');
    })());

  const stopNow = (): Promise<void> => {
    hurriedAt ||= Date.now();
    hurry();
    void realtime.close(hurriedAt);
    store.hurry(hurriedAt + HURRIED_MS);
    return shutdown();
  };

  return { url, port, metrics, shutdown, stopNow };
}

/** Why the server cannot listen, naming the address, the variables that set it and the system's reason. */
function listenError({ host, port }: Config, err: unknown): Error {
  const hint: Record<string, string> = {
    EADDRINUSE: '; another process holds the port: stop it, or set LLMTAP_PORT to a free one',
    EACCES: '; ports below 1024 need privileges: set LLMTAP_PORT to 1024 or above',
    EADDRNOTAVAIL: '; LLMTAP_HOST is not an address of this machine',
  };
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return new Error(`cannot listen on ${host}:${port} (LLMTAP_HOST, LLMTAP_PORT): ${systemReason(err)}${hint[code] ?? ''}`, { cause: err });
}

/** True when `p` resolved within `ms`, false when the time ran out or `cut` came first. */
async function waitUntil(p: Promise<void>, ms: number, cut: Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([p.then(() => true), timeout, cut.then(() => false)]);
  } finally {
    clearTimeout(timer);
  }
}
