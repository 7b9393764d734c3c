// A real OTLP/HTTP traces receiver for tests. It decodes requests with a protobufjs root generated
// from the official opentelemetry-proto definitions (shipped by @opentelemetry/otlp-transformer 0.215,
// installed under the alias `opentelemetry-proto-protobufjs`) — independent of the serializer llmtap
// uses — and answers as a test tells it to (status, headers, delay), like Phoenix would.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

interface ProtoType {
  decode(buf: Uint8Array): unknown;
}
const root = createRequire(import.meta.url)('opentelemetry-proto-protobufjs/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: ProtoType } } } } };
};
const ExportTraceServiceRequest = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/** An attribute value with the protobuf type it was sent as. */
export type Typed =
  | { type: 'string'; value: string }
  | { type: 'int'; value: number }
  | { type: 'double'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'array'; value: Typed[] };

export interface ReceivedSpan {
  resource: Record<string, Typed>;
  scope: { name: string; version: string };
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  status: { code: number; message: string };
  attributes: Record<string, Typed>;
  events: { name: string; timeNs: bigint; attributes: Record<string, Typed> }[];
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  /** Size on the wire (compressed). */
  bytes: number;
  spans: ReceivedSpan[];
  /** The number of ResourceSpans (one per project). */
  resources: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
  /** Answer only once this settles (a barrier the test releases). */
  after?: Promise<void>;
}

export interface OtlpReceiver {
  /** Base URL (http://127.0.0.1:port); traces go to `${url}/v1/traces`. */
  url: string;
  /** Every request that reached the receiver, decoded (those answered 2xx and the others). */
  requests: ReceivedRequest[];
  /** What to answer to the n-th request (0-based); 200 by default. */
  answer: (n: number, req: ReceivedRequest) => Answer;
  /** Spans from requests answered 2xx, in arrival order. */
  accepted(): ReceivedSpan[];
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

// protobufjs gives 64-bit integers as Long objects (or numbers when small).
const big = (v: unknown): bigint => BigInt(String(v));
const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('hex');

interface AnyValue {
  stringValue?: string;
  intValue?: unknown;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}
interface KeyValue {
  key: string;
  value: AnyValue;
}

function typed(v: AnyValue): Typed {
  if (v.stringValue !== undefined && v.stringValue !== null) return { type: 'string', value: v.stringValue };
  if (v.intValue !== undefined && v.intValue !== null) return { type: 'int', value: Number(big(v.intValue)) };
  if (v.doubleValue !== undefined && v.doubleValue !== null) return { type: 'double', value: v.doubleValue };
  if (v.boolValue !== undefined && v.boolValue !== null) return { type: 'bool', value: v.boolValue };
  if (v.arrayValue) return { type: 'array', value: (v.arrayValue.values ?? []).map(typed) };
  throw new Error(`unexpected AnyValue ${JSON.stringify(v)}`);
}

const attributes = (kvs: KeyValue[] | undefined): Record<string, Typed> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, typed(kv.value)]));

/** Plain JS values of typed attributes, for comparing with what llmtap stored. */
export const plain = (attrs: Record<string, Typed>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, v.type === 'array' ? v.value.map((x) => x.value) : v.value]));

interface DecodedRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: { name?: string; version?: string };
      spans?: {
        traceId: Uint8Array;
        spanId: Uint8Array;
        parentSpanId?: Uint8Array;
        traceState?: string;
        name: string;
        kind: number;
        startTimeUnixNano: unknown;
        endTimeUnixNano: unknown;
        attributes?: KeyValue[];
        events?: { name: string; timeUnixNano: unknown; attributes?: KeyValue[] }[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

export function decodeExport(body: Buffer): { spans: ReceivedSpan[]; resources: number } {
  const req = ExportTraceServiceRequest.decode(body) as DecodedRequest;
  const spans: ReceivedSpan[] = [];
  for (const rs of req.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          resource,
          scope: { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' },
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: s.traceState ?? '',
          name: s.name,
          kind: s.kind,
          startNs: big(s.startTimeUnixNano),
          endNs: big(s.endTimeUnixNano),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          attributes: attributes(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, timeNs: big(e.timeUnixNano), attributes: attributes(e.attributes) })),
        });
      }
    }
  }
  return { spans, resources: (req.resourceSpans ?? []).length };
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const sockets = new Set<Socket>();
  const accepted: ReceivedSpan[] = [];
  const receiver: OtlpReceiver = {
    url: '',
    requests: [],
    answer: () => ({ status: 200 }),
    accepted: () => accepted,
    stop,
    restart,
  };
  let port = 0;
  let server: Server;

  function listen(): Promise<void> {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const decoded = decodeExport(body);
        const received: ReceivedRequest = { headers: req.headers, bytes: raw.length, ...decoded };
        const n = receiver.requests.push(received) - 1;
        const a = receiver.answer(n, received);
        const send = (): void => {
          if (a.status >= 200 && a.status < 300) accepted.push(...decoded.spans);
          res.writeHead(a.status, { 'content-type': a.body ? 'application/json' : 'application/x-protobuf', ...a.headers });
          res.end(a.body ?? '');
        };
        void (a.after ?? Promise.resolve()).then(() => setTimeout(send, a.delayMs ?? 0));
      });
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.listen(port, '127.0.0.1');
    return once(server, 'listening').then(() => {
      port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${port}`;
    });
  }

  async function stop(): Promise<void> {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  }

  function restart(): Promise<void> {
    return listen();
  }

  await listen();
  return receiver;
}
