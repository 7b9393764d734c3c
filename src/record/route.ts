// Both threads. Which endpoint records a request, from its method and path: OpenAI's `/v1/…` paths,
// and Azure OpenAI's `/openai/deployments/{deployment}/…`, `/openai/v1/…` and `/openai/…` (the
// Responses API, the Realtime API). Only names here: the endpoint modules themselves run on the storage
// thread.

export type EndpointName = 'chat' | 'responses' | 'embeddings' | 'completions';

/** The names of the spans each endpoint records (the Realtime API's: a session, its responses and transcriptions). */
export const SPAN_NAMES = {
  chat: ['OpenAI Chat Completions'],
  responses: ['OpenAI Responses'],
  embeddings: ['OpenAI Embeddings'],
  completions: ['OpenAI Completions'],
  realtime: ['OpenAI Realtime Session', 'OpenAI Realtime Response', 'OpenAI Realtime Transcription'],
} as const;

/** A stored span's endpoint, as the viewer and /api filter and group by it: `other` for light spans and imported spans of other names. */
export type SpanEndpoint = keyof typeof SPAN_NAMES | 'other';
export const SPAN_ENDPOINTS: readonly SpanEndpoint[] = [...(Object.keys(SPAN_NAMES) as (keyof typeof SPAN_NAMES)[]), 'other'];

const ENDPOINT_OF_NAME = new Map<string, SpanEndpoint>(
  Object.entries(SPAN_NAMES).flatMap(([endpoint, names]) => names.map((name): [string, SpanEndpoint] => [name, endpoint as SpanEndpoint])),
);
export const endpointOfSpan = (name: string): SpanEndpoint => ENDPOINT_OF_NAME.get(name) ?? 'other';

export interface Route {
  /** Undefined for a request no endpoint records (a light span, when LLMTAP_RECORD_OTHER is on). */
  endpoint: EndpointName | undefined;
  /** The API's own path, after `/v1/` or Azure's prefix (`chat/completions`, `realtime`, …). */
  api?: string;
  /** The path without its query. */
  path: string;
  /** An Azure OpenAI path. */
  azure: boolean;
  /** The Azure OpenAI deployment the path names. */
  deployment?: string;
}

const ENDPOINTS = new Map<string, EndpointName>([
  ['chat/completions', 'chat'],
  ['responses', 'responses'],
  ['embeddings', 'embeddings'],
  ['completions', 'completions'],
]);

/** The Realtime API's WebSocket endpoint (`/v1/realtime`, Azure's `/openai/realtime` and `/openai/v1/realtime`). */
export const isRealtime = (route: Route): boolean => route.api === 'realtime';

/** Endpoints whose streams accept `stream_options.include_usage`. */
export const acceptsStreamUsage = (endpoint: EndpointName | undefined): boolean => endpoint === 'chat' || endpoint === 'completions';

const AZURE = /^\/openai\/(?:deployments\/([^/]+)\/|v1\/)?(.+)$/;

export function routeFor(method: string, url: string): Route {
  const path = url.split('?', 1)[0]!;
  let name: string | undefined;
  const route: Route = { endpoint: undefined, path, azure: false };
  if (path.startsWith('/v1/')) name = path.slice(4);
  else {
    const m = AZURE.exec(path);
    if (m) {
      route.azure = true;
      if (m[1]) route.deployment = decoded(m[1]);
      name = m[2];
    }
  }
  if (name !== undefined) route.api = name;
  if (method === 'POST' && name !== undefined) route.endpoint = ENDPOINTS.get(name);
  return route;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a malformed escape: the upstream will answer for it
  }
}
