// Regenerates src/db/schema.ts from a freshly migrated database, so the Kysely types follow the migrations.
// Usage: npm run db:types            (a throw-away embedded server)
//        npm run db:types -- --verify (exit 1 when src/db/schema.ts is out of date; the test suite does this)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/connect.ts';
import { createLogger } from '../src/logger.ts';
import { migrate } from '../src/migrate/runner.ts';
import { schemaTypesCommand } from './schema-types.ts';

const verify = process.argv.includes('--verify');
const logger = createLogger('warn');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mordomo-types-'));
chmodSync(dataDir, 0o711);
const database = await openDatabase(loadConfig({ MORDOMO_DATA_DIR: dataDir, MORDOMO_PG_PORT: 55431 }), logger);
let status = 1;
try {
  await migrate(database.owner.pool, ['core', 'ivr'], logger);
  const [command, args] = schemaTypesCommand(database.owner.url, verify);
  status = spawnSync(command, args, { stdio: 'inherit' }).status ?? 1;
} finally {
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(status);
