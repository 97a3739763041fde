import type { DB as Tables } from '../db/schema.ts';

/** The database's tables as Kysely types (`Kysely<DB>`), generated from the migrations (`npm run db:types`). */
export type DB = Tables;
