import type { ServerResponse } from 'node:http';

/** The error body OpenAI's API answers with, so SDKs surface llmtap's own errors like OpenAI's. */
export function openAIError(message: string, type: string, code: string | null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

export interface ProxyFailure {
  status: number;
  type: string;
  code: string;
  message: string;
}

interface UndiciLikeError {
  code?: string;
  message?: string;
  name?: string;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT']);

/** Maps an upstream failure that happened before any response header arrived to the client's answer. */
export function failureBeforeHeaders(err: unknown): ProxyFailure {
  const e = (err ?? {}) as UndiciLikeError;
  const detail = e.code ? `${e.code}: ${e.message ?? ''}` : String(e.message ?? err);
  if (e.code && TIMEOUT_CODES.has(e.code)) {
    return { status: 504, type: 'upstream_error', code: 'upstream_timeout', message: `llmtap: upstream timed out (${detail})` };
  }
  return { status: 502, type: 'upstream_error', code: 'upstream_unavailable', message: `llmtap: upstream request failed (${detail})` };
}

export const bodyTooLarge = (limit: number): ProxyFailure => ({
  status: 413,
  type: 'invalid_request_error',
  code: 'request_too_large',
  message: `llmtap: request body exceeds LLMTAP_MAX_BODY_BYTES (${limit} bytes)`,
});

/** Writes a failure as an OpenAI-shaped JSON answer; extra headers (e.g. span ids) are added. */
export function sendFailure(res: ServerResponse, f: ProxyFailure, extra: readonly string[] = [], close = false): void {
  const body = openAIError(f.message, f.type, f.code);
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), ...extra];
  if (close) headers.push('connection', 'close');
  res.writeHead(f.status, headers);
  res.end(body);
}
