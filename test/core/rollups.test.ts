import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Readable } from 'node:stream';
import { startConversation } from '../../src/core/conversations.ts';
import { importMessages } from '../../src/core/import.ts';
import * as reports from '../../src/core/reports.ts';
import { REPORT_QUERIES } from '../../src/ops/reports.ts';
import { refreshMessageRollups } from '../../src/ops/rollups.ts';
import pg from 'pg';
import { runtimeUrlFor, testDatabase } from '../harness/database.ts';

const { db, pool, name } = await testDatabase('rollups');

// 45 days of messages (deterministic) with every shape the reports group by, none within two minutes of a 30-day window's edge.
const conversation = await startConversation(db, {});
await sql`
  INSERT INTO messages (conversation_id, role, content, timestamp, intent, confidence, latency_ms, transcription_model, metadata)
  SELECT ${conversation.id}::uuid, (ARRAY['user', 'assistant'])[1 + i % 2], 'm' || i, at,
         (ARRAY['iot_control', 'weather', 'music', NULL])[1 + (i * 7) % 4],
         CASE WHEN i % 5 = 0 THEN NULL ELSE ((i * 37) % 1000) / 1000.0 END,
         CASE WHEN i % 3 = 0 THEN NULL ELSE (i * 7919) % 2000 END,
         (ARRAY['whisper-small', 'vosk-pt', NULL])[1 + i % 3],
         CASE WHEN i % 4 = 0 THEN '{}'::jsonb ELSE jsonb_build_object('source', (ARRAY['stt', 'brain', 'tts'])[1 + i % 3]) END
    FROM (SELECT i, now() - make_interval(secs => (i::bigint * 104729) % (45 * 86400)) AS at FROM generate_series(1, 6000) i) g
   WHERE abs(extract(epoch FROM now() - at) - 30 * 86400) > 120`.execute(db);

// The reports as the seed and the first version wrote them, straight from the messages: the reference.
const reference = {
  topIntents: `SELECT intent, COUNT(*)::int AS count, round(AVG(confidence)::numeric, 3)::float AS avg_confidence
                 FROM messages WHERE intent IS NOT NULL AND timestamp > now() - interval '30 days'
                GROUP BY intent ORDER BY count DESC, intent`,
  latencyBySource: `SELECT coalesce(metadata->>'source', 'unknown') AS source, round(AVG(latency_ms))::int AS avg_latency_ms,
                           MAX(latency_ms) AS max_latency_ms
                      FROM messages WHERE latency_ms IS NOT NULL AND timestamp > now() - interval '30 days'
                     GROUP BY 1 ORDER BY source`,
  messagesPerDay: `SELECT period, count(m.id)::int AS messages
                     FROM generate_series(date_trunc('day', now() - interval '30 days', 'UTC'), now(), interval '24 hours') AS period
                     LEFT JOIN messages m ON m.timestamp >= period AND m.timestamp < period + interval '24 hours'
                    GROUP BY period ORDER BY period`,
  messagesPerHour: `SELECT period, count(m.id)::int AS messages
                      FROM generate_series(date_trunc('hour', now() - interval '3 days', 'UTC'), now(), interval '1 hour') AS period
                      LEFT JOIN messages m ON m.timestamp >= period AND m.timestamp < period + interval '1 hour'
                     GROUP BY period ORDER BY period`,
  percentiles: (key: string) => `
    SELECT ${key} AS key, count(*)::int AS messages,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::float AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)::float AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms)::float AS p99
      FROM messages WHERE latency_ms IS NOT NULL AND timestamp > now() - interval '30 days'
     GROUP BY 1 ORDER BY p95 DESC, key`,
  dashboardPerDay: `SELECT to_char(day, 'YYYY-MM-DD') AS day, count(m.id)::int AS messages
                      FROM generate_series(date_trunc('day', now() AT TIME ZONE 'UTC') - interval '29 days',
                                           date_trunc('day', now() AT TIME ZONE 'UTC'), interval '1 day') AS day
                      LEFT JOIN messages m ON m.timestamp >= day AT TIME ZONE 'UTC' AND m.timestamp < (day + interval '1 day') AT TIME ZONE 'UTC'
                     GROUP BY day ORDER BY day`,
};
const raw = async (text: string) => (await pool.query(text)).rows;
const bySource = <T extends { source: string }>(rows: T[]) => [...rows].sort((a, b) => a.source.localeCompare(b.source));

/** Every rolled-up report equals its reference, whatever the state of the rollup. */
async function assertReportsExact(state: string): Promise<void> {
  assert.deepEqual(await reports.topIntents(db, { days: 30, limit: 1000 }), await raw(reference.topIntents), `top intents, ${state}`);
  assert.deepEqual(bySource(await reports.latencyBySource(db, { days: 30, limit: 1000 })), await raw(reference.latencyBySource), `latency by source, ${state}`);
  assert.deepEqual(await reports.messagesPer(db, { unit: 'day', days: 30 }), await raw(reference.messagesPerDay), `messages per day, ${state}`);
  assert.deepEqual(await reports.messagesPer(db, { unit: 'hour', days: 3 }), await raw(reference.messagesPerHour), `messages per hour, ${state}`);
  assert.deepEqual(
    await reports.latencyPercentiles(db, { days: 30 }),
    await raw(reference.percentiles("coalesce(metadata->>'source', 'unknown')")),
    `percentiles by source, ${state}`,
  );
  assert.deepEqual(
    await reports.latencyPercentiles(db, { days: 30, by: 'transcription_model' }),
    await raw(reference.percentiles("coalesce(transcription_model, 'unknown')")),
    `percentiles by model, ${state}`,
  );
  assert.deepEqual(await raw(REPORT_QUERIES.messagesPerDay), await raw(reference.dashboardPerDay), `dashboard messages per day, ${state}`);
  // The dashboard's latency per source has no window (-infinity): every message ever.
  assert.deepEqual(
    bySource(await raw(REPORT_QUERIES.latencyBySource)),
    await raw(reference.latencyBySource.replace("now() - interval '30 days'", "'-infinity'")),
    `dashboard latency, ${state}`,
  );
}

const rolledDays = async () => Number((await raw('SELECT count(*) AS n FROM message_rollup_days'))[0].n);
// Marks of the days a refresh may roll up (yesterday's stay until it may: it is never rolled up before).
const dirtyDays = async () =>
  (await raw("SELECT day::text FROM message_rollup_dirty WHERE day <= (now() AT TIME ZONE 'UTC')::date - 2 ORDER BY day")).map((row) => row.day as string);

test('reports are exact from the messages alone, from the rollup, and from a rollup that a late write made stale', async () => {
  assert.equal(await rolledDays(), 0);
  await assertReportsExact('nothing rolled up');

  // At most 20 days per call, newest first; then the rest. Yesterday and today are never rolled up.
  const { rows: span } = await pool.query(
    "SELECT ((now() AT TIME ZONE 'UTC')::date - 2) - (min(timestamp) AT TIME ZONE 'UTC')::date + 1 AS days FROM messages",
  );
  assert.equal(await refreshMessageRollups(pool, 20), 20);
  await assertReportsExact('20 days rolled up');
  assert.equal(await refreshMessageRollups(pool), span[0].days - 20);
  assert.deepEqual(await dirtyDays(), []);
  assert.equal(await refreshMessageRollups(pool), 0);
  const { rows } = await pool.query("SELECT max(day) AS last FROM message_rollup_days WHERE day >= (now() AT TIME ZONE 'UTC')::date - 1");
  assert.equal(rows[0].last, null, 'yesterday and today stay out of the rollup');
  await assertReportsExact('every complete day rolled up');

  // A late import into rolled-up days, a deleted message and a moved timestamp: each marks its day; the reports
  // read those days from the messages until the next refresh.
  await sql`INSERT INTO messages (conversation_id, role, content, timestamp, intent, confidence, latency_ms, metadata)
            VALUES (${conversation.id}, 'user', 'tarde', now() - interval '10 days', 'weather', 0.5, 4321, '{"source":"stt"}'),
                   (${conversation.id}, 'assistant', 'tarde', now() - interval '20 days', NULL, NULL, 1, '{"source":"late"}')`.execute(db);
  await sql`DELETE FROM messages WHERE id = (SELECT id FROM messages WHERE timestamp < now() - interval '25 days' AND timestamp > now() - interval '26 days' LIMIT 1)`.execute(
    db,
  );
  await sql`UPDATE messages SET timestamp = timestamp - interval '3 days' WHERE id = (SELECT id FROM messages WHERE timestamp < now() - interval '15 days' AND timestamp > now() - interval '16 days' LIMIT 1)`.execute(
    db,
  );
  // A bulk import of old history (the staging path, triggers off) marks its days too.
  const imported = new Date(Date.now() - 8 * 86_400_000);
  await importMessages(pool, Readable.from([`${conversation.id}\tuser\timportada\t${imported.toISOString()}\tmusic\t0.25\t777\t{"source":"stt"}\n`]));
  assert.ok((await dirtyDays()).includes(imported.toISOString().slice(0, 10)), `the import's day is marked: ${await dirtyDays()}`);
  assert.ok((await dirtyDays()).length >= 5, `marked: ${await dirtyDays()}`);
  await assertReportsExact('stale days marked');
  assert.ok((await refreshMessageRollups(pool))! >= 5);
  assert.deepEqual(await dirtyDays(), []);
  await assertReportsExact('stale days rolled up again');

  // An append (timestamped now) marks nothing.
  await sql`INSERT INTO messages (conversation_id, role, content) VALUES (${conversation.id}, 'user', 'agora')`.execute(db);
  assert.deepEqual(await dirtyDays(), []);
});

test('a refresh outside REPEATABLE READ is refused: its marks and its sums could be of different moments', async () => {
  await assert.rejects(pool.query('SELECT refresh_message_rollups()'), /REPEATABLE READ/);
});

test('a write to a day while a refresh rolls it up is not lost: the refresh gives way, the mark stays', async () => {
  await sql`INSERT INTO messages (conversation_id, role, content, timestamp) VALUES (${conversation.id}, 'user', 'antes', now() - interval '12 days')`.execute(
    db,
  );
  const refresher = await pool.connect();
  try {
    await refresher.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await refresher.query('SELECT count(*) FROM messages'); // the snapshot is taken here
    await sql`INSERT INTO messages (conversation_id, role, content, timestamp) VALUES (${conversation.id}, 'user', 'durante', now() - interval '12 days')`.execute(
      db,
    );
    await assert.rejects(refresher.query('SELECT refresh_message_rollups()'), (error: { code?: string }) => error.code === '40001');
    await refresher.query('ROLLBACK');
  } finally {
    refresher.release();
  }
  assert.equal((await dirtyDays()).length, 1);
  assert.equal(await refreshMessageRollups(pool), 1);
  await assertReportsExact('after the concurrent write');
});

test('as the runtime role, a message of an earlier day is written and deleted, and its day marked for the rollups', async () => {
  const runtime = new pg.Pool({ connectionString: runtimeUrlFor(name), max: 1 });
  try {
    const conversation = await startConversation(db);
    const day = (await runtime.query<{ day: string }>(`SELECT (now() AT TIME ZONE 'UTC' - interval '3 days')::date::text AS day`)).rows[0]!.day;
    const inserted = await runtime.query<{ id: string }>(
      `INSERT INTO messages (conversation_id, role, content, timestamp) VALUES ($1, 'user', 'de anteontem', $2::date + time '12:00') RETURNING id`,
      [conversation.id, day],
    );
    await runtime.query('DELETE FROM messages WHERE id = $1', [inserted.rows[0]!.id]);
    const { rows } = await runtime.query<{ day: string }>('SELECT day::text AS day FROM message_rollup_dirty WHERE day = $1', [day]);
    assert.deepEqual(rows, [{ day }]);
  } finally {
    await runtime.end();
  }
});
