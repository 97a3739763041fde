// A whole session of the assistant and of an IVR domain, written against a client generated from the live
// /openapi.json (openapi-typescript types + openapi-fetch): no request or response type below is written by hand.
// docs/http-api.md shows the same scenario in Python (examples/python/scenario.py). test/http/generated-client.test.ts
// generates the types, type-checks this file against them, then runs it against a live service.
import createClient from 'openapi-fetch';
import type { components, paths } from './generated/openapi.ts';

type ApiError = components['schemas']['Error'];

/** The data of an answer, or an Error naming the operation, its status and the server's error code. */
function must<T>(what: string, result: { data?: T; error?: ApiError | undefined; response: Response }): T {
  if (result.data === undefined || result.error) {
    throw new Error(`${what}: ${result.response.status} ${result.error?.error.code ?? ''} ${result.error?.error.message ?? ''}`);
  }
  return result.data;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`scenario: ${what}`);
}

export interface ScenarioResult {
  turns: number;
  historyPages: number;
  found: number;
  actionStatus: string;
  reminderStatus: string;
  missingUserCode: ApiError['error']['code'];
  transferredTo: string | null;
  documentHits: number;
  callMessages: number;
}

export async function runScenario(baseUrl: string, adminToken: string, domainUuid: string): Promise<ScenarioResult> {
  const admin = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${adminToken}` } });

  // The assistant: a user, a conversation, three turns, the history back in pages.
  const user = must('createUser', await admin.POST('/v1/users', { body: { name: 'Ana', email: `ana-${Date.now()}@example.com` } }));
  const conversation = must('startConversation', await admin.POST('/v1/conversations', { body: { user_id: user.id } }));
  const utterances = ['Liga a luz da cozinha', 'Qual a previsão do tempo?', 'Me lembra de comprar pão amanhã'];
  let lastUserMessage = '';
  for (const [i, content] of utterances.entries()) {
    const turn = must(
      'appendTurn',
      await admin.POST('/v1/conversations/{id}/turns', {
        params: { path: { id: conversation.id }, header: { 'idempotency-key': `${conversation.id}-${i}` } },
        body: { user: { content, intent: i === 0 ? 'iot_control' : 'chat' }, assistant: { content: `Feito: ${content}`, latency_ms: 420 } },
      }),
    );
    lastUserMessage = turn.messages[0]!.id;
  }
  let historyPages = 0;
  let seen = 0;
  let cursor: string | undefined;
  do {
    const page = must(
      'getUserHistory',
      await admin.GET('/v1/users/{id}/history', { params: { path: { id: user.id }, query: { limit: 4, ...(cursor ? { cursor } : {}) } } }),
    );
    historyPages += 1;
    seen += page.items.length;
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  check(seen === 6, `history has ${seen} messages, not 6`);
  const latest = must('listMessages', await admin.GET('/v1/conversations/{id}/messages', { params: { path: { id: conversation.id }, query: { limit: 2 } } }));
  check(latest.items.length === 2 && latest.next_cursor !== null, 'the last two messages, and a cursor to older ones');

  const found = must('searchMessages', await admin.GET('/v1/search', { params: { query: { q: 'luz cozinha', user_id: user.id } } }));
  check(found.items.length > 0, 'search finds the turn about the kitchen light');

  // An action through its lifecycle, a reminder, a setting.
  const action = must(
    'recordAction',
    await admin.POST('/v1/actions', {
      body: { message_id: lastUserMessage, action_type: 'reminder', action_name: 'criar_lembrete', parameters: { what: 'pão' } },
    }),
  );
  must('transitionAction', await admin.POST('/v1/actions/{id}/transition', { params: { path: { id: action.id } }, body: { status: 'executing' } }));
  const done = must(
    'transitionAction',
    await admin.POST('/v1/actions/{id}/transition', { params: { path: { id: action.id } }, body: { status: 'success', result: { ok: true } } }),
  );
  const reminder = must(
    'createReminder',
    await admin.POST('/v1/reminders', { body: { user_id: user.id, title: 'Comprar pão', scheduled_at: new Date(Date.now() + 86_400_000).toISOString() } }),
  );
  const upcoming = must('listUpcomingReminders', await admin.GET('/v1/reminders/upcoming', { params: { query: { user_id: user.id } } }));
  check(
    upcoming.items.some((item) => item.id === reminder.id),
    'the reminder is upcoming',
  );
  must('setConfig', await admin.PUT('/v1/config/{key}', { params: { path: { key: 'brain.temperature' } }, body: { value: 0.4, updated_by: 'scenario' } }));
  const setting = must('getConfig', await admin.GET('/v1/config/{key}', { params: { path: { key: 'brain.temperature' } } }));
  check(setting.value === 0.4, 'the setting reads back');

  // A typed error: the code is one of the enum's values.
  const missing = await admin.GET('/v1/users/{id}', { params: { path: { id: '11111111-1111-1111-1111-111111111111' } } });
  check(missing.response.status === 404 && missing.error !== undefined, 'an unknown user is a 404');

  // The IVR: a key for the domain, then everything with that key alone.
  const key = must('createIvrKey', await admin.POST('/v1/admin/ivr/keys', { body: { domain_uuid: domainUuid, name: 'scenario' } }));
  const ivr = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${key.key}` } });
  const llm = must(
    'createProvider',
    await ivr.POST('/v1/ivr/providers', {
      body: { provider_type: 'llm', provider_name: 'openai', config: { api_key: 'sk-scenario', model: 'gpt-4o-mini' }, is_default: true },
    }),
  );
  check(llm.configured && !('config' in llm), 'a provider answers that it is configured, never its config');
  const secretary = must(
    'createSecretary',
    await ivr.POST('/v1/ivr/secretaries', { body: { name: 'Recepção', extension: '8000', greeting: 'Olá!', llm_provider_uuid: llm.provider_uuid } }),
  );
  const answering = must('getSecretaryByExtension', await ivr.GET('/v1/ivr/extensions/{extension}/secretary', { params: { path: { extension: '8000' } } }));
  check(answering.secretary_uuid === secretary.secretary_uuid && answering.llm_provider === 'openai', 'the extension finds its secretary');
  const engine = must('getDefaultProvider', await ivr.GET('/v1/ivr/providers/default/{type}', { params: { path: { type: 'llm' } } }));
  check(JSON.stringify(engine.config).includes('sk-scenario'), 'the engine reads the decrypted config');
  must('createDocument', await ivr.POST('/v1/ivr/documents', { body: { title: 'Horário', content: 'Atendemos de segunda a sexta, das 8h às 18h.' } }));
  const hits = must('searchDocuments', await ivr.GET('/v1/ivr/documents/search', { params: { query: { q: 'horário de atendimento' } } }));
  must(
    'createTransferRule',
    await ivr.POST('/v1/ivr/transfer-rules', {
      body: { name: 'Financeiro', match_intents: ['billing'], match_keywords: ['boleto'], destination_type: 'extension', destination: '2001' },
    }),
  );
  const call = must('startCall', await ivr.POST('/v1/ivr/calls', { body: { secretary_uuid: secretary.secretary_uuid, caller_id: '+5511999990000' } }));
  must(
    'appendCallMessages',
    await ivr.POST('/v1/ivr/calls/{uuid}/messages', {
      params: { path: { uuid: call.conversation_uuid } },
      body: {
        messages: [
          { role: 'assistant', content: 'Olá!' },
          { role: 'user', content: 'Quero a segunda via do boleto', intent: 'billing', confidence: 0.92 },
        ],
      },
    }),
  );
  const match = must('matchTransferRule', await ivr.POST('/v1/ivr/transfer-rules/match', { body: { intent: 'billing', utterance: 'segunda via do boleto' } }));
  must(
    'endCall',
    await ivr.POST('/v1/ivr/calls/{uuid}/end', {
      params: { path: { uuid: call.conversation_uuid } },
      body: { resolution: 'transferred', transferred_to: match.rule?.destination ?? null },
    }),
  );
  const transcript = must('getCall', await ivr.GET('/v1/ivr/calls/{uuid}', { params: { path: { uuid: call.conversation_uuid } } }));
  const calls = must('listCalls', await ivr.GET('/v1/ivr/calls', { params: { query: { since: new Date(Date.now() - 3_600_000).toISOString() } } }));
  check(calls.items[0]?.conversation_uuid === call.conversation_uuid && calls.items[0].message_count === 2, 'the call is in the history with its two messages');

  return {
    turns: utterances.length,
    historyPages,
    found: found.items.length,
    actionStatus: done.status,
    reminderStatus: reminder.status,
    missingUserCode: missing.error!.error.code,
    transferredTo: transcript.transferred_to,
    documentHits: hits.items.length,
    callMessages: transcript.messages.length,
  };
}
