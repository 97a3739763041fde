-- Full-text search over messages as a Portuguese speaker expects: accents ignored ("lampada" finds "lâmpada") and
-- words stemmed ("ligar" finds "ligou"). An expression index rather than a stored column: rows keep their shape
-- (SELECT * stays as it was) and nothing is added to backups. The IVR module defines the same configuration.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'mordomo_pt') THEN
        CREATE TEXT SEARCH CONFIGURATION mordomo_pt (COPY = pg_catalog.portuguese);
        ALTER TEXT SEARCH CONFIGURATION mordomo_pt
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, portuguese_stem;
    END IF;
END $$;

CREATE INDEX IF NOT EXISTS idx_messages_search ON messages USING GIN (to_tsvector('mordomo_pt'::regconfig, content));

-- unaccent() is only STABLE (its dictionary could change); indexes need IMMUTABLE, so this wrapper names the
-- dictionary explicitly, the documented way to index unaccented text.
CREATE OR REPLACE FUNCTION mordomo_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN lower(public.unaccent('public.unaccent'::regdictionary, value));

-- For typos: when full text finds nothing, trigram similarity on the folded text.
CREATE INDEX IF NOT EXISTS idx_messages_trigram ON messages USING GIN (mordomo_fold(content) gin_trgm_ops);
