// Server thread. LLMTAP_STREAM_USAGE=inject: a stream the client asked for without usage is requested upstream with
// `stream_options.include_usage`, so its span gets exact token counts; the usage-only chunk this adds
// is taken out of what the client receives. Every other byte reaches the client unchanged.
import { isObject } from '../json.js';
import type { ResponseFilter } from '../proxy/exchange.js';

/** The body to send instead, or undefined when the request needs no change. */
export function requestUsage(body: Buffer): Buffer | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || parsed.stream !== true) return undefined;
  const options = isObject(parsed.stream_options) ? parsed.stream_options : {};
  if (options.include_usage === true) return undefined;
  parsed.stream_options = { ...options, include_usage: true };
  return Buffer.from(JSON.stringify(parsed));
}

const LF2 = Buffer.from('\n\n');
const CRLF2 = Buffer.from('\r\n\r\n');

/** End of the last complete event in `buf` (just past its blank line), or 0. */
function lastBoundary(buf: Buffer): number {
  const lf = buf.lastIndexOf(LF2);
  const crlf = buf.lastIndexOf(CRLF2);
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

function isUsageOnly(event: Buffer): boolean {
  const text = event.toString('utf8');
  if (!text.includes('"usage"')) return false;
  const data = text
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).replace(/^ /, ''))
    .join('\n');
  try {
    const chunk: unknown = JSON.parse(data);
    return isObject(chunk) && Array.isArray(chunk.choices) && chunk.choices.length === 0 && isObject(chunk.usage);
  } catch {
    return false;
  }
}

/** Removes the usage-only event from an SSE byte stream, keeping all other bytes as they came. */
export class UsageChunkFilter implements ResponseFilter {
  #pending: Buffer = Buffer.alloc(0);

  chunk(chunk: Buffer): Buffer {
    const data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    const end = lastBoundary(data);
    this.#pending = data.subarray(end);
    const complete = data.subarray(0, end);
    // Cheap check first: only the event carrying usage needs a closer look.
    if (!complete.includes('"usage":{') && !complete.includes('"usage": {')) return complete;
    const kept: Buffer[] = [];
    let start = 0;
    while (start < complete.length) {
      const next = nextBoundary(complete, start);
      const event = complete.subarray(start, next);
      if (!isUsageOnly(event)) kept.push(event);
      start = next;
    }
    return Buffer.concat(kept);
  }

  /** Whatever the upstream sent after its last complete event. */
  end(): Buffer {
    return this.#pending;
  }
}

/** Index just past the first blank line at or after `from`. */
function nextBoundary(buf: Buffer, from: number): number {
  const lf = buf.indexOf(LF2, from);
  const crlf = buf.indexOf(CRLF2, from);
  const candidates = [lf < 0 ? Infinity : lf + 2, crlf < 0 ? Infinity : crlf + 4];
  const end = Math.min(...candidates);
  return end === Infinity ? buf.length : end;
}
