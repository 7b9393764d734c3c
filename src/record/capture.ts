// Server thread. A bounded copy of response bytes for the recorder. Each chunk the client was sent is
// appended to buffers of the exchange's own (a small copy, after the write) with the time it was
// written: holding the chunks themselves would pin the larger socket buffers they are views into. Each
// block is taken from the memory budget (at the cost of a recorded byte): when it is spent, the capture
// stops there, marked truncated. At the end the exchange travels to the storage thread (as a
// CapturedExchange), blocks and all (no copy), where it is parsed. A WebSocket session's messages are
// kept the same way, whole (realtime/capture.ts).
import { type Hold, RECORDED_BYTE_COST } from '../memory-budget.js';
import type { ExchangeResult } from '../proxy/exchange.js';
import type { RequestContext } from './context.js';

/** Captured bytes as they travel to the storage thread: in blocks, with each chunk's length and write time. */
export interface Captured {
  /** The bytes, in order (the last block may be a view of the start of a larger one). */
  blocks: Uint8Array[];
  /** How many bytes the blocks hold. */
  size: number;
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

// Blocks grow from 8 KiB, doubling up to 1 MiB: a small answer wastes at most 8 KiB, and a large one
// travels in a few buffers. A block's pages are only touched as bytes are written into it.
const FIRST_BLOCK = 8192;
const LARGEST_BLOCK = 1024 * 1024;

export class Capture {
  readonly #blocks: Uint8Array[] = [];
  /** Bytes in the blocks so far, and room the blocks have in all. */
  #bytes = 0;
  #capacity = 0;
  /** Where the next byte goes: a block, and an offset in it. */
  #block = 0;
  #offset = 0;
  readonly #lengths: number[] = [];
  readonly #offsets: number[] = [];
  #firstNs = 0n;
  #truncated = false;

  constructor(
    private readonly limit: number,
    private readonly hold: Hold,
  ) {}

  /** A chunk of a byte stream: past the limit or the budget, the part that fits, then nothing more. */
  add(chunk: Uint8Array, atNs: bigint): void {
    if (this.#truncated) return;
    const room = this.#makeRoom(Math.min(chunk.length, this.limit - this.#bytes));
    if (room < chunk.length) {
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
    if (length > this.limit - this.#bytes || this.#makeRoom(length) < length) {
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
  }

  #copy(chunk: Uint8Array): void {
    for (let at = 0; at < chunk.length;) {
      if (this.#offset === this.#blocks[this.#block]!.length) {
        this.#block++;
        this.#offset = 0;
      }
      const block = this.#blocks[this.#block]!;
      const n = Math.min(block.length - this.#offset, chunk.length - at);
      block.set(chunk.subarray(at, at + n), this.#offset);
      this.#offset += n;
      this.#bytes += n;
      at += n;
    }
  }

  /** Adds blocks, taken from the memory budget, until `wanted` more bytes fit; returns how many do. */
  #makeRoom(wanted: number): number {
    while (this.#capacity - this.#bytes < wanted) {
      const size = Math.min(LARGEST_BLOCK, Math.max(FIRST_BLOCK, this.#capacity), this.limit - this.#capacity);
      if (!this.hold.take(size * RECORDED_BYTE_COST)) break;
      this.#blocks.push(new Uint8Array(size));
      this.#capacity += size;
    }
    return Math.min(wanted, this.#capacity - this.#bytes);
  }

  seal(): Captured {
    const blocks: Uint8Array[] = [];
    let left = this.#bytes;
    for (const b of this.#blocks) {
      if (left === 0) break;
      blocks.push(left < b.length ? b.subarray(0, left) : b);
      left -= Math.min(left, b.length);
    }
    return { blocks, size: this.#bytes, lengths: this.#lengths, firstNs: this.#firstNs, offsets: this.#offsets, truncated: this.#truncated };
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
  /** Bytes of the memory budget these buffers hold; whoever drops them gives them back. */
  heldBytes: number;
  result: ExchangeResult;
  contentType: string;
  contentEncoding?: string;
  /** The response bytes, up to the capture limit (for a light span, only an error's). */
  response?: Captured;
}
