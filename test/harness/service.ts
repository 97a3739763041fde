import { readFileSync, rmSync } from 'node:fs';
import { after } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningService, startService } from '../../src/service.ts';
import { testDatabase, type TestDatabase } from './database.ts';
import { type Contract, contractOf } from './contract.ts';
import { tempDir } from './temp-dir.ts';

export const ENCRYPTION_KEY = 'test-encryption-key-0123456789';

export interface Response<T = any> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export interface TestService {
  base: string;
  /** The admin token the calls send by default (a test that rotates it sets the new one here). */
  token: string;
  database: TestDatabase;
  service: RunningService;
  dataDir: string;
  /** The service's OpenAPI document, which every response `call` receives is checked against. */
  contract: Contract;
  /** A request with the admin token unless `token` says otherwise (null: none). */
  call<T = any>(method: string, path: string, options?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<Response<T>>;
}

/**
 * The service running in this process over a database of the test file's own, listening on a free port: the
 * tests talk to it over real HTTP.
 */
export async function testService(label: string, env: Record<string, string> = {}, existing?: TestDatabase): Promise<TestService> {
  const database = existing ?? (await testDatabase(label));
  const dataDir = tempDir(`http-${label}`);
  const config = loadConfig(
    {},
    {
      DATABASE_URL: database.url,
      MORDOMO_DATA_DIR: dataDir,
      MORDOMO_HTTP_PORT: '0',
      MORDOMO_MODULES: 'core,ivr',
      MORDOMO_ENCRYPTION_KEY: ENCRYPTION_KEY,
      ...env,
    },
  );
  const service = await startService(config, createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
  after(async () => {
    await service.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const token = env.MORDOMO_ADMIN_TOKEN ?? readFileSync(config.http.adminTokenFile, 'utf8').trim();
  const base = service.url;
  const contract = contractOf(await (await fetch(`${base}/openapi.json`)).json());
  const handle: TestService = {
    contract,
    base,
    token,
    database,
    service,
    dataDir,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const credential = options.token === undefined ? handle.token : options.token;
      if (credential !== null) headers.authorization = `Bearer ${credential}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      }
      const response = await fetch(`${base}${path}`, { method, headers, body });
      const text = await response.text();
      let parsed: unknown = text;
      const contentType = response.headers.get('content-type');
      if (contentType?.includes('json')) parsed = JSON.parse(text);
      contract.check(method, path, response.status, contentType, parsed);
      return { status: response.status, body: parsed as any, headers: response.headers, text };
    },
  };
  return handle;
}
