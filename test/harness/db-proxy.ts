// A TCP relay between the service and its PostgreSQL that a test can turn into the faults a client meets: the
// server gone (connections refused, open ones reset) or the server starting up (every new connection answered
// with PostgreSQL's own 57P03 FATAL, as a postmaster in recovery answers it).
import net from 'node:net';
import { after } from 'node:test';

export type ProxyMode = 'pass' | 'down' | 'starting';

export interface DbProxy {
  /** `target` with its host and port replaced by the relay's. */
  url: string;
  set(mode: ProxyMode): Promise<void>;
}

const SSL_REQUEST = 80877103;

/** PostgreSQL's ErrorResponse for a FATAL with `sqlstate` and `message` (protocol 3). */
function fatal(sqlstate: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${sqlstate}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

export async function dbProxy(target: string): Promise<DbProxy> {
  const upstream = new URL(target);
  const sockets = new Set<net.Socket>();
  let mode: ProxyMode = 'pass';
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (mode === 'starting') {
      client.on('data', (chunk) => {
        if (chunk.length === 8 && chunk.readInt32BE(4) === SSL_REQUEST) client.write('N');
        else client.end(fatal('57P03', 'the database system is starting up'));
      });
      return;
    }
    const server = net.connect(Number(upstream.port || 5432), upstream.hostname);
    sockets.add(server);
    server.on('close', () => sockets.delete(server));
    server.on('error', () => client.destroy());
    client.on('close', () => server.destroy());
    client.pipe(server).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    async set(next) {
      if (next === mode) return;
      // Open connections die with the server, whether it is gone or restarting.
      if (next !== 'pass') for (const socket of sockets) socket.destroy();
      if (next === 'down') await new Promise((resolve) => server.close(resolve));
      if (mode === 'down') await listen(port);
      mode = next;
    },
  };
}
