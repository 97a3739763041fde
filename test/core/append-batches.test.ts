import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { type AppendBatchWatcher, watchAppendBatches } from '../../src/core/append-batches.ts';
import { appendTurn, endConversation, startConversation } from '../../src/core/conversations.ts';
import { appendMessages, type Message } from '../../src/core/messages.ts';
import { messagesPer, topIntents } from '../../src/core/reports.ts';
import { searchMessages } from '../../src/core/search.ts';
import { createUser, getUser } from '../../src/core/users.ts';
import type { DB } from '../../src/db/schema.ts';
import { MordomoError } from '../../src/errors.ts';
import { learnSearchWords } from '../../src/ops/search-words.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db, pool } = await testDatabase('append_batches');
const UNKNOWN = '0b6f3c4e-1111-4aaa-8bbb-222222222222';
// A lone surrogate passes the input rules (it is a JavaScript string) but not PostgreSQL's jsonb: the batched
// statement, which carries every turn in one jsonb parameter, fails as a whole.
const REFUSED_BY_THE_SERVER = 'texto \ud800 partido';

/** Records the batches of `handle` while `work` runs. */
async function watching<T>(handle: Kysely<DB>, work: () => Promise<T>): Promise<{ result: T; batches: number[]; fallbacks: number }> {
  const batches: number[] = [];
  let fallbacks = 0;
  const watcher: AppendBatchWatcher = { batch: (turns) => batches.push(turns), fallback: () => fallbacks++ };
  const stop = watchAppendBatches(handle, watcher);
  try {
    return { result: await work(), batches, fallbacks };
  } finally {
    stop();
  }
}

const turnOf = (i: number) => [{ content: `pergunta ${i}` }, { content: `resposta ${i}` }] as const;

test('turns that arrive while an append is in flight share the next statement, each getting its own rows', async () => {
  const conversations = await Promise.all(Array.from({ length: 12 }, () => startConversation(db)));
  const { result, batches } = await watching(db, () => Promise.all(conversations.map((c, i) => appendTurn(db, c.id, ...turnOf(i)))));
  assert.equal(batches[0], 1, 'the first append went out at once, alone');
  assert.ok(
    batches.some((size) => size > 1),
    `the others were coalesced: ${batches}`,
  );
  for (const [i, rows] of result.entries()) {
    assert.deepEqual(
      rows.map((m) => [m.conversation_id, m.role, m.content]),
      [
        [conversations[i]!.id, 'user', `pergunta ${i}`],
        [conversations[i]!.id, 'assistant', `resposta ${i}`],
      ],
    );
  }
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM messages WHERE conversation_id = ANY(${conversations.map((c) => c.id)})`.execute(db);
  assert.equal(rows[0]!.n, 24);
});

test("one conversation's turns in one batch keep call order with distinct increasing timestamps", async () => {
  const busy = await startConversation(db);
  const others = await Promise.all(Array.from({ length: 4 }, () => startConversation(db)));
  const first = appendTurn(db, others[0]!.id, ...turnOf(0)); // in flight: what follows waits for one batch
  const turns = Array.from({ length: 10 }, (_, i) => appendTurn(db, busy.id, ...turnOf(i)));
  const rest = others.slice(1).map((c, i) => appendTurn(db, c.id, ...turnOf(i)));
  const { batches } = await watching(db, () => Promise.all([first, ...turns, ...rest]));
  assert.ok(batches.length >= 1);
  const returned = (await Promise.all(turns)).flat();
  const stored = await db.selectFrom('messages').selectAll().where('conversation_id', '=', busy.id).orderBy('timestamp').orderBy('id').execute();
  assert.deepEqual(
    stored.map((m) => m.content),
    Array.from({ length: 10 }, (_, i) => [`pergunta ${i}`, `resposta ${i}`]).flat(),
  );
  assert.deepEqual(
    returned.map((m) => m.id),
    stored.map((m) => m.id),
  );
  for (let i = 1; i < stored.length; i++) assert.ok(stored[i]!.timestamp > stored[i - 1]!.timestamp, 'distinct, increasing');
  const conversation = await db.selectFrom('conversations').select('message_count').where('id', '=', busy.id).executeTakeFirstOrThrow();
  assert.equal(conversation.message_count, 20);
});

test('a turn for an unknown or ended conversation fails alone, with the error of a turn alone', async () => {
  const open = await Promise.all(Array.from({ length: 3 }, () => startConversation(db)));
  const ended = await startConversation(db);
  await endConversation(db, ended.id);
  const aloneErrors = await Promise.all([
    appendTurn(db, UNKNOWN, ...turnOf(0)).catch((error: MordomoError) => [error.code, error.message]),
    appendTurn(db, ended.id, ...turnOf(0)).catch((error: MordomoError) => [error.code, error.message]),
  ]);
  const calls = [open[0]!.id, UNKNOWN, open[1]!.id, ended.id, open[2]!.id].map((id, i) => appendTurn(db, id, ...turnOf(i)));
  const { result, batches } = await watching(db, () => Promise.allSettled(calls));
  assert.ok(batches.some((size) => size > 1));
  assert.deepEqual(
    result.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
  );
  const errors = [result[1], result[3]].map((r) => {
    const error = (r as PromiseRejectedResult).reason as MordomoError;
    assert.ok(error instanceof MordomoError);
    return [error.code, error.message];
  });
  // The same errors, in order, as the same turns gave one at a time (the first call went out alone).
  assert.deepEqual(errors, aloneErrors);
  assert.deepEqual(
    errors.map(([code]) => code),
    ['not_found', 'conflict'],
  );
});

test('a batch the server refuses as a whole is retried turn by turn: only the faulty turn fails, none is written twice', async () => {
  const conversations = await Promise.all(Array.from({ length: 6 }, () => startConversation(db)));
  const aloneError = await appendTurn(db, conversations[0]!.id, { content: REFUSED_BY_THE_SERVER }, { content: 'ok' }).catch((error: Error) => error);
  assert.ok(aloneError instanceof MordomoError);
  const { result, fallbacks } = await watching(db, () =>
    Promise.allSettled(conversations.map((c, i) => appendTurn(db, c.id, { content: i === 3 ? REFUSED_BY_THE_SERVER : `pergunta ${i}` }, { content: 'ok' }))),
  );
  assert.ok(fallbacks >= 1, 'the batch fell back');
  assert.deepEqual(
    result.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  const reason = (result[3] as PromiseRejectedResult).reason as MordomoError;
  assert.equal(reason.code, aloneError.code);
  assert.equal(reason.message, aloneError.message);
  const counts = await db
    .selectFrom('conversations')
    .select(['id', 'message_count'])
    .where(
      'id',
      'in',
      conversations.map((c) => c.id),
    )
    .execute();
  const byId = new Map(counts.map((row) => [row.id, row.message_count]));
  assert.deepEqual(
    conversations.map((c) => byId.get(c.id)),
    [2, 2, 2, 0, 2, 2],
  );
});

test('a batch whose connection dies is retried turn by turn: only the turn that kills it fails', async () => {
  // A trigger of this test's database that ends its own backend on one content: the connection dies mid-statement.
  await sql`CREATE FUNCTION test_kill_connection() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.content = 'derruba a conexão' THEN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF; RETURN NEW; END $$`.execute(
    db,
  );
  await sql`CREATE TRIGGER test_kill_connection BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION test_kill_connection()`.execute(db);
  try {
    const conversations = await Promise.all(Array.from({ length: 5 }, () => startConversation(db)));
    const { result, fallbacks } = await watching(db, () =>
      Promise.allSettled(conversations.map((c, i) => appendTurn(db, c.id, { content: i === 2 ? 'derruba a conexão' : `pergunta ${i}` }, { content: 'ok' }))),
    );
    assert.ok(fallbacks >= 1);
    assert.deepEqual(
      result.map((r) => (r.status === 'rejected' ? (r.reason as MordomoError).code : r.status)),
      ['fulfilled', 'fulfilled', 'unavailable', 'fulfilled', 'fulfilled'],
    );
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM messages WHERE conversation_id = ANY(${conversations.map((c) => c.id)})`.execute(
      db,
    );
    assert.equal(rows[0]!.n, 8);
  } finally {
    await sql`DROP TRIGGER test_kill_connection ON messages`.execute(db);
    await sql`DROP FUNCTION test_kill_connection()`.execute(db);
  }
});

test("inside a caller's transaction nothing is coalesced, and the turns roll back with it", async () => {
  const conversations = await Promise.all(Array.from({ length: 4 }, () => startConversation(db)));
  const { batches } = await watching(db, () =>
    db
      .transaction()
      .execute(async (trx) => {
        const { batches: inside } = await watching(trx, () => Promise.all(conversations.map((c, i) => appendTurn(trx, c.id, ...turnOf(i)))));
        assert.deepEqual(inside, []);
        throw new Error('roll back');
      })
      .catch(() => undefined),
  );
  assert.deepEqual(batches, []);
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM messages WHERE conversation_id = ANY(${conversations.map((c) => c.id)})`.execute(db);
  assert.equal(rows[0]!.n, 0);
});

test('appends with an idempotency key run alone, exactly once', async () => {
  const conversations = await Promise.all(Array.from({ length: 4 }, () => startConversation(db)));
  const { result, batches } = await watching(db, () =>
    Promise.all(conversations.map((c, i) => appendTurn(db, c.id, ...turnOf(i), { idempotencyKey: `batch-key-${c.id}` }))),
  );
  assert.deepEqual(batches, [], 'keyed appends are not coalesced');
  const replays = await Promise.all(conversations.map((c, i) => appendTurn(db, c.id, ...turnOf(i), { idempotencyKey: `batch-key-${c.id}` })));
  assert.deepEqual(
    replays.map((rows) => rows.map((m) => m.id)),
    result.map((rows) => rows.map((m) => m.id)),
  );
  await rejectsWith(() => appendTurn(db, conversations[0]!.id, ...turnOf(9), { idempotencyKey: `batch-key-${conversations[0]!.id}` }), 'conflict');
});

// ---- The property: the batched path gives exactly what turns one at a time give. ----

/** A small seeded generator (mulberry32), so that a failing interleaving can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Step =
  | { kind: 'append'; conversation: number; messages: { role: 'user' | 'assistant' | 'system'; content: string; intent?: string; latency_ms?: number }[] }
  | { kind: 'end'; conversation: number };

const WORDS = ['luz', 'sala', 'cozinha', 'boleto', 'agendamento', 'lembrete', 'música', 'portão', 'temperatura', 'segunda via'];
const INTENTS = ['iot_control', 'reminder', 'billing', 'weather'];

/**
 * A script: users, conversations (a few ended before, one unknown id), and callers, each with its own conversations
 * and a list of steps over them (appends, some refused by the server, and now and then the end of one of them).
 */
function script(seed: number) {
  const next = random(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const users = 3;
  const conversations = Array.from({ length: 14 }, (_, i) => ({ user: i % 4 === 3 ? null : i % users, endedBefore: next() < 0.15, unknown: i === 13 }));
  const callers = Array.from({ length: 5 }, (_, caller) => {
    const own = conversations.map((_, i) => i).filter((i) => i % 5 === caller);
    const steps: Step[] = [];
    for (let s = 0; s < 12; s++) {
      const conversation = pick(own);
      if (next() < 0.05) {
        steps.push({ kind: 'end', conversation });
        continue;
      }
      const count = 1 + Math.floor(next() * 3);
      const messages = Array.from({ length: count }, (_, m) => {
        const bad = next() < 0.04;
        const role = m === 0 ? ('user' as const) : pick(['assistant', 'system'] as const);
        return {
          role,
          content: bad ? REFUSED_BY_THE_SERVER : `${pick(WORDS)} ${pick(WORDS)} ${seed}-${caller}-${s}-${m}`,
          ...(role === 'user' ? { intent: pick(INTENTS) } : { latency_ms: Math.floor(next() * 2000) }),
        };
      });
      steps.push({ kind: 'append', conversation, messages });
    }
    return steps;
  });
  return { users, conversations, callers };
}

type Outcome = { ok: true; rows: { role: string; content: string }[] } | { ok: false; code: string; message: string };

/** Plays `plan` on `handle`: callers one after another (each turn alone) or all at once (coalesced). */
async function play(handle: Kysely<DB>, plan: ReturnType<typeof script>, concurrently: boolean) {
  const users = await Promise.all(Array.from({ length: plan.users }, (_, i) => createUser(handle, { name: `Pessoa ${i}` })));
  const ids: string[] = [];
  for (const c of plan.conversations) {
    if (c.unknown) {
      ids.push(UNKNOWN);
      continue;
    }
    const conversation = await startConversation(handle, { user_id: c.user === null ? null : users[c.user]!.id });
    if (c.endedBefore) await endConversation(handle, conversation.id);
    ids.push(conversation.id);
  }
  // The ids of this play, named by position, so that both plays compare though their ids differ.
  const named = (text: string) => ids.reduce((result, id, i) => result.replaceAll(id, `conversation#${i}`), text);
  const outcomes: Outcome[][] = plan.callers.map(() => []);
  const returned: Message[] = [];
  const run = async (caller: number) => {
    for (const step of plan.callers[caller]!) {
      try {
        if (step.kind === 'end') {
          await endConversation(handle, ids[step.conversation]!);
          outcomes[caller]!.push({ ok: true, rows: [] });
        } else {
          const rows = await appendMessages(handle, ids[step.conversation]!, step.messages);
          returned.push(...rows);
          outcomes[caller]!.push({ ok: true, rows: rows.map((m) => ({ role: m.role, content: m.content })) });
        }
      } catch (error) {
        assert.ok(error instanceof MordomoError, String(error));
        outcomes[caller]!.push({ ok: false, code: error.code, message: named(error.message) });
      }
    }
  };
  if (concurrently) await Promise.all(plan.callers.map((_, caller) => run(caller)));
  else for (let caller = 0; caller < plan.callers.length; caller++) await run(caller);

  const stored = await handle.selectFrom('messages').selectAll().where('conversation_id', 'in', ids).orderBy('timestamp').orderBy('id').execute();
  const byId = new Map(stored.map((m) => [m.id, m]));
  for (const m of returned)
    assert.deepEqual({ ...byId.get(m.id), search_vector: undefined }, { ...m, search_vector: undefined }, 'returned rows are the stored rows');
  const conversations = await handle.selectFrom('conversations').selectAll().where('id', 'in', ids).execute();
  const history = ids.map((id) => {
    const messages = stored.filter((m) => m.conversation_id === id);
    for (let i = 1; i < messages.length; i++) assert.ok(messages[i]!.timestamp > messages[i - 1]!.timestamp, 'distinct increasing timestamps');
    const row = conversations.find((c) => c.id === id);
    return {
      messages: messages.map((m) => [m.role, m.content, m.intent, m.latency_ms, m.user_id === null ? null : users.findIndex((u) => u.id === m.user_id)]),
      count: row?.message_count ?? null,
      ended: row ? row.ended_at !== null : null,
    };
  });
  const interactions = await Promise.all(
    users.map(async (user) => {
      const refreshed = await getUser(handle, user.id);
      const latest = stored.filter((m) => m.user_id === user.id).at(-1);
      // last_interaction_at is the user's newest message (timestamps differ between plays; what they mean must not).
      assert.deepEqual(refreshed.last_interaction_at, latest?.timestamp ?? null);
      return refreshed.last_interaction_at !== null;
    }),
  );
  return { outcomes, history, interactions };
}

/** What searches and reports answer about a whole database, named so that two databases compare. */
async function readings(handle: Kysely<DB>, handlePool: typeof pool) {
  await learnSearchWords(handlePool, { settleSeconds: 0 });
  const searches = [];
  for (const word of ['luz', 'boleto', 'agendamento', 'segunda via', 'portao', 'musica', 'cozinah']) {
    // Every page: the first page's ties (equal ranks) fall by recency, which differs between the two plays.
    const ids: string[] = [];
    let result = await searchMessages(handle, word, { limit: 100 });
    const mode = result.mode;
    for (;;) {
      ids.push(...result.items.map((hit) => hit.id));
      if (!result.next) break;
      result = await searchMessages(handle, word, { limit: 100, after: result.next });
    }
    const found = ids.length ? await handle.selectFrom('messages').select(['role', 'content']).where('id', 'in', ids).execute() : [];
    searches.push({ word, mode, contents: found.map((m) => `${m.role} ${m.content}`).sort() });
  }
  const intents = await topIntents(handle, { days: 1 });
  const perDay = (await messagesPer(handle, { unit: 'day', days: 1 })).map((row) => row.messages);
  assert.ok(
    searches.some((search) => search.contents.length > 0),
    'the searches found something to compare',
  );
  return { searches, intents, perDay };
}

test('property: on random interleavings the batched path gives the counters, order, errors, search and reports of turns one at a time', async () => {
  const reference = await testDatabase('append_batches_reference');
  const batched = await testDatabase('append_batches_batched');
  let coalesced = 0;
  let fellBack = 0;
  for (let seed = 1; seed <= 6; seed++) {
    const plan = script(seed);
    const alone = await watching(reference.db, () => play(reference.db, plan, false));
    assert.ok(
      alone.batches.every((size) => size === 1),
      'one at a time: every statement carries one turn',
    );
    const together = await watching(batched.db, () => play(batched.db, plan, true));
    coalesced += together.batches.filter((size) => size > 1).length;
    fellBack += together.fallbacks;
    assert.deepEqual(together.result, alone.result, `seed ${seed}`);
  }
  assert.ok(coalesced > 0, 'the concurrent plays were coalesced');
  assert.ok(fellBack > 0, 'some batch fell back to turns alone');
  assert.deepEqual(await readings(batched.db, batched.pool), await readings(reference.db, reference.pool));
});
