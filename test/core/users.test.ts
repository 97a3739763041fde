import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createUser, deactivateUser, findUserByEmail, getUser, updateUser } from '../../src/core/users.ts';
import { BAD_IDS, nestedObject, rejectsWith, rowCounts } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db } = await testDatabase('users');

test('creates a user with the seed defaults and reads it back by id and e-mail', async () => {
  const user = await createUser(db, { name: 'Ana', email: 'ana@example.com' });
  assert.equal(user.name, 'Ana');
  assert.equal(user.voice_enrolled, false);
  assert.equal(user.is_active, true);
  assert.deepEqual(user.metadata, {});
  assert.ok(user.created_at instanceof Date);
  assert.deepEqual(await getUser(db, user.id), user);
  assert.deepEqual(await findUserByEmail(db, 'ana@example.com'), user);
  assert.equal(await findUserByEmail(db, 'nobody@example.com'), undefined);
});

test('refuses a second user with the same e-mail as a conflict, writing nothing', async () => {
  await createUser(db, { name: 'Bia', email: 'bia@example.com' });
  const before = await rowCounts(db);
  await rejectsWith(() => createUser(db, { name: 'Bia 2', email: 'bia@example.com' }), 'conflict', /^a user with this e-mail already exists$/);
  assert.deepEqual(await rowCounts(db), before);
});

test('an update moves updated_at forward and keeps created_at', async () => {
  const user = await createUser(db, { name: 'Caio' });
  const updated = await updateUser(db, user.id, { name: 'Caio Souza', voice_enrolled: true, speaker_embedding_id: 'qdrant-1' });
  assert.equal(updated.name, 'Caio Souza');
  assert.equal(updated.voice_enrolled, true);
  assert.equal(updated.speaker_embedding_id, 'qdrant-1');
  assert.deepEqual(updated.created_at, user.created_at);
  assert.ok(updated.updated_at.getTime() > user.updated_at.getTime());
  const inactive = await deactivateUser(db, user.id);
  assert.equal(inactive.is_active, false);
});

test('refuses bad input with a message naming the field, and writes nothing', async () => {
  const before = await rowCounts(db);
  await rejectsWith(() => createUser(db, { name: '' }), 'invalid_input', /name: must not be empty/);
  await rejectsWith(() => createUser(db, { name: 'x'.repeat(256) }), 'invalid_input', /name: at most 255/);
  await rejectsWith(() => createUser(db, { name: 'nul\u0000byte' }), 'invalid_input', /NUL/);
  await rejectsWith(() => createUser(db, { name: 'Eve', email: 'not an email' }), 'invalid_input', /email/);
  await rejectsWith(() => createUser(db, { name: 'Eve', metadata: { a: 'x\u0000' } }), 'invalid_input', /metadata/);
  await rejectsWith(() => createUser(db, { name: 'Eve', metadata: [] as never }), 'invalid_input', /metadata/);
  await rejectsWith(() => createUser(db, { name: 42 as never }), 'invalid_input', /name/);
  await rejectsWith(() => createUser(db, { name: 'Eve', is_admin: true } as never), 'invalid_input', /is_admin/);
  await rejectsWith(() => createUser(db, { name: "Robert'); DROP TABLE users; --", email: "x'@example.com; --" }), 'invalid_input', /email/);
  // Nested past what a recursive check can walk: refused by depth, not a RangeError from an exhausted stack.
  await rejectsWith(() => createUser(db, { name: 'Eve', metadata: nestedObject(5_000) as never }), 'invalid_input', /deeper than 100 levels/);
  assert.deepEqual(await rowCounts(db), before);
  // The limit leaves room for any real document.
  assert.deepEqual((await createUser(db, { name: 'Deep', metadata: nestedObject(90) as never })).metadata, nestedObject(90));
});

test('stores SQL fragments as plain text', async () => {
  const name = "Robert'); DROP TABLE users; --";
  const user = await createUser(db, { name });
  assert.equal((await getUser(db, user.id)).name, name);
});

test('bad and unknown ids give invalid_input and not_found', async () => {
  for (const bad of BAD_IDS) await rejectsWith(() => getUser(db, bad as string), 'invalid_input', /user id/);
  await rejectsWith(() => getUser(db, '6f1c1d5e-0000-4000-8000-000000000000'), 'not_found', /user 6f1c1d5e-0000-4000-8000-000000000000 not found/);
  await rejectsWith(() => updateUser(db, '6f1c1d5e-0000-4000-8000-000000000000', { name: 'x' }), 'not_found');
});
