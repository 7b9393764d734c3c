import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/** The server's logger, and a way to write lines another thread's pino already serialized. */
export interface Logging {
  log: Logger;
  /** Writes a finished log line (the storage thread's) to the same destination, so lines never interleave. */
  writeLine(line: string): void;
}

// No redaction paths: llmtap never passes headers or bodies to the logger (test/secrets.test.ts greps
// every line for the API key), and pino's redaction costs more per request line than the rest of it.
export function createLogging(level: string, destination: DestinationStream = pino.destination({ sync: false })): Logging {
  // pino's default epoch-ms `time`: formatting an ISO date on every line costs more than the rest of it.
  return { log: pino({ level, base: { name: 'llmtap' } }, destination), writeLine: (line) => destination.write(line) };
}
