// Prometheus metrics (prom-client), one registry per running server. Components get this object and
// count what they do; gauges that describe state are read when /metrics is scraped.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

// Endpoints whose route is two path segments deep; any other /v1 path is labelled by its first segment,
// so ids in paths (files, batches, …) never become label values.
const TWO_SEGMENTS = new Set(['chat', 'audio', 'images', 'fine_tuning', 'vector_stores', 'realtime', 'uploads']);

/** A low-cardinality route label for a request path. */
export function routeOf(path: string): string {
  const segments = path.split('?', 1)[0]!.split('/').filter(Boolean);
  if (segments[0] === 'openai' && segments[1] === 'deployments') {
    return `/openai/deployments/{deployment}/${segments.slice(3).join('/')}`;
  }
  const depth = TWO_SEGMENTS.has(segments[1] ?? '') ? 3 : 2;
  return `/${segments.slice(0, depth).join('/')}`;
}

/** State read when /metrics is scraped. */
export interface MetricSources {
  writeQueue?: () => number;
  exportBacklog?: () => { pending: number; oldestAgeSeconds: number };
}

export class Metrics {
  readonly registry = new Registry();
  readonly #sources: MetricSources = {};

  readonly requests = new Counter({
    name: 'llmtap_requests_total',
    help: 'Requests proxied, by route, status and model',
    labelNames: ['route', 'status', 'model'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'llmtap_request_duration_seconds',
    help: 'Time from request received to last byte sent',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly ttft = new Histogram({
    name: 'llmtap_time_to_first_token_seconds',
    help: 'Time from request received to the first streamed token sent',
    labelNames: ['model'] as const,
    buckets: TTFT_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'llmtap_tokens_total',
    help: 'Tokens of recorded calls (the upstream counts, else estimates), by model and type: prompt and completion; cached (part of prompt) and reasoning (part of completion)',
    labelNames: ['model', 'type'] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: 'llmtap_cost_usd_total',
    help: 'What recorded calls cost in USD (llm.cost.total), by model; calls of models without a known price add nothing',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly streamUsageRefused = new Counter({
    name: 'llmtap_stream_usage_refused_total',
    help: 'Models whose upstream refused an injected stream_options.include_usage (LLMTAP_STREAM_USAGE=auto then stops adding it for them)',
    registers: [this.registry],
  });
  readonly spansRecorded = new Counter({ name: 'llmtap_spans_recorded_total', help: 'Spans built from exchanges', registers: [this.registry] });
  readonly spanErrors = new Counter({ name: 'llmtap_span_assembly_errors_total', help: 'Exchanges whose span could not be built', registers: [this.registry] });
  readonly spansStored = new Counter({ name: 'llmtap_spans_stored_total', help: 'Spans written to SQLite', registers: [this.registry] });
  readonly spansDropped = new Counter({
    name: 'llmtap_spans_dropped_total',
    help: 'Spans dropped because the write queue was full',
    registers: [this.registry],
  });
  readonly storageErrors = new Counter({
    name: 'llmtap_storage_errors_total',
    help: 'Failed SQLite writes (the spans stay queued)',
    registers: [this.registry],
  });
  readonly exportSent = new Counter({ name: 'llmtap_export_spans_sent_total', help: 'Spans the export target accepted', registers: [this.registry] });
  readonly exportFailures = new Counter({
    name: 'llmtap_export_failures_total',
    help: 'Failed export requests, by reason (HTTP status or network)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly exportParked = new Counter({
    name: 'llmtap_export_spans_parked_total',
    help: 'Spans set aside after an answer that will never succeed (e.g. 400, 401)',
    registers: [this.registry],
  });
  readonly exportSkipped = new Counter({
    name: 'llmtap_export_spans_skipped_total',
    help: 'Spans left unexported because the backlog exceeded LLMTAP_EXPORT_MAX_BACKLOG',
    registers: [this.registry],
  });
  readonly writeQueue: Gauge = new Gauge({
    name: 'llmtap_write_queue_spans',
    help: 'Spans waiting to be written to SQLite',
    registers: [this.registry],
    collect: () => this.writeQueue.set(this.#sources.writeQueue?.() ?? 0),
  });
  readonly exportBacklog: Gauge = new Gauge({
    name: 'llmtap_export_backlog_spans',
    help: 'Spans waiting for export',
    registers: [this.registry],
    collect: () => this.exportBacklog.set(this.#sources.exportBacklog?.().pending ?? 0),
  });
  readonly exportOldestAge: Gauge = new Gauge({
    name: 'llmtap_export_oldest_unexported_age_seconds',
    help: 'Age of the oldest span waiting for export (0 when none)',
    registers: [this.registry],
    collect: () => this.exportOldestAge.set(this.#sources.exportBacklog?.().oldestAgeSeconds ?? 0),
  });

  /** `processMetrics`: also the process's CPU, memory and event-loop metrics (once per process). */
  constructor({ processMetrics }: { processMetrics: boolean }) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'llmtap_' });
  }

  /** Components that hold state register how to read it. */
  watch(sources: MetricSources): void {
    Object.assign(this.#sources, sources);
  }
}
