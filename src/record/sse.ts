// Storage thread. Reads a captured server-sent-event stream, feeding each data event to an endpoint's
// stream reader with the time its last byte reached the client. eventsource-parser does the parsing, on
// the stream's bytes read as one character each: the syntax of an event stream is ASCII (no byte of a
// multi-byte UTF-8 character is a colon, CR or LF), so events come out as their own bytes, cut exactly
// where the chunks were. The stream becomes one string in one step (not a streaming TextDecoder call per
// chunk), and an event's data is decoded from UTF-8 only when it has a byte that is not ASCII.
import { createParser } from 'eventsource-parser';

import { isObject } from '../json.js';
import type { Captured } from './capture.js';
import { bufferOf, utf8 } from './decode.js';
import { type StreamOutcome, type StreamReader } from './endpoints/endpoint.js';
import type { Attributes } from './span.js';

const BOM = '\xef\xbb\xbf';

export function readStream(captured: Captured, reader: StreamReader, attrs: Attributes): StreamOutcome {
  let atNs = 0n;
  const parser = createParser({
    onEvent: (e) => {
      if (e.data === '[DONE]') return;
      let value: unknown;
      try {
        value = JSON.parse(utf8(e.data));
      } catch {
        return; // a broken event (faulty upstream, truncated capture) is skipped; the rest still counts
      }
      if (isObject(value)) reader.event(value, atNs, e.event === undefined ? undefined : utf8(e.event));
    },
  });
  const text = bufferOf(captured).toString('latin1');
  // A UTF-8 decoder drops a byte-order mark at the start, and only there; the empty first feed keeps the
  // parser from dropping a second one.
  let at = text.startsWith(BOM) ? BOM.length : 0;
  parser.feed('');
  let end = 0;
  for (let i = 0; i < captured.lengths.length; i++) {
    end += captured.lengths[i]!;
    if (end <= at) continue;
    atNs = captured.firstNs + BigInt(captured.offsets[i]!);
    parser.feed(text.slice(at, end));
    at = end;
  }
  return reader.finish(attrs);
}
