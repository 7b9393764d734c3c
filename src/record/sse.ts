// Reads a server-sent-event stream as it passes, feeding each JSON data event to an endpoint's stream
// reader with the time its last byte reached the client. eventsource-parser does the parsing; a
// streaming TextDecoder keeps UTF-8 characters split across chunks whole. Only the reader's
// accumulated state is kept, never the raw bytes.
import { createParser, type EventSourceParser } from 'eventsource-parser';
import type { StreamOutcome, StreamReader } from './endpoint.js';
import { isObject } from './endpoint.js';
import type { Attributes } from './span.js';

export class SSEReader {
  readonly #parser: EventSourceParser;
  readonly #decoder = new TextDecoder('utf-8');
  #atNs = 0n;
  bytes = 0;
  truncated = false;

  constructor(
    private readonly reader: StreamReader,
    private readonly limit: number,
  ) {
    this.#parser = createParser({
      onEvent: (e) => {
        if (e.data === '[DONE]') return;
        let value: unknown;
        try {
          value = JSON.parse(e.data);
        } catch {
          return; // a broken event (faulty upstream) is skipped; the rest still counts
        }
        if (isObject(value)) this.reader.event(value, this.#atNs, e.event);
      },
    });
  }

  feed(chunk: Buffer, atNs: bigint): void {
    if (this.truncated) return;
    if ((this.bytes += chunk.length) > this.limit) {
      this.truncated = true;
      return;
    }
    this.#atNs = atNs;
    this.#parser.feed(this.#decoder.decode(chunk, { stream: true }));
  }

  finish(attrs: Attributes): StreamOutcome {
    this.#parser.feed(this.#decoder.decode());
    return this.reader.finish(attrs);
  }
}
