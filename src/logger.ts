import { createRequire } from 'node:module';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';
import { logLevelSetting } from './config.ts';

/** The structured logger (pino) every function that logs takes. */
export type Logger = pino.Logger;

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
  'idempotencySecret',
  '*.idempotencySecret',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'headers.authorization',
  'req.headers.authorization',
];

const OPTIONS = {
  base: { name: 'mordomo-db' },
  redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  // An error is logged with its stack and its cause chain (a typed error's cause is the driver's, with SQLSTATE,
  // table and constraint); neither carries SQL parameters.
  serializers: { err: pino.stdSerializers.errWithCause },
};

/**
 * The one structured JSON logger; pass it down rather than creating others. Without a level it takes
 * MORDOMO_LOG_LEVEL (read by the configuration, like every setting), else info: `createLogger()` in a service
 * follows the same variable as the CLI.
 */
export function createLogger(level?: string, destination?: pino.DestinationStream): Logger {
  const options = { ...OPTIONS, level: level ?? logLevelSetting() ?? 'info' };
  return destination ? pino(options, destination) : pino(options, pino.destination(2));
}

/**
 * The logger of a CLI command. On a terminal (or with MORDOMO_LOG_FORMAT=pretty) lines for people, through
 * pino-pretty; otherwise JSON lines, as the service writes. `start` logs at info unless told otherwise, other
 * commands at warn: a person running `backup` wants its result, not every migration it checked.
 */
export function commandLogger(settings: { logLevel: string | undefined; logFormat: 'json' | 'pretty' | 'auto' }, isStart: boolean): Logger {
  const level = settings.logLevel ?? (isStart ? 'info' : 'warn');
  const human = settings.logFormat === 'pretty' || (settings.logFormat === 'auto' && process.stderr.isTTY === true);
  if (!human) return createLogger(level);
  // Loaded only for people on a terminal: JSON logging (services, scripts) does not pay for it at start-up.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  const stream = pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss' });
  return pino({ ...OPTIONS, level }, stream);
}
