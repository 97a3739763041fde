import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import type { DB } from '../../src/db/schema.ts';
import type { ErrorCode } from '../../src/db/errors.ts';
import { MordomoError } from '../../src/db/errors.ts';

/** Asserts that `work` fails with a typed error of `code` whose message matches `message`. */
export async function rejectsWith(work: () => Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof MordomoError, `expected a MordomoError, got ${String(error)}`);
    assert.equal(error.code, code, `code of "${error.message}"`);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** Row counts of every core table, to prove that a refused call wrote nothing. */
export async function rowCounts(db: Kysely<DB>): Promise<Record<string, number>> {
  const tables = ['users', 'conversations', 'messages', 'actions', 'reminders', 'system_logs', 'config'] as const;
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const row = await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  return counts;
}

/** Inputs every validated entry point must refuse: the usual suspects of a hostile or buggy client. */
export const BAD_IDS = ['', 'not-a-uuid', "1'; DROP TABLE users; --", '00000000-0000-0000-0000-00000000000g', 'a\u0000b', 42, null];

/** Waits until `check` resolves true (a throw counts as not yet), failing with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}
