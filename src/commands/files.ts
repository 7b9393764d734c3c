// The files a command reads and writes: opened before any work, so that a wrong name is refused at once,
// and every failure of the system says which file and why.
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';

import { isSystemError, systemReason } from '../system-error.js';

/** A system error on `file` as `cannot read FILE: no such file or directory (ENOENT)`; any other error as it is. */
export const aboutFile = (verb: 'read' | 'write', file: string, err: unknown): unknown =>
  isSystemError(err) ? new Error(`cannot ${verb} ${file}: ${systemReason(err)}`, { cause: err }) : err;

/** The bytes of `file`; throws at once when it cannot be opened or read (a directory opens, then fails its first read). */
export async function openInput(file: string): Promise<AsyncIterable<Buffer>> {
  const chunks = createReadStream(file)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const next = async (): Promise<IteratorResult<Buffer>> => {
    try {
      return await chunks.next();
    } catch (err) {
      throw aboutFile('read', file, err);
    }
  };
  const first = await next();
  return (async function* () {
    for (let chunk = first; !chunk.done; chunk = await next()) yield chunk.value;
  })();
}

/** `file`, created or truncated; throws at once when it cannot be. */
export async function openOutput(file: string): Promise<WriteStream> {
  const stream = createWriteStream(file);
  try {
    await once(stream, 'open');
  } catch (err) {
    throw aboutFile('write', file, err);
  }
  return stream;
}
