// Every exported function of the core library and every method of an IVR domain handle, called with junk in each
// argument: a caller's mistake must come back as a typed error a program can act on (invalid_input, not_found,
// conflict, foreign_key), never a TypeError, a RangeError or a raw driver error, and must write nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MordomoError } from '../src/errors.ts';
import * as library from '../src/index.ts';
import { everyRowCount, nestedObject } from './harness/assertions.ts';
import { testDatabase } from './harness/database.ts';
import { createDomain, KEY } from './ivr/fixtures.ts';

const { db } = await testDatabase('library-fuzz');
const user = await library.users.createUser(db, { name: 'Fuzz' });
const conversation = await library.conversations.startConversation(db, { user_id: user.id });
const tenant = library.createIvr(db, { encryptionKey: KEY }).forDomain(await createDomain(db));
const secretary = await tenant.createSecretary({ name: 'Recepção', extension: '8000' });
const call = await tenant.startCall({ secretary_uuid: secretary.secretary_uuid });

const JUNK: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  NaN,
  Infinity,
  2 ** 64,
  true,
  '',
  ' ',
  'not-a-uuid',
  "'; DROP TABLE users; --",
  'a\u0000b',
  'x'.repeat(100_000),
  '00000000-0000-0000-0000-000000000000',
  {},
  [],
  [null],
  { limit: -1 },
  { limit: 1e9 },
  { days: 0 },
  { before: 'yesterday' },
  { before: new Date(Number.NaN) },
  new Date(Number.NaN),
  nestedObject(5_000),
  { metadata: nestedObject(5_000) },
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

type Call = (args: unknown[]) => Promise<unknown>;
const modules = {
  users: library.users,
  conversations: library.conversations,
  messages: library.messages,
  actions: library.actions,
  reminders: library.reminders,
  config: library.config,
  logs: library.logs,
  reports: library.reports,
};
// Core functions take the database first (compileAppend, for benchmarks, does not); the IVR handle's methods take
// their arguments directly. `arity` is how many arguments get junk in turn: at least two, since an options
// argument with a default does not count in a function's length.
const coreEntryPoints = Object.entries(modules).flatMap(([module, exports]) =>
  Object.entries(exports as Record<string, unknown>)
    .filter((entry): entry is [string, (...args: unknown[]) => Promise<unknown>] => typeof entry[1] === 'function' && entry[0] !== 'compileAppend')
    .map(([name, fn]) => ({
      name: `${module}.${name}`,
      arity: Math.max(fn.length - 1, 2),
      call: ((args) => fn(db, ...args)) as Call,
      plausible: [user.id, conversation.id],
    })),
);
const ivrEntryPoints = Object.getOwnPropertyNames(library.IvrDomain.prototype)
  .filter((name) => name !== 'constructor' && typeof (tenant as unknown as Record<string, unknown>)[name] === 'function')
  .map((name) => {
    const method = (tenant as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name]!;
    return {
      name: `ivr.${name}`,
      arity: Math.max(method.length, 2),
      call: ((args) => method.apply(tenant, args)) as Call,
      plausible: [secretary.secretary_uuid, call.conversation_uuid],
    };
  });
const entryPoints = [...coreEntryPoints, ...ivrEntryPoints];

test('the library exports the entry points this test walks', () => {
  assert.ok(coreEntryPoints.length >= 30, `${coreEntryPoints.length} core functions`);
  assert.ok(ivrEntryPoints.length >= 25, `${ivrEntryPoints.length} IVR methods`);
  assert.ok(entryPoints.some(({ name }) => name === 'messages.appendMessages'));
  assert.ok(entryPoints.some(({ name }) => name === 'ivr.appendCallMessages'));
});

// The arguments around the junk one are valid ids that exist, so the junk reaches as far as it can.
for (const { name, arity, call: invoke, plausible } of entryPoints) {
  test(`${name} answers junk with a typed error and writes nothing`, async () => {
    for (let position = 0; position < arity; position++) {
      for (const junk of JUNK) {
        const args: unknown[] = plausible.slice(0, arity);
        args[position] = junk;
        const before = await everyRowCount(db);
        try {
          await invoke(args);
          continue; // accepted: junk in an optional position may be a valid "nothing given"
        } catch (error) {
          const what = `${name}(${args.map(describe).join(', ')})`;
          assert.ok(error instanceof MordomoError, `${what} threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
          assert.ok(CALLER_MISTAKES.has(error.code), `${what} gave ${error.code}: ${error.message}`);
        }
        assert.equal(await everyRowCount(db), before, `${name} with junk in argument ${position + 1} wrote something`);
      }
    }
  });
}
