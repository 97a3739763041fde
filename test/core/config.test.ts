import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { sql } from 'kysely';
import { getConfig, listConfig, setConfig } from '../../src/core/config.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db } = await testDatabase('config');

test('the five seed defaults are present with their descriptions', async () => {
  const rows = await listConfig(db);
  assert.deepEqual(
    rows.map((r) => [r.key, r.value, r.description]),
    [
      ['brain.max_tokens', 200, 'Max response tokens'],
      ['brain.model', 'qwen2.5:3b', 'Ollama model'],
      ['brain.temperature', 0.7, 'LLM temperature'],
      ['tts.voice', 'pt_BR-faber-medium', 'Piper TTS voice'],
      ['wake_word.sensitivity', 0.7, 'Porcupine sensitivity'],
    ],
  );
  assert.equal(await getConfig(db, 'brain.max_tokens'), 200);
});

test('typed set validates the value and records who changed it', async () => {
  const entry = await setConfig(db, 'brain.temperature', 0.2, 'operator');
  assert.equal(entry.value, 0.2);
  assert.equal(entry.updated_by, 'operator');
  assert.equal(await getConfig(db, 'brain.temperature'), 0.2);
  await rejectsWith(() => setConfig(db, 'brain.temperature', 3), 'invalid_input', /brain.temperature/);
  await rejectsWith(() => setConfig(db, 'brain.max_tokens', 1.5), 'invalid_input', /brain.max_tokens/);
  await rejectsWith(() => setConfig(db, 'tts.voice', 42 as never), 'invalid_input', /tts.voice/);
  await rejectsWith(() => setConfig(db, 'brain.secret' as never, 1 as never), 'invalid_input', /config key: must be one of/);
  assert.equal(await getConfig(db, 'brain.temperature'), 0.2);
});

test("re-running the config migration by hand never overwrites an operator's change", async () => {
  await setConfig(db, 'tts.voice', 'pt_BR-edresson-low', 'operator');
  const migration = readFileSync(new URL('../../migrations/core/008_config.sql', import.meta.url), 'utf8');
  await sql.raw(migration).execute(db);
  assert.equal(await getConfig(db, 'tts.voice'), 'pt_BR-edresson-low');
  assert.equal((await listConfig(db)).length, 5);
});
