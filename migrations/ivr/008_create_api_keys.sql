-- API keys of the HTTP service: each belongs to one FusionPBX domain, and the domain of an IVR request comes only
-- from its key. Only a SHA-256 of the secret part is kept (the secret is 256 random bits, so a slow hash adds
-- nothing). Not tenant data, hence not a v_voice_* table under row-level security: the service checks a key before
-- it knows the domain, and the IVR role gets no access at all.
CREATE TABLE IF NOT EXISTS mordomo_api_keys (
    key_uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    domain_uuid UUID NOT NULL REFERENCES v_domains(domain_uuid) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL CHECK (length(trim(name)) > 0),
    secret_sha256 BYTEA NOT NULL CHECK (length(secret_sha256) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS idx_api_keys_domain ON mordomo_api_keys(domain_uuid);

REVOKE ALL ON mordomo_api_keys FROM PUBLIC;
