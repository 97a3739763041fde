// A migration that adds columns while the service runs. The service's statements are prepared per connection
// (src/db/pool.ts), and PostgreSQL refuses to run a prepared `SELECT *` whose result gained a column ("cached
// plan must not change result type"): before the columns were named (src/core/columns.ts) every read below answered
// 500 from its first connection after the change until the service restarted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { testService } from '../harness/service.ts';
import { createDomain } from '../ivr/fixtures.ts';

const api = await testService('schema-change', { MORDOMO_POOL_MAX: '2' });

async function ok(method: string, path: string, options: { body?: unknown; token?: string } = {}) {
  const response = await api.call(method, path, options);
  assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${response.text}`);
  return response.body;
}

test('after a migration adds a column to every table the service reads, the next requests succeed', async () => {
  const domain = await createDomain(api.database.db);
  const token = (await ok('POST', '/v1/admin/ivr/keys', { body: { domain_uuid: domain, name: 'ddl' } })).key;
  const user = await ok('POST', '/v1/users', { body: { name: 'Antes', email: 'antes@example.com' } });
  const conversation = await ok('POST', '/v1/conversations', { body: { user_id: user.id } });
  const secretary = await ok('POST', '/v1/ivr/secretaries', { token, body: { name: 'Recepção', extension: '8200' } });
  const call = await ok('POST', '/v1/ivr/calls', { token, body: { secretary_uuid: secretary.secretary_uuid } });
  const rule = await ok('POST', '/v1/ivr/transfer-rules', { token, body: { name: 'vendas', destination_type: 'extension', destination: '2000' } });
  const soon = new Date(Date.now() + 3_600_000).toISOString();

  // Every read and write of the service, each run several times so that each pooled connection prepares it.
  const traffic = async (round: number) => {
    for (let i = 0; i < 3; i++) {
      await ok('GET', `/v1/users/${user.id}`);
      await ok('GET', '/v1/users?limit=5');
      await ok('PATCH', `/v1/users/${user.id}`, { body: { name: `Nome ${round}.${i}` } });
      const [message] = (
        await ok('POST', `/v1/conversations/${conversation.id}/turns`, { body: { user: { content: `oi ${round}.${i}` }, assistant: { content: 'olá' } } })
      ).messages;
      await ok('GET', `/v1/conversations/${conversation.id}/messages?limit=5`);
      await ok('GET', `/v1/conversations/${conversation.id}`);
      await ok('GET', `/v1/users/${user.id}/history`);
      const action = await ok('POST', '/v1/actions', { body: { message_id: message.id, action_type: 'iot', action_name: 'luz', parameters: {} } });
      await ok('GET', `/v1/actions/${action.id}`);
      await ok('POST', `/v1/actions/${action.id}/transition`, { body: { status: 'executing' } });
      const reminder = await ok('POST', '/v1/reminders', { body: { user_id: user.id, title: 'lembrete', scheduled_at: soon } });
      await ok('GET', '/v1/reminders/upcoming');
      await ok('POST', `/v1/reminders/${reminder.id}/cancel`);
      await ok('GET', '/v1/config');
      await ok('GET', '/v1/logs?limit=5');
      await ok('GET', `/v1/ivr/secretaries/${secretary.secretary_uuid}`, { token });
      await ok('GET', '/v1/ivr/extensions/8200/secretary', { token });
      await ok('GET', '/v1/ivr/transfer-rules', { token });
      await ok('GET', `/v1/ivr/transfer-rules/${rule.rule_uuid}`, { token });
      await ok('POST', '/v1/ivr/transfer-rules/match', { token, body: {} });
      await ok('POST', `/v1/ivr/calls/${call.conversation_uuid}/messages`, { token, body: { messages: [{ role: 'user', content: `alô ${round}.${i}` }] } });
      await ok('GET', `/v1/ivr/calls/${call.conversation_uuid}`, { token });
      await ok('GET', `/v1/ivr/calls?since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`, { token });
    }
  };
  await traffic(1);
  await sql`
    ALTER TABLE users ADD COLUMN nickname text;
    ALTER TABLE conversations ADD COLUMN channel text;
    ALTER TABLE messages ADD COLUMN language text;
    ALTER TABLE actions ADD COLUMN retries integer;
    ALTER TABLE reminders ADD COLUMN priority integer;
    ALTER TABLE config ADD COLUMN scope text;
    ALTER TABLE system_logs ADD COLUMN host text;
    ALTER TABLE v_voice_secretaries ADD COLUMN voice text;
    ALTER TABLE v_voice_transfer_rules ADD COLUMN note text;
    ALTER TABLE v_voice_conversations ADD COLUMN channel text;
    ALTER TABLE v_voice_messages ADD COLUMN language text;
    ALTER TABLE v_voice_ai_providers ADD COLUMN region text;
    ALTER TABLE v_voice_documents ADD COLUMN lang text`.execute(api.database.db);
  await traffic(2);
  // And the rows read back as the document describes them: the new columns are not in a response until the code
  // asks for them (the harness checks each body against the document).
  assert.equal('nickname' in (await ok('GET', `/v1/users/${user.id}`)), false);
});
