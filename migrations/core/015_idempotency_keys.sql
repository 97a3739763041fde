-- Idempotency-Key (IETF httpapi draft): the result of a create, kept under the key the client sent with it, so that
-- a retry of a request whose answer was lost returns that result instead of writing again. The key is claimed in
-- the same transaction as the write, so the write and its record commit together or not at all. Expired keys
-- (24 hours, src/db/idempotency.ts) are reclaimed by their next use and deleted by the scheduler.
CREATE TABLE IF NOT EXISTS mordomo_idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint BYTEA NOT NULL,
    result JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_idempotency_keys_created ON mordomo_idempotency_keys(created_at);
