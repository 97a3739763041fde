import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sqlstateOf } from '../../src/errors.ts';
import { sql } from 'kysely';
import { getAction, recordAction, transitionAction } from '../../src/core/actions.ts';
import { appendTurn, startConversation } from '../../src/core/conversations.ts';
import { rejectsWith, rowCounts } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db } = await testDatabase('actions');

async function aMessage() {
  const conversation = await startConversation(db);
  const [user] = await appendTurn(db, conversation.id, { content: 'Liga a luz' }, { content: 'Ok' });
  return user!;
}

test('records an action for a message, taking its conversation, and runs it to success', async () => {
  const message = await aMessage();
  const action = await recordAction(db, { message_id: message.id, action_type: 'iot_control', action_name: 'turn_on', parameters: { device: 'sala' } });
  assert.equal(action.status, 'pending');
  assert.equal(action.conversation_id, message.conversation_id);
  assert.deepEqual(action.parameters, { device: 'sala' });
  const executing = await transitionAction(db, action.id, 'executing');
  assert.equal(executing.status, 'executing');
  const done = await transitionAction(db, action.id, 'success', { result: { ok: true } });
  assert.equal(done.status, 'success');
  assert.deepEqual(done.result, { ok: true });
  assert.ok(done.executed_at instanceof Date);
  assert.deepEqual(await getAction(db, action.id), done);
});

test('a failure keeps its error message and result', async () => {
  const message = await aMessage();
  const action = await recordAction(db, { message_id: message.id, action_type: 'iot_control', action_name: 'turn_on', parameters: {} });
  await transitionAction(db, action.id, 'executing');
  const failed = await transitionAction(db, action.id, 'failed', { error_message: 'device offline', result: { retries: 3 } });
  assert.equal(failed.error_message, 'device offline');
  assert.deepEqual(failed.result, { retries: 3 });
});

test('refuses every transition other than pending -> executing -> success|failed, in the library and in SQL', async () => {
  const message = await aMessage();
  const action = await recordAction(db, { message_id: message.id, action_type: 'query', action_name: 'weather', parameters: {} });
  await rejectsWith(() => transitionAction(db, action.id, 'success'), 'conflict', /cannot go from pending to success/);
  await rejectsWith(() => transitionAction(db, action.id, 'pending'), 'conflict', /cannot go from pending to pending/);
  await transitionAction(db, action.id, 'executing');
  await transitionAction(db, action.id, 'success');
  await rejectsWith(() => transitionAction(db, action.id, 'failed'), 'conflict', /cannot go from success to failed/);
  await assert.rejects(sql`UPDATE actions SET status = 'pending' WHERE id = ${action.id}`.execute(db), (error) => sqlstateOf(error) === 'MDB01');
  assert.equal((await getAction(db, action.id)).status, 'success');
});

test('refuses unknown messages, unknown actions and bad input without writing', async () => {
  const before = await rowCounts(db);
  await rejectsWith(
    () => recordAction(db, { message_id: '7a1e0000-0000-4000-8000-000000000001', action_type: 'x', action_name: 'y', parameters: {} }),
    'not_found',
    /message/,
  );
  await rejectsWith(() => recordAction(db, { message_id: 'bad', action_type: 'x', action_name: 'y', parameters: {} }), 'invalid_input', /message_id/);
  await rejectsWith(
    () => recordAction(db, { message_id: '7a1e0000-0000-4000-8000-000000000001', action_type: '', action_name: 'y', parameters: {} }),
    'invalid_input',
    /action_type/,
  );
  await rejectsWith(() => transitionAction(db, '7a1e0000-0000-4000-8000-000000000001', 'executing'), 'not_found', /action/);
  await rejectsWith(() => transitionAction(db, '7a1e0000-0000-4000-8000-000000000001', 'done' as never), 'invalid_input', /status/);
  assert.deepEqual(await rowCounts(db), before);
});
