// Server thread. The contract between the proxy and whoever observes its traffic (the recorder): one
// exchange is one client request and its answer. A tap watches an exchange — it sees each chunk after
// the client was sent it and keeps a copy if it wants, but cannot hold a byte back — and may also
// rewrite it, the one sanctioned edit (usage injection), kept apart so that watching stays provably inert.
import type { IncomingMessage } from 'node:http';

import type { Hold } from '../memory-budget.js';
import type { ErrorInfo } from './errors.js';

/** How an exchange ended, from the client's point of view. */
export type Outcome =
  | 'ok' // the whole upstream response reached the client
  | 'upstream_failed' // no upstream response: the client got a 502/504 from llmtap
  | 'upstream_broke' // upstream failed after its headers: the client's response was cut
  | 'client_aborted' // the client went away first; the upstream request was cancelled
  | 'rejected'; // llmtap refused the request (e.g. 413) without forwarding it

export interface ExchangeResult {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  startNs: bigint;
  /** When the upstream's response headers arrived. */
  headersNs?: bigint;
  endNs: bigint;
  /** Status the client received; 0 when it received none. */
  status: number;
  bytesIn: number;
  bytesOut: number;
  outcome: Outcome;
  /** What went wrong. */
  error?: ErrorInfo;
}

/** Sees an exchange; every call happens after the bytes it describes moved, and returns nothing. */
export interface ExchangeWatcher {
  responseStart?(status: number, rawHeaders: readonly string[]): void;
  /** Each upstream chunk, after it was handed to the client. */
  responseChunk?(chunk: Buffer, atNs: bigint): void;
  end(result: ExchangeResult): void;
}

/** Alters an exchange: the request sent upstream and, through a filter, the bytes the client receives. */
export interface ExchangeRewriter {
  /**
   * May edit the upstream request headers in place (e.g. `traceparent`); returns the body to send.
   * `body` is undefined when the request streams upstream (larger than what is held).
   */
  request(headers: string[], body: Buffer | undefined): Buffer | undefined;
  /**
   * Present when an edited body may be refused: a 4xx answer to a body `request` edited is then held back
   * before any byte of it reaches the client, and its start (bounded) given here. True: the client's own
   * body goes upstream instead, once, and its answer is the client's; false: the held answer is released
   * unchanged.
   */
  readonly retryUnedited?: (status: number, rawHeaders: readonly string[], body: Buffer) => boolean;
  /** When the response starts: the filter the client's bytes then pass through, if any. */
  response?(status: number, rawHeaders: readonly string[]): ResponseFilter | undefined;
}

export interface ResponseFilter {
  /** The bytes to send the client instead of an upstream chunk. */
  chunk(chunk: Buffer): Buffer;
  /** Bytes still held when the upstream response ends. */
  end(): Buffer | undefined;
}

export interface ExchangeTap {
  /** Added to the client's response headers (flat [name, value, …]). */
  readonly responseHeaders: readonly string[];
  readonly watch: ExchangeWatcher;
  readonly rewrite?: ExchangeRewriter;
}

export interface ExchangeObserver {
  /** Header names (lower case) llmtap consumes itself and never forwards upstream. */
  isOwnHeader(name: string): boolean;
  /**
   * `body`: the request body, or (when it streams upstream) what was held of it before; `hold`: the
   * exchange's share of the memory budget, for whatever the tap keeps.
   */
  begin(req: IncomingMessage, body: Buffer, startNs: bigint, hold: Hold): ExchangeTap;
}
