// Where spans are mirrored, from the variables users already set for Phoenix and OpenTelemetry.
import type { Config } from '../config.js';

export interface ExportTarget {
  url: URL;
  /** Headers for every export request (lower-case names), credentials included. */
  headers: Record<string, string>;
}

const TRACES_PATH = '/v1/traces';

const withTracesPath = (base: URL): URL => {
  const url = new URL(base);
  if (!url.pathname.endsWith(TRACES_PATH)) url.pathname = url.pathname.replace(/\/+$/, '') + TRACES_PATH;
  return url;
};

/** The export target, or undefined when none of the endpoint variables is set (export off). */
export function exportTarget(c: Config): ExportTarget | undefined {
  const endpoint = c.phoenixEndpoint ? withTracesPath(c.phoenixEndpoint) : (c.otlpTracesEndpoint ?? (c.otlpEndpoint && withTracesPath(c.otlpEndpoint)));
  if (!endpoint) return undefined;
  const url = new URL(endpoint);
  const headers: Record<string, string> = {};
  for (const list of [c.otlpHeaders, c.otlpTracesHeaders, c.phoenixHeaders]) {
    for (const [k, v] of Object.entries(list)) headers[k.toLowerCase()] = v;
  }
  // Credentials in the URL (https://user:pass@host) become basic auth, and leave the URL, which is logged
  // and shown on /readyz. An explicit Authorization header wins over them, and they over the API key.
  if (url.username || url.password) {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    headers.authorization ??= `Basic ${Buffer.from(credentials).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  // As Phoenix's own clients do: an explicit Authorization header wins over the API key.
  if (c.phoenixApiKey && !headers.authorization) headers.authorization = `Bearer ${c.phoenixApiKey}`;
  // Phoenix answers 415 to anything but exactly this content type.
  headers['content-type'] = 'application/x-protobuf';
  headers['content-encoding'] = 'gzip';
  return { url, headers };
}

/** For logs: the URL and header names only, never their values. */
export const describeTarget = (t: ExportTarget): { url: string; headers: string[] } => ({
  url: t.url.href,
  headers: Object.keys(t.headers),
});
