import type { KeyStore } from '../db/idempotency.ts';

/** Where the core's creates keep their idempotency keys (migrations/core/015). */
export const CORE_KEYS: KeyStore = { table: 'mordomo_idempotency_keys' };
