// Shared by the benchmarks: a throw-away embedded server with the production settings (fsync on), and a timer.
import { rmSync } from 'node:fs';
import os from 'node:os';
import { loadConfig } from '../src/config.ts';
import { type Database, openDatabase } from '../src/db/connect.ts';
import { createLogger } from '../src/logger.ts';
import { migrate } from '../src/migrate/runner.ts';
import { freePort } from '../test/harness/ports.ts';
import { tempDir } from '../test/harness/temp-dir.ts';

export async function benchDatabase(poolMax: number): Promise<{ database: Database; port: number; password: string; cleanup: () => Promise<void> }> {
  const dataDir = tempDir('bench');
  const port = await freePort();
  const logger = createLogger('warn');
  const database = await openDatabase(
    loadConfig({ MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: port, MORDOMO_POOL_MAX: poolMax, POSTGRES_PASSWORD: 'bench', MORDOMO_STATEMENT_TIMEOUT_MS: 0 }),
    logger,
  );
  await migrate(database.pool, ['core'], logger);
  return {
    database,
    port,
    password: 'bench',
    cleanup: async () => {
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `work` on `clients` concurrent loops for `seconds`, returning completed operations per second. */
export async function throughput(clients: number, seconds: number, work: (client: number) => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < deadline) {
        await work(client);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
