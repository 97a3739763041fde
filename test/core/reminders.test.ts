import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKysely } from '../../src/db/typed-errors.ts';
import pg from 'pg';
import { cancelReminder, claimDueReminders, createReminder, upcomingReminders } from '../../src/core/reminders.ts';
import { createUser } from '../../src/core/users.ts';
import { rejectsWith, rowCounts } from '../harness/assertions.ts';
import { testDatabase } from '../harness/database.ts';

const { db, url } = await testDatabase('reminders');
const minutes = (n: number) => new Date(Date.now() + n * 60_000);

test('lists upcoming pending reminders soonest first, per user, without the cancelled ones', async () => {
  const ana = await createUser(db, { name: 'Ana' });
  const later = await createReminder(db, { user_id: ana.id, title: 'Remédio', scheduled_at: minutes(120) });
  const soon = await createReminder(db, { user_id: ana.id, title: 'Reunião', scheduled_at: minutes(30).toISOString() });
  const cancelled = await createReminder(db, { user_id: ana.id, title: 'Cancelado', scheduled_at: minutes(60) });
  await createReminder(db, { title: 'Da casa', scheduled_at: minutes(10) });
  assert.equal((await cancelReminder(db, cancelled.id)).status, 'cancelled');
  const upcoming = await upcomingReminders(db, { user_id: ana.id });
  assert.deepEqual(
    upcoming.map((r) => r.title),
    ['Reunião', 'Remédio'],
  );
  assert.deepEqual(
    upcoming.map((r) => r.id),
    [soon.id, later.id],
  );
  await rejectsWith(() => cancelReminder(db, cancelled.id), 'conflict', /is cancelled/);
});

test('two workers claiming at once never take the same due reminder', async () => {
  const due: Awaited<ReturnType<typeof createReminder>>[] = [];
  for (let i = 0; i < 40; i++) due.push(await createReminder(db, { title: `due ${i}`, scheduled_at: minutes(-1 - i) }));
  await createReminder(db, { title: 'not yet', scheduled_at: minutes(30) });
  const second = createKysely(new pg.Pool({ connectionString: url, max: 2 }));
  try {
    const claims = await Promise.all([
      claimDueReminders(db, { limit: 15 }),
      claimDueReminders(second, { limit: 15 }),
      claimDueReminders(db, { limit: 15 }),
      claimDueReminders(second, { limit: 15 }),
    ]);
    const ids = claims.flat().map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'a reminder was claimed twice');
    assert.deepEqual(new Set(ids), new Set(due.map((r) => r.id)));
    assert.ok(claims.flat().every((r) => r.status === 'triggered' && r.triggered_at instanceof Date));
    assert.deepEqual(await claimDueReminders(db), []);
    await rejectsWith(() => cancelReminder(db, due[0]!.id), 'conflict', /is triggered/);
  } finally {
    await second.destroy();
  }
});

test('refuses bad reminders without writing', async () => {
  const before = await rowCounts(db);
  await rejectsWith(() => createReminder(db, { title: '', scheduled_at: new Date() }), 'invalid_input', /title/);
  await rejectsWith(() => createReminder(db, { title: 'x', scheduled_at: 'tomorrow' as never }), 'invalid_input', /scheduled_at/);
  await rejectsWith(() => createReminder(db, { title: 'x', scheduled_at: '2026-11-23T10:00:00' }), 'invalid_input', /time zone/);
  await rejectsWith(() => createReminder(db, { title: 'x', scheduled_at: new Date('nope') }), 'invalid_input', /scheduled_at/);
  await rejectsWith(() => createReminder(db, { title: 'x', scheduled_at: new Date(), user_id: '3f0e7a6c-0000-4000-8000-000000000000' }), 'foreign_key');
  await rejectsWith(() => cancelReminder(db, '3f0e7a6c-0000-4000-8000-000000000000'), 'not_found');
  await rejectsWith(() => claimDueReminders(db, { limit: 0 }), 'invalid_input');
  assert.deepEqual(await rowCounts(db), before);
});
