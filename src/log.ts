import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Paths pino censors in every log line: credentials must never reach a log, even
 * when a request or its headers get logged while debugging.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'token',
  '*.token',
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
];

/** JSON logs on stderr (stdout carries alerts in `serve`). */
export function createLogger(
  level: string,
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  return pino(
    { level, base: { name: 'klaxon' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    destination,
  );
}
