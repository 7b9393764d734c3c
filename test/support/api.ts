// Calls llmtap's /api over a real socket and parses the JSON answer.
import type { OutgoingHttpHeaders } from 'node:http';

import type { SpanListItem } from '../../src/api/summary.js';
import type { PhoenixSpan } from '../../src/phoenix/span-json.js';
import { type RawRequest, rawRequest } from './http.js';

export interface SpanList {
  data: SpanListItem[];
  next_cursor: string | null;
  last_seq: number;
}

export interface ErrorAnswer {
  error: { message: string };
}

export type { PhoenixSpan };

export interface ApiAnswer<T> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

export async function getJson<T>(url: string, headers: OutgoingHttpHeaders = {}): Promise<ApiAnswer<T>> {
  const r = await rawRequest(url, { headers });
  return { status: r.status, body: JSON.parse(r.body.toString('utf8')) as T, headers: r.headers };
}

export async function postJsonl<T>(url: string, body: string | Buffer, opts: RawRequest = {}): Promise<ApiAnswer<T>> {
  const r = await rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...opts.headers }, body });
  return { status: r.status, body: JSON.parse(r.body.toString('utf8')) as T, headers: r.headers };
}

/** The JSONL export of an llmtap, as text. */
export async function exportJsonl(baseUrl: string, query = ''): Promise<string> {
  const r = await rawRequest(`${baseUrl}/api/spans?format=jsonl${query ? `&${query}` : ''}`);
  if (r.status !== 200) throw new Error(`export answered ${r.status}: ${r.body.toString()}`);
  return r.body.toString('utf8');
}
