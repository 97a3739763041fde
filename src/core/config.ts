import type { Kysely } from 'kysely';
import { z } from 'zod';
import { NotFoundError } from '../errors.ts';
import type { DB } from '../db/schema.ts';
import { parse, requiredText } from '../validation.ts';
import { COLUMNS } from './columns.ts';

/** The assistant's known settings and what each accepts. */
export const CONFIG_KEYS = {
  'wake_word.sensitivity': z.number().min(0).max(1),
  'tts.voice': requiredText(255),
  'brain.model': requiredText(255),
  'brain.temperature': z.number().min(0).max(2),
  'brain.max_tokens': z.number().int().min(1).max(1_000_000),
} as const;

/** The name of a setting the assistant knows. */
export type ConfigKey = keyof typeof CONFIG_KEYS;
/** The value a setting takes, by its rule. */
export type ConfigValue<K extends ConfigKey> = z.output<(typeof CONFIG_KEYS)[K]>;

/** One setting of the assistant as stored, with who changed it last. */
export interface ConfigEntry {
  key: string;
  value: unknown;
  description: string | null;
  updated_at: Date;
  updated_by: string | null;
}

const keyName = z.enum(Object.keys(CONFIG_KEYS) as [ConfigKey, ...ConfigKey[]], {
  message: `must be one of ${Object.keys(CONFIG_KEYS).join(', ')}`,
});

/** The value of a known key, typed. */
export async function getConfig<K extends ConfigKey>(db: Kysely<DB>, key: K): Promise<ConfigValue<K>> {
  const name = parse(keyName, key, 'config key') as K;
  const row = await db.selectFrom('config').select('value').where('key', '=', name).executeTakeFirst();
  if (!row) throw new NotFoundError(`config key ${name} is not set`);
  return row.value as ConfigValue<K>;
}

/** Sets a known key after validating the value; `updated_by` says who (an operator, a service). */
export async function setConfig<K extends ConfigKey>(db: Kysely<DB>, key: K, value: ConfigValue<K>, updatedBy?: string): Promise<ConfigEntry> {
  const name = parse(keyName, key, 'config key') as K;
  const checked = parse(CONFIG_KEYS[name] as z.ZodType, value, `value of ${name}`);
  const by = updatedBy === undefined ? null : parse(requiredText(100), updatedBy, 'updated_by');
  const json = JSON.stringify(checked);
  return db
    .insertInto('config')
    .values({ key: name, value: json, updated_by: by })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, updated_by: by }))
    .returning(COLUMNS.config)
    .executeTakeFirstOrThrow();
}

/** Every stored setting, by key. */
export async function listConfig(db: Kysely<DB>): Promise<ConfigEntry[]> {
  return db.selectFrom('config').select(COLUMNS.config).orderBy('key').execute();
}
