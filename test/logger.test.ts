import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../src/errors.ts';
import { createLogger } from '../src/logger.ts';

/** Runs `work` with MORDOMO_LOG_LEVEL set to `value` (or unset), restoring it after. */
function withLogLevel<T>(value: string | undefined, work: () => T): T {
  const before = process.env.MORDOMO_LOG_LEVEL;
  if (value === undefined) delete process.env.MORDOMO_LOG_LEVEL;
  else process.env.MORDOMO_LOG_LEVEL = value;
  try {
    return work();
  } finally {
    if (before === undefined) delete process.env.MORDOMO_LOG_LEVEL;
    else process.env.MORDOMO_LOG_LEVEL = before;
  }
}

test('createLogger() without a level follows MORDOMO_LOG_LEVEL, as the CLI does', () => {
  assert.equal(
    withLogLevel('debug', () => createLogger().level),
    'debug',
  );
  assert.equal(
    withLogLevel('silent', () => createLogger().level),
    'silent',
  );
});

test('createLogger() logs at info when MORDOMO_LOG_LEVEL is unset or empty', () => {
  assert.equal(
    withLogLevel(undefined, () => createLogger().level),
    'info',
  );
  assert.equal(
    withLogLevel('', () => createLogger().level),
    'info',
  );
});

test('a level given to createLogger wins over MORDOMO_LOG_LEVEL', () => {
  assert.equal(
    withLogLevel('debug', () => createLogger('warn').level),
    'warn',
  );
});

test('createLogger() refuses a MORDOMO_LOG_LEVEL that is not a level, naming the variable', () => {
  withLogLevel('loud', () =>
    assert.throws(
      () => createLogger(),
      (error: unknown) => error instanceof ConfigError && /MORDOMO_LOG_LEVEL/.test(error.message),
    ),
  );
});
