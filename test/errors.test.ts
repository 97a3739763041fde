// Every named constraint of the schema, broken once: the typed error says the rule that was broken (not the
// constraint's name), keeps PostgreSQL's fields and the driver's error as its cause.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { CORE_CONSTRAINTS } from '../src/core/constraints.ts';
import { errorLogFields, mapDatabaseError } from '../src/errors.ts';
import { IVR_CONSTRAINTS } from '../src/ivr/constraints.ts';

const CONSTRAINT_MESSAGES: Record<string, string> = { ...CORE_CONSTRAINTS, ...IVR_CONSTRAINTS };
import { testDatabase, urlFor } from './harness/database.ts';

const { pool } = await testDatabase('errors');
const [d1, d2] = [randomUUID(), randomUUID()];
const [s1, c1] = [randomUUID(), randomUUID()];
const foreign: Record<string, string> = {};

// Fixtures as the owner (row-level security does not stop a superuser): two domains, d2 with a provider of each type.
await pool.query(`INSERT INTO v_domains (domain_uuid, domain_name) VALUES ($1, $3), ($2, $4)`, [d1, d2, `${d1}.test`, `${d2}.test`]);
for (const type of ['stt', 'tts', 'llm', 'realtime']) {
  foreign[type] = (
    await pool.query(
      `INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, is_enabled) VALUES ($1, $2, 'p', false) RETURNING provider_uuid`,
      [d2, type],
    )
  ).rows[0].provider_uuid;
}
await pool.query(`INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, is_enabled) VALUES ($1, 'stt', 'stt', false)`, [d1]);
await pool.query(
  `INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, is_enabled, is_default) VALUES ($1, 'tts', 'first', false, true)`,
  [d1],
);
await pool.query(`INSERT INTO v_voice_secretaries (secretary_uuid, domain_uuid, name, extension) VALUES ($1, $2, 'S', '100')`, [s1, d1]);
await pool.query(`INSERT INTO v_voice_conversations (conversation_uuid, domain_uuid, call_uuid) VALUES ($1, $2, 'c1')`, [c1, d1]);
await pool.query(`INSERT INTO users (name, email) VALUES ('Ana', 'ana@example.com')`);

const BREAKS: Record<string, [string, unknown[]]> = {
  idx_users_email: [`INSERT INTO users (name, email) VALUES ('Outra', 'ana@example.com')`, []],
  conversations_ended_after_start: [`INSERT INTO conversations (started_at, ended_at) VALUES (now(), now() - interval '1 hour')`, []],
  v_voice_ai_providers_name_unique: [
    `INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, is_enabled) VALUES ($1, 'stt', 'stt', false)`,
    [d1],
  ],
  v_voice_ai_providers_enabled_needs_config: [
    `INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, is_enabled) VALUES ($1, 'llm', 'on', true)`,
    [d1],
  ],
  idx_providers_one_default: [
    `INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, is_enabled, is_default) VALUES ($1, 'tts', 'second', false, true)`,
    [d1],
  ],
  v_voice_secretaries_extension_unique: [`INSERT INTO v_voice_secretaries (domain_uuid, name, extension) VALUES ($1, 'T', '100')`, [d1]],
  v_voice_secretaries_stt_fk: [`INSERT INTO v_voice_secretaries (domain_uuid, name, stt_provider_uuid) VALUES ($1, 'x', $2)`, [d1, foreign.stt]],
  v_voice_secretaries_tts_fk: [`INSERT INTO v_voice_secretaries (domain_uuid, name, tts_provider_uuid) VALUES ($1, 'x', $2)`, [d1, foreign.tts]],
  v_voice_secretaries_llm_fk: [`INSERT INTO v_voice_secretaries (domain_uuid, name, llm_provider_uuid) VALUES ($1, 'x', $2)`, [d1, foreign.llm]],
  v_voice_secretaries_realtime_fk: [`INSERT INTO v_voice_secretaries (domain_uuid, name, realtime_provider_uuid) VALUES ($1, 'x', $2)`, [d1, foreign.realtime]],
  v_voice_conversations_call_unique: [`INSERT INTO v_voice_conversations (domain_uuid, call_uuid) VALUES ($1, 'c1')`, [d1]],
  v_voice_conversations_secretary_fk: [`INSERT INTO v_voice_conversations (domain_uuid, secretary_uuid) VALUES ($1, $2)`, [d2, s1]],
  v_voice_conversations_ended_after_start: [
    `INSERT INTO v_voice_conversations (domain_uuid, started_at, ended_at) VALUES ($1, now(), now() - interval '1 hour')`,
    [d1],
  ],
  v_voice_messages_conversation_fk: [`INSERT INTO v_voice_messages (domain_uuid, conversation_uuid, role, content) VALUES ($1, $2, 'user', 'oi')`, [d2, c1]],
  v_voice_documents_secretary_fk: [`INSERT INTO v_voice_documents (domain_uuid, secretary_uuid, title, content) VALUES ($1, $2, 't', 'c')`, [d2, s1]],
  v_voice_transfer_rules_secretary_fk: [
    `INSERT INTO v_voice_transfer_rules (domain_uuid, secretary_uuid, name, destination_type, destination) VALUES ($1, $2, 'r', 'extension', '200')`,
    [d2, s1],
  ],
  v_voice_transfer_rules_window: [
    `INSERT INTO v_voice_transfer_rules (domain_uuid, name, destination_type, destination, time_start) VALUES ($1, 'r', 'extension', '200', '08:00')`,
    [d1],
  ],
};

test('every named constraint has a message, and a test here that breaks it', () => {
  assert.deepEqual(Object.keys(BREAKS).sort(), Object.keys(CONSTRAINT_MESSAGES).sort());
});

for (const [constraint, [statement, values]] of Object.entries(BREAKS)) {
  test(`breaking ${constraint} says what is wrong`, async () => {
    const error = await pool.query(statement, values).then(
      () => assert.fail(`${constraint} was not broken`),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof pg.DatabaseError);
    const mapped = mapDatabaseError(error);
    assert.equal(mapped.message, CONSTRAINT_MESSAGES[constraint]);
    assert.doesNotMatch(mapped.message, /_fk|_unique|idx_/, 'the message is the rule, not the name');
    assert.equal(mapped.database?.constraint, constraint);
    assert.equal(mapped.database?.sqlstate, (error as pg.DatabaseError).code);
    assert.equal(mapped.cause, error);
  });
}

test('class 53 is the database out of a resource: a 503 unavailable, and a full disk says what to free', async () => {
  // A real 53300: a role whose connection limit is spent.
  const role = `limited_${randomUUID().slice(0, 8)}`;
  await pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'limited-pw' CONNECTION LIMIT 0`);
  const url = new URL(urlFor('postgres'));
  url.username = role;
  url.password = 'limited-pw';
  const client = new pg.Client({ connectionString: url.toString() });
  const refused = await client.connect().then(
    () => undefined,
    (error: unknown) => error,
  );
  await client.end().catch(() => undefined);
  await pool.query(`DROP ROLE ${role}`);
  assert.equal((refused as { code?: string }).code, '53300');
  const mapped = mapDatabaseError(refused);
  assert.equal(mapped.code, 'unavailable');
  assert.match(mapped.message, /out of a resource/);
  // 53100 is what PostgreSQL raises when it cannot extend a file (the full-disk test makes one for real).
  const full = mapDatabaseError(Object.assign(new Error('could not extend file "base/1/2": No space left on device'), { code: '53100' }));
  assert.equal(full.code, 'unavailable');
  assert.equal(full.database?.sqlstate, '53100');
  assert.match(full.message, /disk is full: free space/);
});

test('a write that reaches a read-only server (a leader being demoted in a failover) is unavailable, to retry, not internal', async () => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN TRANSACTION READ ONLY');
    const error = await client.query(`INSERT INTO users (name, email) VALUES ('Bia', 'bia@example.com')`).catch((failure: unknown) => failure);
    await client.query('ROLLBACK');
    const mapped = mapDatabaseError(error);
    assert.equal(mapped.code, 'unavailable');
    assert.match(mapped.message, /read-only now.*retry/);
  } finally {
    client.release();
  }
});

test("a background job's failure while the database is away is logged as its reason in a line, anything else with its stack", () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const away = errorLogFields(refused);
  assert.ok(!('err' in away), 'no error object, so no stack nor chain of causes');
  assert.match((away as { cause: string }).cause, /ECONNREFUSED/);
  assert.ok(JSON.stringify(away).length < 300, JSON.stringify(away));
  const bug = new TypeError('cannot read properties of undefined');
  assert.deepEqual(errorLogFields(bug), { err: bug });
});
