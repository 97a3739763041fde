// The fault tests' scenario: `npm start` (embedded PostgreSQL) serving concurrent appends and history reads over
// HTTP, an SSE stream kept open and a scheduled backup every few seconds, while a fault is injected ten times. After
// each fault the service must become ready and append again by itself; at the end it must still be running, every
// failed request must have been a 503 in the one error shape, and every turn it acknowledged must be stored.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import pg from 'pg';
import { embeddedUrl } from '../../src/db/connect.ts';
import { findRunningServer, isAlive } from '../../src/db/postmaster.ts';
import { eventually } from './assertions.ts';
import { exited, startService, stopServersAfter } from './cli.ts';
import { freePort } from './ports.ts';
import { tempDir } from './temp-dir.ts';

const APPENDERS = 4;
const READERS = 2;
const ROUNDS = 10;

interface Load {
  acknowledged: Map<string, Set<string>>;
  /** Answers that are neither a success nor a 503 in the error shape, and connections the service dropped. */
  unexpected: string[];
  successes: number;
  stop(): Promise<void>;
}

export interface FaultTarget {
  /** The embedded server's data directory (`postmaster.pid` is there). */
  pgData: string;
  /** A superuser connection string to the service's database. */
  superuserUrl(): string;
}

/** Runs the scenario above with `fault` injected ten times, 0.3–1 s apart. */
export async function survivesFaults(label: string, fault: (target: FaultTarget, round: number) => Promise<void>): Promise<void> {
  const dataDir = path.join(tempDir(label), 'data');
  const pgPort = await freePort();
  const pgData = path.join(dataDir, 'pg');
  stopServersAfter(pgData);
  const service = await startService({
    MORDOMO_DATA_DIR: dataDir,
    MORDOMO_PG_PORT: String(pgPort),
    // A backup (verified by a restore) starts every 4 seconds, so faults land while a scheduled job holds its lock
    // client and works on another.
    MORDOMO_BACKUP_CRON: '*/4 * * * * *',
    MORDOMO_WAL_ARCHIVE_DIR: 'off',
    MORDOMO_CONNECT_TIMEOUT_MS: '2000',
  });
  const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = (method: string, route: string, body?: unknown) =>
    fetch(`${service.api}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const target: FaultTarget = {
    pgData,
    superuserUrl: () => embeddedUrl(pgPort, readFileSync(path.join(dataDir, 'postgres-password'), 'utf8').trim()),
  };
  let load: Load | undefined;
  after(async () => {
    await load?.stop();
    service.child.kill('SIGTERM');
    await exited(service.child);
  });

  const conversations: string[] = [];
  for (let i = 0; i < APPENDERS; i++) conversations.push(((await (await call('POST', '/v1/conversations', {})).json()) as { id: string }).id);
  load = startLoad(call, conversations, service.api, token);
  const alive = (what: string) => assert.equal(service.child.exitCode, null, `the service exited after ${what}:\n${service.output()}`);

  for (let round = 1; round <= ROUNDS; round++) {
    await pause(300 + Math.random() * 700);
    await fault(target, round);
    alive(`fault ${round}`);
    const before = load.successes;
    await eventually(`the service ready again after fault ${round}`, async () => (await fetch(`${service.api}/readyz`)).status === 200, 60_000);
    await eventually(`appends succeeding again after fault ${round}`, async () => load!.successes > before + APPENDERS, 30_000);
  }
  await load.stop();
  alive('the faults');
  assert.deepEqual(
    load.unexpected.slice(0, 10),
    [],
    `every failed request was a 503 in the one error shape; the service said:\n${serviceErrors(service.output())}`,
  );

  const stored = new pg.Client({ connectionString: target.superuserUrl() });
  await stored.connect();
  try {
    const { rows } = await stored.query<{ conversation_id: string; content: string }>(
      `SELECT conversation_id::text, content FROM messages WHERE role = 'user' AND conversation_id = ANY($1::uuid[])`,
      [conversations],
    );
    let acknowledged = 0;
    for (const [conversation, contents] of load.acknowledged) {
      const present = new Set(rows.filter((row) => row.conversation_id === conversation).map((row) => row.content));
      assert.deepEqual(
        [...contents].filter((content) => !present.has(content)),
        [],
        `acknowledged turns of ${conversation} are stored; the service said:\n${serviceErrors(service.output())}`,
      );
      acknowledged += contents.size;
    }
    assert.ok(acknowledged > ROUNDS * APPENDERS, `appends went on between faults (${acknowledged})`);
  } finally {
    await stored.end();
  }

  // The reminder listener reconnected: a reminder due now still reaches a new stream.
  const stream = await fetch(`${service.api}/v1/reminders/stream`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(stream.status, 200);
  const reminder = (await (await call('POST', '/v1/reminders', { title: 'depois das falhas', scheduled_at: new Date().toISOString() })).json()) as {
    id: string;
  };
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let seen = '';
  const deadline = Date.now() + 30_000;
  // One read outstanding at a time: a read abandoned to the timer would swallow the chunk it later receives.
  let pending = reader.read();
  while (!seen.includes(reminder.id) && Date.now() < deadline) {
    const chunk = await Promise.race([pending, pause(1000).then(() => undefined)]);
    if (chunk === undefined) continue;
    if (chunk.done) break;
    seen += decoder.decode(chunk.value, { stream: true });
    pending = reader.read();
  }
  await reader.cancel();
  assert.ok(seen.includes(reminder.id), 'the due reminder was pushed after the faults');
}

/** Concurrent appends and history reads, plus an SSE stream kept open (reopened when the service ends it). */
function startLoad(call: (method: string, route: string, body?: unknown) => Promise<Response>, conversations: string[], api: string, token: string): Load {
  let running = true;
  const load: Load = { acknowledged: new Map(), unexpected: [], successes: 0, stop: async () => undefined };
  const judge = async (what: string, response: Response, ok: number) => {
    if (response.status === ok) return true;
    const text = await response.text();
    let code: unknown;
    try {
      code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    } catch {
      code = undefined;
    }
    if (response.status !== 503 || code !== 'unavailable') load.unexpected.push(`${what}: ${response.status} ${text.slice(0, 300)}`);
    return false;
  };
  const workers: Promise<void>[] = [];
  conversations.forEach((conversation, worker) => {
    const acknowledged = new Set<string>();
    load.acknowledged.set(conversation, acknowledged);
    workers.push(
      (async () => {
        for (let n = 0; running; n++) {
          const content = `turno ${worker}-${n}`;
          try {
            const response = await call('POST', `/v1/conversations/${conversation}/turns`, { user: { content }, assistant: { content: 'ok' } });
            if (await judge('append', response, 201)) {
              acknowledged.add(content);
              load.successes++;
            } else await pause(50);
          } catch (error) {
            load.unexpected.push(`append: the service dropped the connection (${(error as Error).message})`);
            await pause(100);
          }
        }
      })(),
    );
  });
  for (let reader = 0; reader < READERS; reader++) {
    workers.push(
      (async () => {
        while (running) {
          try {
            const response = await call('GET', `/v1/conversations/${conversations[reader]}/messages?limit=50`);
            if (await judge('history', response, 200)) await response.arrayBuffer();
            else await pause(50);
          } catch (error) {
            load.unexpected.push(`history: the service dropped the connection (${(error as Error).message})`);
            await pause(100);
          }
        }
      })(),
    );
  }
  const streams = new AbortController();
  workers.push(
    (async () => {
      while (running) {
        try {
          const response = await fetch(`${api}/v1/reminders/stream`, { headers: { authorization: `Bearer ${token}` }, signal: streams.signal });
          if (response.status !== 200) await judge('stream', response, 200);
          else for await (const _ of response.body as unknown as AsyncIterable<Uint8Array>);
        } catch (error) {
          if (running) load.unexpected.push(`stream: the service dropped the connection (${(error as Error).message})`);
        }
        await pause(200);
      }
    })(),
  );
  load.stop = async () => {
    running = false;
    streams.abort();
    await Promise.all(workers);
  };
  return load;
}

/** A service a test drives with keyed writers: its admin headers, conversations to write into, and the writers. */
export interface DrivenService {
  service: Awaited<ReturnType<typeof startService>>;
  headers: Record<string, string>;
  conversations: string[];
  /** Starts keyed writers on the conversations; stopped after the test, before the service. */
  startWriters(): Writers;
}

/**
 * `mordomo-db start` with `env` (its MORDOMO_DATA_DIR on the file system under test) and `count` conversations made
 * over HTTP. After the test: the writers stopped, the service stopped, and a PostgreSQL it left behind (one that
 * crashed and was restarted outside the service's watch) stopped too, so that nothing holds the mount.
 */
export async function drivenService(env: Record<string, string>, count: number): Promise<DrivenService> {
  const dataDir = env.MORDOMO_DATA_DIR!;
  const service = await startService(env);
  let writers: Writers | undefined;
  after(async () => {
    await writers?.stop();
    service.child.kill('SIGTERM');
    await exited(service.child);
    const left = findRunningServer(path.join(dataDir, 'pg'));
    if (left) {
      process.kill(left.pid, 'SIGINT');
      await eventually('the embedded PostgreSQL to stop', async () => !isAlive(left.pid), 30_000);
    }
  });
  const token = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const conversations: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${service.api}/v1/conversations`, { method: 'POST', headers, body: '{}' });
    conversations.push(((await response.json()) as { id: string }).id);
  }
  return { service, headers, conversations, startWriters: () => (writers = startKeyedWriters(service.api, headers, conversations)) };
}

export interface Writers {
  acknowledged: string[];
  successes: number;
  /** Statuses and codes of the failed answers, e.g. "507 insufficient_storage". */
  failures: Map<string, number>;
  /** Answers neither a success nor a retryable 503/507 in the error shape. */
  unexpected: string[];
  stop(): Promise<void>;
}

/** Writers of ~20 KB turns (incompressible), each turn retried under its own Idempotency-Key on 503/507 until it lands. */
export function startKeyedWriters(api: string, headers: Record<string, string>, conversations: string[]): Writers {
  let running = true;
  const writers: Writers = { acknowledged: [], successes: 0, failures: new Map(), unexpected: [], stop: async () => undefined };
  const work = conversations.map(async (conversation, worker) => {
    for (let n = 0; running; n++) {
      const label = `${worker}-${n}`;
      const key = randomUUID();
      const body = JSON.stringify({ user: { content: `turno ${label} ${randomBytes(15_000).toString('base64')}` }, assistant: { content: 'ok' } });
      while (running) {
        let response: Response;
        try {
          response = await fetch(`${api}/v1/conversations/${conversation}/turns`, {
            method: 'POST',
            headers: { ...headers, 'idempotency-key': key },
            body,
          });
        } catch (error) {
          writers.unexpected.push(`${label}: the service dropped the connection (${(error as Error).message})`);
          await pause(200);
          continue;
        }
        if (response.status === 201) {
          await response.arrayBuffer();
          writers.acknowledged.push(label);
          writers.successes++;
          break;
        }
        const text = await response.text();
        const code = errorCode(text);
        const seen = `${response.status} ${code}`;
        writers.failures.set(seen, (writers.failures.get(seen) ?? 0) + 1);
        const retryable = (response.status === 507 && code === 'insufficient_storage') || (response.status === 503 && code === 'unavailable');
        if (!retryable) writers.unexpected.push(`${label}: ${response.status} ${text.slice(0, 300)}`);
        await pause(100);
      }
    }
  });
  writers.stop = async () => {
    running = false;
    await Promise.all(work);
  };
  return writers;
}

function errorCode(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; request_id?: string } };
    return body.error?.message && body.error.request_id ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

/** The service's log lines above info (its warnings and errors, with their causes), for a failure's message. */
function serviceErrors(output: string): string {
  const lines = output.split('\n').filter((line) => /"level":(40|50|60)/.test(line) && !line.includes('reconnecting'));
  return lines.slice(-40).join('\n');
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
