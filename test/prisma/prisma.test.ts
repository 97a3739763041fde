// The seed's Core API uses Prisma: prisma/schema.prisma must describe the migrated tables exactly enough for the
// seed's own examples to run through Prisma Client 7 and @prisma/adapter-pg.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { testDatabase } from '../harness/database.ts';
import { prismaClient } from '../harness/prisma.ts';

const { url } = await testDatabase('prisma');
const prisma = await prismaClient(url);
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
  assert.deepEqual(
    history.map((m: { content: string }) => m.content),
    ['segunda', 'primeira'],
  );
});
