// Storage thread. Reads a captured server-sent-event stream, feeding each JSON data event to an endpoint's stream
// reader with the time its last byte reached the client. eventsource-parser does the parsing; a
// streaming TextDecoder keeps UTF-8 characters split across chunks whole.
import { createParser } from 'eventsource-parser';

import { isObject } from '../json.js';
import type { Captured } from './capture.js';
import { chunksOf } from './decode.js';
import { type StreamOutcome, type StreamReader } from './endpoints/endpoint.js';
import type { Attributes } from './span.js';

export function readStream(captured: Captured, reader: StreamReader, attrs: Attributes): StreamOutcome {
  let atNs = 0n;
  const parser = createParser({
    onEvent: (e) => {
      if (e.data === '[DONE]') return;
      let value: unknown;
      try {
        value = JSON.parse(e.data);
      } catch {
        return; // a broken event (faulty upstream, truncated capture) is skipped; the rest still counts
      }
      if (isObject(value)) reader.event(value, atNs, e.event);
    },
  });
  const decoder = new TextDecoder('utf-8');
  for (const [chunk, time] of chunksOf(captured)) {
    atNs = time;
    parser.feed(decoder.decode(chunk, { stream: true }));
  }
  parser.feed(decoder.decode());
  return reader.finish(attrs);
}
