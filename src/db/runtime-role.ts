import pg from 'pg';
import { scramVerifier } from './scram.ts';
import { pgConnectionOptions } from './tls.ts';

/** The login role the service and the library run as (README, "Least privilege"); its grants are the migrations'. */
export const RUNTIME_ROLE = 'mordomo_app';

/**
 * Creates the runtime role when it does not exist, with no login: the migration runner runs this before any
 * module's migrations (which grant it what requests need), as every module needs the role and none owns it.
 * Roles are cluster-wide, hence the existence check.
 */
export const CREATE_RUNTIME_ROLE = `
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${RUNTIME_ROLE}') THEN
        CREATE ROLE ${RUNTIME_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END $$`;

/**
 * Gives the embedded server's runtime role its login and password (creating the role if no migration has yet).
 * Role DDL cannot take parameters: the password is sent as a SCRAM verifier computed here, so that neither the
 * statement text nor the server log (log_statement = 'ddl') holds the password itself.
 */
export async function ensureRuntimeLogin(ownerUrl: string, password: string): Promise<void> {
  const client = new pg.Client(pgConnectionOptions(ownerUrl));
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(CREATE_RUNTIME_ROLE);
    await client.query(`ALTER ROLE ${RUNTIME_ROLE} LOGIN PASSWORD '${scramVerifier(password)}'`);
  } finally {
    await client.end();
  }
}
