import assert from 'node:assert/strict';
import { test } from 'node:test';
import net from 'node:net';
import pg from 'pg';
import { createLogger } from '../../src/logger.ts';
import { ReminderStream } from '../../src/http/reminder-stream.ts';
import { eventually } from '../harness/assertions.ts';
import { adminQuery } from '../harness/database.ts';
import { testService } from '../harness/service.ts';

const first = await testService('sse');
// A second service instance on the same database, as when two run behind a load balancer.
const second = await testService('sse_2', {}, first.database);

/** Reads an SSE stream, collecting `reminder` events until `until` says enough or the time runs out. */
async function collect(base: string, token: string, query: string, until: (ids: string[]) => boolean, timeoutMs = 20_000) {
  const controller = new AbortController();
  const response = await fetch(`${base}/v1/reminders/stream${query}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type')!, /text\/event-stream/);
  const ids: string[] = [];
  const events: Record<string, unknown>[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block);
        if (/^event: reminder$/m.test(block) && data) {
          const event = JSON.parse(data[1]!);
          events.push(event);
          ids.push(event.id);
        }
      }
      if (until(ids)) break;
    }
  })().catch(() => undefined);
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  return {
    done: reading.then(() => {
      clearTimeout(timer);
      controller.abort();
      return { ids, events };
    }),
  };
}

test('due reminders are pushed once each, over SSE and NOTIFY, with two services claiming', async () => {
  const listener = new pg.Client({ connectionString: first.database.url });
  await listener.connect();
  try {
    const notified: string[] = [];
    listener.on('notification', (message) => notified.push(JSON.parse(message.payload!).id));
    await listener.query('LISTEN mordomo_reminders');

    const count = 30;
    const onFirst = await collect(first.base, first.token, '', (ids) => ids.length >= count);
    const onSecond = await collect(second.base, second.token, '', (ids) => ids.length >= count);
    const due = new Date(Date.now() + 1500).toISOString();
    const created: string[] = [];
    for (let i = 0; i < count; i++) {
      created.push((await first.call('POST', '/v1/reminders', { body: { title: `lembrete ${i}`, scheduled_at: due } })).body.id);
    }
    const [a, b] = await Promise.all([onFirst.done, onSecond.done]);
    // The database client hears the same NOTIFYs on its own connection, not necessarily before the streams do.
    await eventually('the LISTEN client to hear every reminder', async () => notified.length >= count, 10_000);
    for (const stream of [a.ids, b.ids, notified]) {
      assert.deepEqual([...stream].sort(), [...created].sort(), 'every reminder, each exactly once');
    }
    assert.equal(a.events[0]!.title !== undefined, true);
    const states = await first.database.pool.query(`SELECT status, count(*)::int AS n FROM reminders WHERE id = ANY($1) GROUP BY status`, [created]);
    assert.deepEqual(states.rows, [{ status: 'triggered', n: count }]);
  } finally {
    await listener.end();
  }
});

test('a stream can follow one user; a cancelled reminder is never pushed', async () => {
  const ana = (await first.call('POST', '/v1/users', { body: { name: 'Ana' } })).body;
  const bia = (await first.call('POST', '/v1/users', { body: { name: 'Bia' } })).body;
  const stream = await collect(second.base, second.token, `?user_id=${ana.id}`, (ids) => ids.length >= 1, 6_000);
  const due = new Date(Date.now() + 1000).toISOString();
  const forBia = (await first.call('POST', '/v1/reminders', { body: { user_id: bia.id, title: 'da Bia', scheduled_at: due } })).body;
  const cancelled = (await first.call('POST', '/v1/reminders', { body: { user_id: ana.id, title: 'cancelado', scheduled_at: due } })).body;
  await first.call('POST', `/v1/reminders/${cancelled.id}/cancel`);
  const forAna = (
    await first.call('POST', '/v1/reminders', { body: { user_id: ana.id, title: 'da Ana', scheduled_at: new Date(Date.now() + 2000).toISOString() } })
  ).body;
  const { ids } = await stream.done;
  assert.deepEqual(ids, [forAna.id]);
  assert.notEqual(ids[0], forBia.id);
});

test('the stream needs the admin token', async () => {
  const response = await fetch(`${first.base}/v1/reminders/stream`);
  assert.equal(response.status, 401);
});

test('stopping while the LISTEN connection is being re-opened leaves no connection behind', async () => {
  // The stream connects through a proxy that passes its first connection on at once and holds the next ones
  // for a while, so that stop() lands while the reconnection is under way, every time.
  const target = new URL(first.database.url);
  const sockets: net.Socket[] = [];
  let reconnecting!: () => void;
  const reconnectionStarted = new Promise<void>((resolve) => (reconnecting = resolve));
  const proxy = net.createServer((client) => {
    const isFirst = sockets.length === 0;
    if (!isFirst) reconnecting();
    setTimeout(
      () => {
        const upstream = net.connect(Number(target.port), target.hostname);
        sockets.push(client, upstream);
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
      },
      isFirst ? 0 : 500,
    );
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const viaProxy = new URL(first.database.url);
  viaProxy.port = String((proxy.address() as net.AddressInfo).port);
  const listening = async () =>
    (await adminQuery(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND query = 'LISTEN mordomo_reminders'`, [first.database.name]))
      .rows[0]!.n;
  const before = await listening();

  const stream = new ReminderStream(first.database.db, viaProxy.toString(), createLogger('silent'), 5000, 60_000);
  await stream.start();
  await eventually('the stream listens', async () => (await listening()) === before + 1);
  sockets[0]!.destroy(); // the connection is lost; the stream re-opens it through the proxy
  await reconnectionStarted;
  await stream.stop();
  await new Promise((resolve) => setTimeout(resolve, 1000)); // time for a leaked reconnection to reach LISTEN
  assert.equal(await listening(), before, 'no LISTEN connection is left once stop() has returned');
  proxy.close();
  for (const socket of sockets) socket.destroy();
});
