// Server thread. The contract between the WebSocket relay (realtime.ts) and whoever observes its sessions
// (the recorder): one session is one upgrade request and every message after it, both ways. As with an
// exchange's tap (exchange.ts), a session's tap sees each message after it was handed to the other side
// and cannot hold one back.
import type { IncomingMessage } from 'node:http';

import type { ErrorInfo } from './errors.js';
import type { Outcome } from './exchange.js';

/** Which side ended a session: a close frame or a dropped connection, or llmtap shutting down. */
export type ClosedBy = 'client' | 'upstream' | 'llmtap';

export interface SessionResult {
  /** Path and query as the client sent them. */
  path: string;
  startNs: bigint;
  /** When both sides were connected; absent for a session that never opened. */
  openNs?: bigint;
  endNs: bigint;
  /** 101 for a session that opened, else the answer the client got instead (the upstream's or llmtap's); 0 when none. */
  status: number;
  /** 'ok' also for an upstream that refused the upgrade (its status says so), as for an HTTP error answer. */
  outcome: Outcome;
  /** The first close: its code and reason as received (1005 none given, 1006 a dropped connection). */
  close?: { code: number; reason: string; by: ClosedBy };
  messages: { fromClient: number; fromUpstream: number; bytesFromClient: number; bytesFromUpstream: number };
  /** What went wrong. */
  error?: ErrorInfo;
  /** The start of the body of an upstream's refusal, for its message. */
  refusal?: Uint8Array;
}

/** Sees a session; every call happens after the message it describes was sent on, and returns nothing. */
export interface SessionWatcher {
  message?(fromClient: boolean, data: Buffer, isBinary: boolean, atNs: bigint): void;
  end(result: SessionResult): void;
}

export interface SessionTap {
  /** Added to the client's handshake answer (flat [name, value, …]). */
  readonly responseHeaders: readonly string[];
  /** May edit the upstream handshake's headers in place (e.g. `traceparent`). */
  readonly requestHeaders?: (headers: string[]) => void;
  readonly watch: SessionWatcher;
}

export interface SessionObserver {
  /** Header names (lower case) llmtap consumes itself and never forwards upstream. */
  isOwnHeader(name: string): boolean;
  beginSession(req: IncomingMessage, startNs: bigint): SessionTap;
}
