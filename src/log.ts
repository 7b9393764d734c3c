import { type Logger, pino } from 'pino';

export type { Logger };

// No redaction paths: llmtap never passes headers or bodies to the logger (test/secrets.test.ts greps
// every line for the API key), and pino's redaction costs more per request line than the rest of it.
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ sync: false })): Logger {
  // pino's default epoch-ms `time`: formatting an ISO date on every line costs more than the rest of it.
  return pino({ level, base: { name: 'llmtap' } }, destination);
}
