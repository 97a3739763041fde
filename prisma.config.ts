// Prisma 7 reads the connection URL from here rather than from schema.prisma.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://mordomo@127.0.0.1:5432/mordomo' },
});
