// Every exported function of the core library, called with junk in each argument: a caller's mistake must come
// back as a typed error a program can act on (invalid_input, not_found, conflict, foreign_key), never a TypeError,
// a RangeError or a raw driver error, and must write nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MordomoError } from '../../src/db/errors.ts';
import * as library from '../../src/index.ts';
import { rowCounts } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db } = await testDatabase('library-fuzz');
const user = await library.users.createUser(db, { name: 'Fuzz' });
const conversation = await library.conversations.startConversation(db, { user_id: user.id });

const deep = () => {
  let value: unknown = 'fundo';
  for (let level = 0; level < 5_000; level++) value = [value];
  return value;
};
const JUNK: unknown[] = [
  undefined, null, 0, -1, 1.5, NaN, Infinity, 2 ** 64, true, '', ' ', 'not-a-uuid', "'; DROP TABLE users; --", 'a\u0000b',
  'x'.repeat(100_000), '00000000-0000-0000-0000-000000000000', {}, [], [null], { limit: -1 }, { limit: 1e9 },
  { days: 0 }, { before: 'yesterday' }, { before: new Date(Number.NaN) }, new Date(Number.NaN), deep(), { metadata: deep() },
];
/** A short description of an argument for failure messages (JSON.stringify itself overflows on the deep ones). */
function describe(value: unknown): string {
  try {
    return String(JSON.stringify(value) ?? value).slice(0, 40);
  } catch {
    return `${Object.prototype.toString.call(value)} nested too deep to print`;
  }
}

const CALLER_MISTAKES = new Set(['invalid_input', 'not_found', 'conflict', 'foreign_key']);

const modules = { users: library.users, conversations: library.conversations, messages: library.messages, actions: library.actions, reminders: library.reminders, config: library.config, logs: library.logs, reports: library.reports };
// Functions whose first argument is the database; the rest are exported for benchmarks or are schemas.
const entryPoints = Object.entries(modules).flatMap(([module, exports]) =>
  Object.entries(exports as Record<string, unknown>)
    .filter((entry): entry is [string, (...args: unknown[]) => Promise<unknown>] => typeof entry[1] === 'function' && entry[0] !== 'compileAppend')
    .map(([name, fn]) => ({ name: `${module}.${name}`, fn })),
);

test('the library exports the entry points this test walks', () => {
  assert.ok(entryPoints.length >= 30, `${entryPoints.length} functions`);
  assert.ok(entryPoints.some(({ name }) => name === 'messages.appendMessages'));
});

// Valid values for the arguments around the junk one: ids that exist, so the junk reaches as far as it can.
const plausible = [user.id, conversation.id, undefined];

for (const { name, fn } of entryPoints) {
  test(`${name} answers junk with a typed error and writes nothing`, async () => {
    const arity = Math.max(fn.length, 2);
    for (let position = 1; position < arity + 1; position++) {
      for (const junk of JUNK) {
        const args: unknown[] = [db, ...plausible.slice(0, arity - 1)];
        args[position] = junk;
        const before = await rowCounts(db);
        try {
          await fn(...args);
          continue; // accepted: junk in an optional position may be a valid "nothing given"
        } catch (error) {
          const what = `${name}(${args.slice(1).map(describe).join(', ')})`;
          assert.ok(error instanceof MordomoError, `${what} threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
          assert.ok(CALLER_MISTAKES.has(error.code), `${what} gave ${error.code}: ${error.message}`);
        }
        assert.deepEqual(await rowCounts(db), before, `${name} with junk in argument ${position} wrote something`);
      }
    }
  });
}
