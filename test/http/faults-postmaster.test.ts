// The embedded PostgreSQL's postmaster SIGKILLed under load, ten times: the service stays up, the watchdog starts
// the server again, and every acknowledged turn is kept (scenario in test/harness/fault-load.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findRunningServer, isAlive } from '../../src/db/postmaster.ts';
import { eventually } from '../harness/assertions.ts';
import { survivesFaults } from '../harness/fault-load.ts';

test('the service outlives its postmaster being SIGKILLed ten times under load', async () => {
  await survivesFaults('faults-postmaster', async ({ pgData }, round) => {
    const postmaster = findRunningServer(pgData);
    assert.ok(postmaster, `round ${round}: a postmaster runs`);
    process.kill(postmaster.pid, 'SIGKILL');
    await eventually('the postmaster to die', async () => !isAlive(postmaster.pid));
  });
});
