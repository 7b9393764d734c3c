// A bounded copy of response bytes for the recorder. On the hot path it only keeps references to the
// chunks the client was sent, with the time each was written; at the end they are copied once into a
// message for the storage thread, where they are parsed.
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** Captured bytes as they travel to the storage thread: one buffer, with each chunk's length and write time. */
export interface Captured {
  bytes: Uint8Array;
  lengths: number[];
  times: bigint[];
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

export class Capture {
  readonly #chunks: Buffer[] = [];
  readonly #times: bigint[] = [];
  #bytes = 0;
  #truncated = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer, atNs: bigint): void {
    if (this.#truncated) return;
    const room = this.limit - this.#bytes;
    if (chunk.length > room) {
      this.#truncated = true;
      if (room === 0) return;
      chunk = chunk.subarray(0, room);
    }
    this.#chunks.push(chunk);
    this.#times.push(atNs);
    this.#bytes += chunk.length;
  }

  seal(): Captured {
    return { bytes: exactCopy(this.#chunks, this.#bytes), lengths: this.#chunks.map((c) => c.length), times: this.#times, truncated: this.#truncated };
  }
}

/** The captured chunks again, each with the time it was written. */
export function* chunksOf(c: Captured): Generator<[Buffer, bigint]> {
  let at = c.bytes.byteOffset;
  for (let i = 0; i < c.lengths.length; i++) {
    yield [Buffer.from(c.bytes.buffer, at, c.lengths[i]), c.times[i]!];
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
    return { bytes: plain, lengths: [plain.length], times: [c.times[0]!], truncated: c.truncated };
  } catch {
    return c;
  }
}
