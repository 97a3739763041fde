import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import pg from 'pg';
import { startConversation } from '../../src/core/conversations.ts';
import { importMessages } from '../../src/core/import.ts';
import { createUser } from '../../src/core/users.ts';
import { rejectsWith, rowCounts } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db, pool, url, name } = await testDatabase('import');

// The embedded server's owner (and the test's) is a superuser: imports take the staging path. A role without
// the right to set session_replication_role takes the row-by-row path; both must behave the same.
const plainRole = `import_plain_${name}`;
await pool.query(`CREATE ROLE ${plainRole} LOGIN PASSWORD 'plain'`);
await pool.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${plainRole}`);
const plainUrl = new URL(url);
plainUrl.username = plainRole;
plainUrl.password = 'plain';
const plainPool = new pg.Pool({ connectionString: plainUrl.toString(), max: 2 });
after(async () => {
  await plainPool.end();
  const owner = new pg.Client({ connectionString: url });
  await owner.connect();
  await owner.query(`DROP OWNED BY ${plainRole}`);
  await owner.query(`DROP ROLE ${plainRole}`);
  await owner.end();
});

const paths = [
  { label: 'staging (may set session_replication_role)', importer: () => pool, bulk: true },
  { label: 'row by row (may not)', importer: () => plainPool, bulk: false },
];

test('the two roles take the two paths', async () => {
  for (const path of paths) {
    const { rows } = await path.importer().query("SELECT has_parameter_privilege('session_replication_role', 'SET') AS bulk");
    assert.equal(rows[0].bulk, path.bulk, path.label);
  }
});

for (const path of paths) {
  test(`${path.label}: loads every row and keeps the counters, in one transaction`, async () => {
    const user = await createUser(db, { name: 'Importada' });
    const conversation = await startConversation(db, { user_id: user.id });
    const other = await startConversation(db, {});
    const lines = Array.from(
      { length: 1000 },
      (_, i) =>
        `${i < 990 ? conversation.id : other.id}\t${i % 2 ? 'assistant' : 'user'}\tmensagem ${i}\t2026-11-23T10:00:${String(i % 60).padStart(2, '0')}Z\t\\N\t\\N\t${i}\t{}\n`,
    );
    assert.equal(await importMessages(path.importer(), Readable.from(lines)), 1000);
    const counts = await db.selectFrom('conversations').select(['id', 'message_count']).where('id', 'in', [conversation.id, other.id]).execute();
    assert.deepEqual(Object.fromEntries(counts.map((row) => [row.id, row.message_count])), { [conversation.id]: 990, [other.id]: 10 });
    const { last_interaction_at } = await db.selectFrom('users').select('last_interaction_at').where('id', '=', user.id).executeTakeFirstOrThrow();
    assert.equal(last_interaction_at?.toISOString(), '2026-11-23T10:00:59.000Z');
    const stored = await db
      .selectFrom('messages')
      .select(['content', 'latency_ms', 'metadata'])
      .where('conversation_id', '=', conversation.id)
      .where('content', '=', 'mensagem 7')
      .executeTakeFirstOrThrow();
    assert.deepEqual(stored, { content: 'mensagem 7', latency_ms: 7, metadata: {} });
    // Each message carries its conversation's user, as an append would (NULL for the unknown speaker's).
    const owners = await db
      .selectFrom('messages')
      .select(['conversation_id', 'user_id'])
      .distinct()
      .where('conversation_id', 'in', [conversation.id, other.id])
      .orderBy('user_id')
      .execute();
    assert.deepEqual(owners, [
      { conversation_id: conversation.id, user_id: user.id },
      { conversation_id: other.id, user_id: null },
    ]);
  });

  test(`${path.label}: one bad row refuses the whole file, nothing is half-loaded`, async () => {
    const conversation = await startConversation(db, {});
    const before = await rowCounts(db);
    const good = `${conversation.id}\tuser\tok\t2026-11-23T10:00:00Z\t\\N\t\\N\t\\N\t{}\n`;
    const importing = (bad: string) => importMessages(path.importer(), Readable.from([good, bad]));
    await rejectsWith(() => importing(`${conversation.id}\troot\tx\t2026-11-23T10:00:00Z\t\\N\t\\N\t\\N\t{}\n`), 'invalid_input');
    await rejectsWith(() => importing(`${conversation.id}\tuser\tx\t2026-11-23T10:00:00Z\t\\N\t1.5\t\\N\t{}\n`), 'invalid_input');
    await rejectsWith(
      () => importing(`3f0e2a9c-3a43-4d7e-9b7c-2d0c4a1e5b6f\tuser\tx\t2026-11-23T10:00:00Z\t\\N\t\\N\t\\N\t{}\n`),
      'foreign_key',
      /messages_conversation_id_fkey/,
    );
    await rejectsWith(() => importing('not a row\n'), 'invalid_input');
    assert.deepEqual(await rowCounts(db), before);
    const { message_count } = await db.selectFrom('conversations').select('message_count').where('id', '=', conversation.id).executeTakeFirstOrThrow();
    assert.equal(message_count, 0);
  });
}

test("staging: a conversation's messages stay together on disk, as its history reads them", async () => {
  const user = await createUser(db, { name: 'Ordem' });
  const conversations = await Promise.all(Array.from({ length: 50 }, (_, i) => startConversation(db, i % 2 ? { user_id: user.id } : {})));
  // A file as an export writes it: each conversation's turns together, the conversations in no particular order.
  const order = conversations
    .map((c, i) => ({ c, key: (i * 37) % 50 }))
    .sort((a, b) => a.key - b.key)
    .map(({ c }) => c);
  const lines = order.flatMap((c) => Array.from({ length: 40 }, (_, i) => `${c.id}\tuser\tordem ${i}\t2026-11-23T10:00:00Z\t\\N\t\\N\t\\N\t{}\n`));
  // Rows rolled back by the tests above left free space that PostgreSQL would fill first, wherever it is.
  await pool.query('VACUUM FULL messages');
  assert.equal(await importMessages(pool, Readable.from(lines)), 2000);
  // 40 short rows fit in one or two 8 kB pages (a few more where PostgreSQL extended the table as it went);
  // scattered among the file's 2,000 they would touch ~20 each.
  const { rows } = await pool.query<{ pages: number }>(
    `SELECT count(DISTINCT (ctid::text::point)[0])::int AS pages FROM messages
      WHERE conversation_id = ANY ($1) GROUP BY conversation_id`,
    [conversations.map((c) => c.id)],
  );
  assert.equal(rows.length, 50);
  assert.ok(rows.reduce((sum, r) => sum + r.pages, 0) <= 125, `pages per conversation: ${rows.map((r) => r.pages).join(' ')}`);
});
