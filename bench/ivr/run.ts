// bench/ivr: the cost of row-level security. With 1,000 domains and 1M call messages, pgbench runs the seed's
// three IVR queries (secretary by extension, default provider decrypted, calls of the last 7 days) as the
// application role with RLS on, and the same SQL as the superuser (RLS bypassed), in the same run.
// Each pair runs alternately, --rounds times, and the medians are compared: on a shared machine one run of each
// drifts with whatever else the machine does during it.
// Usage: npm run bench:ivr [-- --seconds 10 --clients 8 --rounds 3]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { CALL_HISTORY_SQL } from '../../src/ivr/calls.ts';
import { createIvr } from '../../src/ivr/ivr.ts';
import { DEFAULT_PROVIDER_SQL } from '../../src/ivr/providers.ts';
import { SECRETARY_BY_EXTENSION_SQL } from '../../src/ivr/secretaries.ts';
import { migrate } from '../../src/migrate/runner.ts';
import { createLogger } from '../../src/logger.ts';
import { tempDir } from '../../test/harness/temp-dir.ts';
import { benchDatabase, machine, median, pgbenchTps } from '../harness.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, clients: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' } },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const rounds = Number(values.rounds);
if (![seconds, clients, rounds].every((n) => Number.isInteger(n) && n >= 1)) {
  process.stderr.write('bench:ivr: --seconds, --clients and --rounds take whole numbers of at least 1\n');
  process.exit(2);
}
const DOMAINS = 1000;
const CALLS_PER_DOMAIN = 100;
const MESSAGES_PER_CALL = 10;
const KEY = 'bench-encryption-key-0123456789';

const { database, port, password, cleanup } = await benchDatabase(4);
const { db } = database;
try {
  await migrate(database.pool, ['ivr'], createLogger('warn'));
  process.stderr.write(`loading ${DOMAINS} domains, ${DOMAINS * CALLS_PER_DOMAIN * MESSAGES_PER_CALL} messages...\n`);
  const uuidOf = (expr: string) => sql.raw(`('00000000-0000-4000-8000-' || lpad((${expr})::text, 12, '0'))::uuid`);
  await sql`INSERT INTO v_domains (domain_uuid, domain_name) SELECT ${uuidOf('d')}, 'd' || d || '.example.com' FROM generate_series(1, ${DOMAINS}) d`.execute(
    db,
  );
  await sql`SELECT v_voice_insert_default_providers()`.execute(db);
  // One configured, enabled default LLM per domain, written through the library so the config is really encrypted.
  const ivr = createIvr(db, { encryptionKey: KEY });
  for (let d = 1; d <= DOMAINS; d++) {
    const tenant = ivr.forDomain(`00000000-0000-4000-8000-${String(d).padStart(12, '0')}`);
    const llm = (await tenant.listProviders()).find((p) => p.provider_type === 'llm')!;
    await tenant.updateProvider(llm.provider_uuid, { config: { api_key: `sk-${d}`, model: 'gpt-4o-mini' }, is_enabled: true });
  }
  await sql`INSERT INTO v_voice_secretaries (domain_uuid, name, extension, llm_provider_uuid)
            SELECT p.domain_uuid, 'Secretária ' || e, e::text, p.provider_uuid
              FROM v_voice_ai_providers p, generate_series(8000, 8001) e WHERE p.provider_type = 'llm'`.execute(db);
  await sql`INSERT INTO v_voice_conversations (domain_uuid, secretary_uuid, caller_id, call_uuid, started_at, ended_at)
            SELECT s.domain_uuid, s.secretary_uuid, '+55119' || lpad(c::text, 8, '0'), s.secretary_uuid::text || '-' || c,
                   now() - (c * interval '14 hours'), now() - (c * interval '14 hours') + interval '3 minutes'
              FROM v_voice_secretaries s, generate_series(1, ${CALLS_PER_DOMAIN / 2}) c`.execute(db);
  await sql`INSERT INTO v_voice_messages (domain_uuid, conversation_uuid, role, content, created_at)
            SELECT c.domain_uuid, c.conversation_uuid, (ARRAY['user','assistant'])[1 + m % 2], 'mensagem ' || m, c.started_at + m * interval '5 seconds'
              FROM v_voice_conversations c, generate_series(1, ${MESSAGES_PER_CALL}) m`.execute(db);
  await sql`VACUUM ANALYZE`.execute(db);
  const { rows: count } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM v_voice_messages`.execute(db);

  // pgbench binds :name variables as parameters (-M prepared), as the library binds $n: the values are computed
  // by the settings' SELECT and kept with \gset, so the measured statement is the library's text with its parameters.
  const domainSql = `('00000000-0000-4000-8000-' || lpad(:d::text, 12, '0'))`;
  const queries: Array<[string, string, string[]]> = [
    ['secretary by extension', SECRETARY_BY_EXTENSION_SQL, [`'8000'`]],
    ['default provider (decrypt)', DEFAULT_PROVIDER_SQL, [domainSql, `'llm'`]],
    ['calls of the last 7 days', CALL_HISTORY_SQL, [domainSql, `now() - interval '7 days'`]],
  ];
  const dir = tempDir('pgbench-ivr');
  const pgbench = (name: string, withRls: boolean, query: string, parameters: string[]): number => {
    const settings = [
      ...(withRls ? [`set_config('role', 'mordomo_ivr', true) AS role`] : []),
      `set_config('app.domain_uuid', ${domainSql}, true) AS domain`,
      `set_config('app.encryption_key', '${KEY}', true) AS key`,
      ...parameters.map((value, i) => `${value} AS p${i + 1}`),
    ];
    const statement = query
      .replace(/\$(\d+)/g, ':p$1')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/;$/, '');
    const file = path.join(dir, `${name.replace(/\W+/g, '-')}-${withRls}.sql`);
    writeFileSync(file, `\\set d random(1, ${DOMAINS})\nBEGIN;\nSELECT ${settings.join(', ')} \\gset\n${statement};\nEND;\n`);
    return pgbenchTps(file, { port, password }, clients, seconds);
  };
  const lines = queries.map(([name, query, parameters]) => {
    const superusers: number[] = [];
    const withRls: number[] = [];
    for (let round = 0; round < rounds; round++) {
      superusers.push(pgbench(name, false, query, parameters));
      withRls.push(pgbench(name, true, query, parameters));
    }
    const [superuser, rls] = [median(superusers), median(withRls)];
    const overhead = ((superuser - rls) / superuser) * 100;
    const perRound = superusers.map((s, i) => (((s - withRls[i]!) / s) * 100).toFixed(0)).join(' / ');
    return `| ${name.padEnd(27)} | ${superuser.toFixed(0).padStart(8)} | ${rls.toFixed(0).padStart(8)} | ${overhead.toFixed(1).padStart(5)}% | ${perRound}% | < 10% |`;
  });
  process.stdout.write(
    `\nivr: ${DOMAINS} domains, ${count[0]!.n} messages, ${clients} clients, ${rounds} rounds of ${seconds} s per side; ${machine()}\n\n` +
      `| query (one transaction each)  | superuser, no RLS tx/s (median) | app role, RLS tx/s (median) | RLS overhead | each round | target |\n|---|---:|---:|---:|---:|---|\n${lines.join('\n')}\n`,
  );
} finally {
  await cleanup();
}
