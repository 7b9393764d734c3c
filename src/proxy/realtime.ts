// Server thread. WebSocket sessions (OpenAI's Realtime API) relayed to the upstream with `ws`. The
// upstream's handshake comes first, so that its refusal (status and body) or the subprotocol it chose
// reaches the client as the answer to its own upgrade. Then every message goes on in order with its type
// and payload unchanged; pings, pongs and close frames are relayed; a side whose peer reads slowly is
// paused until the peer catches up, so memory stays bounded. A tap (session.ts) sees each message after
// it was sent on. Compression is off on both legs: payloads are the same either way, and inflating costs
// CPU and memory for nothing.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import { type RawData, WebSocket, WebSocketServer } from 'ws';

import { nowNs } from '../clock.js';
import type { Metrics } from '../metrics.js';
import { errorInfo, failureBeforeHeaders, type ProxyFailure, writeFailure } from './errors.js';
import type { Outcome } from './exchange.js';
import { upstreamPath, type UpstreamPaths, upstreamPaths } from './forward.js';
import { clientResponseHeaders, clientUpgradeHeaders, rawToObject, responseHead, upstreamUpgradeHeaders } from './headers.js';
import type { SessionObserver, SessionResult, SessionTap } from './session.js';

export interface RelayOptions {
  upstreamUrl: URL;
  /** The largest message either side may send (LLMTAP_MAX_BODY_BYTES): a larger one closes the session with 1009. */
  maxBodyBytes: number;
  /** How long the upstream may take to answer the upgrade (LLMTAP_HEADERS_TIMEOUT_MS). */
  headersTimeoutMs: number;
}

/** A side is paused once its peer has this much waiting to be written… */
const HIGH_WATER = 1024 * 1024;
/** …and resumed when the peer is down to this. */
const LOW_WATER = 256 * 1024;
/** Body bytes of an upstream's refusal kept for the span's message. */
const REFUSAL_KEPT = 64 * 1024;
/** At shutdown, how long sessions told 1001 get for their closing handshakes before they are cut. */
const GOING_AWAY_MS = 1000;

/**
 * The close `ws` sends a peer that broke the protocol, from the code of the error it reports (a message
 * over LLMTAP_MAX_BODY_BYTES gets 1009); the other side is closed with the same.
 */
function breachClose(err: Error): number | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return undefined;
  if (code.startsWith('WS_ERR_UNSUPPORTED_')) return 1009;
  if (code === 'WS_ERR_TOO_MANY_BUFFERED_PARTS') return 1008;
  if (code === 'WS_ERR_INVALID_UTF8') return 1007;
  return 1002;
}

const relayedPath = (url: string): boolean => url.startsWith('/v1/') || url.startsWith('/openai/');

const notRelayed = (path: string): ProxyFailure => ({
  status: 404,
  type: 'invalid_request_error',
  code: 'not_found',
  message: `llmtap: no WebSocket route for ${path}; upgrades are forwarded under /v1/ (the Realtime API: /v1/realtime) and /openai/ (Azure OpenAI)`,
});

const badUpgrade = (what: string): ProxyFailure => ({
  status: 400,
  type: 'invalid_request_error',
  code: 'bad_upgrade',
  message: `llmtap: ${what}`,
});

const shuttingDown: ProxyFailure = {
  status: 503,
  type: 'server_error',
  code: 'shutting_down',
  message: 'llmtap is shutting down; connect again',
};

/** What sessions share: the options, where they report, and the server side of the client's leg. */
interface Relay {
  opts: RelayOptions;
  paths: UpstreamPaths;
  observer: SessionObserver;
  metrics: Metrics;
  wss: WebSocketServer;
  /** The client's handshake waits for the upstream's; what the client's answer then carries, by request. */
  answers: WeakMap<IncomingMessage, { protocol: string; headers: string[] }>;
  closing: boolean;
  finished(session: Session): void;
}

export class RealtimeRelay {
  readonly #sessions = new Set<Session>();
  #idleWaiters: (() => void)[] = [];
  readonly #relay: Relay;

  constructor(opts: RelayOptions, observer: SessionObserver, metrics: Metrics) {
    const answers = new WeakMap<IncomingMessage, { protocol: string; headers: string[] }>();
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      autoPong: false, // the client's pings go to the upstream, which answers them
      skipUTF8Validation: true, // the receiving end validates; llmtap passes bytes on
      maxPayload: opts.maxBodyBytes,
      handleProtocols: (_offered, req) => answers.get(req)?.protocol || false,
    });
    wss.on('headers', (lines: string[], req: IncomingMessage) => {
      const headers = answers.get(req)?.headers ?? [];
      for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
    });
    this.#relay = {
      opts,
      paths: upstreamPaths(opts.upstreamUrl),
      observer,
      metrics,
      wss,
      answers,
      closing: false,
      finished: (session) => {
        this.#sessions.delete(session);
        if (this.#sessions.size === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
      },
    };
  }

  /** Sessions open or opening. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** The http.Server's 'upgrade' listener. */
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const session = new Session(this.#relay, req, socket, head);
    this.#sessions.add(session);
    session.start();
  };

  /** Resolves once no session is open or opening. */
  idle(): Promise<void> {
    return this.#sessions.size === 0 ? Promise.resolve() : new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Shutdown: refuses new upgrades at once, lets open sessions go on until `deadline` (epoch ms), then
   * closes those left with 1001 (Going Away) on both sides. Resolves when every session has ended.
   */
  close(deadline: number): Promise<void> {
    this.#relay.closing = true;
    let cut: NodeJS.Timeout | undefined;
    const goAway = setTimeout(
      () => {
        for (const session of this.#sessions) session.goAway();
        cut = setTimeout(() => this.#sessions.forEach((s) => s.terminate()), GOING_AWAY_MS);
      },
      Math.max(0, deadline - Date.now()),
    );
    return this.idle().finally(() => {
      clearTimeout(goAway);
      clearTimeout(cut);
    });
  }
}

/** One upgrade request: the upstream's handshake, then the relay until both sides are closed. */
class Session {
  readonly #startNs = nowNs();
  readonly #messages = { fromClient: 0, fromUpstream: 0, bytesFromClient: 0, bytesFromUpstream: 0 };
  #tap: SessionTap | undefined;
  #upstream: WebSocket | undefined;
  #client: WebSocket | undefined;
  #upstreamHeaders: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #openNs: bigint | undefined;
  #status = 0;
  #outcome: Outcome = 'ok';
  #close: SessionResult['close'];
  #error: Error | undefined;
  #refusal: Uint8Array | undefined;
  /** The side that broke the protocol, and the code llmtap closed it with. */
  #breach: { fromClient: boolean; code: number } | undefined;
  /** The client got its answer (a 101, a refusal), or went away. */
  #answered = false;
  #goingAway = false;
  #ended = false;

  constructor(
    private readonly relay: Relay,
    private readonly req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
  ) {}

  start(): void {
    const { req, socket, relay } = this;
    socket.on('error', () => {}); // a client gone mid-handshake shows up as 'close'
    socket.once('close', () => this.#clientGone());
    const url = req.url ?? '/';
    // Like an HTTP request outside /v1/ and /openai/, an upgrade there is answered but not reported.
    if (!relayedPath(url)) return this.#answer(notRelayed(url.split('?', 1)[0]!), 'rejected', false);
    const headers = upstreamUpgradeHeaders(req.rawHeaders, (name) => relay.observer.isOwnHeader(name));
    this.#tap = relay.observer.beginSession(req, this.#startNs);
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return this.#answer(badUpgrade('only WebSocket upgrades are forwarded'), 'rejected');
    if (relay.closing) return this.#answer(shuttingDown, 'rejected');
    this.#tap.requestHeaders?.(headers);
    const offered = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    let upstream: WebSocket;
    try {
      upstream = new WebSocket(relay.opts.upstreamUrl.origin + upstreamPath(relay.paths, url), offered, {
        headers: rawToObject(headers),
        perMessageDeflate: false,
        autoPong: false,
        skipUTF8Validation: true,
        followRedirects: false,
        maxPayload: relay.opts.maxBodyBytes,
      });
    } catch (err) {
      // `ws` checks the subprotocol list as it builds the request.
      return this.#answer(badUpgrade(`bad Sec-WebSocket-Protocol: ${(err as Error).message}`), 'rejected');
    }
    this.#upstream = upstream;
    upstream.on('upgrade', (res) => (this.#upstreamHeaders = clientUpgradeHeaders(res.rawHeaders)));
    upstream.on('open', () => this.#accept());
    upstream.on('unexpected-response', (_req, res) => this.#refused(res));
    upstream.on('error', (err) => {
      this.#error ??= err;
      if (!this.#answered) this.#failed(err);
    });
    const timeout = Object.assign(new Error(`the upstream did not answer the upgrade within ${relay.opts.headersTimeoutMs} ms`), { code: 'ETIMEDOUT' });
    this.#timer = setTimeout(() => this.#failed(timeout), relay.opts.headersTimeoutMs);
  }

  /** Answers the client with llmtap's own error, closes the upstream leg if any, and ends. */
  #answer(f: ProxyFailure, outcome: Outcome, report = true): void {
    clearTimeout(this.#timer);
    this.#answered = true;
    this.#status = f.status;
    this.#outcome = outcome;
    // A request llmtap refused itself is not recorded: no span ids to give.
    writeFailure(this.socket, f, outcome === 'rejected' ? [] : this.#tap?.responseHeaders);
    this.#upstream?.terminate();
    this.#end(report);
  }

  #failed(err: Error): void {
    if (this.#answered) return;
    this.#error = err;
    this.#answer(failureBeforeHeaders(err), 'upstream_failed');
  }

  /** The upstream refused the upgrade: the client gets its status, headers and body, as it would directly. */
  #refused(res: IncomingMessage): void {
    clearTimeout(this.#timer);
    if (this.#answered) return void this.#upstream?.terminate();
    this.#answered = true;
    this.#status = res.statusCode ?? 502;
    const headers = [...clientResponseHeaders(res.rawHeaders), 'connection', 'close', ...this.#tap!.responseHeaders];
    this.socket.write(responseHead(this.#status, headers));
    const kept: Buffer[] = [];
    let keptBytes = 0;
    res.on('data', (chunk: Buffer) => {
      const part = chunk.subarray(0, REFUSAL_KEPT - keptBytes);
      if (part.length === 0) return;
      kept.push(part);
      keptBytes += part.length;
    });
    res.pipe(this.socket);
    res.once('close', () => {
      this.#refusal = Uint8Array.from(Buffer.concat(kept, keptBytes));
      this.socket.end();
      this.#upstream?.terminate();
      this.#end();
    });
  }

  /** The upstream accepted: now the client's handshake, with the subprotocol and headers the upstream answered. */
  #accept(): void {
    clearTimeout(this.#timer);
    const upstream = this.#upstream!;
    if (this.#answered) return upstream.terminate(); // the client left meanwhile
    this.relay.answers.set(this.req, { protocol: upstream.protocol, headers: [...this.#upstreamHeaders, ...this.#tap!.responseHeaders] });
    this.relay.wss.handleUpgrade(this.req, this.socket, this.head, (client) => this.#relay(client, upstream));
    // `ws` answered 400 itself (a malformed handshake): the callback did not run.
    if (!this.#client) {
      this.#answered = true;
      this.#status = 400;
      this.#outcome = 'rejected';
      upstream.terminate();
      this.#end();
    }
  }

  #relay(client: WebSocket, upstream: WebSocket): void {
    this.#client = client;
    this.#answered = true;
    this.#status = 101;
    this.#openNs = nowNs();
    this.relay.metrics.realtimeOpen.inc();
    this.#pipe(client, upstream, true);
    this.#pipe(upstream, client, false);
  }

  #pipe(from: WebSocket, to: WebSocket, fromClient: boolean): void {
    const direction = fromClient ? 'client_to_upstream' : 'upstream_to_client';
    const messages = this.relay.metrics.realtimeMessages.labels(direction);
    const bytes = this.relay.metrics.realtimeBytes.labels(direction);
    const count = this.#messages;
    const watch = this.#tap!.watch;
    const resume = (): void => {
      if (from.isPaused && to.bufferedAmount <= LOW_WATER) from.resume();
    };
    from.on('message', (raw: RawData, isBinary: boolean) => {
      if (to.readyState !== WebSocket.OPEN) return;
      const data = raw as Buffer; // the default binaryType: one Buffer per message
      to.send(data, { binary: isBinary }, resume);
      // Backpressure: a slow reader stops the other side's reads until it catches up.
      if (to.bufferedAmount > HIGH_WATER && !from.isPaused) from.pause();
      messages.inc();
      bytes.inc(data.length);
      if (fromClient) {
        count.fromClient++;
        count.bytesFromClient += data.length;
      } else {
        count.fromUpstream++;
        count.bytesFromUpstream += data.length;
      }
      watch.message?.(fromClient, data, isBinary, nowNs());
    });
    from.on('ping', (data: Buffer) => to.readyState === WebSocket.OPEN && to.ping(data));
    from.on('pong', (data: Buffer) => to.readyState === WebSocket.OPEN && to.pong(data));
    from.on('error', (err) => {
      this.#error ??= err;
      const code = breachClose(err);
      if (code) this.#breach ??= { fromClient, code };
    });
    from.on('close', (code: number, reason: Buffer) => this.#closed(fromClient, code, reason));
  }

  /** One side closed: the other is closed the same way. */
  #closed(fromClient: boolean, code: number, reason: Buffer): void {
    const breach = this.#breach?.fromClient === fromClient ? this.#breach : undefined;
    // llmtap closed a side that broke the protocol; that side's close frame in return goes unread (1006).
    if (breach && code === 1006) code = breach.code;
    this.#close ??= { code, reason: reason.toString('utf8'), by: this.#goingAway || breach ? 'llmtap' : fromClient ? 'client' : 'upstream' };
    const to = fromClient ? this.#upstream! : this.#client!;
    if (to.readyState === WebSocket.OPEN) {
      // A side held back for its slow peer must read again, or its close frame in return would go unread.
      to.resume();
      // 1005 (no code) and 1006 (no close frame) can only be reproduced, never sent; 1015 is TLS failing.
      if (code === 1005) to.close();
      else if (code === 1006 || code === 1015) to.terminate();
      else {
        try {
          to.close(code, reason);
        } catch {
          to.terminate(); // a code `ws` would not send: never a crash
        }
      }
    }
    if (this.#client!.readyState === WebSocket.CLOSED && this.#upstream!.readyState === WebSocket.CLOSED) this.#end();
  }

  /** The client's socket closed before the session opened (after it, the client leg's 'close' says so). */
  #clientGone(): void {
    if (this.#client || this.#answered) return;
    clearTimeout(this.#timer);
    this.#answered = true;
    this.#outcome = 'client_aborted';
    this.#upstream?.terminate();
    this.#end();
  }

  /** Shutdown: both sides are told 1001; a session still opening gets a 503 (a refusal under way goes on). */
  goAway(): void {
    this.#goingAway = true;
    if (this.#client) {
      for (const ws of [this.#client, this.#upstream!]) if (ws.readyState === WebSocket.OPEN) ws.close(1001, 'llmtap is shutting down');
    } else if (!this.#answered) this.#answer(shuttingDown, 'rejected');
  }

  terminate(): void {
    this.#client?.terminate();
    this.#upstream?.terminate();
    if (!this.#client) this.socket.destroy();
  }

  #end(report = true): void {
    if (this.#ended) return;
    this.#ended = true;
    const endNs = nowNs();
    const { metrics } = this.relay;
    if (this.#openNs !== undefined) {
      metrics.realtimeOpen.dec();
      metrics.realtimeDuration.observe(Number(endNs - this.#openNs) / 1e9);
    }
    this.relay.finished(this);
    if (!report) return;
    metrics.realtimeSessions.inc({ status: String(this.#status) });
    const result: SessionResult = {
      path: this.req.url ?? '/',
      startNs: this.#startNs,
      endNs,
      status: this.#status,
      outcome: this.#outcome,
      messages: this.#messages,
    };
    if (this.#openNs !== undefined) result.openNs = this.#openNs;
    if (this.#close) result.close = this.#close;
    if (this.#error) result.error = errorInfo(this.#error);
    if (this.#refusal) result.refusal = this.#refusal;
    this.#tap!.watch.end(result);
  }
}
