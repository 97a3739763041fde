import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { startConversation } from '../../src/core/conversations.ts';
import { importMessages } from '../../src/core/import.ts';
import { rejectsWith, rowCounts } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db, pool } = await testDatabase('import');

test('a bulk import loads every row and keeps the counters, in one transaction', async () => {
  const conversation = await startConversation(db, {});
  const lines = Array.from({ length: 1000 }, (_, i) => `${conversation.id}\t${i % 2 ? 'assistant' : 'user'}\tmensagem ${i}\t2026-11-23T10:00:${String(i % 60).padStart(2, '0')}Z\t\\N\t\\N\t${i}\t{}\n`);
  assert.equal(await importMessages(pool, Readable.from(lines)), 1000);
  const row = await db.selectFrom('conversations').select('message_count').where('id', '=', conversation.id).executeTakeFirstOrThrow();
  assert.equal(row.message_count, 1000);
});

test('one bad row refuses the whole file: nothing is half-loaded', async () => {
  const conversation = await startConversation(db, {});
  const before = await rowCounts(db);
  const good = `${conversation.id}\tuser\tok\t2026-11-23T10:00:00Z\t\\N\t\\N\t\\N\t{}\n`;
  await rejectsWith(() => importMessages(pool, Readable.from([good, `${conversation.id}\troot\tx\t2026-11-23T10:00:00Z\t\\N\t\\N\t\\N\t{}\n`])), 'invalid_input');
  await rejectsWith(() => importMessages(pool, Readable.from([good, `${conversation.id}\tuser\tx\t2026-11-23T10:00:00Z\t\\N\t1.5\t\\N\t{}\n`])), 'invalid_input');
  await rejectsWith(() => importMessages(pool, Readable.from([good, `3f0e2a9c-3a43-4d7e-9b7c-2d0c4a1e5b6f\tuser\tx\t2026-11-23T10:00:00Z\t\\N\t\\N\t\\N\t{}\n`])), 'foreign_key');
  await rejectsWith(() => importMessages(pool, Readable.from([good, 'not a row\n'])), 'invalid_input');
  assert.deepEqual(await rowCounts(db), before);
});
