// bench/failover: the failover drill of test/system/failover.system.ts, repeated. One Patroni cluster (etcd, three
// nodes of the embedded PostgreSQL 16, HAProxy, all on loopback) and `mordomo-db start` on it under appends with
// Idempotency-Keys, history reads and an SSE stream; then, per run, the three faults one after another: SIGKILL of
// the leader's postmaster, SIGKILL of the leader's Patroni and postmaster, `patronictl switchover` (run while the
// load goes on), and, where the nodes can have network namespaces (root), the leader cut off from etcd and the other
// nodes. Prints, per fault and run, the seconds from the fault to the first acknowledged append sent after it, and
// the failed requests until the cluster was whole again; then per fault the median and max over the runs; at the
// end whether every acknowledged turn is on the leader, none twice, one node per timeline.
// Usage: npm run bench:failover [-- --runs 3]   (needs: apt-get install patroni etcd-server haproxy postgresql-15)
import { parseArgs } from 'node:util';
import { type FaultResult, faultsFor, startDrill } from '../../test/harness/failover-drill.ts';
import { missingTools, startCluster, TTL } from '../../test/harness/patroni-cluster.ts';
import { machine, median } from '../harness.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const missing = missingTools();
if (missing) {
  console.error(`bench:failover: ${missing}`);
  process.exit(1);
}
const cluster = await startCluster('bench-failover');
const drill = await startDrill(cluster);
const faults = faultsFor(cluster);
if (cluster.partitionUnavailable) console.log(`partition fault skipped: ${cluster.partitionUnavailable}`);
const results: (FaultResult & { run: number })[] = [];
let exitCode = 0;
try {
  for (let run = 1; run <= runs; run++) {
    for (const fault of faults) {
      const result = await drill.inject(fault);
      results.push({ ...result, run });
      const cut = result.partition;
      console.log(
        `run ${run}  ${fault.padEnd(31)} ${result.leaderBefore} -> ${result.leaderAfter}  ${result.secondsWithoutWrites.toFixed(1).padStart(5)} s without writes  ${String(result.failedRequests).padStart(4)} failed requests  old leader now ${result.oldLeaderRole}${
          cut
            ? `\n       cut-off leader stopped taking writes after ${cut.secondsUntilOldLeaderStopped.toFixed(1)} s, new leader's first commit after ${cut.secondsUntilNewLeaderWrote.toFixed(1)} s, ${cut.orphanCommits} unacknowledged commits of the cut-off node discarded, ${cut.acknowledgedOrphans.length} acknowledged`
            : ''
        }`,
      );
      if (cut && (cut.acknowledgedOrphans.length > 0 || !cut.oldLastBeforeNewFirst)) exitCode = 1;
    }
  }
  const { acknowledged, missing: lost, duplicated, conflicts } = await drill.verify();
  console.log(`\n${machine()}; Patroni ttl ${TTL} s, loop_wait 3 s, retry_timeout 5 s; synchronous_mode on`);
  console.log('| fault | runs | seconds without writes (median, max) | failed requests (median, max) |\n|---|---|---|---|');
  for (const fault of faults) {
    const mine = results.filter((r) => r.fault === fault);
    const gaps = mine.map((r) => r.secondsWithoutWrites);
    const failed = mine.map((r) => r.failedRequests);
    console.log(`| ${fault} | ${mine.length} | ${median(gaps).toFixed(1)}, ${Math.max(...gaps).toFixed(1)} | ${median(failed)}, ${Math.max(...failed)} |`);
  }
  console.log(`\n${acknowledged} acknowledged turns: ${lost.length} missing on the leader, ${duplicated.length} stored twice`);
  console.log(`timelines: ${conflicts.length === 0 ? 'one node each, never two taking writes at once' : conflicts.join('; ')}`);
  console.log(`service still running: ${drill.service.child.exitCode === null}; unexpected answers: ${drill.load.unexpected.length}`);
  if (lost.length || duplicated.length || conflicts.length || drill.load.unexpected.length) exitCode = 1;
} finally {
  await drill.stop();
  await cluster.stop();
}
process.exit(exitCode);
