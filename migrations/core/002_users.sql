CREATE TABLE IF NOT EXISTS users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    email VARCHAR(255),
    voice_enrolled BOOLEAN NOT NULL DEFAULT FALSE,
    speaker_embedding_id VARCHAR(255),  -- Qdrant vector ID
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_interaction_at TIMESTAMPTZ,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    metadata JSONB NOT NULL DEFAULT '{}'::jsonb
);

-- The seed declared email UNIQUE *and* indexed it again (two identical indexes to maintain on every write).
-- One unique index under the seed's name gives both the constraint and the lookup.
CREATE UNIQUE INDEX IF NOT EXISTS idx_users_email ON users(email);
CREATE INDEX IF NOT EXISTS idx_users_voice ON users(voice_enrolled) WHERE voice_enrolled = TRUE;
CREATE INDEX IF NOT EXISTS idx_users_metadata ON users USING GIN(metadata);

CREATE OR REPLACE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
