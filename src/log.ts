import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** The server's logger, and a way to write lines another thread's pino already serialized. */
export interface Logging {
  log: Logger;
  /** Writes finished log lines (the storage thread's) to the same destination, so lines never interleave. */
  writeLines(lines: string): void;
}

export type LogFormat = 'json' | 'pretty';

/** LLMTAP_LOG_FORMAT when set; else pretty for a person at a terminal, JSON lines for anything reading a pipe or file. */
export const logFormat = (configured: LogFormat | undefined, isTTY = process.stdout.isTTY === true): LogFormat => configured ?? (isTTY ? 'pretty' : 'json');

/**
 * Standard output as JSON lines, or through pino-pretty: coloured when the terminal takes colours, written
 * synchronously (ordered with everything else, nothing lost at exit; a person reads far fewer lines than
 * the formatting could take). Its writable side parses JSON lines, so the storage thread's lines come out
 * pretty too.
 */
export function logDestination(format: LogFormat): DestinationStream {
  if (format === 'json') return pino.destination({ sync: false });
  return pretty({
    colorize: pretty.isColorSupported,
    sync: true,
    destination: 1,
    ignore: 'pid,hostname,name',
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
  });
}

// No redaction paths: llmtap never passes headers or bodies to the logger (test/secrets.test.ts greps
// every line for the API key), and pino's redaction costs more per request line than the rest of it.
export function createLogging(level: string, destination: DestinationStream = logDestination('json')): Logging {
  // pino's default epoch-ms `time`: formatting an ISO date on every line costs more than the rest of it.
  return { log: pino({ level, base: { name: 'llmtap' } }, destination), writeLines: (lines) => destination.write(lines) };
}
