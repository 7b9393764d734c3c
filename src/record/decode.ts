// Both threads: the storage thread reads a captured response back (its chunks with the time each was
// written, its bytes as one buffer, its body decompressed the way the client's library reads it); the
// server thread decompresses a held error answer with it (usage-inject.ts).
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

import type { Captured } from './capture.js';

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

/** A body decompressed (at most `limit` bytes of it); undefined when it is not compressed, or cannot be decoded. */
export function decompress(body: Buffer, contentEncoding: string | undefined, limit: number): Buffer | undefined {
  const decode = contentEncoding ? DECODERS[contentEncoding.trim().toLowerCase()] : undefined;
  if (!decode || body.length === 0) return undefined;
  try {
    return decode(body, { maxOutputLength: limit });
  } catch {
    return undefined;
  }
}

/**
 * The captured bytes as the client's library will read them: decompressed when the upstream compressed
 * them (the client got them compressed, as sent). A compressed stream's events all take the time of
 * its first chunk. Undecodable bodies are returned as captured.
 */
export function decoded(c: Captured, contentEncoding: string | undefined, limit: number): Captured {
  const plain = decompress(bufferOf(c), contentEncoding, limit);
  return plain ? { bytes: plain, lengths: [plain.length], firstNs: c.firstNs, offsets: [0], truncated: c.truncated } : c;
}
