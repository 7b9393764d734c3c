// JSONL of Phoenix span JSON, both ways, for the API and the CLI alike. Export takes a span at a time;
// import reads a line at a time and stores in batches: memory stays flat at any size.

import type { Span } from '../record/span.js';
import { PhoenixFormatError } from './format-error.js';
import { fromPhoenix, toPhoenixLine } from './span-json.js';

const CHUNK_CHARS = 64 * 1024;

/** JSONL (each line ending in a newline) in chunks of about 64 KiB, taking a span at a time. */
export function* jsonlChunks(spans: Iterable<Span>, onSpans: (n: number) => void = () => {}): Generator<string> {
  let chunk = '';
  let count = 0;
  for (const span of spans) {
    chunk += `${toPhoenixLine(span)}\n`;
    count++;
    if (chunk.length >= CHUNK_CHARS) {
      onSpans(count);
      yield chunk;
      chunk = '';
      count = 0;
    }
  }
  if (chunk) {
    onSpans(count);
    yield chunk;
  }
}

export type Line = { number: number; text: string } | { number: number; tooLong: true };

/**
 * Splits a byte stream into lines (LF or CRLF), skipping blank ones. A line longer than `maxBytes` is
 * reported as such and its bytes dropped, so one endless line cannot exhaust memory.
 */
export async function* readLines(input: AsyncIterable<Buffer | string>, maxBytes: number): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let size = 0;
  let overflow = false;
  let number = 0;
  function* emit(): Generator<Line> {
    number++;
    if (overflow) yield { number, tooLong: true };
    else {
      const text = Buffer.concat(pending).toString('utf8').replace(/\r$/, '');
      if (text.trim() !== '') yield { number, text };
    }
    pending = [];
    size = 0;
    overflow = false;
  }
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
      take(buf.subarray(from, nl));
      yield* emit();
      from = nl + 1;
    }
    take(buf.subarray(from));
  }
  if (size > 0 || overflow) yield* emit();

  function take(part: Buffer): void {
    if (overflow || part.length === 0) return;
    size += part.length;
    if (size > maxBytes) {
      overflow = true;
      pending = [];
    } else pending.push(part);
  }
}

export interface ImportResult {
  imported: number;
  duplicates: number;
  rejected: number;
  /** The first rejections, with the line number and why. */
  rejections: { line: number; reason: string }[];
}

const MAX_REASONS = 20;

export interface ImportOptions {
  /** Spans per transaction. */
  batch: number;
  onProgress?: (r: ImportResult) => void;
}

/**
 * Stores the spans of JSONL lines, a batch per transaction (`store` answers how many were new); a span
 * id already stored counts as a duplicate. A bad line is counted and explained, never stops the rest.
 */
export async function importLines(
  lines: AsyncIterable<Line>,
  store: (spans: Span[]) => number | Promise<number>,
  project: string,
  { batch: size, onProgress = () => {} }: ImportOptions,
): Promise<ImportResult> {
  const result: ImportResult = { imported: 0, duplicates: 0, rejected: 0, rejections: [] };
  let batch: Span[] = [];
  const reject = (line: number, reason: string): void => {
    result.rejected++;
    if (result.rejections.length < MAX_REASONS) result.rejections.push({ line, reason });
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const added = await store(batch);
    result.imported += added;
    result.duplicates += batch.length - added;
    batch = [];
    onProgress(result);
  };
  for await (const line of lines) {
    if ('tooLong' in line) {
      reject(line.number, 'line too long');
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line.text);
    } catch (err) {
      reject(line.number, `not JSON: ${(err as Error).message}`);
      continue;
    }
    try {
      batch.push(fromPhoenix(value, project));
    } catch (err) {
      if (!(err instanceof PhoenixFormatError)) throw err;
      reject(line.number, err.message);
      continue;
    }
    if (batch.length >= size) await flush();
  }
  await flush();
  return result;
}
