// The cluster as Patroni sees it (MORDOMO_PATRONI_URL): its leader, members, their state and lag, and the
// synchronous standby, read from Patroni's REST API (`GET /cluster`) rather than guessed from one server's view.
import { redactUrl } from '../db/urls.ts';
import { UnavailableError } from '../errors.ts';

export interface ClusterMember {
  name: string;
  /** Patroni's role: leader, sync_standby, replica (standby_leader on a standby cluster). */
  role: string;
  /** running, streaming, starting, stopped, crashed, … */
  state: string;
  host: string;
  port: number;
  timeline: number | null;
  /** Bytes of WAL behind the leader; null on the leader, or when Patroni cannot tell ("unknown"). */
  lagBytes: number | null;
}

export interface ClusterStatus {
  /** The REST API that answered (credentials redacted). */
  source: string;
  leader: string | null;
  synchronous: string[];
  members: ClusterMember[];
}

interface PatroniMember {
  name: string;
  role: string;
  state: string;
  host: string;
  port: number;
  timeline?: number;
  lag?: number | string;
}

/** Asks each node's REST API in turn (a dead node's does not answer) and returns the first answer. */
export async function clusterStatus(urls: string[], timeoutMs = 3000): Promise<ClusterStatus> {
  const failures: string[] = [];
  for (const url of urls) {
    try {
      const response = await fetch(`${url}/cluster`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as { members?: PatroniMember[] };
      const members = (body.members ?? []).map(
        (m): ClusterMember => ({
          name: m.name,
          role: m.role,
          state: m.state,
          host: m.host,
          port: m.port,
          timeline: m.timeline ?? null,
          lagBytes: typeof m.lag === 'number' ? m.lag : null,
        }),
      );
      return {
        source: redactUrl(url),
        leader: members.find((m) => m.role === 'leader' || m.role === 'standby_leader')?.name ?? null,
        synchronous: members.filter((m) => m.role === 'sync_standby').map((m) => m.name),
        members,
      };
    } catch (error) {
      failures.push(`${redactUrl(url)}: ${(error as Error).message}`);
    }
  }
  throw new UnavailableError(`no Patroni REST API of MORDOMO_PATRONI_URL answered (${failures.join('; ')})`);
}

/** What is wrong with the cluster, each as a sentence (empty when a leader, a synchronous standby and every member are well). */
export function clusterProblems(status: ClusterStatus, maxLagBytes: number): string[] {
  const problems: string[] = [];
  if (!status.leader) problems.push('the cluster has no leader: writes stop until Patroni elects one');
  if (!status.synchronous.length) problems.push('no synchronous standby: with synchronous_mode, commits wait (strict) or are acknowledged by the leader alone');
  for (const member of status.members) {
    const leader = member.name === status.leader;
    if (!['running', 'streaming'].includes(member.state)) problems.push(`${member.name} is ${member.state}`);
    else if (!leader && member.lagBytes === null) problems.push(`${member.name}'s lag is unknown (not streaming from the leader)`);
    else if (!leader && member.lagBytes !== null && member.lagBytes > maxLagBytes)
      problems.push(`${member.name} is ${member.lagBytes} bytes behind the leader`);
  }
  return problems;
}

/** One line per member, for `replica status`. */
export function describeCluster(status: ClusterStatus): string {
  const lines = status.members.map((m) =>
    `  ${m.name}  ${m.role}  ${m.state}  ${m.host}:${m.port}  timeline ${m.timeline ?? '?'}  ${m.role === 'leader' ? '' : `lag ${m.lagBytes ?? 'unknown'} bytes`}`.trimEnd(),
  );
  return `cluster (Patroni, from ${status.source}): leader ${status.leader ?? 'NONE'}, synchronous ${status.synchronous.join(', ') || 'none'}\n${lines.join('\n')}`;
}
