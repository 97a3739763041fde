import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { appendTurn, startConversation } from '../../src/core/conversations.ts';
import { createReminder } from '../../src/core/reminders.ts';
import { pruneExpiredKeys } from '../../src/db/idempotency.ts';
import { CORE_KEYS } from '../../src/core/idempotency-keys.ts';
import { pruneDomainKeys } from '../../src/ivr/idempotency-keys.ts';
import { createIvr } from '../../src/ivr/ivr.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';
import { createDomain } from '../ivr/fixtures.ts';

const { db } = await testDatabase('idempotency');

const messagesOf = async (conversation: string) =>
  Number(
    (
      await db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('conversation_id', '=', conversation)
        .executeTakeFirstOrThrow()
    ).n,
  );

test('a retried turn with the same key returns the first result, typed the same, and writes once', async () => {
  const conversation = await startConversation(db);
  const first = await appendTurn(db, conversation.id, { content: 'Liga a luz' }, { content: 'Ligada.' }, { idempotencyKey: 'turn-1' });
  const retry = await appendTurn(db, conversation.id, { content: 'Liga a luz' }, { content: 'Ligada.' }, { idempotencyKey: 'turn-1' });
  assert.deepEqual(retry, first);
  assert.ok(retry[0]!.timestamp instanceof Date, 'timestamps come back as Dates on a replay too');
  assert.equal(await messagesOf(conversation.id), 2);
  // Without a key, a second call is a second turn.
  await appendTurn(db, conversation.id, { content: 'Liga a luz' }, { content: 'Ligada.' });
  assert.equal(await messagesOf(conversation.id), 4);
});

test('concurrent calls with one key write once and all get the same answer', async () => {
  const conversation = await startConversation(db);
  const answers = await Promise.all(
    Array.from({ length: 8 }, () => appendTurn(db, conversation.id, { content: 'Que horas são?' }, { content: 'Meio-dia.' }, { idempotencyKey: 'race' })),
  );
  for (const answer of answers)
    assert.deepEqual(
      answer.map((m) => m.id),
      answers[0]!.map((m) => m.id),
    );
  assert.equal(await messagesOf(conversation.id), 2);
});

test('the same key with another request is a conflict and writes nothing; a bad key is refused before SQL', async () => {
  const conversation = await startConversation(db);
  await appendTurn(db, conversation.id, { content: 'um' }, { content: 'dois' }, { idempotencyKey: 'reused' });
  await rejectsWith(
    () => appendTurn(db, conversation.id, { content: 'outro' }, { content: 'pedido' }, { idempotencyKey: 'reused' }),
    'conflict',
    /already used for a different request/,
  );
  await rejectsWith(
    () => createReminder(db, { title: 'x', scheduled_at: new Date() }, { idempotencyKey: 'reused' }),
    'conflict',
    /already used for a different request/,
  );
  assert.equal(await messagesOf(conversation.id), 2);
  for (const bad of ['', 'has space', 'a'.repeat(256), 'nul\u0000byte', 42 as unknown as string]) {
    await rejectsWith(() => appendTurn(db, conversation.id, { content: 'x' }, { content: 'y' }, { idempotencyKey: bad }), 'invalid_input', /idempotency key/);
  }
  assert.equal(await messagesOf(conversation.id), 2);
});

test('a failed call does not use up its key, and an expired key is new again and pruned', async () => {
  const conversation = await startConversation(db);
  await rejectsWith(
    () => appendTurn(db, '0b6f3c4e-1111-4aaa-8bbb-222222222222', { content: 'a' }, { content: 'b' }, { idempotencyKey: 'failed-once' }),
    'not_found',
  );
  await appendTurn(db, '0b6f3c4e-1111-4aaa-8bbb-222222222222', { content: 'a' }, { content: 'b' }, { idempotencyKey: 'failed-once' }).catch(() => undefined);
  await appendTurn(db, conversation.id, { content: 'a' }, { content: 'b' }, { idempotencyKey: 'expiring' });
  await sql`UPDATE mordomo_idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'expiring'`.execute(db);
  await appendTurn(db, conversation.id, { content: 'a' }, { content: 'b' }, { idempotencyKey: 'expiring' });
  assert.equal(await messagesOf(conversation.id), 4, 'after 24 hours the key is new again');
  const { rows: failed } = await sql`SELECT 1 FROM mordomo_idempotency_keys WHERE key = 'failed-once'`.execute(db);
  assert.equal(failed.length, 0, 'a failed call leaves no key behind');

  await sql`UPDATE mordomo_idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'expiring'`.execute(db);
  assert.ok((await pruneExpiredKeys(db, CORE_KEYS)) + (await pruneDomainKeys(db)) >= 1);
  const { rows } = await sql`SELECT key FROM mordomo_idempotency_keys WHERE created_at < now() - interval '24 hours'`.execute(db);
  assert.deepEqual(rows, []);
});

test("IVR keys are per domain: one tenant's key neither replays nor blocks another's", async () => {
  const a = createIvr(db).forDomain(await createDomain(db));
  const b = createIvr(db).forDomain(await createDomain(db));
  const callA = await a.startCall({ caller_id: '1001' }, { idempotencyKey: 'call-1' });
  assert.deepEqual(await a.startCall({ caller_id: '1001' }, { idempotencyKey: 'call-1' }), callA);
  const callB = await b.startCall({ caller_id: '1001' }, { idempotencyKey: 'call-1' });
  assert.notEqual(callB.conversation_uuid, callA.conversation_uuid);
  const messages = [{ role: 'user' as const, content: 'Quero falar com o financeiro' }];
  const first = await a.appendCallMessages(callA.conversation_uuid, messages, { idempotencyKey: 'm-1' });
  assert.deepEqual(await a.appendCallMessages(callA.conversation_uuid, messages, { idempotencyKey: 'm-1' }), first);
  assert.equal((await a.getCall(callA.conversation_uuid)).messages.length, 1);
  await rejectsWith(() => a.startCall({ caller_id: '2002' }, { idempotencyKey: 'call-1' }), 'conflict');
});

test('expired IVR keys are pruned domain by domain, as the IVR role, and a fresh key of another domain stays', async () => {
  const [first, second] = [await createDomain(db), await createDomain(db)];
  await createIvr(db).forDomain(first).startCall({ caller_id: '2001' }, { idempotencyKey: 'old-call' });
  await createIvr(db).forDomain(second).startCall({ caller_id: '2002' }, { idempotencyKey: 'new-call' });
  await sql`UPDATE v_voice_idempotency_keys SET created_at = now() - interval '25 hours' WHERE domain_uuid = ${first}`.execute(db);
  assert.equal(await pruneDomainKeys(db), 1);
  const { rows } = await sql<{
    domain_uuid: string;
    key: string;
  }>`SELECT domain_uuid, key FROM v_voice_idempotency_keys WHERE domain_uuid IN (${first}, ${second})`.execute(db);
  assert.deepEqual(rows, [{ domain_uuid: second, key: 'new-call' }]);
});
