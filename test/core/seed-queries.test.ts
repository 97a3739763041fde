// The seed's "Useful Queries" and monitoring queries must run unchanged against the migrated schema.
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { recordAction } from '../../src/core/actions.ts';
import { appendTurn, startConversation } from '../../src/core/conversations.ts';
import { createUser } from '../../src/core/users.ts';
import pg from 'pg';
import { runtimeUrlFor, testDatabase } from '../harness/database.ts';
import { seedStatement } from '../harness/seed-statements.ts';
import { sharedBuffersFor } from '../../src/db/server-settings.ts';

const { db, pool: ownerPool, name } = await testDatabase('seed_queries');
// The same statements as the runtime role (the service's login, which owns nothing): a Brain or dashboard that
// logs in as it must get the same answers.
const runtimePool = new pg.Pool({ connectionString: runtimeUrlFor(name), max: 2 });
after(() => runtimePool.end());
const LOGINS = { owner: ownerPool, runtime: runtimePool };

const MOST_ACTIVE_USERS = seedStatement('most_active_users');

const COMMON_INTENTS = seedStatement('common_intents');

const LATENCY_BY_CONTAINER = seedStatement('latency_by_container');

const SLOWEST = seedStatement('slowest_statements');

const LARGEST_TABLES = seedStatement('largest_tables');

const UNUSED_INDEXES = seedStatement('unused_indexes');

// The seed's query reads tablename/indexname, which pg_stat_user_indexes does not have (README's differences from
// the seed, 12): the corrected form names its columns relname and indexrelname.
const UNUSED_INDEXES_CORRECTED = UNUSED_INDEXES.replace('    tablename,\n    indexname,', '    relname AS tablename,\n    indexrelname AS indexname,');

const TERMINATE = seedStatement('terminate_backend');

const RUNNING = seedStatement('running_queries');

test('the seed data set answers the three useful queries as computed by hand', async () => {
  const ana = await createUser(db, { name: 'Ana' });
  const rui = await createUser(db, { name: 'Rui' });
  const a1 = await startConversation(db, { user_id: ana.id });
  await appendTurn(
    db,
    a1.id,
    { content: 'Liga a luz', intent: 'iot_control', confidence: 0.9, latency_ms: 100, metadata: { source: 'stt' } },
    { content: 'Ligada', latency_ms: 300, metadata: { source: 'brain' } },
  );
  const [userMessage] = await appendTurn(
    db,
    a1.id,
    { content: 'Desliga a luz', intent: 'iot_control', confidence: 0.7, latency_ms: 200, metadata: { source: 'stt' } },
    { content: 'Desligada', latency_ms: 500, metadata: { source: 'brain' } },
  );
  const r1 = await startConversation(db, { user_id: rui.id });
  await appendTurn(db, r1.id, { content: 'Que horas são?', intent: 'query', confidence: 0.8 }, { content: 'Dez horas.' });
  await recordAction(db, { message_id: userMessage!.id, action_type: 'iot_control', action_name: 'turn_off', parameters: {} });

  for (const [login, pool] of Object.entries(LOGINS)) {
    const active = await pool.query(MOST_ACTIVE_USERS);
    assert.deepEqual(
      active.rows.map((r) => [r.name, Number(r.conversations), Number(r.messages)]),
      [
        ['Ana', 1, 4],
        ['Rui', 1, 2],
      ],
      login,
    );
    const intents = await pool.query(COMMON_INTENTS);
    assert.deepEqual(
      intents.rows.map((r) => [r.intent, Number(r.count), Number(r.avg_confidence).toFixed(2)]),
      [
        ['iot_control', 2, '0.80'],
        ['query', 1, '0.80'],
      ],
      login,
    );
    const latency = await pool.query(LATENCY_BY_CONTAINER);
    assert.deepEqual(
      latency.rows.map((r) => [r.container, Number(r.avg_latency), r.max_latency]),
      [
        ['brain', 400, 500],
        ['stt', 150, 200],
      ],
      login,
    );
  }
});

for (const [login, pool] of Object.entries(LOGINS)) {
  test(`as the ${login}: the seed monitoring queries run unchanged (slowest statements, largest tables, unused indexes, running queries)`, async () => {
    const slowest = await pool.query(SLOWEST);
    assert.ok(slowest.rows.length > 0);
    const tables = await pool.query(LARGEST_TABLES);
    const names = tables.rows.map((r) => r.tablename);
    for (const table of ['users', 'conversations', 'messages', 'actions', 'reminders', 'config', 'system_logs_default'])
      assert.ok(names.includes(table), table);
    await assert.rejects(pool.query(UNUSED_INDEXES), (error: pg.DatabaseError) => error.code === '42703' && /"tablename" does not exist/.test(error.message));
    const unused = await pool.query(UNUSED_INDEXES_CORRECTED);
    assert.ok(unused.rows.every((r) => r.idx_scan === '0' || r.idx_scan === 0));
    assert.ok(
      unused.rows.some((r) => String(r.indexname).startsWith('v_voice_') || String(r.tablename).startsWith('v_voice_')),
      'the IVR tables are unused here',
    );
    // The seed's "Bloquear query" on a pid that is no backend: false, with PostgreSQL's warning, for either login.
    assert.deepEqual((await pool.query(TERMINATE)).rows, []);
    const running = await pool.query(RUNNING);
    assert.ok(running.rows.some((r) => r.query.includes('pg_stat_activity')));
  });
}

test('the schema has the seed tables, timestamps with time zone, and every seed index', async () => {
  const { rows: columns } = await sql<{ table_name: string; column_name: string; data_type: string }>`
    SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = 'public' AND column_name IN ('created_at', 'updated_at', 'timestamp', 'started_at', 'ended_at', 'scheduled_at', 'triggered_at', 'executed_at', 'last_interaction_at')
       AND table_name IN ('users', 'conversations', 'messages', 'actions', 'reminders', 'system_logs', 'config')`.execute(db);
  assert.equal(columns.length, 13);
  assert.ok(
    columns.every((c) => c.data_type === 'timestamp with time zone'),
    JSON.stringify(columns.filter((c) => c.data_type !== 'timestamp with time zone')),
  );
  const { rows: indexes } = await sql<{ indexname: string }>`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`.execute(db);
  const seedIndexes = [
    'idx_users_email',
    'idx_users_voice',
    'idx_users_metadata',
    'idx_conversations_user',
    'idx_conversations_started',
    'idx_conversations_metadata',
    'idx_messages_conversation',
    'idx_messages_role',
    'idx_messages_intent',
    'idx_messages_timestamp',
    'idx_actions_conversation',
    'idx_actions_type',
    'idx_actions_status',
    'idx_reminders_user',
    'idx_reminders_scheduled',
    'idx_reminders_status',
    'idx_logs_timestamp',
    'idx_logs_level',
    'idx_logs_source',
  ];
  const present = new Set(indexes.map((i) => i.indexname));
  assert.deepEqual(
    seedIndexes.filter((name) => !present.has(name)),
    [],
  );
  const { rows: extensions } = await sql<{ extname: string }>`SELECT extname FROM pg_extension ORDER BY 1`.execute(db);
  assert.deepEqual(
    extensions.map((e) => e.extname),
    ['pg_stat_statements', 'pg_trgm', 'pgcrypto', 'plpgsql', 'unaccent', 'uuid-ossp'],
  );
});

test('the server runs with the settings of deploy/postgresql.conf', async () => {
  const { rows } = await ownerPool.query(`SELECT name, setting, unit FROM pg_settings WHERE name IN
    ('max_connections', 'shared_buffers', 'work_mem', 'wal_level', 'log_min_duration_statement', 'autovacuum',
     'default_text_search_config', 'shared_preload_libraries', 'log_statement', 'log_parameter_max_length',
     'log_error_verbosity', 'log_filename', 'log_truncate_on_rotation') ORDER BY name`);
  assert.deepEqual(Object.fromEntries(rows.map((r) => [r.name, r.setting])), {
    autovacuum: 'on',
    default_text_search_config: 'pg_catalog.portuguese',
    log_error_verbosity: 'terse',
    log_filename: 'postgresql-%a.log',
    log_min_duration_statement: '1000',
    log_parameter_max_length: '0',
    // The seed's 'mod' logged every INSERT with its values (docs/differences-from-the-seed.md, difference 27).
    log_statement: 'ddl',
    log_truncate_on_rotation: 'on',
    max_connections: '100',
    // The embedded server's own: a quarter of this machine's memory (docs/differences-from-the-seed.md, difference 34), in 8 kB pages.
    shared_buffers: String(Number.parseInt(sharedBuffersFor(os.totalmem()), 10) * 128),
    shared_preload_libraries: 'pg_stat_statements',
    wal_level: 'replica',
    work_mem: '4096',
  });
});
