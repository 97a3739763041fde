// Every backend of the service terminated under load (as `monitor terminate --force` or a network cut would), ten
// times: the service stays up and every acknowledged turn is kept (scenario in test/harness/fault-load.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { survivesFaults } from '../harness/fault-load.ts';

test('the service outlives all its backends being terminated ten times under load', async () => {
  await survivesFaults('faults-backends', async ({ superuserUrl }, round) => {
    const admin = new pg.Client({ connectionString: superuserUrl() });
    await admin.connect();
    try {
      const { rowCount } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name LIKE 'mordomo-db%'`,
      );
      assert.ok(rowCount! > 0, `round ${round}: the service had backends to terminate`);
    } finally {
      await admin.end();
    }
  });
});
