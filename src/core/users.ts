import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import { type IdempotencyOptions, once } from '../db/idempotency.ts';
import { CORE_KEYS } from './idempotency-keys.ts';
import type { DB, Users } from '../db/schema.ts';
import { id, jsonObject, limit, parse, position, requiredText, text } from '../validation.ts';
import { COLUMNS } from './columns.ts';
import { afterPosition } from '../db/paging.ts';
// Says what this module's constraints mean, for the errors its statements raise.
import './constraints.ts';

/** A user as stored. */
export type User = Selectable<Users>;

const email = text(255).pipe(z.email({ message: 'must be an e-mail address' }));

export const newUser = z.strictObject({
  name: requiredText(255),
  email: email.nullish(),
  voice_enrolled: z.boolean().optional(),
  speaker_embedding_id: requiredText(255).nullish(),
  metadata: jsonObject.optional(),
});
/** A user to create: a name, and optionally an e-mail, voice enrolment and metadata. */
export type NewUser = z.input<typeof newUser>;

export const userPatch = newUser.partial().extend({ is_active: z.boolean().optional() });
/** The fields of a user to change; the others stay. */
export type UserPatch = z.input<typeof userPatch>;

/** Creates a user. A duplicate e-mail is a `ConflictError`. */
export async function createUser(db: Kysely<DB>, input: NewUser, options: IdempotencyOptions = {}): Promise<User> {
  const values = parse(newUser, input, 'user');
  return once(db, CORE_KEYS, options, ['createUser', values], (trx) =>
    trx.insertInto('users').values(values).returning(COLUMNS.users).executeTakeFirstOrThrow(),
  );
}

/** The user with this id, or `NotFoundError`. */
export async function getUser(db: Kysely<DB>, userId: string): Promise<User> {
  const key = parse(id, userId, 'user id');
  const user = await db.selectFrom('users').select(COLUMNS.users).where('id', '=', key).executeTakeFirst();
  if (!user) throw new NotFoundError(`user ${key} not found`);
  return user;
}

/** The user with this e-mail, or `undefined`. */
export async function findUserByEmail(db: Kysely<DB>, address: string): Promise<User | undefined> {
  const key = parse(email, address, 'e-mail');
  return db.selectFrom('users').select(COLUMNS.users).where('email', '=', key).executeTakeFirst();
}

/** Changes the given fields; `updated_at` follows by trigger. */
export async function updateUser(db: Kysely<DB>, userId: string, patch: UserPatch): Promise<User> {
  const key = parse(id, userId, 'user id');
  const values = parse(userPatch, patch, 'user change');
  if (Object.keys(values).length === 0) return getUser(db, key);
  const user = await db.updateTable('users').set(values).where('id', '=', key).returning(COLUMNS.users).executeTakeFirst();
  if (!user) throw new NotFoundError(`user ${key} not found`);
  return user;
}

const listOptions = z.strictObject({ limit: limit(1000, 50), after: position.optional(), active: z.boolean().optional() });
/** A page of users: `limit`, `after` (the last one of the previous page), `active`. */
export type UserListOptions = z.input<typeof listOptions>;

/** Users in the order they were created; `after` continues from the last user of the previous page. */
export async function listUsers(db: Kysely<DB>, options: UserListOptions = {}): Promise<User[]> {
  const { limit: count, after, active } = parse(listOptions, options, 'list options');
  let query = db.selectFrom('users').select(COLUMNS.users);
  if (active !== undefined) query = query.where('is_active', '=', active);
  if (after) query = query.where(afterPosition('users', 'id', after));
  return query.orderBy('created_at').orderBy('id').limit(count).execute();
}

/** Marks a user inactive, keeping their history (erasure is a separate, deliberate operation). */
export async function deactivateUser(db: Kysely<DB>, userId: string): Promise<User> {
  return updateUser(db, userId, { is_active: false });
}
