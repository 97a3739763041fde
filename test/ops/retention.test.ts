import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordAction } from '../../src/core/actions.ts';
import { appendTurn, startConversation } from '../../src/core/conversations.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { expireConversations } from '../../src/ops/retention.ts';
import { defaultJobs } from '../../src/ops/scheduler.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const database = await testDatabase('retention');
const { db, pool } = database;

test('conversations older than the retention go in bounded batches, with their messages and actions; newer ones stay', async () => {
  const old: string[] = [];
  for (let i = 0; i < 7; i++) {
    const conversation = await startConversation(db);
    const [message] = await appendTurn(db, conversation.id, { content: `velha ${i}` }, { content: 'ok' });
    await recordAction(db, { message_id: message!.id, action_type: 'query', action_name: 'x', parameters: {} });
    old.push(conversation.id);
  }
  await pool.query(`UPDATE conversations SET started_at = now() - interval '400 days' WHERE id = ANY ($1)`, [old]);
  const recent = await startConversation(db);
  await appendTurn(db, recent.id, { content: 'nova' }, { content: 'ok' });
  assert.deepEqual(await expireConversations(pool, 365, 3), { conversations: 7, batches: 3 });
  const { rows } = await pool.query(
    `SELECT (SELECT count(*)::int FROM conversations) AS c, (SELECT count(*)::int FROM messages) AS m, (SELECT count(*)::int FROM actions) AS a`,
  );
  assert.deepEqual(rows[0], { c: 1, m: 2, a: 0 });
  assert.deepEqual(await expireConversations(pool, 365), { conversations: 0, batches: 0 });
  await rejectsWith(() => expireConversations(pool, 0), 'invalid_input', /at least 1/);
});

test('retention is off unless configured, and then scheduled as a job', () => {
  const logger = createLogger('silent');
  const names = (env: Record<string, string>) =>
    defaultJobs(database, loadConfig({}, env), logger)
      .map((j) => j.name)
      .sort();
  assert.deepEqual(names({}), ['backup', 'disk-usage', 'idempotency-keys', 'partitions', 'rollups', 'search-words', 'size']);
  assert.deepEqual(names({ MORDOMO_CONVERSATION_RETENTION_DAYS: '365' }), [
    'backup',
    'disk-usage',
    'idempotency-keys',
    'partitions',
    'retention',
    'rollups',
    'search-words',
    'size',
  ]);
  assert.deepEqual(names({ MORDOMO_MODULES: 'ivr' }), ['backup', 'disk-usage', 'idempotency-keys']);
});
