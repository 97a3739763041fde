// The data folder's file system filled for real under concurrent 20 KB turns (a tmpfs the test mounts; root only,
// skipped with the reason elsewhere): PostgreSQL fails writes with 53100 and may PANIC on a full pg_wal. Writes that
// fail for lack of space answer 507 (or 503 while PostgreSQL restarts) in the one error shape, never 500; /readyz
// says not ready and why; once the filler is removed the service (and PostgreSQL) comes back by itself; every
// acknowledged turn is stored once, the clients retrying with their Idempotency-Keys.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { embeddedUrl } from '../../src/db/connect.ts';
import { eventually } from '../harness/assertions.ts';
import { drivenService } from '../harness/fault-load.ts';
import { freePort } from '../harness/ports.ts';
import { fillUp, mountSmallDisk, removeFiller } from '../harness/tmpfs.ts';

const WRITERS = 4;
const disk = mountSmallDisk('full-disk', 160);
// After the service and its PostgreSQL are stopped (a test's own after runs first): nothing holds the mount then.
after(() => disk.unmount());

test('a full data disk under concurrent writes: 507 or 503, never 500; not ready while full; back by itself; nothing acknowledged lost or doubled', {
  skip: disk.skip,
}, async (t) => {
  const dataDir = path.join(disk.mountPoint as string, 'data');
  const pgPort = await freePort();
  const { service, conversations, startWriters } = await drivenService(
    {
      MORDOMO_DATA_DIR: dataDir,
      MORDOMO_PG_PORT: String(pgPort),
      MORDOMO_WAL_ARCHIVE_DIR: 'off',
      MORDOMO_CONNECT_TIMEOUT_MS: '2000',
    },
    WRITERS,
  );
  const writers = startWriters();
  await eventually('turns acknowledged before the disk fills', async () => writers.successes > 100, 60_000);

  const filler = path.join(disk.mountPoint as string, 'filler');
  fillUp(filler);
  const reasons = new Set<string>();
  await eventually(
    '/readyz not ready, naming the full disk',
    async () => {
      const response = await fetch(`${service.api}/readyz`);
      const body = (await response.json()) as { reason?: string };
      if (response.status === 503 && body.reason) reasons.add(body.reason);
      return response.status === 503 && /disk full/.test(body.reason ?? '');
    },
    30_000,
  );
  await eventually('writes refused for lack of space', async () => (writers.failures.get('507 insufficient_storage') ?? 0) > 0, 30_000);
  // A full pg_wal too: WAL that needs a new segment cannot get one, and PostgreSQL PANICs (the run saw it
  // unable to start again: "could not write to file pg_wal/xlogtemp…"). The watchdog must bring it back later.
  const superuserUrl = embeddedUrl(pgPort, readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim());
  const panicked = await fillWal(superuserUrl);
  assert.ok(panicked, 'PostgreSQL could not write WAL on the full disk');
  // Its crash recovery cannot write WAL either: PostgreSQL stops, and the watchdog's attempts say why in its words.
  await eventually(
    "the watchdog's failed restart naming PostgreSQL's reason",
    async () => watchdogLines(service.output()).some((line) => /could not write to file .*pg_wal.*: No space left on device/.test(line)),
    30_000,
  );
  // The watchdog tries every 2 s while the disk stays full; it says each reason once, not at every attempt (two
  // reasons are possible: its own write of the server's settings may fail first, then PostgreSQL's start).
  await new Promise((resolve) => setTimeout(resolve, 6000));
  const watchdogReasons = watchdogLines(service.output()).map((line) => (JSON.parse(line) as { reason: string }).reason);
  assert.deepEqual(watchdogReasons, [...new Set(watchdogReasons)], watchdogLines(service.output()).join('\n'));
  // PostgreSQL's reason, not the clients it turned away while it tried to start.
  assert.deepEqual(
    watchdogLines(service.output()).filter((line) => /not yet accepting connections|in recovery mode/.test(line)),
    [],
  );
  const whileDown = await fetch(`${service.api}/readyz`);
  assert.equal(whileDown.status, 503);
  assert.match(((await whileDown.json()) as { reason: string }).reason, /disk full: the (data|wal) folder/, 'still named while PostgreSQL is down');
  assert.ok(/disk full: the (data|wal) folder .* bytes free; free space/.test([...reasons].join('\n')), [...reasons].join('\n'));
  const duringFull = writers.successes;

  removeFiller(filler);
  const freedAt = Date.now();
  await eventually('ready again once space is freed', async () => (await fetch(`${service.api}/readyz`)).status === 200, 60_000);
  // Reported, not asserted: how long the watchdog's next start and crash recovery took on this machine.
  t.diagnostic(`ready ${((Date.now() - freedAt) / 1000).toFixed(1)} s after space was freed`);
  await eventually('turns acknowledged again', async () => writers.successes > duringFull + WRITERS * 5, 60_000);
  t.diagnostic(
    `${writers.successes} turns acknowledged; refused: ${JSON.stringify(Object.fromEntries(writers.failures))}; back to appending ${((Date.now() - freedAt) / 1000).toFixed(1)} s after`,
  );
  await writers.stop();
  assert.equal(service.child.exitCode, null, `the service kept running:\n${service.output().slice(-3000)}`);
  assert.deepEqual(writers.unexpected.slice(0, 10), [], 'every failed write was a 507 or 503 in the one error shape');
  assert.ok((writers.failures.get('507 insufficient_storage') ?? 0) > 0, 'writes refused for lack of space were 507');
  // A lost connection is one short line, not the driver's client object with its prepared statements' SQL.
  assert.deepEqual(
    service
      .output()
      .split('\n')
      .filter((line) => line.includes('parsedStatements') || line.length > 2000)
      .map((line) => line.slice(0, 300)),
    [],
  );

  const stored = new pg.Client({ connectionString: superuserUrl });
  await stored.connect();
  try {
    const { rows } = await stored.query<{ label: string; copies: number }>(
      `SELECT split_part(content, ' ', 2) AS label, count(*)::int AS copies FROM messages
        WHERE role = 'user' AND conversation_id = ANY($1::uuid[]) GROUP BY 1`,
      [conversations],
    );
    const copies = new Map(rows.map((row) => [row.label, row.copies]));
    assert.deepEqual(
      writers.acknowledged.filter((label) => copies.get(label) !== 1),
      [],
      'every acknowledged turn is stored exactly once',
    );
    assert.deepEqual(
      rows.filter((row) => row.copies > 1),
      [],
      'no turn stored twice',
    );
  } finally {
    await stored.end();
  }
});

/** The watchdog's lines about a start that failed. */
function watchdogLines(output: string): string[] {
  return output.split('\n').filter((line) => line.includes('could not restart the embedded PostgreSQL yet'));
}

/** Forces WAL into new segments (a switch, then a logical message: WAL without touching a table) until it fails. */
async function fillWal(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    for (let i = 0; i < 20; i++) {
      await client.query('SELECT pg_switch_wal()');
      await client.query(`SELECT pg_logical_emit_message(false, 'full-disk', repeat('x', 100000))`);
    }
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}
