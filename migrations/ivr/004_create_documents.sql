-- A secretary's knowledge base (the seed names this file only). secretary_uuid NULL: shared by every secretary
-- of the domain. Searched in Portuguese, accent-blind ("lampada" finds "lâmpada"), through a stored tsvector.
CREATE EXTENSION IF NOT EXISTS unaccent;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'mordomo_pt') THEN
        CREATE TEXT SEARCH CONFIGURATION mordomo_pt (COPY = pg_catalog.portuguese);
        ALTER TEXT SEARCH CONFIGURATION mordomo_pt
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, portuguese_stem;
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS v_voice_documents (
    document_uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    domain_uuid UUID NOT NULL REFERENCES v_domains(domain_uuid) ON DELETE CASCADE,
    secretary_uuid UUID,
    title VARCHAR(255) NOT NULL,
    content TEXT NOT NULL,
    source VARCHAR(500),
    mime_type VARCHAR(100) NOT NULL DEFAULT 'text/plain' CHECK (mime_type ~ '^[a-z]+/[a-z0-9.+-]+$'),
    is_enabled BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    search_vector TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('mordomo_pt'::regconfig, coalesce(title, '')), 'A') ||
        setweight(to_tsvector('mordomo_pt'::regconfig, coalesce(content, '')), 'B')
    ) STORED,
    CONSTRAINT v_voice_documents_secretary_fk FOREIGN KEY (domain_uuid, secretary_uuid)
        REFERENCES v_voice_secretaries (domain_uuid, secretary_uuid) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_documents_domain ON v_voice_documents(domain_uuid, secretary_uuid);
CREATE INDEX IF NOT EXISTS idx_documents_search ON v_voice_documents USING GIN(search_vector);

CREATE OR REPLACE TRIGGER v_voice_documents_updated_at
    BEFORE UPDATE ON v_voice_documents FOR EACH ROW EXECUTE FUNCTION v_voice_set_updated_at();

SELECT v_voice_isolate('v_voice_documents');
