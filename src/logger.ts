import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Paths whose values are replaced before a line is written, so secrets that reach a log call by accident
 * (a config object, a connection string, an error's params) never land in a log file.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'postgresPassword',
  '*.postgresPassword',
  'databaseUrl',
  '*.databaseUrl',
  'connectionString',
  '*.connectionString',
  'encryptionKey',
  '*.encryptionKey',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'headers.authorization',
  'req.headers.authorization',
];

/** The one structured JSON logger; pass it down rather than creating others. */
export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  const options = { level, base: { name: 'mordomo-db' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options, pino.destination(2));
}
