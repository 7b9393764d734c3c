// Span → OTLP ExportTraceServiceRequest (protobuf), encoded by OpenTelemetry's own serializer. Spans are
// rebuilt as ReadableSpans from what was stored, so no SDK attribute limit applies: every attribute goes.
import { SEMRESATTRS_PROJECT_NAME } from '@arizeai/openinference-semantic-conventions';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';

import type { Span } from '../record/span.js';

type ReadableSpan = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0][number];
type HrTime = [number, number];

const STATUS = { UNSET: 0, OK: 1, ERROR: 2 } as const;
const INTERNAL = 0; // OpenTelemetry API SpanKind.INTERNAL, as the OpenInference instrumentations set it
const SAMPLED = 1;

const hrTime = (ns: bigint): HrTime => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];

export interface ResourceOptions {
  serviceName: string;
  attributes: Record<string, string>;
  scope: { name: string; version: string };
}

/** Projects whose resource is kept between requests; the least recently used beyond are made again when needed. */
const RESOURCES_MAX = 1000;

/** Encodes spans as one request, with one resource per Phoenix project. */
export class OtlpEncoder {
  // In least-recently-used order (a Map keeps insertion order): the project comes from a request
  // header, so there may be any number of them.
  readonly #resources = new Map<string, Resource>();

  constructor(private readonly opts: ResourceOptions) {}

  /** Projects whose resource is kept. */
  get cachedProjects(): number {
    return this.#resources.size;
  }

  encode(spans: readonly Span[]): Uint8Array {
    return ProtobufTraceSerializer.serializeRequest(spans.map((s) => this.#readable(s)))!;
  }

  // One Resource object per project: the serializer groups spans by resource identity.
  #resource(project: string): Resource {
    let r = this.#resources.get(project);
    if (r) this.#resources.delete(project);
    else {
      r = resourceFromAttributes({ ...this.opts.attributes, 'service.name': this.opts.serviceName, [SEMRESATTRS_PROJECT_NAME]: project });
      if (this.#resources.size >= RESOURCES_MAX) this.#resources.delete(this.#resources.keys().next().value!);
    }
    this.#resources.set(project, r);
    return r;
  }

  #readable(s: Span): ReadableSpan {
    const context = {
      traceId: s.traceId,
      spanId: s.spanId,
      traceFlags: SAMPLED,
      ...(s.traceState ? { traceState: { serialize: () => s.traceState! } } : {}),
    };
    return {
      name: s.name,
      kind: INTERNAL,
      spanContext: () => context as never,
      ...(s.parentSpanId ? { parentSpanContext: { traceId: s.traceId, spanId: s.parentSpanId, traceFlags: SAMPLED, isRemote: true } } : {}),
      startTime: hrTime(s.startNs),
      endTime: hrTime(s.endNs),
      duration: hrTime(s.endNs - s.startNs),
      ended: true,
      status: s.statusMessage ? { code: STATUS[s.statusCode], message: s.statusMessage } : { code: STATUS[s.statusCode] },
      attributes: s.attributes,
      links: [],
      events: s.events.map((e) => ({ name: e.name, time: hrTime(e.timeNs), attributes: e.attributes })),
      resource: this.#resource(s.project),
      instrumentationScope: this.opts.scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    } as ReadableSpan;
  }
}
