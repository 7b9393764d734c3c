// Both threads. Which endpoint records a request, from its method and path: OpenAI's `/v1/…` paths,
// and Azure OpenAI's `/openai/deployments/{deployment}/…`, `/openai/v1/…` and `/openai/…` (the
// Responses API, the Realtime API). Only names here: the endpoint modules themselves run on the storage
// thread.

export type EndpointName = 'chat' | 'responses' | 'embeddings' | 'completions';

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
