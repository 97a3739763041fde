// The failover drill's cluster, on loopback: one etcd, three Patroni nodes running the package's embedded
// PostgreSQL 16, and HAProxy in front, all configured from the templates in deploy/patroni/ (rendered here with
// the drill's ports and folders). Debian 12's packages: apt-get install patroni etcd-server haproxy.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaries } from '../../src/db/embedded-server.ts';
import { eventually } from './assertions.ts';
import { type ClusterNetwork, clusterNetwork } from './cluster-network.ts';
import { PG15_BIN } from './debian-pg15.ts';
import { freePort } from './ports.ts';
import { tempDir } from './temp-dir.ts';

const DEPLOY = fileURLToPath(new URL('../../deploy/patroni/', import.meta.url));
const CLONE_SCRIPT = fileURLToPath(new URL('./patroni-clone.sh', import.meta.url));
export const SUPERUSER = 'mordomo';
const PASSWORD = 'drill-only-password';
/** Patroni's timings in the drill: a dead leader's key expires after TTL seconds. */
export const TTL = 20;
/** HAProxy's read-only port takes a standby only within this lag (`/replica?lag=`); the drill checks its reads against it. */
export const READ_LAG_LIMIT_BYTES = 1_048_576;

/** What the drill needs installed, or why it cannot run here. */
export function missingTools(): string | undefined {
  for (const tool of ['/usr/bin/patroni', '/usr/bin/patronictl', '/usr/bin/etcd', '/usr/sbin/haproxy', `${PG15_BIN}/pg_controldata`, '/usr/bin/psql']) {
    if (!existsSync(tool)) return `${tool} is missing: apt-get install patroni etcd-server haproxy postgresql-15`;
  }
  return undefined;
}

/** Replaces each {{NAME}} in a deploy/patroni template; a name without a value is an error, as in render.sh. */
export function render(template: string, values: Record<string, string | number>): string {
  return readFileSync(path.join(DEPLOY, template), 'utf8').replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`${template}: no value for {{${name}}}`);
    return String(values[name]);
  });
}

export interface Member {
  name: string;
  role: 'leader' | 'sync_standby' | 'replica' | string;
  state: string;
  timeline?: number;
  lag?: number | string;
  port: number;
}

export interface PatroniNode {
  name: string;
  /** Where its PostgreSQL and REST API listen (its own address when the nodes have network namespaces). */
  host: string;
  pgPort: number;
  restPort: number;
  dataDir: string;
  config: string;
  process: ChildProcess | undefined;
}

export interface Cluster {
  root: string;
  nodes: PatroniNode[];
  /** HAProxy's read-write port (the leader) and read-only port (standbys within the lag limit), as URLs. */
  rwUrl: string;
  roUrl: string;
  /** The nodes' REST APIs, comma-separated, for MORDOMO_PATRONI_URL. */
  patroniUrls: string;
  members(): Promise<Member[]>;
  leader(): Promise<PatroniNode>;
  postmasterPid(node: PatroniNode): number;
  startPatroni(node: PatroniNode): void;
  /** Runs patronictl without blocking the event loop (the drill's load goes on meanwhile). */
  patronictl(...args: string[]): Promise<string>;
  /** Why no node can be cut off here (no network namespaces), or undefined when partition() works. */
  partitionUnavailable: string | undefined;
  /** Cuts the node off from etcd and the other nodes (HAProxy, the service and the test still reach it). */
  partition(node: PatroniNode): void;
  heal(node: PatroniNode): void;
  /** Resolves once every node runs, one leader, the others streaming, one of them synchronous. */
  healthy(timeoutMs?: number): Promise<Member[]>;
  stop(): Promise<void>;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
}

function chownAll(dir: string, user: { uid: number; gid: number } | undefined): void {
  if (!user) return;
  chownSync(dir, user.uid, user.gid);
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) chownAll(full, user);
    else chownSync(full, user.uid, user.gid);
  }
}

async function get(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return response.json();
}

export async function startCluster(label: string): Promise<Cluster> {
  const root = tempDir(label);
  const user = postgresUser();
  const children: ChildProcess[] = [];
  const logs = path.join(root, 'logs');
  mkdirSync(logs);
  const log = (name: string) => openSync(path.join(logs, `${name}.log`), 'a');
  const nodes: PatroniNode[] = [];
  const network: ClusterNetwork = clusterNetwork(3);
  /** Nodes cut off now: members() does not ask them (their view of the cluster is stale). */
  const cut = new Set<string>();
  // Whatever way this process ends (a failed assertion, a timeout), nothing of the cluster outlives it.
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const node of nodes) {
      try {
        process.kill(Number(readFileSync(path.join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]), 'SIGKILL');
      } catch {
        // Not running.
      }
    }
    network.remove();
  });

  // bin_dir: the embedded 16 server's initdb, pg_ctl and postgres; Debian's 15 pg_controldata (it reads a 16
  // control file) and pg_isready (any version). No pg_basebackup (15's refuses a 16 server), no pg_rewind.
  const bin = path.join(root, 'bin');
  mkdirSync(bin);
  const embedded = path.dirname((await binaries()).pg_ctl);
  for (const tool of ['initdb', 'pg_ctl', 'postgres']) symlinkSync(path.join(embedded, tool), path.join(bin, tool));
  for (const tool of ['pg_controldata', 'pg_isready']) symlinkSync(path.join(PG15_BIN, tool), path.join(bin, tool));
  const clone = path.join(root, 'clone.sh');
  copyFileSync(CLONE_SCRIPT, clone);
  const postInit = path.join(root, 'post-init.sh');
  copyFileSync(path.join(DEPLOY, 'post-init.sh'), postInit);
  mkdirSync(path.join(root, 'archive'));
  mkdirSync(path.join(root, 'sockets'));

  const etcdClient = await freePort();
  const etcdPeer = await freePort();
  const etcdConfig = path.join(root, 'etcd.yml');
  writeFileSync(
    etcdConfig,
    render('etcd.conf.yml.template', {
      ETCD_NAME: 'etcd1',
      ETCD_DATA_DIR: path.join(root, 'etcd'),
      ETCD_HOST: network.etcdHost,
      ETCD_CLIENT_PORT: etcdClient,
      ETCD_PEER_PORT: etcdPeer,
      ETCD_INITIAL_CLUSTER: `etcd1=http://${network.etcdHost}:${etcdPeer}`,
      SCOPE: 'mordomo',
    }),
  );
  const etcd = spawn('/usr/bin/etcd', ['--config-file', etcdConfig], { stdio: ['ignore', log('etcd'), log('etcd')] });
  children.push(etcd);
  await eventually('etcd answers', async () => (await get(`http://${network.etcdHost}:${etcdClient}/health`).catch(() => ({}))) !== undefined, 30_000);

  for (let i = 1; i <= 3; i++) {
    const name = `pg${i}`;
    const pgPort = await freePort();
    const restPort = await freePort();
    const dataDir = path.join(root, name, 'data');
    const host = network.nodeHost(i - 1);
    mkdirSync(path.join(root, name), { recursive: true });
    const config = path.join(root, name, 'patroni.yml');
    writeFileSync(
      config,
      render('patroni.yml.template', {
        SCOPE: 'mordomo',
        NODE_NAME: name,
        NODE_HOST: host,
        REST_PORT: restPort,
        PG_PORT: pgPort,
        ETCD_HOSTS: `${network.etcdHost}:${etcdClient}`,
        TTL,
        LOOP_WAIT: 3,
        RETRY_TIMEOUT: 5,
        USE_PG_REWIND: 'false',
        ARCHIVE_COMMAND: `cp %p ${path.join(root, 'archive')}/%f`,
        LOCALE: 'C.UTF-8',
        POST_INIT: postInit,
        DATA_DIR: dataDir,
        BIN_DIR: bin,
        PGPASS: path.join(root, name, 'pgpass'),
        SUPERUSER,
        REPLICATION_USER: SUPERUSER,
        CLUSTER_NETWORK: network.cidr,
        CLIENT_NETWORK: network.cidr,
        SOCKET_DIR: path.join(root, 'sockets'),
        CREATE_REPLICA_METHODS: '[mordomo_copy]',
        EXTRA_POSTGRESQL: `  mordomo_copy:\n    command: ${clone}\n    keep_data: false`,
      }),
    );
    nodes.push({ name, host, pgPort, restPort, dataDir, config, process: undefined });
  }
  chownAll(root, user);

  const startPatroni = (node: PatroniNode) => {
    const env = {
      PATH: `${bin}:/usr/bin:/bin`,
      HOME: root,
      LANG: 'C.UTF-8',
      PATRONI_SUPERUSER_PASSWORD: PASSWORD,
      PATRONI_REPLICATION_PASSWORD: PASSWORD,
    };
    const prefix = network.exec(nodes.indexOf(node));
    // In a namespace: `ip netns exec` (as root), then setpriv drops to the postgres user; both exec, so the child's
    // pid is Patroni's.
    const child =
      prefix.length > 0 && user
        ? spawn(
            prefix[0]!,
            [...prefix.slice(1), '/usr/bin/setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '/usr/bin/patroni', node.config],
            {
              env,
              stdio: ['ignore', log(node.name), log(node.name)],
            },
          )
        : spawn('/usr/bin/patroni', [node.config], { env, uid: user?.uid, gid: user?.gid, stdio: ['ignore', log(node.name), log(node.name)] });
    node.process = child;
    children.push(child);
  };

  const members = async (): Promise<Member[]> => {
    for (const node of nodes) {
      if (cut.has(node.name)) continue;
      try {
        const cluster = (await get(`http://${node.host}:${node.restPort}/cluster`)) as { members: Member[] };
        return cluster.members;
      } catch {
        // That node's REST API is down (a fault killed it): ask the next.
      }
    }
    return [];
  };
  const healthy = async (timeoutMs = 180_000) => {
    let last: Member[] = [];
    await eventually(
      'a leader and two streaming standbys, one synchronous',
      async () => {
        last = await members();
        return (
          last.length === 3 &&
          last.filter((m) => m.role === 'leader' && m.state === 'running').length === 1 &&
          last.filter((m) => m.role !== 'leader' && ['running', 'streaming'].includes(m.state) && typeof m.lag === 'number').length === 2 &&
          last.some((m) => m.role === 'sync_standby')
        );
      },
      timeoutMs,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; members: ${JSON.stringify(last)}; logs in ${logs}`);
    });
    return last;
  };

  // The first node initialises the cluster alone; the others clone it once it leads.
  startPatroni(nodes[0]!);
  await eventually('pg1 leads', async () => (await members()).some((m) => m.name === 'pg1' && m.role === 'leader' && m.state === 'running'), 120_000);
  startPatroni(nodes[1]!);
  startPatroni(nodes[2]!);
  await healthy();

  const rwPort = await freePort();
  const roPort = await freePort();
  const haproxyConfig = path.join(root, 'haproxy.cfg');
  const perNode: Record<string, string | number> = {};
  nodes.forEach((node, i) => {
    perNode[`NODE${i + 1}_NAME`] = node.name;
    perNode[`NODE${i + 1}_HOST`] = node.host;
    perNode[`NODE${i + 1}_PG_PORT`] = node.pgPort;
    perNode[`NODE${i + 1}_REST_PORT`] = node.restPort;
  });
  writeFileSync(
    haproxyConfig,
    render('haproxy.cfg.template', { BIND_HOST: '127.0.0.1', RW_PORT: rwPort, RO_PORT: roPort, MAX_LAG_BYTES: READ_LAG_LIMIT_BYTES, ...perNode }),
  );
  const haproxy = spawn('/usr/sbin/haproxy', ['-db', '-f', haproxyConfig], { stdio: ['ignore', log('haproxy'), log('haproxy')] });
  children.push(haproxy);

  const url = (port: number) => `postgresql://${SUPERUSER}:${PASSWORD}@127.0.0.1:${port}/mordomo`;
  const cluster: Cluster = {
    root,
    nodes,
    rwUrl: url(rwPort),
    roUrl: url(roPort),
    patroniUrls: nodes.map((node) => `http://${node.host}:${node.restPort}`).join(','),
    members,
    healthy,
    startPatroni,
    leader: async () => {
      const leader = (await members()).find((m) => m.role === 'leader');
      const node = nodes.find((n) => n.name === leader?.name);
      if (!node) throw new Error('the cluster has no leader now');
      return node;
    },
    postmasterPid: (node) => Number(readFileSync(path.join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]),
    patronictl: (...args) =>
      new Promise((resolve, reject) =>
        execFile('/usr/bin/patronictl', ['-c', nodes[0]!.config, ...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
          error ? reject(new Error(`patronictl ${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve(stdout),
        ),
      ),
    partitionUnavailable: network.partitionUnavailable,
    partition: (node) => {
      cut.add(node.name);
      network.partition(nodes.indexOf(node));
    },
    heal: (node) => {
      network.heal(nodes.indexOf(node));
      cut.delete(node.name);
    },
    stop: async () => {
      // A node left cut off (a failed drill) would keep its Patroni waiting for etcd on the way out.
      for (const node of nodes) if (cut.has(node.name)) cluster.heal(node);
      haproxy.kill('SIGKILL');
      // Patroni stops its PostgreSQL on SIGTERM; a postmaster whose Patroni a fault killed is stopped by hand.
      const patronis = children.filter((child) => child !== etcd && child !== haproxy && child.exitCode === null && child.signalCode === null);
      for (const child of patronis) child.kill('SIGTERM');
      await Promise.all(patronis.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))));
      for (const node of nodes) {
        try {
          process.kill(cluster.postmasterPid(node), 'SIGQUIT');
        } catch {
          // Not running.
        }
      }
      etcd.kill('SIGTERM');
      await new Promise((resolve) => (etcd.exitCode !== null ? resolve(null) : etcd.once('exit', resolve)));
      network.remove();
    },
  };
  await eventually(
    'HAProxy reaches the leader',
    async () => {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: cluster.rwUrl, connectionTimeoutMillis: 2000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r === false;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    30_000,
  );
  return cluster;
}
