import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import { appendTurn, endConversation, getConversation, startConversation } from '../../src/core/conversations.ts';
import { appendMessages, conversationHistory, userHistory, userHistoryStatement } from '../../src/core/messages.ts';
import { createUser, getUser } from '../../src/core/users.ts';
import { BAD_IDS, rejectsWith, rowCounts } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db } = await testDatabase('conversations');
const UNKNOWN = '0b6f3c4e-1111-4aaa-8bbb-222222222222';

test('a turn is stored in order, counted on the conversation and marks the user as interacting', async () => {
  const user = await createUser(db, { name: 'Ana' });
  const conversation = await startConversation(db, { user_id: user.id });
  assert.equal(conversation.message_count, 0);
  const turn = await appendTurn(
    db,
    conversation.id,
    { content: 'Liga a luz da sala', intent: 'iot_control', confidence: 0.93 },
    { content: 'Pronto, luz ligada.', latency_ms: 850 },
  );
  assert.deepEqual(
    turn.map((m) => [m.role, m.content]),
    [
      ['user', 'Liga a luz da sala'],
      ['assistant', 'Pronto, luz ligada.'],
    ],
  );
  assert.ok(turn[0]!.timestamp < turn[1]!.timestamp);
  const read = await getConversation(db, conversation.id);
  assert.equal(read.message_count, 2);
  assert.deepEqual(
    read.messages.map((m) => m.id),
    turn.map((m) => m.id),
  );
  const refreshed = await getUser(db, user.id);
  assert.deepEqual(refreshed.last_interaction_at, turn[1]!.timestamp);
});

test('message_count follows deletes and moves between conversations', async () => {
  const a = await startConversation(db);
  const b = await startConversation(db);
  const written = await appendMessages(db, a.id, [
    { role: 'system', content: 'Você é o Mordomo.' },
    { role: 'user', content: 'Oi' },
    { role: 'assistant', content: 'Olá!' },
  ]);
  await db.deleteFrom('messages').where('id', '=', written[0]!.id).execute();
  await db.updateTable('messages').set({ conversation_id: b.id }).where('id', '=', written[1]!.id).execute();
  const counts = await db.selectFrom('conversations').select(['id', 'message_count']).where('id', 'in', [a.id, b.id]).execute();
  assert.deepEqual(Object.fromEntries(counts.map((c) => [c.id, c.message_count])), { [a.id]: 1, [b.id]: 1 });
});

test('ending computes duration_seconds from the database clock and stores the score', async () => {
  const conversation = await startConversation(db);
  await db.updateTable('conversations').set({ started_at: sql<Date>`now() - interval '95 seconds'` }).where('id', '=', conversation.id).execute();
  const ended = await endConversation(db, conversation.id, { satisfaction_score: 0.8 });
  assert.equal(ended.duration_seconds, 95);
  assert.equal(ended.satisfaction_score, 0.8);
  assert.ok(ended.ended_at instanceof Date);
  await rejectsWith(() => endConversation(db, conversation.id), 'conflict', /already ended/);
  await rejectsWith(() => appendTurn(db, conversation.id, { content: 'a' }, { content: 'b' }), 'conflict', /has ended/);
});

test('refuses bad messages, scores and ids without writing anything', async () => {
  const conversation = await startConversation(db);
  const before = await rowCounts(db);
  const bad: Array<[() => Promise<unknown>, RegExp]> = [
    [() => appendMessages(db, conversation.id, [{ role: 'robot' as never, content: 'x' }]), /role: must be user, assistant or system/],
    [() => appendMessages(db, conversation.id, [{ role: 'user', content: '' }]), /content: must not be empty/],
    [
      () =>
        appendMessages(db, conversation.id, [
          { role: 'user', content: 'ok' },
          { role: 'user', content: 'a\u0000b' },
        ]),
      /1.content: must not contain NUL/,
    ],
    [() => appendMessages(db, conversation.id, [{ role: 'user', content: 'x'.repeat(1_000_001) }]), /at most 1000000/],
    [() => appendMessages(db, conversation.id, [{ role: 'user', content: 'x', confidence: 1.5 }]), /confidence/],
    [() => appendMessages(db, conversation.id, [{ role: 'user', content: 'x', latency_ms: -1 }]), /latency_ms/],
    [() => appendMessages(db, conversation.id, [{ role: 'user', content: 'x', latency_ms: 2 ** 40 }]), /latency_ms/],
    [() => appendMessages(db, conversation.id, []), /at least one message/],
    [() => endConversation(db, conversation.id, { satisfaction_score: 1.01 }), /satisfaction_score: must be between 0 and 1/],
    [() => endConversation(db, conversation.id, { satisfaction_score: -0.1 }), /satisfaction_score/],
    [() => startConversation(db, { user_id: 'nope' }), /user_id: must be a UUID/],
  ];
  for (const [work, message] of bad) await rejectsWith(work, 'invalid_input', message);
  for (const badId of BAD_IDS) await rejectsWith(() => appendTurn(db, badId as string, { content: 'a' }, { content: 'b' }), 'invalid_input');
  await rejectsWith(() => appendTurn(db, UNKNOWN, { content: 'a' }, { content: 'b' }), 'not_found', /conversation .* not found/);
  await rejectsWith(() => startConversation(db, { user_id: UNKNOWN }), 'foreign_key', /conversations/);
  await rejectsWith(() => getConversation(db, UNKNOWN), 'not_found');
  assert.deepEqual(await rowCounts(db), before);
});

test('history returns the last N messages oldest first, and pages backwards with before', async () => {
  const conversation = await startConversation(db);
  for (let i = 1; i <= 6; i++) await appendMessages(db, conversation.id, [{ role: 'user', content: `m${i}` }]);
  const last3 = await conversationHistory(db, conversation.id, { limit: 3 });
  assert.deepEqual(
    last3.map((m) => m.content),
    ['m4', 'm5', 'm6'],
  );
  const previous = await conversationHistory(db, conversation.id, { limit: 3, before: last3[0]!.timestamp });
  assert.deepEqual(
    previous.map((m) => m.content),
    ['m1', 'm2', 'm3'],
  );
  await rejectsWith(() => conversationHistory(db, conversation.id, { limit: 0 }), 'invalid_input', /limit/);
  await rejectsWith(() => conversationHistory(db, conversation.id, { limit: 1001 }), 'invalid_input', /limit/);
});

test('messages appended in quick succession get distinct, increasing timestamps', async () => {
  const conversation = await startConversation(db);
  const written = [];
  for (let i = 0; i < 30; i++) written.push(...(await appendMessages(db, conversation.id, [{ role: 'user', content: `r${i}` }])));
  const times = written.map((m) => m.timestamp.getTime());
  assert.ok(
    times.every((t, i) => i === 0 || t > times[i - 1]!),
    'timestamps must strictly increase',
  );
  assert.deepEqual(
    (await conversationHistory(db, conversation.id, { limit: 30 })).map((m) => m.content),
    written.map((m) => m.content),
  );
});

test("a user's history covers only their last N days, newest first", async () => {
  const user = await createUser(db, { name: 'Rui' });
  const other = await createUser(db, { name: 'Outro' });
  const old = await startConversation(db, { user_id: user.id });
  const [oldMessage] = await appendMessages(db, old.id, [{ role: 'user', content: 'velha' }]);
  await db.updateTable('messages').set({ timestamp: sql<Date>`now() - interval '8 days'` }).where('id', '=', oldMessage!.id).execute();
  const recent = await startConversation(db, { user_id: user.id });
  await appendTurn(db, recent.id, { content: 'nova pergunta' }, { content: 'nova resposta' });
  const foreign = await startConversation(db, { user_id: other.id });
  await appendTurn(db, foreign.id, { content: 'de outro' }, { content: 'resposta' });
  const history = await userHistory(db, user.id);
  assert.deepEqual(
    history.map((m) => m.content),
    ['nova resposta', 'nova pergunta'],
  );
  assert.deepEqual(
    (await userHistory(db, user.id, { days: 9 })).map((m) => m.content),
    ['nova resposta', 'nova pergunta', 'velha'],
  );
  assert.deepEqual(
    (await userHistory(db, user.id, { limit: 1 })).map((m) => m.content),
    ['nova resposta'],
  );
  await rejectsWith(() => userHistory(db, user.id, { days: 0 }), 'invalid_input', /days/);
});

test("a message's user is always its conversation's: a statement cannot file it under someone else", async () => {
  const owner = await createUser(db, { name: 'Dona' });
  const intruder = await createUser(db, { name: 'Intrusa' });
  const conversation = await startConversation(db, { user_id: owner.id });
  const [appended] = await appendMessages(db, conversation.id, [{ role: 'user', content: 'minha' }]);
  assert.equal(appended!.user_id, owner.id);
  await sql`INSERT INTO messages (conversation_id, role, content, user_id) VALUES (${conversation.id}, 'user', 'forjada', ${intruder.id})`.execute(db);
  await sql`UPDATE messages SET user_id = ${intruder.id} WHERE id = ${appended!.id}`.execute(db);
  const stored = await db.selectFrom('messages').select(['content', 'user_id']).where('conversation_id', '=', conversation.id).orderBy('content').execute();
  assert.deepEqual(stored, [
    { content: 'forjada', user_id: owner.id },
    { content: 'minha', user_id: owner.id },
  ]);
  assert.deepEqual(await userHistory(db, intruder.id), []);
  const anonymous = await startConversation(db);
  const [unknownSpeaker] = await appendMessages(db, anonymous.id, [{ role: 'user', content: 'quem fala?' }]);
  assert.equal(unknownSpeaker!.user_id, null);
});

test("a conversation handed to another user takes its messages to that user's history", async () => {
  const first = await createUser(db, { name: 'Primeira' });
  const second = await createUser(db, { name: 'Segunda' });
  const conversation = await startConversation(db);
  await appendTurn(db, conversation.id, { content: 'quem sou eu?' }, { content: 'ainda não sei' });
  await db.updateTable('conversations').set({ user_id: first.id }).where('id', '=', conversation.id).execute();
  assert.deepEqual(
    (await userHistory(db, first.id)).map((m) => m.content),
    ['ainda não sei', 'quem sou eu?'],
  );
  const moved = await startConversation(db, { user_id: first.id });
  await appendMessages(db, moved.id, [{ role: 'user', content: 'era a segunda' }]);
  await db.updateTable('conversations').set({ user_id: second.id }).where('id', '=', moved.id).execute();
  assert.deepEqual(
    (await userHistory(db, first.id)).map((m) => m.content),
    ['ainda não sei', 'quem sou eu?'],
  );
  assert.deepEqual(
    (await userHistory(db, second.id)).map((m) => m.content),
    ['era a segunda'],
  );
});

test("a user's history is one range of idx_messages_user, not a probe per conversation", async () => {
  const user = await createUser(db, { name: 'Plano' });
  for (const options of [{}, { before: { at: new Date(), id: UNKNOWN } }]) {
    const query = userHistoryStatement(user.id, options);
    const plan = await db.transaction().execute(async (trx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      return trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${query.sql}`, [...query.parameters]));
    });
    const lines = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(lines, /Index Scan Backward using idx_messages_user/);
    assert.doesNotMatch(lines, /conversations/);
  }
});
