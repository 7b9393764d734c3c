import { pino, type Logger } from 'pino';

export type { Logger };

// Belt and braces: llmtap never logs headers or bodies, but if a future log call passes them,
// credentials are censored rather than written.
const SECRET_PATHS = [
  '*.authorization',
  '*.headers.authorization',
  '*.headers["api-key"]',
  '*.headers["x-api-key"]',
  '*.apiKey',
  '*.api_key',
];

export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ sync: false })): Logger {
  return pino(
    {
      level,
      base: { name: 'llmtap' },
      redact: { paths: SECRET_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
