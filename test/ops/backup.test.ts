import assert, { rejects } from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { sql } from 'kysely';
import pg from 'pg';
import { appendTurn, startConversation } from '../../src/core/conversations.ts';
import { writeLogs } from '../../src/core/logs.ts';
import { createUser } from '../../src/core/users.ts';
import { createIvr } from '../../src/ivr/ivr.ts';
import { DEFAULT_PROVIDER_SQL } from '../../src/ivr/providers.ts';
import { createLogger } from '../../src/logger.ts';
import { migrate } from '../../src/migrate/runner.ts';
import { createBackup } from '../../src/ops/backup.ts';
import { MODULE_TABLES } from '../../src/ops/backup-tables.ts';
import { frame, type FrameType, MAGIC } from '../../src/ops/backup-format.ts';
import { listBackups, pruneBackups, recordVerification } from '../../src/ops/backup-files.ts';
import { restoreBackup, tableChecksums, verifyBackup } from '../../src/ops/restore.ts';
import { learnSearchWords } from '../../src/ops/search-words.ts';
import { rejectsWith } from '../harness/assertions.ts';
import { adminQuery, testDatabase, urlFor } from '../harness/database.ts';
import { tempDir } from '../harness/temp-dir.ts';

const logger = createLogger('silent');
const { db, pool, url } = await testDatabase('backup');
const ALL_TABLES = [...MODULE_TABLES.core, ...MODULE_TABLES.ivr];
const SECRET = 'sk-backup-secret-91c3';

async function emptyDatabase(): Promise<{ pool: pg.Pool; url: string }> {
  const name = `t_restore_${randomUUID().slice(0, 8)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return { pool: new pg.Pool({ connectionString: urlFor(name), max: 3 }), url: urlFor(name) };
}

async function checksumsOf(target: pg.Pool, tables = ALL_TABLES) {
  const client = await target.connect();
  try {
    return Object.fromEntries(await tableChecksums(client, tables));
  } finally {
    client.release();
  }
}

async function indexesAndConstraints(target: pg.Pool) {
  const { rows: indexes } = await target.query(`SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname`);
  const { rows: constraints } = await target.query(
    `SELECT conrelid::regclass::text AS table_name, conname, contype, pg_get_constraintdef(oid) AS definition, convalidated
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
  );
  return { indexes, constraints };
}

// A data set touching every table, triggers and sequences included.
const user = await createUser(db, { name: 'Ana', email: 'ana@example.com', metadata: { casa: 'sala' } });
for (let c = 0; c < 5; c++) {
  const conversation = await startConversation(db, { user_id: user.id });
  for (let t = 0; t < 4; t++)
    await appendTurn(
      db,
      conversation.id,
      { content: `pergunta ${c}.${t} com "aspas", tab\tnova\nlinha e acentuação`, confidence: 0.5 },
      { content: `resposta ${c}.${t}` },
    );
}
await writeLogs(db, [
  { level: 'INFO', source: 'brain', message: 'ok' },
  { level: 'ERROR', source: 'tts', message: 'falhou' },
]);
const domain = randomUUID();
await sql`INSERT INTO v_domains (domain_uuid, domain_name) VALUES (${domain}, 'pbx.example.com')`.execute(db);
await createIvr(db, { encryptionKey: 'backup-test-key-0123456789' })
  .forDomain(domain)
  .createProvider({ provider_type: 'llm', provider_name: 'openai', config: { api_key: SECRET } });

test('a backup restores into an empty database with identical data, counters not re-counted, sequences continued', async () => {
  const dir = tempDir('backups');
  const result = await createBackup(pool, { outDir: dir });
  assert.match(path.basename(result.file), /^mordomo-\d{8}T\d{6}Z\.mdb\.gz$/);
  assert.deepEqual(readdirSync(dir), [path.basename(result.file)]);
  assert.equal(result.manifest.tables.find((t) => t.name === 'messages')!.rows, 40);
  assert.deepEqual(Object.keys(result.manifest.modules).sort(), ['core', 'ivr']);
  const target = await emptyDatabase();
  try {
    const manifest = await restoreBackup(target.pool, result.file, logger);
    assert.equal(manifest.tables.length, ALL_TABLES.length);
    assert.deepEqual(await checksumsOf(target.pool), await checksumsOf(pool));
    const { rows } = await target.pool.query(`SELECT sum(message_count)::int AS counted, (SELECT count(*)::int FROM messages) AS actual FROM conversations`);
    assert.deepEqual(rows[0], { counted: 40, actual: 40 });
    // Restore drops keys, indexes and the foreign keys on those keys while loading and builds them after: every one
    // must be back, the same and validated.
    assert.deepEqual(await indexesAndConstraints(target.pool), await indexesAndConstraints(pool));
    const { rows: ids } = await target.pool.query(`INSERT INTO system_logs (level, source, message) VALUES ('INFO', 'x', 'y') RETURNING id`);
    const { rows: max } = await pool.query(`SELECT max(id)::int AS id FROM system_logs`);
    assert.ok(ids[0].id > max[0].id, 'the sequence continues after the restored rows');
    const client = await target.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('app.encryption_key', $1, true)`, ['backup-test-key-0123456789']);
      const { rows: providers } = await client.query(DEFAULT_PROVIDER_SQL, [domain, 'llm']);
      assert.deepEqual(providers[0].config, { api_key: SECRET }, 'restored provider configs decrypt with the same key');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  } finally {
    await target.pool.end();
  }
});

test('a backup taken while turns are being written is one consistent snapshot', async () => {
  const conversation = await startConversation(db, { user_id: user.id });
  let writing = true;
  const writer = (async () => {
    let n = 0;
    while (writing) await appendTurn(db, conversation.id, { content: `durante ${n++}` }, { content: 'ok' });
    return n;
  })();
  await new Promise((resolve) => setTimeout(resolve, 150));
  const result = await createBackup(pool, { outDir: tempDir('backups-live') });
  writing = false;
  const turns = await writer;
  assert.ok(turns > 0);
  const target = await emptyDatabase();
  try {
    await restoreBackup(target.pool, result.file, logger);
    const { rows } = await target.pool.query(
      `SELECT c.message_count, (SELECT count(*)::int FROM messages m WHERE m.conversation_id = c.id) AS actual FROM conversations c WHERE c.id = $1`,
      [conversation.id],
    );
    assert.equal(rows[0].message_count, rows[0].actual, 'counter and messages come from the same instant');
    assert.equal(rows[0].actual % 2, 0, 'no half turn');
    assert.equal(result.manifest.tables.find((t) => t.name === 'messages')!.rows, 40 + rows[0].actual);
    const verified = await verifyBackup(url, result.file, logger);
    assert.equal(verified.ok, true);
  } finally {
    await target.pool.end();
  }
});

test('verify and restore refuse a corrupted or truncated file, and restore leaves the target untouched', async () => {
  const dir = tempDir('backups-bad');
  const good = await createBackup(pool, { outDir: dir });
  const bytes = readFileSync(good.file);
  const corrupted = path.join(dir, 'corrupted.mdb.gz');
  const flipped = Buffer.from(bytes);
  flipped[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(corrupted, flipped);
  const truncated = path.join(dir, 'truncated.mdb.gz');
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  // Every record is there, only gzip's trailer (CRC and length, the last 8 bytes) is cut short.
  const trailerCut = path.join(dir, 'trailer-cut.mdb.gz');
  writeFileSync(trailerCut, bytes.subarray(0, bytes.length - 4));
  for (const file of [corrupted, truncated, trailerCut]) {
    const result = await verifyBackup(url, file, logger);
    assert.equal(result.ok, false, file);
    assert.match(result.error ?? '', /corrupt|truncated|damaged/);
    const target = await emptyDatabase();
    try {
      await rejectsWith(() => restoreBackup(target.pool, file, logger), 'invalid_input', /corrupt|truncated|damaged/);
      // Refused before the migrations ran (no tables) or after (no rows), depending on where the damage is.
      const { rows } = await target.pool.query(`SELECT to_regclass('users') IS NOT NULL AS migrated`);
      if (rows[0].migrated) {
        const { rows: users } = await target.pool.query(`SELECT count(*)::int AS n FROM users`);
        assert.equal(users[0].n, 0, 'nothing was loaded');
      }
    } finally {
      await target.pool.end();
    }
  }
  await rejectsWith(() => restoreBackup(pool, path.join(dir, 'missing.mdb.gz'), logger, { force: true }), 'not_found');
});

/** Rewrites one table of a backup file, its checksum and row count recomputed so that only the content is wrong. */
function rewriteTable(file: string, out: string, table: string, change: { columns?: (columns: string[]) => string[]; data: (rows: string) => string }): void {
  const frames: Buffer[] = [];
  const entries = new Map<string, { name: string; columns: string[]; rows: number; sha256: string }>();
  let body = gunzipSync(readFileSync(file)).subarray(MAGIC.length);
  let chunks: string[] | undefined;
  const columns = change.columns ?? ((c: string[]) => c);
  while (body.length) {
    const type = body.toString('ascii', 0, 1) as FrameType;
    const payload = body.subarray(5, 5 + body.readUInt32BE(1));
    body = body.subarray(5 + payload.length);
    const json = () => JSON.parse(payload.toString());
    if (type === 'T' && json().name === table) {
      chunks = [];
      frames.push(frame('T', JSON.stringify({ name: table, columns: columns(json().columns) })));
    } else if (type === 'D' && chunks) {
      chunks.push(payload.toString());
    } else if (type === 'E' && chunks) {
      const data = change.data(chunks.join(''));
      const entry = { ...json(), columns: columns(json().columns), rows: data.split('\n').length - 1, sha256: createHash('sha256').update(data).digest('hex') };
      entries.set(table, entry);
      frames.push(frame('D', data), frame('E', JSON.stringify(entry)));
      chunks = undefined;
    } else if (type === 'M') {
      const manifest = json();
      frames.push(frame('M', JSON.stringify({ ...manifest, tables: manifest.tables.map((t: { name: string }) => entries.get(t.name) ?? t) })));
    } else {
      frames.push(frame(type, payload));
    }
  }
  writeFileSync(out, gzipSync(Buffer.concat([MAGIC, ...frames])));
}

/** The same backup as one taken before migration core 013 gave messages their user_id (its last column). */
function withoutMessageOwners(file: string, out: string): void {
  rewriteTable(file, out, 'messages', {
    columns: (columns) => columns.filter((c) => c !== 'user_id'),
    data: (rows) =>
      rows
        .split('\n')
        .filter(Boolean)
        .map((row) => `${row.slice(0, row.lastIndexOf('\t'))}\n`)
        .join(''),
  });
}

test('a backup whose rows break a key is refused, and the target keeps its keys', async () => {
  const dir = tempDir('backups-duplicate');
  const duplicated = path.join(dir, 'duplicated.mdb.gz');
  rewriteTable((await createBackup(pool, { outDir: dir })).file, duplicated, 'conversations', { data: (rows) => rows + rows.slice(0, rows.indexOf('\n') + 1) });
  const target = await emptyDatabase();
  try {
    await rejectsWith(() => restoreBackup(target.pool, duplicated, logger), 'invalid_input', /corrupt backup: table conversations could not be loaded/);
    assert.equal((await target.pool.query(`SELECT count(*)::int AS n FROM users`)).rows[0].n, 0, 'nothing was loaded');
    const { rows } = await target.pool.query(
      `SELECT conname FROM pg_constraint WHERE conrelid IN ('conversations'::regclass, 'messages'::regclass) AND contype IN ('p', 'f') ORDER BY 1`,
    );
    assert.deepEqual(
      rows.map((r) => r.conname),
      ['conversations_pkey', 'conversations_user_id_fkey', 'messages_conversation_id_fkey', 'messages_pkey'],
    );
  } finally {
    await target.pool.end();
  }
});

test("a row a column cannot take is refused by table, line and column, never quoting the row's value (nor in the server's log)", async () => {
  const dir = tempDir('backups-type-error');
  const damaged = path.join(dir, 'bad-value.mdb.gz');
  const secret = 'segredo-do-cliente-4711';
  // The first field of the first message (its uuid id) replaced by text a uuid column cannot take.
  rewriteTable((await createBackup(pool, { outDir: dir })).file, damaged, 'messages', { data: (rows) => rows.replace(/^[^\t]*/, secret) });
  const logFile = (await pool.query<{ file: string }>('SELECT pg_current_logfile() AS file')).rows[0]!.file;
  const logSize = async () => Number((await pool.query<{ size: string }>('SELECT (pg_stat_file($1)).size AS size', [logFile])).rows[0]!.size);
  const logBefore = await logSize();
  const target = await emptyDatabase();
  try {
    await rejectsWith(() => restoreBackup(target.pool, damaged, logger), 'invalid_input', /table messages could not be loaded: line 1, column id: /);
    await rejects(restoreBackup(target.pool, damaged, logger), (error: Error) => !error.message.includes(secret));
    assert.equal((await target.pool.query('SELECT count(*)::int AS n FROM users')).rows[0].n, 0, 'nothing was loaded');
    const logged = (await pool.query<{ text: string }>('SELECT pg_read_file($1, $2, $3) AS text', [logFile, logBefore, (await logSize()) - logBefore])).rows[0]!
      .text;
    assert.ok(!logged.includes(secret), `the server log quotes the row's value:\n${logged.slice(0, 2000)}`);
  } finally {
    await target.pool.end();
  }
});

test("a backup taken before messages carried their user restores with each message's user, and verifies", async () => {
  const dir = tempDir('backups-old');
  const old = path.join(dir, 'before-013.mdb.gz');
  withoutMessageOwners((await createBackup(pool, { outDir: dir })).file, old);
  assert.equal((await verifyBackup(url, old, logger)).ok, true);
  const target = await emptyDatabase();
  try {
    await restoreBackup(target.pool, old, logger);
    const owners = `SELECT count(*)::int AS messages, count(*) FILTER (WHERE m.user_id = c.user_id)::int AS owned
                      FROM messages m JOIN conversations c ON c.id = m.conversation_id`;
    const restored = (await target.pool.query(owners)).rows[0];
    assert.deepEqual(restored, (await pool.query(owners)).rows[0]);
    assert.equal(restored.owned, restored.messages);
    assert.deepEqual(await checksumsOf(target.pool), await checksumsOf(pool));
  } finally {
    await target.pool.end();
  }
});

test('restore refuses a database that holds data unless forced, and then replaces it', async () => {
  const dir = tempDir('backups-force');
  const backup = await createBackup(pool, { outDir: dir });
  const target = await emptyDatabase();
  try {
    await restoreBackup(target.pool, backup.file, logger);
    await target.pool.query(`INSERT INTO users (name) VALUES ('local only')`);
    // Rollups of the data being replaced must not survive it (they would describe messages that are gone).
    await target.pool.query(`INSERT INTO message_rollup_days (day) VALUES ('2026-01-01')`);
    // Nor the search's vocabulary of the data being replaced; the job learns the restored messages' words again,
    // however old their ids.
    await target.pool.query(`INSERT INTO search_words (word) VALUES ('palavralocal')`);
    await target.pool.query(`UPDATE search_words_learned SET up_to = 'ffffffff-ffff-7fff-bfff-ffffffffffff'`);
    await rejectsWith(() => restoreBackup(target.pool, backup.file, logger), 'conflict', /not empty \(table users has rows\).*--force/);
    // An operator's own view that groups by a key: the key cannot be dropped for the load, so it stays and is kept up.
    await target.pool.query(
      `CREATE VIEW turns_per_conversation AS SELECT c.id, c.user_id, count(m.id) AS n FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id GROUP BY c.id`,
    );
    assert.equal((await target.pool.query(`SELECT count(*)::int AS n FROM users WHERE name = 'local only'`)).rows[0].n, 1);
    await restoreBackup(target.pool, backup.file, logger, { force: true });
    assert.equal((await target.pool.query(`SELECT count(*)::int AS n FROM users WHERE name = 'local only'`)).rows[0].n, 0);
    assert.equal((await target.pool.query(`SELECT count(*)::int AS n FROM message_rollup_days`)).rows[0].n, 0);
    assert.equal((await target.pool.query(`SELECT count(*)::int AS n FROM search_words WHERE word = 'palavralocal'`)).rows[0].n, 0);
    await learnSearchWords(target.pool, { settleSeconds: 0 });
    const learned = (await target.pool.query(`SELECT count(*)::int AS n FROM search_words`)).rows[0].n;
    const words = (await target.pool.query(`SELECT count(DISTINCT w)::int AS n FROM messages, search_words_of(content) AS w`)).rows[0].n;
    assert.ok(words > 0 && learned === words, `${learned} words learned of ${words}`);
    assert.deepEqual(await indexesAndConstraints(target.pool), await indexesAndConstraints(pool));
    const messages = (await pool.query(`SELECT count(*)::int AS n FROM messages`)).rows[0].n;
    assert.equal((await target.pool.query(`SELECT sum(n)::int AS n FROM turns_per_conversation`)).rows[0].n, messages);
  } finally {
    await target.pool.end();
  }
});

test('indexes left unbuilt when a restore stops after its data is in are built by the next migration run', async () => {
  const backup = await createBackup(pool, { outDir: tempDir('backups-interrupted') });
  const target = await emptyDatabase();
  try {
    // Each builder stops after its first index, as if the process had been killed there.
    const stop = () => {
      throw new Error('killed');
    };
    await rejectsWith(
      () => restoreBackup(target.pool, backup.file, logger, { onIndex: stop }),
      'unavailable',
      /data of the backup is restored.*killed.*next mordomo-db command/,
    );
    assert.deepEqual(await checksumsOf(target.pool), await checksumsOf(pool));
    const { rows: queued } = await target.pool.query(`SELECT name FROM mordomo_pending_indexes`);
    assert.ok(queued.length > 5, `indexes left queued: ${queued.length}`);
    const { rows: missing } = await target.pool.query(`SELECT name FROM mordomo_pending_indexes WHERE to_regclass(name) IS NULL`);
    assert.equal(missing.length, queued.length, 'a queued index is one not built yet');
    // An entry whose table is gone has nothing left to build, and must not fail every later start.
    await target.pool.query(
      `INSERT INTO mordomo_pending_indexes (name, table_name, definition) VALUES ('idx_gone', 'gone', 'CREATE INDEX idx_gone ON gone (x)')`,
    );
    await migrate(target.pool, ['core', 'ivr'], logger);
    assert.deepEqual(await indexesAndConstraints(target.pool), await indexesAndConstraints(pool));
    assert.equal((await target.pool.query(`SELECT count(*)::int AS n FROM mordomo_pending_indexes`)).rows[0].n, 0);
  } finally {
    await target.pool.end();
  }
});

test("backup and restore run past the pool's statement timeout, which is for the assistant's queries", async () => {
  const source = await emptyDatabase();
  const target = await emptyDatabase();
  const impatient = (url: string) => new pg.Pool({ connectionString: url, max: 3, statement_timeout: 100 });
  const [from, to] = [impatient(source.url), impatient(target.url)];
  try {
    await migrate(source.pool, ['core'], logger);
    await source.pool.query(`INSERT INTO system_logs (level, source, message) SELECT 'INFO', 'brain', 'linha ' || g FROM generate_series(1, 300000) g`);
    await assert.rejects(from.query(`SELECT count(*) FROM system_logs a, system_logs b WHERE a.id < 1000`), /statement timeout/);
    const backup = await createBackup(from, { outDir: tempDir('backups-timeout') });
    await restoreBackup(to, backup.file, logger);
    assert.deepEqual(await checksumsOf(target.pool, MODULE_TABLES.core), await checksumsOf(source.pool, MODULE_TABLES.core));
  } finally {
    await Promise.all([from.end(), to.end(), source.pool.end(), target.pool.end()]);
  }
});

test('a restore works through a pool of one connection', async () => {
  const backup = await createBackup(pool, { outDir: tempDir('backups-one') });
  const target = await emptyDatabase();
  const single = new pg.Pool({ connectionString: target.url, max: 1 });
  try {
    let timer: NodeJS.Timeout | undefined;
    // A restore that waits for a second connection would wait forever: fail instead.
    const stuck = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the restore waited for a second connection')), 30_000)));
    await Promise.race([restoreBackup(single, backup.file, logger), stuck]).finally(() => clearTimeout(timer));
    assert.deepEqual(await checksumsOf(target.pool), await checksumsOf(pool));
    assert.deepEqual(await indexesAndConstraints(target.pool), await indexesAndConstraints(pool));
  } finally {
    await Promise.all([single.end(), target.pool.end()]);
  }
});

test('a full disk during a backup leaves no file behind and says so', async () => {
  const dir = tempDir('backups-full');
  let written = 0;
  const full = () =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.length;
        done(written > 200 ? Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }) : null);
      },
    });
  await rejectsWith(() => createBackup(pool, { outDir: dir, open: full }), 'config', /no space left on the device/);
  assert.deepEqual(readdirSync(dir), []);
});

test('provider secrets are in the backup only encrypted', async () => {
  const backup = await createBackup(pool, { outDir: tempDir('backups-secret') });
  const content = gunzipSync(readFileSync(backup.file)).toString('latin1');
  assert.ok(content.includes('v_voice_ai_providers'));
  assert.ok(!content.includes(SECRET));
  assert.ok(!content.includes('backup-test-key-0123456789'));
});

test('prune deletes by age and count but never the newest verified backup', () => {
  const dir = tempDir('backups-prune');
  const now = new Date('2026-11-23T12:00:00Z');
  const name = (daysAgo: number) =>
    `mordomo-${new Date(now.getTime() - daysAgo * 86_400_000)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}.mdb.gz`;
  for (const days of [0, 1, 2, 8, 9, 10]) writeFileSync(path.join(dir, name(days)), 'x');
  writeFileSync(path.join(dir, `${name(3)}.partial`), 'x');
  recordVerification(path.join(dir, name(9)), true, now);
  recordVerification(path.join(dir, name(0)), false, now);
  assert.deepEqual(
    listBackups(dir).map((b) => b.verified?.ok),
    [false, undefined, undefined, undefined, true, undefined],
  );
  const deleted = pruneBackups(dir, { maxAgeDays: 7, now }).map((b) => path.basename(b.file));
  assert.deepEqual(deleted, [name(8), name(10)]);
  assert.deepEqual(
    listBackups(dir).map((b) => path.basename(b.file)),
    [name(0), name(1), name(2), name(9)],
  );
  assert.deepEqual(
    pruneBackups(dir, { maxAgeDays: 30, keep: 2, now }).map((b) => path.basename(b.file)),
    [name(2)],
  );
});
