import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { recordAction } from '../../src/core/actions.ts';
import { appendTurn, startConversation } from '../../src/core/conversations.ts';
import { writeLogs } from '../../src/core/logs.ts';
import { eraseUser, exportUser } from '../../src/core/privacy.ts';
import { createReminder } from '../../src/core/reminders.ts';
import { createUser } from '../../src/core/users.ts';
import { learnSearchWords } from '../../src/ops/search-words.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { adminQuery } from '../harness/database.ts';
import { testDatabase } from '../harness/database.ts';
import { runCli } from '../harness/cli.ts';

const { db, pool, url, name } = await testDatabase('privacy');

async function household(tag: string) {
  const carla = await createUser(db, { name: `Carla ${tag}`, email: `carla.${tag}@example.com` });
  const other = await createUser(db, { name: 'Duda' });
  const talk = await startConversation(db, { user_id: carla.id });
  const [said] = await appendTurn(db, talk.id, { content: `meu remédio ${tag} é às 8h` }, { content: 'anotado, Carla' });
  await recordAction(db, { message_id: said!.id, action_type: 'reminder', action_name: 'create', parameters: { at: '08:00' } });
  await createReminder(db, { user_id: carla.id, title: `remédio ${tag}`, scheduled_at: new Date(Date.now() + 3600_000) });
  await writeLogs(db, [
    { level: 'INFO', source: 'brain', message: 'answered', metadata: { user_id: carla.id } },
    { level: 'INFO', source: 'stt', message: 'transcribed', metadata: { conversation_id: talk.id } },
    { level: 'INFO', source: 'stt', message: 'unrelated' },
  ]);
  const otherTalk = await startConversation(db, { user_id: other.id });
  await appendTurn(db, otherTalk.id, { content: 'bom dia' }, { content: 'bom dia, Duda' });
  return { carla, other, talk };
}

test('export gives everything about one person in one document', async () => {
  const { carla, talk } = await household('exportada');
  const exported = await exportUser(db, carla.id);
  assert.equal(exported.user.email, 'carla.exportada@example.com');
  assert.equal(exported.conversations.length, 1);
  assert.equal(exported.conversations[0]!.id, talk.id);
  assert.equal(exported.conversations[0]!.messages.length, 2);
  assert.equal(exported.conversations[0]!.actions.length, 1);
  assert.equal(exported.reminders.length, 1);
  assert.equal(exported.log_lines.length, 2);
  assert.ok(JSON.stringify(exported).includes('meu remédio exportada'));
  await rejectsWith(() => exportUser(db, '3f0e2a9c-3a43-4d7e-9b7c-2d0c4a1e5b6f'), 'not_found');
  await rejectsWith(() => exportUser(db, "1' OR '1'='1"), 'invalid_input');
});

test('erase removes the person from every table, keeps others, and leaves an audit line without personal data', async () => {
  const { carla, other } = await household('apagada');
  await learnSearchWords(pool, { settleSeconds: 0 });
  assert.ok((await sql<{ n: number }>`SELECT count(*)::int AS n FROM search_words WHERE word = 'apagada'`.execute(db)).rows[0]!.n === 1);
  const erased = await eraseUser(db, carla.id);
  assert.deepEqual(erased, { conversations: 1, messages: 2, actions: 1, reminders: 1, log_lines: 2 });
  // Search every text-like column of every table of the database for any trace.
  const traces = [carla.id, 'Carla apagada', 'carla.apagada@example.com', 'meu remédio apagada', 'remédio apagada'];
  const { rows: columns } = await adminQuery<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = $1 AND table_schema = 'public'
       AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'uuid', 'ARRAY')`,
    [name],
  );
  for (const { table_name, column_name } of columns) {
    for (const trace of traces) {
      const { rows } = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM ${sql.table(table_name)} WHERE ${sql.ref(column_name)}::text LIKE ${`%${trace}%`}`.execute(db);
      assert.equal(rows[0]!.n, 0, `${table_name}.${column_name} still holds "${trace}"`);
    }
  }
  // Their words left the search vocabulary; words others still use stayed.
  const vocabulary = new Set((await sql<{ word: string }>`SELECT word FROM search_words`.execute(db)).rows.map((row) => row.word));
  assert.equal(vocabulary.has('apagada'), false, 'a word only the erased person said');
  assert.ok(vocabulary.has('carla') && vocabulary.has('exportada') && vocabulary.has('duda'), 'words other messages still have stay');
  assert.ok((await exportUser(db, other.id)).conversations.length === 1, 'another person is untouched');
  const audit = await db.selectFrom('system_logs').selectAll().where('source', '=', 'privacy').execute();
  assert.equal(audit.length, 1);
  assert.deepEqual((audit[0]!.metadata as { erased: object }).erased, erased);
  await rejectsWith(() => eraseUser(db, carla.id), 'not_found');
});

test('user export and erase from the command line', async () => {
  const { carla } = await household('linha');
  const exported = await runCli(['user', 'export', carla.id], { DATABASE_URL: url });
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(JSON.parse(exported.stdout).user.id, carla.id);
  const refused = await runCli(['user', 'erase', carla.id], { DATABASE_URL: url });
  assert.equal(refused.code, 64);
  assert.match(refused.stderr, /--yes/);
  const erased = await runCli(['user', 'erase', carla.id, '--yes'], { DATABASE_URL: url });
  assert.equal(erased.code, 0, erased.stderr);
  assert.match(erased.stdout, /erased: 1 conversations, 2 messages, 1 actions, 1 reminders, 2 log lines/);
  assert.equal((await runCli(['user', 'export', carla.id], { DATABASE_URL: url })).code, 66);
});
