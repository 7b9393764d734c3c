// Both threads: the storage thread reads a captured response back (its bytes as one buffer, its chunks
// with the time each was written, its body decompressed the way the client's library reads it); the
// server thread decompresses a small held error answer with it (usage-inject.ts).
import type { Transform } from 'node:stream';
import { brotliDecompressSync, constants, createBrotliDecompress, createGunzip, createInflate, gunzipSync, inflateSync, type ZlibOptions } from 'node:zlib';

import type { Captured } from './capture.js';

/** The captured bytes as one buffer (a view when they are in one block). */
export function bufferOf(c: Captured): Buffer {
  if (c.blocks.length !== 1) return Buffer.concat(c.blocks, c.size);
  const b = c.blocks[0]!;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A byte string (a character per byte, as `latin1` reads bytes) decoded as UTF-8, as a TextDecoder would. */
export const utf8 = (bytes: string): string => (NON_ASCII.test(bytes) ? Buffer.from(bytes, 'latin1').toString('utf8') : bytes);
const NON_ASCII = /[\x80-\xff]/;

/** The captured chunks again, each with the time it was written (copied only when one spans two blocks). */
export function* chunksOf(c: Captured): Generator<[Buffer, bigint]> {
  let block = 0;
  let at = 0;
  for (let i = 0; i < c.lengths.length; i++) {
    const parts: Buffer[] = [];
    for (let left = c.lengths[i]!; left > 0;) {
      const b = c.blocks[block]!;
      const n = Math.min(left, b.length - at);
      parts.push(Buffer.from(b.buffer, b.byteOffset + at, n));
      left -= n;
      at += n;
      if (at === b.length) {
        block++;
        at = 0;
      }
    }
    yield [parts.length === 1 ? parts[0]! : Buffer.concat(parts), c.firstNs + BigInt(c.offsets[i]!)];
  }
}

interface Codec {
  /** A decoder that gives what it can of a cut stream (a capture may end mid-stream) instead of failing. */
  stream: () => Transform;
  /** All at once, for a small body; throws past `maxOutputLength` or on bytes that make no sense. */
  sync: (body: Buffer, options: ZlibOptions) => Buffer;
}

const GZIP: Codec = { stream: () => createGunzip({ finishFlush: constants.Z_SYNC_FLUSH }), sync: gunzipSync };
const CODECS: Record<string, Codec | undefined> = {
  gzip: GZIP,
  'x-gzip': GZIP,
  deflate: { stream: () => createInflate({ finishFlush: constants.Z_SYNC_FLUSH }), sync: inflateSync },
  br: { stream: () => createBrotliDecompress({ finishFlush: constants.BROTLI_OPERATION_FLUSH }), sync: brotliDecompressSync },
};

const codecOf = (contentEncoding: string | undefined): Codec | undefined => (contentEncoding ? CODECS[contentEncoding.trim().toLowerCase()] : undefined);

/** A small body decompressed at once (at most `limit` bytes of it); undefined when it is not compressed, or cannot be decoded. */
export function decompressSmall(body: Buffer, contentEncoding: string | undefined, limit: number): Buffer | undefined {
  const codec = codecOf(contentEncoding);
  if (!codec || body.length === 0) return undefined;
  try {
    return codec.sync(body, { maxOutputLength: limit });
  } catch {
    return undefined;
  }
}

/**
 * The captured response as the client's library reads it: decompressed (into one buffer) when the
 * upstream compressed it (the client got it compressed, as sent), up to `limit` bytes of text — past
 * it, or where the compressed bytes stop making sense, it is what was decoded so far, marked truncated.
 * A compressed stream's events all take the time of its first chunk.
 */
export async function plainResponse(c: Captured, contentEncoding: string | undefined, limit: number): Promise<Captured> {
  const codec = codecOf(contentEncoding);
  if (!codec || c.size === 0) return c;
  const { bytes, cut } = await decompress(bufferOf(c), codec.stream(), limit);
  return { blocks: [bytes], size: bytes.length, lengths: [bytes.length], firstNs: c.firstNs, offsets: [0], truncated: c.truncated || cut };
}

/** Up to `limit` bytes of `input` decoded; `cut` when there was more, or the rest could not be decoded. */
function decompress(input: Buffer, z: Transform, limit: number): Promise<{ bytes: Buffer; cut: boolean }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (cut: boolean): void => {
      if (settled) return;
      settled = true;
      z.destroy();
      resolve({ bytes: Buffer.concat(parts, size), cut });
    };
    z.on('data', (d: Buffer) => {
      if (size + d.length > limit) {
        parts.push(d.subarray(0, limit - size));
        size = limit;
        return done(true);
      }
      parts.push(d);
      size += d.length;
    });
    z.on('end', () => done(false));
    z.on('error', () => done(true));
    z.end(input);
  });
}
