// Server thread. Upstream failures, classified once — the kind decides both the client's answer
// (502 or 504) and, on the storage thread, the span's error type — and llmtap's own errors in OpenAI's
// error shape, so SDKs surface them like OpenAI's.
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

import { responseHead } from './headers.js';

/** What kind of failure ended an exchange early. */
export type FailureKind = 'timeout' | 'connection' | 'client_abort';

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export class ClientAbortError extends Error {
  override name = 'ClientAbortError';
  constructor() {
    super('client closed the connection before the response ended');
  }
}

/** An error as plain data (it travels to the storage thread). */
export interface ErrorInfo {
  kind: FailureKind;
  message: string;
  code?: string;
}

export function errorInfo(err: Error): ErrorInfo {
  const code = (err as { code?: unknown }).code;
  const info: ErrorInfo = { kind: failureKind(err), message: err.message };
  if (typeof code === 'string') info.code = code;
  return info;
}

function failureKind(err: unknown): FailureKind {
  if (err instanceof ClientAbortError) return 'client_abort';
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && TIMEOUT_CODES.has(code) ? 'timeout' : 'connection';
}

/** The error body OpenAI's API answers with. */
export function openAIError(message: string, type: string, code: string | null, param: string | null = null): string {
  return JSON.stringify({ error: { message, type, param, code } });
}

export interface ProxyFailure {
  status: number;
  type: string;
  code: string;
  message: string;
}

/** The client's answer to an upstream failure that happened before any response header arrived. */
export function failureBeforeHeaders(err: unknown): ProxyFailure {
  const e = (err ?? {}) as { code?: string; message?: string };
  const detail = e.code ? `${e.code}: ${e.message ?? ''}` : String(e.message ?? err);
  if (failureKind(err) === 'timeout') {
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

/** The same answer on a raw socket (an upgrade request, which has no ServerResponse), then the socket closes. */
export function writeFailure(socket: Duplex, f: ProxyFailure, extra: readonly string[] = []): void {
  const body = openAIError(f.message, f.type, f.code);
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'connection', 'close', ...extra];
  socket.end(responseHead(f.status, headers) + body);
}
