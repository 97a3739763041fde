import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sqlstateOf } from '../../src/errors.ts';
import { CompiledQuery, sql } from 'kysely';
import pg from 'pg';
import { CALL_HISTORY_SQL } from '../../src/ivr/calls.ts';
import { createIvr } from '../../src/ivr/ivr.ts';
import { SECRETARY_BY_EXTENSION_SQL } from '../../src/ivr/secretaries.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';
import { createDomain, KEY } from './fixtures.ts';
import { seedStatement } from '../harness/seed-statements.ts';

const { db, url } = await testDatabase('ivr_secretaries');
const ivr = createIvr(db, { encryptionKey: KEY });

// The seed's text, verbatim: the library runs a variant of it (see SECRETARY_BY_EXTENSION_SQL), and the schema
// must answer the original the same way.
const SEED_SECRETARY_BY_EXTENSION_SQL = seedStatement('secretary_by_extension');

async function asAppRole<T>(domain: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('role', 'mordomo_ivr', true), set_config('app.domain_uuid', $1, true)`, [domain]);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } finally {
    await client.end();
  }
}

test('a secretary found by extension carries its providers’ names, through the API and the seed’s SQL verbatim', async () => {
  const domain = await createDomain(db);
  const tenant = ivr.forDomain(domain);
  const stt = await tenant.createProvider({ provider_type: 'stt', provider_name: 'whisper', config: {} });
  const llm = await tenant.createProvider({ provider_type: 'llm', provider_name: 'qwen', config: {} });
  const secretary = await tenant.createSecretary({
    name: 'Recepção',
    extension: '8000',
    greeting: 'Olá!',
    stt_provider_uuid: stt.provider_uuid,
    llm_provider_uuid: llm.provider_uuid,
  });
  assert.equal(secretary.processing_mode, 'turn_based');
  const found = await tenant.secretaryByExtension('8000');
  assert.equal(found.secretary_uuid, secretary.secretary_uuid);
  assert.deepEqual([found.stt_provider, found.tts_provider, found.llm_provider], ['whisper', null, 'qwen']);
  assert.equal('stt_provider_type' in found, false);
  const seed = await asAppRole(domain, (client) => client.query(SEED_SECRETARY_BY_EXTENSION_SQL, [domain, '8000']));
  const library = await asAppRole(domain, (client) => client.query(SECRETARY_BY_EXTENSION_SQL, ['8000']));
  assert.deepEqual([seed.rows[0].name, seed.rows[0].stt_provider, seed.rows[0].llm_provider], ['Recepção', 'whisper', 'qwen']);
  // The same rows, but for the columns that only pin the composite foreign keys, which the library does not select.
  const secretaryColumns = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).filter(([column]) => !column.endsWith('_provider_type')));
  assert.deepEqual(library.rows, seed.rows.map(secretaryColumns));
  // Its explicit filter holds without row-level security too: the owner, whom RLS does not restrict here, finds
  // nothing without a domain set, and only that domain's secretary with one.
  const asOwner = (setting: string) =>
    db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.domain_uuid', ${setting}, true)`.execute(trx);
      return (await trx.executeQuery<{ secretary_uuid: string }>(CompiledQuery.raw(SECRETARY_BY_EXTENSION_SQL, ['8000']))).rows;
    });
  const elsewhere = await ivr.forDomain(await createDomain(db)).createSecretary({ name: 'Outra', extension: '8000' });
  assert.deepEqual(await asOwner(''), []);
  assert.deepEqual(
    (await asOwner(domain)).map((row) => row.secretary_uuid),
    [secretary.secretary_uuid],
  );
  assert.deepEqual(
    (await asOwner(elsewhere.domain_uuid)).map((row) => row.secretary_uuid),
    [elsewhere.secretary_uuid],
  );
  await rejectsWith(() => tenant.secretaryByExtension('8001'), 'not_found', /no secretary on extension 8001/);
});

test('the database refuses a provider of the wrong type or of another domain, and a duplicate extension', async () => {
  const domain = await createDomain(db);
  const other = await createDomain(db);
  const tenant = ivr.forDomain(domain);
  const tts = await tenant.createProvider({ provider_type: 'tts', provider_name: 'piper', config: {} });
  const foreignStt = await ivr.forDomain(other).createProvider({ provider_type: 'stt', provider_name: 'whisper', config: {} });
  await rejectsWith(
    () => tenant.createSecretary({ name: 'A', stt_provider_uuid: tts.provider_uuid }),
    'foreign_key',
    /STT provider must be an stt provider of the same domain/,
  );
  await rejectsWith(
    () => tenant.createSecretary({ name: 'B', stt_provider_uuid: foreignStt.provider_uuid }),
    'foreign_key',
    /STT provider must be an stt provider of the same domain/,
  );
  // Even the owner, bypassing the library and row-level security, cannot link across domains.
  await assert.rejects(
    sql`INSERT INTO v_voice_secretaries (domain_uuid, name, stt_provider_uuid) VALUES (${domain}, 'raw', ${foreignStt.provider_uuid})`.execute(db),
    (e) => sqlstateOf(e) === '23503',
  );
  await tenant.createSecretary({ name: 'C', extension: '100' });
  await rejectsWith(() => tenant.createSecretary({ name: 'D', extension: '100' }), 'conflict', /already has a secretary on this extension/);
  await ivr.forDomain(other).createSecretary({ name: 'Same extension elsewhere', extension: '100' });
  await rejectsWith(() => tenant.createSecretary({ name: 'E', extension: '12a' }), 'invalid_input', /extension/);
  await rejectsWith(() => tenant.createSecretary({ name: 'F', processing_mode: 'batch' as never }), 'invalid_input', /processing_mode/);
  const withTts = await tenant.createSecretary({ name: 'G', tts_provider_uuid: tts.provider_uuid });
  await tenant.deleteProvider(tts.provider_uuid);
  assert.equal((await tenant.getSecretary(withTts.secretary_uuid)).tts_provider_uuid, null, 'a deleted provider leaves the reference empty');
});

test('a call is started, transcribed in order, ended, and listed by the seed’s history query with its message count', async () => {
  const domain = await createDomain(db);
  const tenant = ivr.forDomain(domain);
  const secretary = await tenant.createSecretary({ name: 'Atendente', extension: '9000' });
  const call = await tenant.startCall({ secretary_uuid: secretary.secretary_uuid, caller_id: '+5511999990000', call_uuid: 'fs-call-1' });
  const lines = await tenant.appendCallMessages(call.conversation_uuid, [
    { role: 'assistant', content: 'Olá, em que posso ajudar?' },
    { role: 'user', content: 'Quero falar com o financeiro', intent: 'transfer_finance', confidence: 0.91, latency_ms: 420 },
  ]);
  assert.deepEqual(
    lines.map((l) => l.role),
    ['assistant', 'user'],
  );
  assert.ok(lines.every((l) => l.domain_uuid === domain));
  const ended = await tenant.endCall(call.conversation_uuid, { resolution: 'transferred', transferred_to: '2001' });
  assert.ok(ended.ended_at instanceof Date);
  await rejectsWith(() => tenant.endCall(call.conversation_uuid), 'conflict', /already ended/);
  await rejectsWith(() => tenant.appendCallMessages(call.conversation_uuid, [{ role: 'user', content: 'oi' }]), 'conflict', /has ended/);
  await rejectsWith(() => tenant.startCall({ call_uuid: 'fs-call-1' }), 'conflict', /call with this call_uuid already exists/);
  const history = await tenant.callHistory(new Date(Date.now() - 3_600_000));
  assert.deepEqual(
    history.map((h) => [h.caller_id, h.secretary_name, h.message_count, h.resolution]),
    [['+5511999990000', 'Atendente', 2, 'transferred']],
  );
  const { rows } = await asAppRole(domain, (client) => client.query(CALL_HISTORY_SQL, [domain, new Date(Date.now() - 3_600_000)]));
  assert.deepEqual(
    rows.map((r) => [r.caller_id, Number(r.message_count)]),
    [['+5511999990000', 2]],
  );
  const read = await tenant.getCall(call.conversation_uuid);
  assert.deepEqual(
    read.messages.map((m) => m.content),
    ['Olá, em que posso ajudar?', 'Quero falar com o financeiro'],
  );
  await rejectsWith(() => tenant.appendCallMessages(call.conversation_uuid, [{ role: 'robot' as never, content: 'x' }]), 'invalid_input', /role/);
  await rejectsWith(() => tenant.callHistory('yesterday'), 'invalid_input', /since/);
});

test('documents are searched in Portuguese, accent-blind, ranked, with highlighted snippets', async () => {
  const tenant = ivr.forDomain(await createDomain(db));
  await tenant.createDocument({ title: 'Horário de atendimento', content: 'Atendemos de segunda a sexta, das 8h às 18h. Aos sábados não há expediente.' });
  await tenant.createDocument({ title: 'Boletos', content: 'A segunda via do boleto é emitida pelo portal do cliente, na seção financeira.' });
  await tenant.createDocument({ title: 'Antigo', content: 'Informação sobre boleto antiga', is_enabled: false });
  const hits = await tenant.searchDocuments('horario de atendimento');
  assert.deepEqual(
    hits.map((h) => h.title),
    ['Horário de atendimento'],
  );
  assert.match(hits[0]!.snippet, /«Atendemos»/);
  assert.deepEqual(
    (await tenant.searchDocuments('boletos')).map((h) => h.title),
    ['Boletos'],
  );
  assert.deepEqual(
    (await tenant.searchDocuments('"segunda via" -sábados')).map((h) => h.title),
    ['Boletos'],
  );
  assert.deepEqual(await tenant.searchDocuments('de a o'), [], 'only stop words: no results, no error');
  assert.deepEqual(await tenant.searchDocuments("'; DROP TABLE v_voice_documents; --"), []);
  await rejectsWith(() => tenant.searchDocuments(''), 'invalid_input', /search query/);
});

test('transfer rules apply by intent or keyword, inside their weekday and time window in their time zone, lowest priority first', async () => {
  const domain = await createDomain(db);
  const tenant = ivr.forDomain(domain);
  const secretary = await tenant.createSecretary({ name: 'S', extension: '7000' });
  await tenant.createTransferRule({
    name: 'Financeiro em horário comercial',
    match_intents: ['transfer_finance'],
    match_keywords: ['boleto', 'cobrança'],
    destination_type: 'extension',
    destination: '2001',
    weekdays: [1, 2, 3, 4, 5],
    time_start: '08:00',
    time_end: '18:00',
    priority: 10,
  });
  await tenant.createTransferRule({
    name: 'Plantão noturno',
    destination_type: 'number',
    destination: '+5511988887777',
    time_start: '22:00',
    time_end: '06:00',
    priority: 50,
  });
  await tenant.createTransferRule({ name: 'Recado', destination_type: 'voicemail', destination: '7000', priority: 1000 });
  await tenant.createTransferRule({
    name: 'Da secretária',
    secretary_uuid: secretary.secretary_uuid,
    match_intents: ['transfer_finance'],
    destination_type: 'extension',
    destination: '2002',
    priority: 10,
    weekdays: [6],
  });

  const mondayNoon = '2026-11-23T12:00:00-03:00'; // a Monday in São Paulo
  const find = (q: Parameters<typeof tenant.findTransferRule>[0]) => tenant.findTransferRule(q).then((r) => r?.name);
  assert.equal(await find({ intent: 'transfer_finance', at: mondayNoon }), 'Financeiro em horário comercial');
  assert.equal(await find({ utterance: 'Preciso da segunda via do BOLETO', at: mondayNoon }), 'Financeiro em horário comercial');
  assert.equal(await find({ utterance: 'dúvida de cobranca', at: mondayNoon }), 'Financeiro em horário comercial', 'accent-blind keywords');
  assert.equal(await find({ intent: 'transfer_finance', at: '2026-11-23T19:00:00-03:00' }), 'Recado', 'outside the window');
  assert.equal(await find({ intent: 'other', at: '2026-11-24T02:30:00-03:00' }), 'Plantão noturno', 'window across midnight');
  assert.equal(await find({ intent: 'other', at: '2026-11-23T23:30:00-03:00' }), 'Plantão noturno');
  assert.equal(
    await find({ intent: 'transfer_finance', at: '2026-11-28T12:00:00-03:00', secretary_uuid: secretary.secretary_uuid }),
    'Da secretária',
    'Saturday, secretary rule',
  );
  assert.equal(await find({ intent: 'transfer_finance', at: '2026-11-28T12:00:00-03:00' }), 'Recado', 'other secretaries do not get it');
  await rejectsWith(() => tenant.createTransferRule({ name: 'x', destination_type: 'extension', destination: 'abc' }), 'invalid_input', /destination/);
  await rejectsWith(
    () => tenant.createTransferRule({ name: 'x', destination_type: 'extension', destination: '1', time_start: '08:00' }),
    'invalid_input',
    /time_end/,
  );
  await rejectsWith(
    () => tenant.createTransferRule({ name: 'x', destination_type: 'extension', destination: '1', timezone: 'Mars/Olympus' }),
    'invalid_input',
    /timezone/,
  );
  await rejectsWith(
    () => tenant.createTransferRule({ name: 'x', destination_type: 'extension', destination: '1', weekdays: [0] }),
    'invalid_input',
    /weekdays/,
  );
});
