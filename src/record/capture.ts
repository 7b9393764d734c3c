// Server thread. A bounded copy of response bytes for the recorder. Each chunk the client was sent is
// appended to buffers of the exchange's own (a small copy, after the write) with the time it was
// written: holding the chunks themselves would pin the larger socket buffers they are views into. At
// the end the exchange travels to the storage thread (as a CapturedExchange), where it is parsed. A
// WebSocket session's messages are kept the same way, whole (realtime/capture.ts).
import type { ExchangeResult } from '../proxy/exchange.js';
import type { RequestContext } from './context.js';

/** Captured bytes as they travel to the storage thread: one buffer, with each chunk's length and write time. */
export interface Captured {
  bytes: Uint8Array;
  lengths: number[];
  /** When the first chunk was written (ns since the epoch)… */
  firstNs: bigint;
  /** …and each chunk, in ns after it (plain numbers: compact, and exact to the ns for 104 days). */
  offsets: number[];
  truncated: boolean;
}

/**
 * One exact-size copy of some chunks. The chunks are views into larger buffers (a socket read, Node's
 * buffer pool), which a message between threads would copy whole.
 */
export function exactCopy(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const BLOCK = 8192;

export class Capture {
  // Fixed-size blocks: no reallocation, and at most one block of slack per exchange.
  readonly #blocks: Uint8Array[] = [];
  #used = BLOCK;
  readonly #lengths: number[] = [];
  readonly #offsets: number[] = [];
  #firstNs = 0n;
  #bytes = 0;
  #truncated = false;

  constructor(private readonly limit: number) {}

  /** A chunk of a byte stream: past the limit, the part that fits, then nothing more. */
  add(chunk: Uint8Array, atNs: bigint): void {
    if (this.#truncated) return;
    const room = this.limit - this.#bytes;
    if (chunk.length > room) {
      this.#truncated = true;
      if (room === 0) return;
      chunk = chunk.subarray(0, room);
    }
    this.#entry(chunk.length, atNs);
    this.#copy(chunk);
  }

  /** One message made of `parts`, whole or not at all (then the capture counts as truncated); says which. */
  addWhole(parts: readonly Uint8Array[], atNs: bigint): boolean {
    let length = 0;
    for (const p of parts) length += p.length;
    if (length > this.limit - this.#bytes) {
      this.#truncated = true;
      return false;
    }
    this.#entry(length, atNs);
    for (const p of parts) this.#copy(p);
    return true;
  }

  #entry(length: number, atNs: bigint): void {
    if (this.#lengths.length === 0) this.#firstNs = atNs;
    this.#lengths.push(length);
    this.#offsets.push(Number(atNs - this.#firstNs));
    this.#bytes += length;
  }

  #copy(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length;) {
      if (this.#used === BLOCK) {
        this.#blocks.push(new Uint8Array(BLOCK));
        this.#used = 0;
      }
      const n = Math.min(BLOCK - this.#used, chunk.length - at);
      this.#blocks.at(-1)!.set(chunk.subarray(at, at + n), this.#used);
      this.#used += n;
      at += n;
    }
  }

  seal(): Captured {
    const last = this.#blocks.length - 1;
    const parts = this.#blocks.map((b, i) => (i === last ? b.subarray(0, this.#used) : b));
    return { bytes: exactCopy(parts, this.#bytes), lengths: this.#lengths, firstNs: this.#firstNs, offsets: this.#offsets, truncated: this.#truncated };
  }
}

/** A finished exchange as the tap saw it: plain data, sent from the server thread to the storage thread. */
export interface CapturedExchange {
  method: string;
  url: string;
  ctx: RequestContext;
  /** The request body, up to the capture limit (`requestBytes` says how long it was). */
  requestBody: Uint8Array;
  requestBytes: number;
  result: ExchangeResult;
  contentType: string;
  contentEncoding?: string;
  /** The response bytes, up to the capture limit (for a light span, only an error's). */
  response?: Captured;
}
