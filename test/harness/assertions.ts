import assert from 'node:assert/strict';
import { type Kysely, sql } from 'kysely';
import type { DB } from '../../src/db/schema.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { MordomoError } from '../../src/errors.ts';

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
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  return counts;
}

const EVERY_TABLE = [
  'users',
  'conversations',
  'messages',
  'actions',
  'reminders',
  'system_logs',
  'config',
  'v_voice_ai_providers',
  'v_voice_secretaries',
  'v_voice_documents',
  'v_voice_transfer_rules',
  'v_voice_conversations',
  'v_voice_messages',
  'mordomo_api_keys',
] as const;

/** Row counts of every table a caller can write (core and IVR), in one statement, to compare before and after. */
export async function everyRowCount(db: Kysely<DB>): Promise<string> {
  const { rows } = await sql`SELECT ${sql.join(EVERY_TABLE.map((table) => sql`(SELECT count(*) FROM ${sql.table(table)})`))}`.execute(db);
  return JSON.stringify(rows[0]);
}

/** An object nested `depth` levels deep ({ a: { a: … {} } }), built without recursion so that any depth can be made. */
export function nestedObject(depth: number): object {
  let value: object = {};
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
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
