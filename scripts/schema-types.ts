import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCHEMA_FILE = fileURLToPath(new URL('../src/db/schema.ts', import.meta.url));

/** The kysely-codegen invocation that writes (or, with `verify`, checks) src/db/schema.ts against `url`. */
export function schemaTypesCommand(url: string, verify: boolean): [string, string[]] {
  const require = createRequire(import.meta.url);
  const cli = path.join(path.dirname(require.resolve('kysely-codegen/package.json')), 'dist', 'cli', 'bin.js');
  const args = [
    cli,
    '--dialect',
    'postgres',
    '--url',
    url,
    '--exclude-pattern',
    '{mordomo_migrations,mordomo_pending_indexes,pg_stat_statements*}',
    '--type-mapping',
    '{"int8":"number"}',
    '--out-file',
    SCHEMA_FILE,
    '--log-level',
    'error',
  ];
  if (verify) args.push('--verify');
  return [process.execPath, args];
}
