import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Prisma Client generated from prisma/schema.prisma into test/prisma/generated (git-ignored), over
 * @prisma/adapter-pg. The CLI fetches a schema engine it does not need for generate; any executable satisfies
 * that check offline (see DESIGN.md). Imported by computed URL: the client exists only once generated.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function prismaClient(url: string, poolMax?: number): Promise<any> {
  const cli = path.join(path.dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build', 'index.js');
  const generated = spawnSync(process.execPath, [cli, 'generate'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
  if (generated.status !== 0) throw new Error(`prisma generate failed:\n${generated.stdout}\n${generated.stderr}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const { PrismaClient } = (await import(new URL('../prisma/generated/client.ts', import.meta.url).href)) as {
    PrismaClient: new (options: { adapter: unknown }) => any;
  };
  const { PrismaPg } = await import('@prisma/adapter-pg');
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url, ...(poolMax ? { max: poolMax } : {}) }) });
}
