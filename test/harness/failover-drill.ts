// The failover drill (issue 33): `mordomo-db start` on the Patroni cluster of patroni-cluster.ts (DATABASE_URL at
// HAProxy's read-write port, DATABASE_REPLICA_URL at its read-only one), serving concurrent appends with
// Idempotency-Keys (a client retries a failed append with the same key until it is acknowledged), history reads
// and an SSE stream, while faults hit the leader one after another. Shared by test/system/failover.system.ts and
// `npm run bench:failover`.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { eventually } from './assertions.ts';
import { startService } from './cli.ts';
import type { Cluster, Member, PatroniNode } from './patroni-cluster.ts';
import { tempDir } from './temp-dir.ts';

const APPENDERS = 3;

export type FaultName = 'postmaster-sigkill' | 'patroni-and-postmaster-sigkill' | 'switchover';
export const FAULTS: FaultName[] = ['postmaster-sigkill', 'patroni-and-postmaster-sigkill', 'switchover'];

export interface FaultResult {
  fault: FaultName;
  leaderBefore: string;
  leaderAfter: string;
  /** From the fault to the first acknowledged append that was sent after it. */
  secondsWithoutWrites: number;
  /** Requests (appends, reads) that failed between the fault and the cluster's return to health. */
  failedRequests: number;
  /** The old leader's role once the cluster is healthy again. */
  oldLeaderRole: string;
}

interface Load {
  acknowledged: Map<string, Set<string>>;
  /** When each acknowledged append was sent. */
  sentAtOfAcks: number[];
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
  /** Stops the load; every acknowledged turn is on the leader, none twice. Returns the count checked. */
  verify(): Promise<{ acknowledged: number; missing: string[]; duplicated: string[] }>;
  stop(): Promise<void>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
  const load = startLoad(call, conversations, service.api, token);

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
    if (fault === 'switchover') {
      const candidate = (await cluster.members()).find((m) => m.role === 'sync_standby')!.name;
      cluster.patronictl('switchover', '--leader', old.name, '--candidate', candidate, '--force');
    }
    await eventually(`appends acknowledged again after ${fault}`, async () => load.sentAtOfAcks.some((sent) => sent > at), 120_000);
    const resumed = Math.min(...load.sentAtOfAcks.filter((sent) => sent > at));
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
      secondsWithoutWrites: (resumed - at) / 1000,
      failedRequests: load.failed - failedBefore,
      oldLeaderRole: members.find((m) => m.name === old.name)?.role ?? 'missing',
    };
  };

  const verify = async () => {
    await load.stop();
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
      return { acknowledged, missing, duplicated: rows.filter((row) => row.n > 1).map((row) => `${row.content} x${row.n}`) };
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
      service.child.kill('SIGTERM');
      await waitForExit(service.child);
    },
  };
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
  const load: Load = { acknowledged: new Map(), sentAtOfAcks: [], failed: 0, unexpected: [], stop: async () => undefined };
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
                await response.arrayBuffer();
                acknowledged.add(content);
                load.sentAtOfAcks.push(sent);
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

/** `ip netns` works here (root, iproute2 present, namespaces allowed)? The partition fault needs it. */
export function networkNamespacesUsable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = spawnSync('ip', ['netns', 'add', `mordomo-probe-${process.pid}`], { encoding: 'utf8' });
  if (probe.error) return `ip is missing (${probe.error.message})`;
  if (probe.status !== 0) return `ip netns add failed: ${probe.stderr.trim()}`;
  spawnSync('ip', ['netns', 'delete', `mordomo-probe-${process.pid}`]);
  return undefined;
}

export type { PatroniNode };
