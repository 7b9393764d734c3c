// A raw HTTP client for tests that must see exact bytes and chunk timing (no decompression, no parsing).
import { type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest } from 'node:http';

export interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** Arrival time (performance.now()) of each chunk. */
  chunkTimes: number[];
  /** True when the response ended cleanly, false when the connection broke mid-body. */
  complete: boolean;
}

export interface RawRequest {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
  /** Aborts the request once this many body bytes arrived. */
  abortAfterBytes?: number;
}

export function rawRequest(url: string, opts: RawRequest = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const chunkTimes: number[] = [];
      let size = 0;
      const finish = (complete: boolean): void =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), chunkTimes, complete });
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        chunkTimes.push(performance.now());
        size += c.length;
        if (opts.abortAfterBytes !== undefined && size >= opts.abortAfterBytes) {
          req.destroy();
          finish(false);
        }
      });
      res.on('end', () => finish(true));
      res.on('error', () => finish(false));
      res.on('aborted', () => finish(false));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const chatBody = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }], ...extra });
