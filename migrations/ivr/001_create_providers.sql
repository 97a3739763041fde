-- Voice AI IVR, module "ivr": lives in FusionPBX's own database, beside FusionPBX's tables (prefix v_voice_).
-- Every statement is idempotent, so this file can also be run by hand with psql any number of times.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- FusionPBX's table of tenants. On a FusionPBX server it exists and is left exactly as it is; standalone, a
-- minimal compatible one is created (FusionPBX's column names and types).
CREATE TABLE IF NOT EXISTS v_domains (
    domain_uuid UUID PRIMARY KEY,
    domain_parent_uuid UUID,
    domain_name TEXT NOT NULL UNIQUE,
    domain_enabled BOOLEAN DEFAULT TRUE,
    domain_description TEXT,
    insert_date TIMESTAMPTZ DEFAULT now(),
    insert_user UUID,
    update_date TIMESTAMPTZ,
    update_user UUID
);

-- The role the application's IVR transactions run as (SET LOCAL ROLE): it owns nothing, so row-level security
-- applies to it, and it can only touch the v_voice_* tables. Roles are cluster-wide, hence the existence check.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mordomo_ivr') THEN
        CREATE ROLE mordomo_ivr NOLOGIN;
    END IF;
END $$;
GRANT mordomo_ivr TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO mordomo_ivr;
GRANT SELECT ON v_domains TO mordomo_ivr;

-- The tenant of the current transaction, set by the application with set_config('app.domain_uuid', $1, true).
-- Unset or empty gives NULL, which matches no row: a forgotten domain returns nothing and writes nothing.
CREATE OR REPLACE FUNCTION v_voice_current_domain() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('app.domain_uuid', true), '')::uuid
$$;
GRANT EXECUTE ON FUNCTION v_voice_current_domain() TO mordomo_ivr;

-- Puts a v_voice_* table under tenant isolation: the IVR role may read and write it, and only the rows of the
-- transaction's domain, owner included (FORCE). One definition for every table, so no table can drift from it.
CREATE OR REPLACE FUNCTION v_voice_isolate(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO mordomo_ivr', target);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format('DROP POLICY IF EXISTS domain_isolation ON %s', target);
    EXECUTE format('CREATE POLICY domain_isolation ON %s USING (domain_uuid = v_voice_current_domain())'
                   ' WITH CHECK (domain_uuid = v_voice_current_domain())', target);
END;
$$;
-- Only for migrations (run by the owner); no other role has a reason to call it.
REVOKE EXECUTE ON FUNCTION v_voice_isolate(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION v_voice_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- AI providers per tenant. config is the provider's JSON settings (API keys included), encrypted with
-- pgp_sym_encrypt under the key the application holds; NULL means "not configured yet".
CREATE TABLE IF NOT EXISTS v_voice_ai_providers (
    provider_uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    domain_uuid UUID NOT NULL REFERENCES v_domains(domain_uuid) ON DELETE CASCADE,
    provider_type VARCHAR(20) NOT NULL CHECK (provider_type IN ('stt', 'tts', 'llm', 'embeddings', 'realtime')),
    provider_name VARCHAR(50) NOT NULL CHECK (provider_name ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$'),
    config BYTEA,
    is_default BOOLEAN NOT NULL DEFAULT false,
    is_enabled BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT v_voice_ai_providers_name_unique UNIQUE (domain_uuid, provider_type, provider_name),
    -- Target of the secretaries' composite foreign keys: same domain and right type, checked by PostgreSQL.
    CONSTRAINT v_voice_ai_providers_typed_key UNIQUE (domain_uuid, provider_uuid, provider_type),
    CONSTRAINT v_voice_ai_providers_enabled_needs_config CHECK (config IS NOT NULL OR NOT is_enabled)
);

CREATE INDEX IF NOT EXISTS idx_providers_domain ON v_voice_ai_providers(domain_uuid);
CREATE UNIQUE INDEX IF NOT EXISTS idx_providers_one_default
    ON v_voice_ai_providers(domain_uuid, provider_type) WHERE is_default;

CREATE OR REPLACE TRIGGER v_voice_ai_providers_updated_at
    BEFORE UPDATE ON v_voice_ai_providers FOR EACH ROW EXECUTE FUNCTION v_voice_set_updated_at();

SELECT v_voice_isolate('v_voice_ai_providers');
