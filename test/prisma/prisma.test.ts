// The seed's Core API uses Prisma: prisma/schema.prisma must describe the migrated tables exactly enough for the
// seed's own examples to run through Prisma Client 7 and @prisma/adapter-pg.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testDatabase } from '../harness/database.ts';

const { url } = await testDatabase('prisma');
const root = fileURLToPath(new URL('../..', import.meta.url));
const prismaCli = path.join(path.dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build', 'index.js');

// The CLI fetches a schema engine it does not need for generate/validate; any executable satisfies the check
// offline (see DESIGN.md).
const generated = spawnSync(process.execPath, [prismaCli, 'generate'], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', DATABASE_URL: url, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
});
assert.equal(generated.status, 0, `prisma generate failed:\n${generated.stdout}\n${generated.stderr}`);

// Imported by computed URL: the client exists only once generated above, and the type-check test may run first.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type GeneratedClient = { PrismaClient: new (options: { adapter: unknown }) => any };
const { PrismaClient } = (await import(new URL('./generated/client.ts', import.meta.url).href)) as GeneratedClient;
const { PrismaPg } = await import('@prisma/adapter-pg');
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
after(() => prisma.$disconnect());

test("the seed's nested create with include works, and a re-read shows messageCount 2 kept by the trigger", async () => {
  const user = await prisma.user.create({ data: { name: 'Test User', email: 'test@example.com' } });
  assert.ok(user.id);
  assert.equal(user.name, 'Test User');

  // Verbatim from the seed, with the second message of its Python test.
  const conversation = await prisma.conversation.create({
    data: {
      userId: user.id,
      messages: {
        create: [
          { role: 'user', content: 'Olá', latencyMs: 1200 },
          { role: 'assistant', content: 'Hi!' },
        ],
      },
    },
    include: { user: true, messages: true },
  });
  assert.equal(conversation.messages.length, 2);
  assert.equal(conversation.user?.email, 'test@example.com');
  const reread = await prisma.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
  assert.equal(reread.messageCount, 2);
});

test("the seed's 7-day history query returns the user's messages newest first", async () => {
  const user = await prisma.user.create({ data: { name: 'Histórico' } });
  const conversation = await prisma.conversation.create({ data: { userId: user.id } });
  await prisma.message.create({ data: { conversationId: conversation.id, role: 'user', content: 'antiga', timestamp: new Date(Date.now() - 8 * 86_400_000) } });
  await prisma.message.create({ data: { conversationId: conversation.id, role: 'user', content: 'primeira', timestamp: new Date(Date.now() - 60_000) } });
  await prisma.message.create({ data: { conversationId: conversation.id, role: 'assistant', content: 'segunda' } });

  const history = await prisma.message.findMany({
    where: {
      conversation: { userId: user.id },
      timestamp: { gte: new Date(Date.now() - 7 * 24 * 60 * 60 * 1000) },
    },
    orderBy: { timestamp: 'desc' },
    take: 50,
  });
  assert.deepEqual(history.map((m: { content: string }) => m.content), ['segunda', 'primeira']);
});
