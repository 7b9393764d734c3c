// A bounded copy of response bytes for the recorder. Each chunk the client was sent is appended to one
// growing buffer of the exchange's own (a small copy, after the write) with the time it was written:
// holding the chunks themselves would pin the larger socket buffers they are views into. At the end
// the bytes travel to the storage thread, where they are parsed.
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

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

  add(chunk: Uint8Array, atNs: bigint): void {
    if (this.#truncated) return;
    const room = this.limit - this.#bytes;
    if (chunk.length > room) {
      this.#truncated = true;
      if (room === 0) return;
      chunk = chunk.subarray(0, room);
    }
    if (this.#lengths.length === 0) this.#firstNs = atNs;
    this.#lengths.push(chunk.length);
    this.#offsets.push(Number(atNs - this.#firstNs));
    this.#bytes += chunk.length;
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

/** The captured chunks again, each with the time it was written. */
export function* chunksOf(c: Captured): Generator<[Buffer, bigint]> {
  let at = c.bytes.byteOffset;
  for (let i = 0; i < c.lengths.length; i++) {
    yield [Buffer.from(c.bytes.buffer, at, c.lengths[i]), c.firstNs + BigInt(c.offsets[i]!)];
    at += c.lengths[i]!;
  }
}

export const bufferOf = (c: Captured): Buffer => Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);

const DECODERS: Record<string, ((b: Buffer, o: { maxOutputLength: number }) => Buffer) | undefined> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * The captured bytes as the client's library will read them: decompressed when the upstream compressed
 * them (the client got them compressed, as sent). A compressed stream's events all take the time of
 * its first chunk. Undecodable bodies are returned as captured.
 */
export function decoded(c: Captured, contentEncoding: string | undefined, limit: number): Captured {
  const decode = contentEncoding ? DECODERS[contentEncoding.trim().toLowerCase()] : undefined;
  if (!decode || c.bytes.length === 0) return c;
  try {
    const plain = decode(bufferOf(c), { maxOutputLength: limit });
    return { bytes: plain, lengths: [plain.length], firstNs: c.firstNs, offsets: [0], truncated: c.truncated };
  } catch {
    return c;
  }
}
