-- Idempotency-Key for the IVR's creates, per tenant: the same as core's mordomo_idempotency_keys, with the domain in
-- the key and under the same row-level security as every v_voice_* table, so one tenant's key can neither see nor
-- block another's.
CREATE TABLE IF NOT EXISTS v_voice_idempotency_keys (
    domain_uuid UUID NOT NULL REFERENCES v_domains(domain_uuid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    result JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (domain_uuid, key)
);
CREATE INDEX IF NOT EXISTS idx_voice_idempotency_keys_created ON v_voice_idempotency_keys(domain_uuid, created_at);

SELECT v_voice_isolate('v_voice_idempotency_keys');
