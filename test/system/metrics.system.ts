// Needs Debian's `prometheus` package (promtool): run by `npm run test:system`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { adminQuery } from '../harness/database.ts';
import { testService } from '../harness/service.ts';
import { createBackup } from '../../src/ops/backup.ts';
import { recordVerification } from '../../src/ops/backup-files.ts';

const api = await testService('metrics');

function promtool(args: string[], input?: string) {
  const result = spawnSync('promtool', args, { input, encoding: 'utf8' });
  assert.equal(result.error, undefined, 'promtool must be installed (apt-get install prometheus)');
  return result;
}

test('/metrics passes promtool and carries the database, backup, job and application figures', async () => {
  const conversation = (await api.call('POST', '/v1/conversations', { body: {} })).body;
  await api.call('POST', `/v1/conversations/${conversation.id}/turns`, { body: { user: { content: 'oi' }, assistant: { content: 'olá' } } });
  const backup = await createBackup(api.database.pool, { outDir: `${api.dataDir}/backups` });
  recordVerification(backup.file, true);
  await api.service.scheduler.runJob('partitions');

  const response = await api.call('GET', '/metrics');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type')!, /text\/plain; version=0\.0\.4/);
  const checked = promtool(['check', 'metrics'], response.text);
  assert.equal(checked.status, 0, `promtool check metrics: ${checked.stdout}${checked.stderr}`);

  const value = (pattern: string) => {
    const line = response.text.split('\n').find((l) => new RegExp(`^${pattern}`).test(l));
    assert.ok(line, `${pattern} is exported`);
    return Number(line.split(' ').pop());
  };
  assert.equal(value('pg_up '), 1);
  assert.ok(value('pg_database_size_bytes ') > 1_000_000);
  assert.ok(value('pg_stat_activity_connections\\{state="active"\\}') >= 1);
  assert.ok(value('mordomo_table_size_bytes\\{table="messages"\\}') > 0);
  assert.ok(value('pg_stat_database_xact_commit ') > 0);
  assert.ok(value('mordomo_cache_hit_ratio ') > 0);
  value('pg_stat_database_deadlocks ');
  value('mordomo_replication_lag_seconds ');
  value('mordomo_longest_transaction_seconds ');
  value('mordomo_statement_mean_seconds\\{');
  assert.equal(value('mordomo_backup_last_verified '), 1);
  assert.ok(value('mordomo_backup_last_size_bytes ') > 0);
  assert.ok(value('mordomo_backup_last_age_seconds ') < 600);
  assert.ok(value('mordomo_log_partitions_ahead ') >= 7);
  assert.equal(value('mordomo_job_last_outcome\\{job="partitions",outcome="success"\\}'), 1);
  assert.equal(value('mordomo_messages_appended_total '), 2);
  assert.ok(value('mordomo_http_request_duration_seconds_count\\{method="POST",route="/v1/conversations/:id/turns",status="201"\\}') >= 1);
  value('mordomo_pool_connections\\{state="idle"\\}');
  value('mordomo_process_resident_memory_bytes ');
  assert.equal(response.text.includes(api.token), false, 'no secret in the metrics');
  assert.equal(/postgres(ql)?:\/\/[^\s"]*:[^*\s"]+@/.test(response.text), false, 'no connection string with a password');
});

test('when the database is down, /metrics still answers, with pg_up 0', async () => {
  const other = await testService('metrics_down');
  // Take the database away under the service: terminate its connections and refuse new ones.
  await adminQuery(`ALTER DATABASE ${other.database.name} ALLOW_CONNECTIONS false`);
  await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [other.database.name]);
  try {
    const response = await other.call('GET', '/metrics');
    assert.equal(response.status, 200);
    assert.match(response.text, /^pg_up 0$/m);
    assert.equal(promtool(['check', 'metrics'], response.text).status, 0);
  } finally {
    await adminQuery(`ALTER DATABASE ${other.database.name} ALLOW_CONNECTIONS true`);
  }
});
