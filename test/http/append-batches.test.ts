import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testService } from '../harness/service.ts';

const api = await testService('append_batches_http');

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

test('concurrent POST …/turns share statements, and /metrics shows the turns per statement and the fallbacks', async () => {
  const conversations = await Promise.all(Array.from({ length: 16 }, () => api.call('POST', '/v1/conversations', { body: {} })));
  const turns = await Promise.all(
    conversations.map((c, i) =>
      api.call('POST', `/v1/conversations/${c.body.id}/turns`, {
        // One turn the server refuses (a lone surrogate, valid JSON and a valid string, not valid jsonb).
        body: { user: { content: i === 5 ? 'partido \ud800' : `pergunta ${i}` }, assistant: { content: 'ok' } },
      }),
    ),
  );
  assert.deepEqual(
    turns.map((r) => r.status),
    conversations.map((_, i) => (i === 5 ? 400 : 201)),
  );
  const { text } = await api.call('GET', '/metrics');
  const statements = metric(text, 'mordomo_append_batch_turns_count');
  assert.equal(metric(text, 'mordomo_append_batch_turns_sum'), 16, 'every turn was counted once');
  assert.ok(statements < 16, `coalesced: ${statements} statements for 16 turns`);
  assert.ok(metric(text, 'mordomo_append_batch_turns_bucket\\{le="1"\\}') >= 1, 'the first went out alone');
  // The refused turn was not the first, which went out alone: it was in a batch, which fell back.
  assert.ok(metric(text, 'mordomo_append_batch_fallbacks_total') >= 1);
});
