import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

// A bounded copy of response bytes for the recorder. It keeps references to the chunks the client is
// sent (no copying on the hot path) with the time each was written; parsing happens after the exchange.

export class Capture {
  readonly chunks: Buffer[] = [];
  readonly times: bigint[] = [];
  bytes = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer, atNs: bigint): void {
    if (this.truncated) return;
    if (this.bytes + chunk.length > this.limit) {
      const room = this.limit - this.bytes;
      if (room > 0) this.#push(chunk.subarray(0, room), atNs);
      this.truncated = true;
      return;
    }
    this.#push(chunk, atNs);
  }

  #push(chunk: Buffer, atNs: bigint): void {
    this.chunks.push(chunk);
    this.times.push(atNs);
    this.bytes += chunk.length;
  }

  toBuffer(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
  }
}

const DECODERS: Record<string, ((b: Buffer, o: { maxOutputLength: number }) => Buffer) | undefined> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * The captured bytes as the client's library will read them: decompressed when the upstream compressed
 * them (the client got them compressed, as sent). A compressed stream's events all take the time of
 * its first chunk. Undecodable or truncated bodies are returned as captured.
 */
export function decoded(capture: Capture, contentEncoding: string | undefined, limit: number): Capture {
  const decode = contentEncoding ? DECODERS[contentEncoding.trim().toLowerCase()] : undefined;
  if (!decode || capture.bytes === 0) return capture;
  const out = new Capture(limit);
  try {
    out.add(decode(capture.toBuffer(), { maxOutputLength: limit }), capture.times[0]!);
  } catch {
    return capture;
  }
  out.truncated ||= capture.truncated;
  return out;
}
