-- Extensions the seed lists, plus pgcrypto (gen_random_bytes, pgp_sym_*) and unaccent (accent-blind search).
-- pg_trgm, pgcrypto, unaccent and uuid-ossp are trusted extensions: a database owner may create them.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- pg_stat_statements needs a superuser and shared_preload_libraries; on a managed server without them the
-- schema must still migrate, so its absence is a notice, not a failure.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
EXCEPTION
    WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE NOTICE 'pg_stat_statements not installed (%); slow-query monitoring will be unavailable', SQLERRM;
END $$;

-- Shared by every table with an updated_at column.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
