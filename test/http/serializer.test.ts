import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { conversationSchema, messageSchema, pageOf, userSchema } from '../../src/http/schemas.ts';
import { responseSerializer } from '../../src/http/serializer.ts';

const tricky = 'aspas " barra \\ nova\nlinha tab\t acentuação ção 🎙️ \u2028 </script>';
const message = (i: number, owner: string | null) => ({
  id: `7c9e6679-7425-40de-944b-e07fc1f90a${String(10 + i)}`,
  conversation_id: '7c9e6679-7425-40de-944b-e07fc1f90ae8',
  user_id: owner,
  role: i % 2 ? 'assistant' : 'user',
  content: `${tricky} ${i}`,
  timestamp: new Date(Date.UTC(2026, 10, 23, 10, 0, i, 7)),
  latency_ms: i % 2 ? 850 + i : null,
  intent: i % 2 ? null : 'iot_control',
  confidence: i % 2 ? null : 0.1 + i / 1000,
  rag_context: i % 3 === 0 ? null : [{ doc: tricky, score: 0.5 }, 'texto', 3, true, null],
  audio_duration_ms: i % 3 === 0 ? 1200 : null,
  transcription_model: i % 3 === 0 ? 'whisper-small' : null,
  metadata: i % 2 ? {} : { source: 'stt', nested: { deep: [1, { x: tricky }] }, n: -1.5e-7 },
});

test('pages of messages, users and conversations are written exactly as JSON.stringify writes them', () => {
  const page = {
    items: Array.from({ length: 50 }, (_, i) => message(i, i % 4 ? '0b6f3c4e-1111-4aaa-8bbb-222222222222' : null)),
    next_cursor: 'eyJhdCI6IjIwMjYifQ',
  };
  assert.equal(responseSerializer(pageOf(messageSchema))(page), JSON.stringify(page));
  const lastPage = { items: [], next_cursor: null };
  assert.equal(responseSerializer(pageOf(messageSchema))(lastPage), JSON.stringify(lastPage));
  const user = {
    id: '0b6f3c4e-1111-4aaa-8bbb-222222222222',
    name: tricky,
    email: null,
    voice_enrolled: true,
    speaker_embedding_id: null,
    created_at: new Date(0),
    updated_at: new Date(),
    last_interaction_at: null,
    is_active: false,
    metadata: { casa: ['sala', 2] },
  };
  assert.equal(responseSerializer(userSchema)(user), JSON.stringify(user));
  const conversation = {
    id: '7c9e6679-7425-40de-944b-e07fc1f90ae8',
    user_id: null,
    started_at: new Date(),
    ended_at: new Date(),
    duration_seconds: 12,
    message_count: 2,
    satisfaction_score: 0.75,
    metadata: {},
    messages: [message(1, null), message(2, null)],
  };
  const withMessages = conversationSchema.extend({ messages: z.array(messageSchema) });
  assert.equal(responseSerializer(withMessages)(conversation), JSON.stringify(conversation));
});

test('nullable objects and arrays (an IVR rule that may not match) are written as JSON.stringify writes them', () => {
  const row = z.object({ a: z.string(), b: z.date().nullable(), c: z.array(z.number()).nullable() });
  const serialize = responseSerializer(z.object({ rule: row.nullable(), list: z.array(row).nullable() }));
  for (const value of [
    { rule: null, list: null },
    { rule: { a: tricky, b: new Date(0), c: [1, 2.5] }, list: [{ a: 'y', b: null, c: null }] },
  ]) {
    assert.equal(serialize(value), JSON.stringify(value));
  }
});

test('a schema that needs a union, or no schema, is written by JSON.stringify', () => {
  const either = z.object({ value: z.union([z.string(), z.number()]) });
  for (const value of ['texto', 42]) assert.equal(responseSerializer(either)({ value }), JSON.stringify({ value }));
  assert.equal(responseSerializer(undefined)({ a: 1 }), '{"a":1}');
});
