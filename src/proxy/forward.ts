// The hot path: one client request → one upstream request on a keep-alive undici pool, with the
// response piped back chunk by chunk on Node's own objects (no web streams). Observers see the
// exchange through an ExchangeTap, which never holds up a byte.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { type Dispatcher, Pool } from 'undici';

import { nowNs } from '../clock.js';
import { bodyTooLarge, failureBeforeHeaders, sendFailure } from './errors.js';
import { clientResponseHeaders, rawHeader, rawToStrings, upstreamRequestHeaders } from './headers.js';

export interface ForwardOptions {
  upstreamUrl: URL;
  maxBodyBytes: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

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
  /** What went wrong, as plain data (it travels to the storage thread). */
  error?: { message: string; code?: string };
}

/** What an observer (the recorder) sees of one exchange. Calls happen after the bytes moved. */
export interface ExchangeTap {
  /** Added to the client's response headers (flat [name, value, …]). */
  readonly responseHeaders: readonly string[];
  /** May edit the upstream request headers in place (e.g. `traceparent`) and return the body to send. */
  prepareUpstream?(headers: string[], body: Buffer): Buffer;
  responseStart?(status: number, rawHeaders: readonly string[]): void;
  /** Sees each upstream chunk after it was handed to the client. */
  responseChunk?(chunk: Buffer, atNs: bigint): void;
  /** A tap that alters the client's stream returns the bytes to send instead of the chunk. */
  filterChunk?(chunk: Buffer): Buffer;
  /** Bytes a filtering tap still holds when the upstream response ends. */
  filterEnd?(): Buffer | undefined;
  end(result: ExchangeResult): void;
}

export interface ExchangeObserver {
  /** Header names (lower case) llmtap consumes itself and never forwards upstream. */
  isOwnHeader(name: string): boolean;
  begin(req: IncomingMessage, body: Buffer, startNs: bigint): ExchangeTap;
}

class ClientAbortError extends Error {
  override name = 'ClientAbortError';
  constructor() {
    super('client closed the connection before the response ended');
  }
}

export class Forwarder {
  readonly #opts: ForwardOptions;
  readonly #pool: Pool;
  readonly #pathPrefix: string;
  readonly #observer: ExchangeObserver;
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(opts: ForwardOptions, observer: ExchangeObserver) {
    this.#opts = opts;
    this.#observer = observer;
    this.#pathPrefix = opts.upstreamUrl.pathname.replace(/\/+$/, '');
    // Timeouts are explicit: undici's 300 s defaults would cut long reasoning calls.
    this.#pool = new Pool(opts.upstreamUrl.origin, {
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once no exchange is in flight. */
  idle(): Promise<void> {
    return this.#inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Cuts every upstream request still open (shutdown timeout reached). */
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#inFlight++;
    new Exchange(req, res, this.#opts, this.#pool, this.#pathPrefix, this.#observer, () => this.#finished()).start();
  }

  #finished(): void {
    if (--this.#inFlight === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}

const EMPTY = Buffer.alloc(0);

class Exchange implements Dispatcher.DispatchHandler {
  readonly #startNs = nowNs();
  #tap: ExchangeTap | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #headersNs: bigint | undefined;
  #status = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #outcome: Outcome = 'ok';
  #error: Error | undefined;
  #ended = false;
  #awaitingDrain = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly opts: ForwardOptions,
    private readonly pool: Pool,
    private readonly pathPrefix: string,
    private readonly observer: ExchangeObserver,
    private readonly onFinished: () => void,
  ) {}

  start(): void {
    const { req, res } = this;
    res.on('error', () => {}); // socket errors surface as 'close'; never crash on them
    res.once('close', () => this.#onClientClose());

    const declared = Number(req.headers['content-length']);
    if (declared > this.opts.maxBodyBytes) return this.#reject();
    this.#readBody();
  }

  // Request bodies are read whole (bounded by LLMTAP_MAX_BODY_BYTES) before forwarding: they are small
  // for LLM calls, arrive in one loopback read from a sidecar's app, and the recorder needs their exact
  // bytes. Responses, which are the long part, stream.
  #readBody(): void {
    const { req } = this;
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      this.#bytesIn += chunk.length;
      if (this.#bytesIn > this.opts.maxBodyBytes) {
        req.off('data', onData);
        req.pause();
        this.#reject();
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (this.#outcome === 'rejected' || this.res.destroyed) return;
      this.#dispatch(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#bytesIn));
    });
    req.on('error', () => {}); // an aborted upload shows up as the response's 'close'
  }

  #dispatch(body: Buffer): void {
    const { req } = this;
    const headers = upstreamRequestHeaders(req.rawHeaders, (name) => this.observer.isOwnHeader(name));
    this.#tap = this.observer.begin(req, body, this.#startNs);
    const sent = this.#tap.prepareUpstream?.(headers, body) ?? body;
    const method = req.method ?? 'GET';
    try {
      this.pool.dispatch(
        {
          method,
          path: this.pathPrefix + (req.url ?? '/'),
          headers,
          body: sent.length > 0 || !(method === 'GET' || method === 'HEAD') ? sent : null,
        },
        this,
      );
    } catch (err) {
      // undici validates some arguments synchronously (e.g. header characters).
      this.onResponseError(undefined, err as Error);
    }
  }

  #reject(): void {
    this.#outcome = 'rejected';
    this.#status = 413;
    // Close the connection so the rest of an oversize upload is not read.
    sendFailure(this.res, bodyTooLarge(this.opts.maxBodyBytes), [], true);
  }

  /** Requests that never reached the point of forwarding are still reported to the observer. */
  #tapWithoutBody(): ExchangeTap {
    return (this.#tap ??= this.observer.begin(this.req, EMPTY, this.#startNs));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#outcome === 'client_aborted') controller.abort(new ClientAbortError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _h: unknown, statusMessage?: string): void {
    const { res } = this;
    this.#headersNs = nowNs();
    if (res.destroyed) return;
    const raw = rawToStrings((controller.rawHeaders ?? []) as Buffer[]);
    const out = clientResponseHeaders(raw);
    const sse = rawHeader(raw, 'content-type')?.startsWith('text/event-stream') ?? false;
    // An nginx in front of llmtap must not buffer a stream.
    if (sse) out.push('x-accel-buffering', 'no');
    const tap = this.#tap!;
    for (const h of tap.responseHeaders) out.push(h);
    this.#status = statusCode;
    res.writeHead(statusCode, statusMessage || undefined, out);
    // Clients of a stream learn it started as soon as upstream says so, as they would directly.
    if (sse) res.flushHeaders();
    tap.responseStart?.(statusCode, raw);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const { res } = this;
    if (res.destroyed) return;
    const tap = this.#tap!;
    const out = tap.filterChunk?.(chunk) ?? chunk;
    this.#bytesOut += out.length;
    // Backpressure: a slow client pauses the upstream read until its socket drains.
    if (out.length > 0 && !res.write(out) && !this.#awaitingDrain) {
      this.#awaitingDrain = true;
      controller.pause();
      res.once('drain', () => {
        this.#awaitingDrain = false;
        controller.resume();
      });
    }
    tap.responseChunk?.(chunk, nowNs());
  }

  onResponseEnd(): void {
    if (this.res.destroyed) return;
    const rest = this.#tap!.filterEnd?.();
    if (rest && rest.length > 0) {
      this.#bytesOut += rest.length;
      this.res.end(rest);
    } else this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    const { res } = this;
    if (this.#outcome === 'client_aborted') return;
    this.#error = err;
    if (!res.headersSent) {
      this.#outcome = 'upstream_failed';
      const failure = failureBeforeHeaders(err);
      this.#status = failure.status;
      if (!res.destroyed) sendFailure(res, failure, this.#tap?.responseHeaders ?? []);
    } else {
      // The client must see a broken stream, not a clean end that would pass for a complete answer.
      this.#outcome = 'upstream_broke';
      res.destroy(err);
    }
  }

  #onClientClose(): void {
    if (!this.res.writableFinished && this.#outcome === 'ok') {
      this.#outcome = 'client_aborted';
      this.#error = new ClientAbortError();
      this.#controller?.abort(this.#error);
    }
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const result: ExchangeResult = {
      method: this.req.method ?? 'GET',
      path: this.req.url ?? '/',
      startNs: this.#startNs,
      endNs: nowNs(),
      status: this.#status,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      outcome: this.#outcome,
    };
    if (this.#headersNs !== undefined) result.headersNs = this.#headersNs;
    if (this.#error) {
      const code = (this.#error as { code?: unknown }).code;
      result.error = typeof code === 'string' ? { message: this.#error.message, code } : { message: this.#error.message };
    }
    this.onFinished();
    this.#tapWithoutBody().end(result);
  }
}
