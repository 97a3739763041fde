// The failover drill (issue 33): `mordomo-db start` on the Patroni cluster of patroni-cluster.ts (DATABASE_URL at
// HAProxy's read-write port, DATABASE_REPLICA_URL at its read-only one), serving concurrent appends with
// Idempotency-Keys (a client retries a failed append with the same key until it is acknowledged), history reads
// and an SSE stream, while faults hit the leader one after another. Shared by test/system/failover.system.ts and
// `npm run bench:failover`.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { eventually } from './assertions.ts';
import { startService } from './cli.ts';
import { type Cluster, type Member, type PatroniNode, READ_LAG_LIMIT_BYTES } from './patroni-cluster.ts';
import { tempDir } from './temp-dir.ts';

const APPENDERS = 3;

export type FaultName = 'postmaster-sigkill' | 'patroni-and-postmaster-sigkill' | 'switchover' | 'partition';
export const FAULTS: FaultName[] = ['postmaster-sigkill', 'patroni-and-postmaster-sigkill', 'switchover'];

/** The faults this cluster can take: the three above, and the partition where nodes have network namespaces. */
export function faultsFor(cluster: Cluster): FaultName[] {
  return cluster.partitionUnavailable ? FAULTS : [...FAULTS, 'partition'];
}

/** One row of the drill's commit log: which node, on which timeline, inserted a user message, and when. */
export interface Commit {
  message_id: string;
  node: string;
  timeline: number;
  at: Date;
}

/** What a partition showed, from the commit logs of the cut-off node and of the new leader. */
export interface PartitionResult {
  /** From the cut until the cut-off leader's PostgreSQL no longer took writes (in recovery, or down). */
  secondsUntilOldLeaderStopped: number;
  /** From the cut until the new leader's first commit on its new timeline. */
  secondsUntilNewLeaderWrote: number;
  /** Messages the cut-off node committed locally that the new leader does not have (never acknowledged). */
  orphanCommits: number;
  /** Of those, the ones the service acknowledged (must be none). */
  acknowledgedOrphans: string[];
  /** The cut-off node's last commit came before the new leader's first (no two nodes took writes at once). */
  oldLastBeforeNewFirst: boolean;
}

export interface FaultResult {
  fault: FaultName;
  leaderBefore: string;
  leaderAfter: string;
  /**
   * The longest stretch, from the fault until the cluster was whole again, in which no append was acknowledged
   * (for a kill: from the fault to the first acknowledgement after it; for a switchover: the pause in the middle).
   */
  secondsWithoutWrites: number;
  /** Requests (appends, reads) that failed between the fault and the cluster's return to health. */
  failedRequests: number;
  /** The old leader's role once the cluster is healthy again. */
  oldLeaderRole: string;
  partition?: PartitionResult;
}

interface Load {
  acknowledged: Map<string, Set<string>>;
  /** The user message id of each acknowledged turn (from the 201/200 answer). */
  acknowledgedIds: Set<string>;
  /** When each acknowledged append was sent, and when its acknowledgement came. */
  sentAtOfAcks: number[];
  ackedAt: number[];
  failed: number;
  /** Answers other than success or a 503/409 (a retry racing its first attempt), and dropped streams. */
  unexpected: string[];
  stop(): Promise<void>;
}

export interface Drill {
  /** The service's data folder (admin-token). */
  dataDir: string;
  service: { child: ChildProcess; output: () => string; api: string };
  conversations: string[];
  load: Load;
  inject(fault: FaultName): Promise<FaultResult>;
  /**
   * Stops the load; every acknowledged turn is on the leader, none twice, and, from the commit log, each
   * timeline's turns were committed by one node and the timelines' writes never overlapped in time.
   */
  verify(): Promise<Verdict>;
  stop(): Promise<void>;
}

export interface Verdict {
  acknowledged: number;
  missing: string[];
  duplicated: string[];
  /** Acknowledged turns with no commit-log row on the leader (must be none). */
  unlogged: string[];
  /** Per timeline: the nodes that committed on it, the first and last commit (ISO). */
  timelines: { timeline: number; nodes: string[]; first: string; last: string; acknowledged: number }[];
  /** Timelines with more than one node, and pairs of timelines whose commits overlapped in time (must be none). */
  conflicts: string[];
  /** Reads through HAProxy's read-only port (what DATABASE_REPLICA_URL reaches), sampled through the drill. */
  reads: ReadSamples;
}

/**
 * What the read-only port handed out: every few hundred milliseconds a read through it reports the member that
 * answered, whether it is a standby, and how far its replay was behind the leader's WAL position read just before
 * (an upper bound of its lag at the read). A read from a member that takes writes but is not the leader (a cut-off
 * old leader, with commits nobody else has) is a violation. Reads from standbys further behind than HAProxy's lag
 * limit are counted, not failed: Patroni's `/replica?lag=` compares a member with the leader position it last
 * published in etcd, and HAProxy checks every two seconds, so during a failover or a rejoin a member can be further
 * behind than the limit for a few seconds (docs/high-availability.md).
 */
interface ReadSamples {
  answered: number;
  /** Reads the port refused or dropped (no member in rotation for a moment, during a fault). */
  refused: number;
  /** Reads answered by a standby further behind than READ_LAG_LIMIT_BYTES, and the most behind any read was. */
  beyondLimit: number;
  maxLagBytes: number;
  violations: string[];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The drill's commit log: a row per user message, written by a trigger in the inserting transaction, with the
 * node (its server port, unique per node) and the timeline it was inserted on (the first 8 hex digits of the
 * current WAL file's name). Triggers fire only where the insert runs, and the rows replicate with the message,
 * so a leader's copy tells, for every turn it has, which node and timeline committed it; a cut-off node's copy
 * shows what it committed that nobody else has. Test-only: made as the superuser, owned by it (SECURITY DEFINER:
 * the service's runtime role gets no rights on it).
 */
const COMMIT_LOG = `
  CREATE SCHEMA IF NOT EXISTS drill;
  CREATE TABLE IF NOT EXISTS drill.commits (
    message_id uuid PRIMARY KEY, port int NOT NULL, timeline int NOT NULL, lsn pg_lsn NOT NULL, at timestamptz NOT NULL);
  CREATE OR REPLACE FUNCTION drill.log_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog AS $$
  BEGIN
    INSERT INTO drill.commits VALUES (NEW.id, inet_server_port(),
      ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int, pg_current_wal_lsn(), clock_timestamp());
    RETURN NULL;
  END $$;
  CREATE OR REPLACE TRIGGER drill_commit_log AFTER INSERT ON public.messages
    FOR EACH ROW WHEN (NEW.role = 'user') EXECUTE FUNCTION drill.log_commit();`;

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function commitLog(url: string, nodeOfPort: (port: number) => string): Promise<Commit[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ message_id: string; port: number; timeline: number; at: Date }>(
      'SELECT message_id::text, port, timeline, at FROM drill.commits ORDER BY at',
    );
    return rows.map((row) => ({ message_id: row.message_id, node: nodeOfPort(row.port), timeline: row.timeline, at: row.at }));
  });
}

export async function startDrill(cluster: Cluster): Promise<Drill> {
  const dataDir = path.join(tempDir('drill-service'), 'data');
  const service = await startService({
    DATABASE_URL: cluster.rwUrl,
    DATABASE_REPLICA_URL: cluster.roUrl,
    MORDOMO_PATRONI_URL: cluster.patroniUrls,
    MORDOMO_DATA_DIR: dataDir,
    MORDOMO_WAL_ARCHIVE_DIR: 'off',
    MORDOMO_CONNECT_TIMEOUT_MS: '2000',
  });
  const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = (method: string, route: string, body?: unknown, extra: Record<string, string> = {}) =>
    fetch(`${service.api}${route}`, {
      method,
      headers: { ...headers, ...extra },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  const conversations: string[] = [];
  for (let i = 0; i < APPENDERS; i++) conversations.push(((await (await call('POST', '/v1/conversations', {})).json()) as { id: string }).id);
  // The service has migrated: the commit log goes in before the first turn.
  await withClient(cluster.rwUrl, (client) => client.query(COMMIT_LOG));
  const load = startLoad(call, conversations, service.api, token);
  const reads = sampleReads(cluster);
  const nodeOfPort = (port: number) => cluster.nodes.find((node) => node.pgPort === port)?.name ?? `port ${port}`;
  const direct = (node: PatroniNode) => cluster.rwUrl.replace(/@[^/]+\//, `@${node.host}:${node.pgPort}/`);

  const inject = async (fault: FaultName): Promise<FaultResult> => {
    const old = await cluster.leader();
    const failedBefore = load.failed;
    const at = Date.now();
    if (fault === 'postmaster-sigkill') process.kill(cluster.postmasterPid(old), 'SIGKILL');
    if (fault === 'patroni-and-postmaster-sigkill') {
      const postmaster = cluster.postmasterPid(old);
      old.process!.kill('SIGKILL');
      process.kill(postmaster, 'SIGKILL');
    }
    let switching: Promise<string> | undefined;
    if (fault === 'switchover') {
      const candidate = (await cluster.members()).find((m) => m.role === 'sync_standby')!.name;
      // Not awaited here: the load's seconds without writes and failed requests are counted while it runs.
      switching = cluster.patronictl('switchover', '--leader', old.name, '--candidate', candidate, '--force');
    }
    if (fault === 'partition') return partition(old, at, failedBefore);
    // Appends sent before the switchover's end may still have reached the old leader: wait for one sent after it.
    let done = at;
    if (switching) {
      await switching;
      done = Date.now();
    }
    await eventually(`appends acknowledged again after ${fault}`, async () => load.sentAtOfAcks.some((sent) => sent > done), 120_000);
    if (fault === 'patroni-and-postmaster-sigkill') {
      // The node comes back (a supervisor restarts Patroni): it must rejoin as a standby of the new leader.
      await waitForExit(old.process!);
      cluster.startPatroni(old);
    }
    const members = await cluster.healthy();
    return {
      fault,
      leaderBefore: old.name,
      leaderAfter: leaderName(members),
      secondsWithoutWrites: longestStall(load, at, Date.now()),
      failedRequests: load.failed - failedBefore,
      oldLeaderRole: members.find((m) => m.name === old.name)?.role ?? 'missing',
    };
  };

  /**
   * The leader is cut off from etcd and the other nodes, while HAProxy, the service and the test still reach it:
   * it must stop taking writes by itself (its key expires; with synchronous_mode its commits cannot be confirmed
   * by a standby it no longer reaches), the synchronous standby takes over, and what the cut-off node committed
   * alone must never have been acknowledged. Then the network heals and it must rejoin as a standby.
   */
  const partition = async (old: PatroniNode, at: number, failedBefore: number): Promise<FaultResult> => {
    cluster.partition(old);
    let stoppedAt = 0;
    let oldLog: Commit[] = [];
    try {
      // Only a definite answer counts: in recovery, refused, shutting down or starting up. A slow connection on a
      // loaded machine is asked again.
      await eventually(
        `${old.name}, cut off, stops taking writes`,
        async () => {
          const stopped = await withClient(
            direct(old),
            async (client) => (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r,
          ).catch((error: { code?: string }) => ['ECONNREFUSED', '57P03', '57P01', '57P02'].includes(error.code ?? '') || undefined);
          if (stopped === true) stoppedAt = Date.now();
          return stopped === true;
        },
        120_000,
      );
      await eventually(
        'a new leader while the old one is cut off',
        async () => (await cluster.members()).some((m) => m.role === 'leader' && m.name !== old.name && m.state === 'running'),
        120_000,
      );
      const taken = Date.now();
      await eventually('appends acknowledged again after the partition', async () => load.sentAtOfAcks.some((sent) => sent > taken), 120_000);
      // What the cut-off node has, read from it directly before it is healed (and possibly wiped and cloned). Its
      // PostgreSQL may take a while to answer: Patroni's demotion is a fast shutdown, which waits for the WAL
      // senders, whose standbys are out of reach (wal_sender_timeout, 60 s), then it starts again as a standby.
      await eventually(
        `${old.name}'s commit log`,
        async () => {
          oldLog = await commitLog(direct(old), nodeOfPort);
          return true;
        },
        180_000,
      );
    } finally {
      cluster.heal(old);
    }
    const members = await cluster.healthy();
    const newLog = await commitLog(cluster.rwUrl, nodeOfPort);
    const survived = new Set(newLog.map((commit) => commit.message_id));
    const oldTimeline = Math.max(...oldLog.map((commit) => commit.timeline));
    const orphans = oldLog.filter((commit) => !survived.has(commit.message_id));
    const oldLast = Math.max(...oldLog.map((commit) => commit.at.getTime()));
    const newFirst = Math.min(...newLog.filter((commit) => commit.timeline > oldTimeline).map((commit) => commit.at.getTime()));
    return {
      fault: 'partition',
      leaderBefore: old.name,
      leaderAfter: leaderName(members),
      secondsWithoutWrites: longestStall(load, at, Date.now()),
      failedRequests: load.failed - failedBefore,
      oldLeaderRole: members.find((m) => m.name === old.name)?.role ?? 'missing',
      partition: {
        secondsUntilOldLeaderStopped: (stoppedAt - at) / 1000,
        secondsUntilNewLeaderWrote: (newFirst - at) / 1000,
        orphanCommits: orphans.length,
        acknowledgedOrphans: orphans.filter((commit) => load.acknowledgedIds.has(commit.message_id)).map((commit) => commit.message_id),
        oldLastBeforeNewFirst: oldLast < newFirst,
      },
    };
  };

  const verify = async (): Promise<Verdict> => {
    await load.stop();
    await reads.stop();
    const log = await commitLog(cluster.rwUrl, nodeOfPort);
    const logged = new Set(log.map((commit) => commit.message_id));
    const unlogged = [...load.acknowledgedIds].filter((id) => !logged.has(id));
    const byTimeline = new Map<number, Commit[]>();
    for (const commit of log) byTimeline.set(commit.timeline, [...(byTimeline.get(commit.timeline) ?? []), commit]);
    const timelines = [...byTimeline.entries()]
      .sort(([a], [b]) => a - b)
      .map(([timeline, commits]) => ({
        timeline,
        nodes: [...new Set(commits.map((commit) => commit.node))],
        first: commits[0]!.at.toISOString(),
        last: commits.at(-1)!.at.toISOString(),
        acknowledged: commits.filter((commit) => load.acknowledgedIds.has(commit.message_id)).length,
      }));
    const conflicts: string[] = [];
    for (const [i, line] of timelines.entries()) {
      if (line.nodes.length > 1) conflicts.push(`timeline ${line.timeline} has commits of ${line.nodes.join(' and ')}`);
      const next = timelines[i + 1];
      if (next && next.first <= line.last)
        conflicts.push(`timeline ${next.timeline} began (${next.first}) before ${line.timeline}'s last commit (${line.last})`);
    }
    const client = new pg.Client({ connectionString: cluster.rwUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ conversation_id: string; content: string; n: number }>(
        `SELECT conversation_id::text, content, count(*)::int AS n FROM messages
          WHERE role = 'user' AND conversation_id = ANY($1::uuid[]) GROUP BY 1, 2`,
        [conversations],
      );
      const missing: string[] = [];
      let acknowledged = 0;
      for (const [conversation, contents] of load.acknowledged) {
        const present = new Set(rows.filter((row) => row.conversation_id === conversation).map((row) => row.content));
        for (const content of contents) if (!present.has(content)) missing.push(content);
        acknowledged += contents.size;
      }
      return {
        acknowledged,
        missing,
        duplicated: rows.filter((row) => row.n > 1).map((row) => `${row.content} x${row.n}`),
        unlogged,
        timelines,
        conflicts,
        reads: reads.samples,
      };
    } finally {
      await client.end();
    }
  };

  return {
    dataDir,
    service,
    conversations,
    load,
    inject,
    verify,
    stop: async () => {
      await load.stop();
      await reads.stop();
      service.child.kill('SIGTERM');
      await waitForExit(service.child);
    },
  };
}

/** Samples the read-only port until stopped (ReadSamples). */
function sampleReads(cluster: Cluster): { samples: ReadSamples; stop(): Promise<void> } {
  const samples: ReadSamples = { answered: 0, refused: 0, beyondLimit: 0, maxLagBytes: 0, violations: [] };
  const nodeOfPort = (port: number) => cluster.nodes.find((node) => node.pgPort === port)?.name ?? `port ${port}`;
  let running = true;
  const sampling = (async () => {
    while (running) {
      try {
        const leader = await withClient(
          cluster.rwUrl,
          async (client) =>
            (await client.query<{ lsn: string; port: number }>('SELECT pg_current_wal_lsn()::text AS lsn, inet_server_port() AS port')).rows[0]!,
        );
        const read = await withClient(cluster.roUrl, async (client) =>
          client.query<{ port: number; standby: boolean; behind: string | null }>(
            `SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby,
                    GREATEST(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0)::text AS behind`,
            [leader.lsn],
          ),
        );
        const { port, standby, behind } = read.rows[0]!;
        samples.answered++;
        if (!standby) {
          if (port !== leader.port) samples.violations.push(`${nodeOfPort(port)} answered a read taking writes while ${nodeOfPort(leader.port)} led`);
          continue;
        }
        const lag = Number(behind ?? 0);
        samples.maxLagBytes = Math.max(samples.maxLagBytes, lag);
        if (lag > READ_LAG_LIMIT_BYTES) samples.beyondLimit++;
      } catch {
        samples.refused++;
      } finally {
        await pause(300);
      }
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await sampling;
    },
  };
}

/** Seconds of the longest gap between acknowledgements from `from` to `to` (the first gap starts at `from`). */
function longestStall(load: Load, from: number, to: number): number {
  let previous = from;
  let longest = 0;
  for (const acked of load.ackedAt.filter((t) => t > from && t <= to).sort((a, b) => a - b)) {
    longest = Math.max(longest, acked - previous);
    previous = acked;
  }
  return longest / 1000;
}

function leaderName(members: Member[]): string {
  return members.find((m) => m.role === 'leader')?.name ?? 'none';
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function startLoad(
  call: (method: string, route: string, body?: unknown, extra?: Record<string, string>) => Promise<Response>,
  conversations: string[],
  api: string,
  token: string,
): Load {
  let running = true;
  const load: Load = {
    acknowledged: new Map(),
    acknowledgedIds: new Set(),
    sentAtOfAcks: [],
    ackedAt: [],
    failed: 0,
    unexpected: [],
    stop: async () => undefined,
  };
  const workers: Promise<void>[] = [];
  conversations.forEach((conversation, worker) => {
    const acknowledged = new Set<string>();
    load.acknowledged.set(conversation, acknowledged);
    workers.push(
      (async () => {
        for (let n = 0; running; n++) {
          const content = `turno ${worker}-${n}`;
          const key = `drill-${conversation}-${n}`;
          // The client's retry: the same body under the same key until it is acknowledged (or the drill ends).
          while (running) {
            const sent = Date.now();
            try {
              const response = await call(
                'POST',
                `/v1/conversations/${conversation}/turns`,
                { user: { content }, assistant: { content: 'ok' } },
                { 'Idempotency-Key': key },
              );
              if (response.status === 201 || response.status === 200) {
                const answer = (await response.json()) as { messages?: { id: string; role: string }[] };
                const id = answer.messages?.find((message) => message.role === 'user')?.id;
                if (id) load.acknowledgedIds.add(id);
                else load.unexpected.push(`append: ${response.status} without the user message's id`);
                acknowledged.add(content);
                load.sentAtOfAcks.push(sent);
                load.ackedAt.push(Date.now());
                break;
              }
              const text = await response.text();
              if (response.status !== 503 && response.status !== 409) load.unexpected.push(`append: ${response.status} ${text.slice(0, 200)}`);
            } catch (error) {
              load.unexpected.push(`append: the service dropped the connection (${(error as Error).message})`);
            }
            load.failed++;
            await pause(200);
          }
        }
      })(),
    );
  });
  workers.push(
    (async () => {
      for (let i = 0; running; i++) {
        try {
          const response = await call('GET', `/v1/conversations/${conversations[i % conversations.length]}/messages?limit=20`);
          await response.arrayBuffer();
          if (response.status !== 200) {
            load.failed++;
            if (response.status !== 503) load.unexpected.push(`history: ${response.status}`);
          }
        } catch (error) {
          load.failed++;
          load.unexpected.push(`history: the service dropped the connection (${(error as Error).message})`);
        }
        await pause(100);
      }
    })(),
  );
  const streams = new AbortController();
  workers.push(
    (async () => {
      while (running) {
        try {
          const response = await fetch(`${api}/v1/reminders/stream`, { headers: { authorization: `Bearer ${token}` }, signal: streams.signal });
          if (response.status === 200) for await (const _ of response.body as unknown as AsyncIterable<Uint8Array>);
          else await response.arrayBuffer();
        } catch (error) {
          if (running) load.unexpected.push(`stream: the service dropped the connection (${(error as Error).message})`);
        }
        await pause(500);
      }
    })(),
  );
  let stopped: Promise<void> | undefined;
  load.stop = () =>
    (stopped ??= (async () => {
      running = false;
      streams.abort();
      await Promise.all(workers);
    })());
  return load;
}

export type { PatroniNode };
