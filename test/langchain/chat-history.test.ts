import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from '@langchain/core/messages';
import { startConversation } from '../../src/core/conversations.ts';
import { conversationHistory } from '../../src/core/messages.ts';
import { MordomoChatMessageHistory } from '../../src/langchain.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db } = await testDatabase('langchain');

test('LangChain messages go in and come back as the same classes, in order, visible to the rest of mordomo-db', async () => {
  const conversation = await startConversation(db, {});
  const history = new MordomoChatMessageHistory({ db, conversationId: conversation.id });
  await history.addMessages([new SystemMessage('Você é o Mordomo.'), new HumanMessage('Liga a luz da sala')]);
  await history.addMessage(new AIMessage({ content: 'Pronto.', additional_kwargs: { tool_hint: 'light.turn_on' } }));
  await history.addUserMessage('Obrigado');
  const messages = await history.getMessages();
  assert.deepEqual(
    messages.map((m) => [m.getType(), m.content]),
    [
      ['system', 'Você é o Mordomo.'],
      ['human', 'Liga a luz da sala'],
      ['ai', 'Pronto.'],
      ['human', 'Obrigado'],
    ],
  );
  assert.ok(messages[2] instanceof AIMessage);
  assert.deepEqual(messages[2]!.additional_kwargs, { tool_hint: 'light.turn_on' });
  const stored = await conversationHistory(db, conversation.id);
  assert.deepEqual(
    stored.map((m) => m.role),
    ['system', 'user', 'assistant', 'user'],
  );
  assert.equal((await db.selectFrom('conversations').select('message_count').where('id', '=', conversation.id).executeTakeFirstOrThrow()).message_count, 4);

  await history.clear();
  assert.deepEqual(await history.getMessages(), []);
  assert.equal((await db.selectFrom('conversations').select('message_count').where('id', '=', conversation.id).executeTakeFirstOrThrow()).message_count, 0);
});

test('what mordomo-db cannot keep is refused whole, with a clear error', async () => {
  const conversation = await startConversation(db, {});
  const history = new MordomoChatMessageHistory({ db, conversationId: conversation.id });
  await rejectsWith(
    () => history.addMessages([new HumanMessage('ok'), new ToolMessage({ content: 'x', tool_call_id: '1' })]),
    'invalid_input',
    /got a tool message/,
  );
  assert.deepEqual(await history.getMessages(), [], 'nothing half-written');
  await rejectsWith(() => history.addMessage(new HumanMessage('')), 'invalid_input', /content/);
  assert.throws(() => new MordomoChatMessageHistory({ db, conversationId: 'nope' }), /UUID/);
  const unknown = new MordomoChatMessageHistory({ db, conversationId: '3f0e2a9c-3a43-4d7e-9b7c-2d0c4a1e5b6f' });
  await rejectsWith(() => unknown.getMessages(), 'not_found');
});
