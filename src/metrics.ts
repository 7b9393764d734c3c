// Prometheus metrics (prom-client), one registry per running server. Components get this object and
// count what they do; gauges that describe state are read when /metrics is scraped.
import { constants, type NodeGCPerformanceDetail, PerformanceObserver } from 'node:perf_hooks';

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { routeFor } from './record/route.js';

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
const SESSION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/** Which way a relayed WebSocket message went (a label value). */
export type Direction = 'client_to_upstream' | 'upstream_to_client';

// Label values never come straight from a request: a path, a status or a model name a client chose
// would add a series each, and enough of them exhaust memory (any web page can send GETs with <img>).
// Every metric with a `route`, `status` or `model` label takes it from the functions below.

// The API's endpoints, as route labels (ids in paths never are); any other path is `other`.
const ENDPOINTS = new Set([
  'assistants',
  'audio/speech',
  'audio/transcriptions',
  'audio/translations',
  'batches',
  'chat/completions',
  'completions',
  'containers',
  'conversations',
  'embeddings',
  'evals',
  'files',
  'fine_tuning/checkpoints',
  'fine_tuning/jobs',
  'images/edits',
  'images/generations',
  'images/variations',
  'models',
  'moderations',
  'realtime',
  'realtime/calls',
  'realtime/client_secrets',
  'realtime/sessions',
  'realtime/transcription_sessions',
  'responses',
  'threads',
  'uploads',
  'vector_stores',
  'videos',
]);
// Groups whose endpoint is two segments deep (`chat/completions`); in the others the second is an id.
const TWO_SEGMENTS = new Set(['chat', 'audio', 'images', 'fine_tuning', 'realtime']);
/** The `route` label of a request path: a known endpoint under its prefix (an Azure deployment's name left out), else `other`. */
export function routeLabel(path: string): string {
  const route = routeFor('', path);
  if (route.api === undefined) return 'other';
  const segments = route.api.split('/');
  const endpoint = segments.slice(0, TWO_SEGMENTS.has(segments[0]!) ? 2 : 1).join('/');
  if (!ENDPOINTS.has(endpoint)) return 'other';
  const prefix = route.deployment === undefined ? route.path.slice(0, route.path.length - route.api.length) : '/openai/deployments/{deployment}/';
  return prefix + endpoint;
}

// The statuses OpenAI's API and llmtap answer with are labelled as they are; any other by its class.
const STATUSES = new Set([0, 200, 201, 204, 400, 401, 403, 404, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504]);

/** The `status` label: a common status as is, any other as its class (`3xx`); `0` when the client got none. */
export const statusLabel = (status: number): string => (STATUSES.has(status) ? String(status) : `${Math.floor(status / 100)}xx`);

/** Most model names labelled as themselves; past it, newly seen models are `other`. */
export const MODEL_LABELS_MAX = 100;

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * prom-client's `nodejs_gc_duration_seconds` observes only the first of the collections Node reports
 * together (its observer reads `getEntries()[0]`), and under load several come in one report: at 5,000
 * requests/s it missed one in eight. This one, under the same name, counts each.
 */
function countEveryCollection(registry: Registry, prefix: string): void {
  const name = `${prefix}nodejs_gc_duration_seconds`;
  registry.removeSingleMetric(name);
  const pauses = new Histogram({
    name,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers: [registry],
  });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      pauses.observe({ kind: GC_KINDS[(entry as unknown as { detail: NodeGCPerformanceDetail }).detail.kind] ?? 'other' }, entry.duration / 1000);
  }).observe({ entryTypes: ['gc'] });
}

/** State read when /metrics is scraped. */
export interface MetricSources {
  captureMemory?: () => number;
  writeQueue?: () => number;
  exportBacklog?: () => { pending: number; oldestAgeSeconds: number };
}

export class Metrics {
  readonly registry = new Registry();
  readonly #sources: MetricSources = {};
  readonly #models = new Set<string>();

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
  readonly realtimeOpen = new Gauge({
    name: 'llmtap_realtime_sessions_open',
    help: 'WebSocket sessions (the Realtime API) open now',
    registers: [this.registry],
  });
  readonly realtimeSessions = new Counter({
    name: 'llmtap_realtime_sessions_total',
    help: 'WebSocket upgrade requests, by the status the client got (101: relayed)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly realtimeMessages = new Counter({
    name: 'llmtap_realtime_messages_total',
    help: 'WebSocket messages relayed, by direction',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly realtimeBytes = new Counter({
    name: 'llmtap_realtime_message_bytes_total',
    help: 'Payload bytes of the WebSocket messages relayed, by direction',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly realtimeDuration = new Histogram({
    name: 'llmtap_realtime_session_duration_seconds',
    help: 'How long relayed WebSocket sessions stayed open',
    buckets: SESSION_BUCKETS,
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
  readonly captureMemory: Gauge = new Gauge({
    name: 'llmtap_capture_memory_bytes',
    help: 'Bytes held for exchanges in flight and spans not yet built (the LLMTAP_CAPTURE_MEMORY_BYTES budget)',
    registers: [this.registry],
    collect: () => this.captureMemory.set(this.#sources.captureMemory?.() ?? 0),
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

  /** `processMetrics`: also the process's CPU, memory, event-loop and GC metrics (once per process). */
  constructor({ processMetrics }: { processMetrics: boolean }) {
    if (!processMetrics) return;
    collectDefaultMetrics({ register: this.registry, prefix: 'llmtap_' });
    countEveryCollection(this.registry, 'llmtap_');
  }

  /**
   * The `model` label. A model joins the allow-list when the upstream confirms it — an answer in 2xx
   * naming it — while the list has room; any other name is `other`, so request bodies cannot add series.
   * '' when the exchange names no model.
   */
  modelLabel(model: string | undefined, status: number): string {
    if (!model) return '';
    if (this.#models.has(model)) return model;
    if (status >= 200 && status < 300 && this.#models.size < MODEL_LABELS_MAX) {
      this.#models.add(model);
      return model;
    }
    return 'other';
  }

  /** Components that hold state register how to read it. */
  watch(sources: MetricSources): void {
    Object.assign(this.#sources, sources);
  }
}
