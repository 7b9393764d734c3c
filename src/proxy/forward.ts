// Server thread, the hot path: one client request → one upstream request on a keep-alive undici pool,
// with the response piped back chunk by chunk on Node's own objects (no web streams). Observers see the
// exchange through an ExchangeTap (exchange.ts), which never holds up a byte. The one exception is the
// rewriter's: a 4xx answer to a body it edited may be held back (bounded) and replaced by the answer to
// the client's own body (ExchangeRewriter.retryUnedited).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';

import { type Dispatcher, Pool } from 'undici';

import { nowNs } from '../clock.js';
import type { Hold, MemoryBudget } from '../memory-budget.js';
import { bodyTooLarge, ClientAbortError, errorInfo, failureBeforeHeaders, sendFailure } from './errors.js';
import type { ExchangeObserver, ExchangeResult, ExchangeTap, Outcome, ResponseFilter } from './exchange.js';
import { clientResponseHeaders, rawHeader, rawToStrings, upstreamRequestHeaders } from './headers.js';

export interface ForwardOptions {
  upstreamUrl: URL;
  maxBodyBytes: number;
  /** Most of a request body held before forwarding (what a span keeps of it); past it the body streams. */
  captureMaxBytes: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

export class Forwarder {
  readonly #opts: ForwardOptions;
  readonly #pool: Pool;
  readonly #paths: UpstreamPaths;
  readonly #observer: ExchangeObserver;
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(
    opts: ForwardOptions,
    observer: ExchangeObserver,
    private readonly budget: MemoryBudget,
  ) {
    this.#opts = opts;
    this.#observer = observer;
    this.#paths = upstreamPaths(opts.upstreamUrl);
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
    new ExchangeHandler(req, res, this.#opts, this.#pool, this.#paths, this.#observer, this.budget.hold(), () => this.#finished()).start();
  }

  #finished(): void {
    if (--this.#inFlight === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}

const EMPTY = Buffer.alloc(0);

/** What goes before a request's path upstream: the upstream URL's path (config.ts has taken a trailing `/v1` off). */
export interface UpstreamPaths {
  prefix: string;
  /** For Azure OpenAI's own `/openai/…` paths: the same, less an `/openai` it ends with (Azure's v1 base, `…/openai/v1`). */
  azurePrefix: string;
}

export function upstreamPaths(upstream: URL): UpstreamPaths {
  const prefix = upstream.pathname.replace(/\/+$/, '');
  return { prefix, azurePrefix: prefix.replace(/\/openai$/, '') };
}

export const upstreamPath = ({ prefix, azurePrefix }: UpstreamPaths, path: string): string => (path.startsWith('/openai/') ? azurePrefix : prefix) + path;

/** Most bytes of an error answer held back for the rewriter to judge; a longer one is released as it is. */
const HELD_MAX_BYTES = 64 * 1024;

/** An answer held back before any byte of it reached the client. */
interface Held {
  status: number;
  message: string | undefined;
  raw: string[];
  chunks: Buffer[];
  bytes: number;
}

/** One exchange in flight: reads the request, dispatches it upstream, pipes the answer back. */
class ExchangeHandler implements Dispatcher.DispatchHandler {
  readonly #startNs = nowNs();
  #tap: ExchangeTap | undefined;
  /** The client's body and the headers sent upstream, kept for a resend. */
  #body: Buffer = EMPTY;
  #headers: string[] = [];
  /** Whether a 4xx answer to the body in flight is held back for the rewriter (it edited that body). */
  #holdErrors = false;
  #held: Held | undefined;
  #filter: ResponseFilter | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #headersNs: bigint | undefined;
  #status = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #outcome: Outcome = 'ok';
  #error: Error | undefined;
  #ended = false;
  #awaitingDrain = false;
  /** The request body streaming upstream, when it was larger than what is held. */
  #upload: PassThrough | undefined;
  #uploadTooLarge = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly opts: ForwardOptions,
    private readonly pool: Pool,
    private readonly paths: UpstreamPaths,
    private readonly observer: ExchangeObserver,
    private readonly hold: Hold,
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

  // Request bodies are read whole before forwarding: they are small for LLM calls, arrive in one loopback
  // read from a sidecar's app, and the recorder needs their exact bytes. Past what a span keeps of them
  // (LLMTAP_CAPTURE_MAX_BYTES), or past the memory budget, a body streams upstream instead, after what
  // was held. Responses, which are the long part, always stream.
  #readBody(): void {
    const { req } = this;
    const held: Buffer[] = [];
    let heldBytes = 0;
    const onData = (chunk: Buffer): void => {
      this.#bytesIn += chunk.length;
      if (this.#bytesIn > this.opts.maxBodyBytes) {
        req.off('data', onData);
        req.pause();
        this.#reject();
        return;
      }
      const keep = Math.min(chunk.length, this.opts.captureMaxBytes - heldBytes);
      const took = keep > 0 && this.hold.take(keep);
      if (took && keep === chunk.length) {
        held.push(chunk);
        heldBytes += keep;
        return;
      }
      req.off('data', onData);
      req.off('end', onEnd);
      const part = took ? keep : 0;
      this.#stream(Buffer.concat([...held, chunk.subarray(0, part)], heldBytes + part), chunk.subarray(part));
    };
    const onEnd = (): void => {
      if (this.#outcome === 'rejected' || this.res.destroyed) return;
      this.#dispatch(held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes));
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.on('error', () => {}); // an aborted upload shows up as the response's 'close'
  }

  /** Forwards what was held, then the rest of the body as it arrives (with backpressure). */
  #stream(held: Buffer, rest: Buffer): void {
    const { req } = this;
    const upload = (this.#upload = new PassThrough());
    upload.on('error', () => {}); // undici reports it
    upload.write(held);
    if (rest.length > 0) upload.write(rest);
    req.on('data', (chunk: Buffer) => {
      this.#bytesIn += chunk.length;
      if (this.#bytesIn > this.opts.maxBodyBytes && !this.#uploadTooLarge) {
        this.#uploadTooLarge = true;
        req.unpipe(upload);
        upload.destroy(new Error('request body exceeds LLMTAP_MAX_BODY_BYTES'));
      }
    });
    req.pipe(upload);
    this.#dispatch(held, upload);
  }

  /** `upload`: the body streams from there, starting with `body` (what was held of it). */
  #dispatch(body: Buffer, upload?: PassThrough): void {
    const { req } = this;
    this.#headers = upstreamRequestHeaders(req.rawHeaders, (name) => this.observer.isOwnHeader(name));
    this.#tap = this.observer.begin(req, body, this.#startNs, this.hold);
    const rewrite = this.#tap.rewrite;
    const sent = rewrite?.request(this.#headers, upload ? undefined : body) ?? body;
    this.#body = body;
    // A streamed upload cannot be sent twice, so it is never edited.
    this.#holdErrors = !upload && sent !== body && rewrite?.retryUnedited !== undefined;
    this.#send(sent, upload);
  }

  #send(body: Buffer, upload?: PassThrough): void {
    const { req } = this;
    const method = req.method ?? 'GET';
    try {
      this.pool.dispatch(
        {
          method,
          path: upstreamPath(this.paths, req.url ?? '/'),
          headers: this.#headers,
          body: upload ?? (body.length > 0 || !(method === 'GET' || method === 'HEAD') ? body : null),
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
    return (this.#tap ??= this.observer.begin(this.req, EMPTY, this.#startNs, this.hold));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#outcome === 'client_aborted') controller.abort(new ClientAbortError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, _h: unknown, statusMessage?: string): void {
    this.#headersNs = nowNs();
    if (this.res.destroyed) return;
    const raw = rawToStrings((controller.rawHeaders ?? []) as Buffer[]);
    if (this.#holdErrors && statusCode >= 400 && statusCode < 500) {
      this.#held = { status: statusCode, message: statusMessage, raw, chunks: [], bytes: 0 };
      return;
    }
    this.#respond(statusCode, statusMessage, raw);
  }

  /** Sends the client the response's status and headers. */
  #respond(statusCode: number, statusMessage: string | undefined, raw: string[]): void {
    const { res } = this;
    const out = clientResponseHeaders(raw);
    const sse = rawHeader(raw, 'content-type')?.startsWith('text/event-stream') ?? false;
    // An nginx in front of llmtap must not buffer a stream.
    if (sse) out.push('x-accel-buffering', 'no');
    const tap = this.#tap!;
    for (const h of tap.responseHeaders) out.push(h);
    this.#filter = tap.rewrite?.response?.(statusCode, raw);
    this.#status = statusCode;
    res.writeHead(statusCode, statusMessage || undefined, out);
    // Clients of a stream learn it started as soon as upstream says so, as they would directly: the head
    // goes with the first bytes when they came in the same read (one write, as a bare proxy makes), else
    // on its own right after (a write of its own cost 60 µs a stream).
    if (sse) queueMicrotask(() => this.#flushHead());
    tap.watch.responseStart?.(statusCode, raw);
  }

  #flushHead(): void {
    if (this.#bytesOut === 0 && !this.res.destroyed) this.res.flushHeaders();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.res.destroyed) return;
    const held = this.#held;
    if (!held) return this.#forward(controller, chunk);
    held.chunks.push(Buffer.from(chunk));
    held.bytes += chunk.length;
    if (held.bytes > HELD_MAX_BYTES) this.#release(controller);
  }

  /** The held answer goes to the client as it came. */
  #release(controller: Dispatcher.DispatchController): void {
    const held = this.#held!;
    this.#held = undefined;
    this.#respond(held.status, held.message, held.raw);
    for (const chunk of held.chunks) this.#forward(controller, chunk);
  }

  #forward(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const { res } = this;
    const out = this.#filter ? this.#filter.chunk(chunk) : chunk;
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
    this.#tap!.watch.responseChunk?.(chunk, nowNs());
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    if (this.res.destroyed) return;
    const held = this.#held;
    if (held) {
      this.#holdErrors = false;
      if (this.#tap!.rewrite!.retryUnedited!(held.status, held.raw, Buffer.concat(held.chunks, held.bytes))) {
        this.#held = undefined;
        this.#send(this.#body);
        return;
      }
      this.#release(controller);
    }
    const rest = this.#filter?.end();
    if (rest && rest.length > 0) {
      this.#bytesOut += rest.length;
      this.res.end(rest);
    } else this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    const { res } = this;
    if (this.#outcome === 'client_aborted') return;
    this.#held = undefined;
    if (this.#uploadTooLarge && !res.headersSent) return this.#reject();
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
    if (this.#error) result.error = errorInfo(this.#error);
    this.onFinished();
    this.#tapWithoutBody().watch.end(result);
    this.hold.release();
    // An upload the upstream stopped reading (it answered first): the rest is read and dropped, so the
    // client's connection is free again.
    if (this.#upload && !this.req.complete) {
      this.req.unpipe(this.#upload);
      this.#upload.destroy();
      this.req.resume();
    }
  }
}
