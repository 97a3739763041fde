// The failover drill's network, when the machine allows it: each Patroni node (and its PostgreSQL) in a network
// namespace of its own, joined by a veth pair to a bridge in the test's namespace, where etcd, HAProxy and the
// service run. Then a node can be cut off: routes of type `prohibit` in its namespace (to etcd and the other nodes)
// and in theirs (to it) drop every packet between them, while HAProxy, the service and the test still reach it
// (the dangerous partition: clients can still talk to a leader that lost its key). No packet filter is needed,
// only iproute2's `ip`. Without root or namespaces every node runs on 127.0.0.1 and the partition fault is skipped.
import { spawnSync } from 'node:child_process';

export interface ClusterNetwork {
  /** Where etcd listens; where node i (0-based) listens. */
  etcdHost: string;
  nodeHost(index: number): string;
  /** The address range pg_hba lets in (cluster and clients). */
  cidr: string;
  /** The command prefix that runs a program in node i's namespace ([] on plain loopback). */
  exec(index: number): string[];
  /** Why a node cannot be cut off here, or undefined when it can. */
  partitionUnavailable: string | undefined;
  /** Cuts node i off from etcd and the other nodes; heal() undoes it. */
  partition(index: number): void;
  heal(index: number): void;
  /** Removes the namespaces and links (synchronous: it runs in an exit handler too). */
  remove(): void;
}

function ip(...args: string[]): { ok: boolean; output: string } {
  const run = spawnSync('/usr/sbin/ip', args, { encoding: 'utf8' });
  if (run.error) return { ok: false, output: run.error.message };
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
}

function must(...args: string[]): void {
  const run = ip(...args);
  if (!run.ok) throw new Error(`ip ${args.join(' ')}: ${run.output}`);
}

function loopback(reason: string): ClusterNetwork {
  return {
    etcdHost: '127.0.0.1',
    nodeHost: () => '127.0.0.1',
    cidr: '127.0.0.1/32',
    exec: () => [],
    partitionUnavailable: reason,
    partition: () => {
      throw new Error(`no partition here: ${reason}`);
    },
    heal: () => undefined,
    remove: () => undefined,
  };
}

/**
 * The namespaces and links of a drill whose process is gone without its exit handler (SIGKILL, a crash): a
 * process still running keeps its own.
 */
function removeLeftovers(): void {
  for (const line of ip('netns', 'list').output.split('\n')) {
    const owner = /^mdb(\d+)-pg\d+/.exec(line);
    if (!owner) continue;
    try {
      process.kill(Number(owner[1]), 0);
      continue;
    } catch (error) {
      // ESRCH: that process is gone, its network goes too (EPERM: alive, another user's).
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    ip('netns', 'delete', owner[0]);
    for (const link of [`mdb${owner[1]}br`, `mdb${owner[1]}v1`, `mdb${owner[1]}v2`, `mdb${owner[1]}v3`]) ip('link', 'del', link);
  }
}

/** Namespaces for `nodes` nodes, or plain loopback (with the reason) where the machine does not allow them. */
export function clusterNetwork(nodes: number): ClusterNetwork {
  if (process.getuid?.() !== 0) return loopback('network namespaces need root (the drill runs as a normal user)');
  // Names from the process id, and a subnet no interface uses yet: two drills at once (the system test and
  // bench:failover) get their own. Interface names are at most 15 characters.
  const id = process.pid;
  const prefix = `mdb${id}`;
  removeLeftovers();
  const inUse = ip('-4', '-o', 'addr').output;
  let subnet = '';
  for (let k = 0; k < 256 && (subnet === '' || inUse.includes(` ${subnet}.`)); k++) subnet = `10.${200 + ((id + k) % 50)}.${((id >> 6) + k) % 256}`;
  const bridge = `${prefix}br`;
  const namespaces = Array.from({ length: nodes }, (_, i) => `${prefix}-pg${i + 1}`);
  const nodeHost = (i: number) => `${subnet}.${11 + i}`;
  const etcdHost = `${subnet}.254`;
  const remove = () => {
    for (let i = 0; i < nodes; i++) ip('link', 'del', `${prefix}v${i + 1}`);
    ip('link', 'del', bridge);
    for (const ns of namespaces) ip('netns', 'delete', ns);
  };
  const probe = ip('netns', 'add', namespaces[0]!);
  if (!probe.ok) return loopback(`ip netns add failed (${probe.output}): the machine does not allow network namespaces`);
  try {
    must('link', 'add', bridge, 'type', 'bridge');
    must('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    must('addr', 'add', `${etcdHost}/32`, 'dev', bridge);
    must('link', 'set', bridge, 'up');
    namespaces.forEach((ns, i) => {
      if (i > 0) must('netns', 'add', ns);
      must('link', 'add', `${prefix}v${i + 1}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      must('link', 'set', `${prefix}v${i + 1}`, 'master', bridge, 'up');
      must('-n', ns, 'addr', 'add', `${nodeHost(i)}/24`, 'dev', 'eth0');
      must('-n', ns, 'link', 'set', 'eth0', 'up');
      must('-n', ns, 'link', 'set', 'lo', 'up');
    });
  } catch (error) {
    remove();
    return loopback(`the drill's network could not be made: ${(error as Error).message}`);
  }
  // Node i's namespace refuses to send to `hosts`, and theirs to it: no packet passes either way.
  const cut = (i: number, verb: 'add' | 'del') => {
    const others = namespaces.map((_, j) => j).filter((j) => j !== i);
    for (const host of [etcdHost, ...others.map(nodeHost)]) ip('-n', namespaces[i]!, 'route', verb, 'prohibit', `${host}/32`);
    for (const j of others) ip('-n', namespaces[j]!, 'route', verb, 'prohibit', `${nodeHost(i)}/32`);
  };
  return {
    etcdHost,
    nodeHost,
    cidr: `${subnet}.0/24`,
    exec: (i) => ['/usr/sbin/ip', 'netns', 'exec', namespaces[i]!],
    partitionUnavailable: undefined,
    partition: (i) => cut(i, 'add'),
    heal: (i) => cut(i, 'del'),
    remove,
  };
}
