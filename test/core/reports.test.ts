import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import * as reports from '../../src/core/reports.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db, pool } = await testDatabase('reports');

// Seeded by hand with times relative to now, so that every expectation below can be worked out on paper.
const ana = (await pool.query(`INSERT INTO users (name) VALUES ('Ana') RETURNING id`)).rows[0].id;
const bia = (await pool.query(`INSERT INTO users (name) VALUES ('Bia') RETURNING id`)).rows[0].id;
async function conversation(
  user: string | null,
  daysAgo: number,
  messages: { intent?: string; confidence?: number; latency?: number; source?: string; model?: string }[],
  satisfaction?: number,
) {
  const { rows } = await pool.query(`INSERT INTO conversations (user_id, started_at) VALUES ($1, now() - make_interval(days => $2)) RETURNING id`, [
    user,
    daysAgo,
  ]);
  const id = rows[0].id;
  for (const [i, m] of messages.entries()) {
    await pool.query(
      `INSERT INTO messages (conversation_id, role, content, timestamp, intent, confidence, latency_ms, transcription_model, metadata)
       VALUES ($1, 'user', 'x', now() - make_interval(days => $2) + make_interval(secs => $3), $4, $5, $6, $7, $8)`,
      [id, daysAgo, i, m.intent ?? null, m.confidence ?? null, m.latency ?? null, m.model ?? null, JSON.stringify(m.source ? { source: m.source } : {})],
    );
  }
  if (satisfaction !== undefined) {
    await pool.query(`UPDATE conversations SET ended_at = started_at + interval '1 minute', satisfaction_score = $2 WHERE id = $1`, [id, satisfaction]);
  }
  return id;
}

const recent = await conversation(
  ana,
  1,
  [
    { intent: 'lights', confidence: 0.9, latency: 100, source: 'brain', model: 'whisper' },
    { intent: 'lights', confidence: 0.7, latency: 300, source: 'brain', model: 'whisper' },
    { intent: 'music', confidence: 0.5, latency: 200, source: 'stt', model: 'vosk' },
  ],
  0.8,
);
await conversation(bia, 2, [{ intent: 'music', confidence: 0.9, latency: 400, source: 'stt' }], 0.6);
await conversation(ana, 20, [{ intent: 'weather', confidence: 1, latency: 1000, source: 'tts' }, {}, {}, {}, {}, {}]);
await conversation(bia, 60, [{ intent: 'lights', confidence: 0.1, latency: 5000, source: 'brain' }]);
const messageId = (await pool.query(`SELECT id FROM messages WHERE conversation_id = $1 LIMIT 1`, [recent])).rows[0].id;
for (const [type, status] of [
  ['ha', 'success'],
  ['ha', 'success'],
  ['ha', 'failed'],
  ['timer', 'success'],
  ['timer', 'pending'],
]) {
  await pool.query(`INSERT INTO actions (message_id, conversation_id, action_type, action_name, parameters, status) VALUES ($1, $2, $3, 'x', '{}', $4)`, [
    messageId,
    recent,
    type,
    status,
  ]);
}
await pool.query(`INSERT INTO reminders (title, scheduled_at) VALUES ('late', now() - interval '2 hours'), ('later', now() + interval '2 hours')`);

test("the seed's three with their window as a parameter", async () => {
  assert.deepEqual(await reports.activeUsers(db), [
    { name: 'Ana', conversations: 1, messages: 3 },
    { name: 'Bia', conversations: 1, messages: 1 },
  ]);
  assert.deepEqual(await reports.activeUsers(db, { days: 30 }), [
    { name: 'Ana', conversations: 2, messages: 9 },
    { name: 'Bia', conversations: 1, messages: 1 },
  ]);
  assert.deepEqual(await reports.topIntents(db), [
    { intent: 'lights', count: 2, avg_confidence: 0.8 },
    { intent: 'music', count: 2, avg_confidence: 0.7 },
    { intent: 'weather', count: 1, avg_confidence: 1 },
  ]);
  assert.deepEqual((await reports.topIntents(db, { days: 90, limit: 1 }))[0], { intent: 'lights', count: 3, avg_confidence: 0.567 });
  assert.deepEqual(await reports.latencyBySource(db), [
    { source: 'tts', avg_latency_ms: 1000, max_latency_ms: 1000 },
    { source: 'stt', avg_latency_ms: 300, max_latency_ms: 400 },
    { source: 'brain', avg_latency_ms: 200, max_latency_ms: 300 },
  ]);
});

test('messages per day and hour, empty periods included', async () => {
  const days = await reports.messagesPer(db, { days: 3 });
  assert.equal(days.length, 4);
  assert.deepEqual(
    days.map((d) => d.messages).reduce((a, b) => a + b, 0),
    4,
  );
  const hours = await reports.messagesPer(db, { unit: 'hour', days: 1 });
  assert.ok(hours.length >= 24 && hours.length <= 26);
});

test('latency percentiles per source and per transcription model', async () => {
  const bySource = await reports.latencyPercentiles(db);
  assert.deepEqual(
    bySource.find((r) => r.key === 'brain'),
    { key: 'brain', messages: 2, p50: 200, p95: 290, p99: 298 },
  );
  const byModel = await reports.latencyPercentiles(db, { by: 'transcription_model' });
  assert.deepEqual(
    byModel.find((r) => r.key === 'vosk'),
    { key: 'vosk', messages: 1, p50: 200, p95: 200, p99: 200 },
  );
});

test('actions by type, overdue reminders, satisfaction per week, conversation lengths', async () => {
  assert.deepEqual(await reports.actionSuccessByType(db), [
    { action_type: 'ha', finished: 3, succeeded: 2, failed: 1, success_rate: 0.6667 },
    { action_type: 'timer', finished: 1, succeeded: 1, failed: 0, success_rate: 1 },
  ]);
  const overdue = await reports.overdueReminders(db);
  assert.deepEqual(
    overdue.map((r) => r.title),
    ['late'],
  );
  assert.ok(overdue[0]!.overdue_seconds >= 7200 && overdue[0]!.overdue_seconds < 7300);
  const weeks = await reports.satisfactionByWeek(db);
  assert.equal(
    weeks.reduce((sum, w) => sum + w.conversations, 0),
    2,
  );
  assert.equal(Math.round(weeks.reduce((sum, w) => sum + w.average * w.conversations, 0) * 10) / 10, 1.4);
  assert.deepEqual(await reports.conversationLengths(db), [
    { bucket: '1', conversations: 1 },
    { bucket: '2-5', conversations: 1 },
    { bucket: '6-10', conversations: 1 },
    { bucket: '11-20', conversations: 0 },
    { bucket: '21+', conversations: 0 },
  ]);
});

test('bad windows are refused before SQL', async () => {
  await rejectsWith(() => reports.topIntents(db, { days: 0 }), 'invalid_input');
  await rejectsWith(() => reports.activeUsers(db, { limit: 10_000 }), 'invalid_input');
  await rejectsWith(() => reports.messagesPer(db, { unit: 'minute' as 'day' }), 'invalid_input');
});

test('the windowed reports over messages can use the timestamp index', async () => {
  const plan = await db.transaction().execute(async (trx) => {
    await sql`SET LOCAL enable_seqscan = off`.execute(trx);
    return sql<{ 'QUERY PLAN': string }>`EXPLAIN ${sql.raw(reports.SEED_REPORT_SQL.topIntents("now() - interval '30 days'", '10'))}`.execute(trx);
  });
  assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /idx_messages_timestamp|idx_messages_intent/);
});
