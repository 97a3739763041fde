-- The database works out the id of the encryption key itself, from app.encryption_key, so that the seed's own SQL
-- (psql, FusionPBX's PHP, the Python IVR engine) writes configs with only the key set, as seed 004 implies.
-- Migration 009 wanted the id in app.key_id, which only the TypeScript code computed: a hand-written write was
-- refused, and a guessed id ('v1') on a fresh install became the recorded current key and locked every later
-- write out. Now app.key_id is optional and, when given, must name app.encryption_key.

-- An HMAC of a fixed text under the key: it tells keys apart without revealing one (hmac(data, key, type)).
CREATE OR REPLACE FUNCTION v_voice_key_id(key TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, public AS $$
    SELECT left(encode(hmac('mordomo-db provider config key', key, 'sha256'), 'hex'), 32)
$$;

-- Migration 009's form took no argument; this one takes the config (NULL, as before any row is touched: the key
-- alone is checked). Both at once would make a call without arguments ambiguous.
DROP FUNCTION IF EXISTS v_voice_claim_encryption_key();

-- The key of the transaction, checked against the current one under a share lock held to the end of the
-- transaction (migration 009 says why that order), and the config checked to open with it: a row must never claim
-- the current key while holding data no holder of that key can read. The first config ever written makes its key
-- the current one.
CREATE OR REPLACE FUNCTION v_voice_claim_encryption_key(config BYTEA DEFAULT NULL) RETURNS TEXT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    key TEXT := nullif(current_setting('app.encryption_key', true), '');
    given TEXT := nullif(current_setting('app.key_id', true), '');
    writer TEXT;
    current_id TEXT;
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'a provider config must be written with app.encryption_key set (the key it is encrypted with)'
            USING ERRCODE = 'MDB02';
    END IF;
    writer := v_voice_key_id(key);
    IF given IS NOT NULL AND given <> writer THEN
        RAISE EXCEPTION 'app.key_id does not name app.encryption_key: leave app.key_id unset, the database derives it'
            USING ERRCODE = 'MDB02';
    END IF;
    IF config IS NOT NULL THEN
        BEGIN
            PERFORM pgp_sym_decrypt_bytea(config, key);
        EXCEPTION WHEN external_routine_invocation_exception THEN
            RAISE EXCEPTION 'the provider config is not encrypted with app.encryption_key'
                USING ERRCODE = 'MDB04', HINT = 'encrypt it with pgp_sym_encrypt(<json>, current_setting(''app.encryption_key''))';
        END;
    END IF;
    SELECT key_id INTO current_id FROM mordomo_ivr_encryption_key FOR SHARE;
    IF NOT FOUND THEN
        INSERT INTO mordomo_ivr_encryption_key (key_id) VALUES (writer) ON CONFLICT DO NOTHING;
        SELECT key_id INTO current_id FROM mordomo_ivr_encryption_key FOR SHARE;
    END IF;
    IF current_id <> writer THEN
        RAISE EXCEPTION 'app.encryption_key is not the current one: the IVR encryption key was rotated (or, if it never was, the recorded key is wrong: mordomo-db ivr repair-key)'
            USING ERRCODE = 'MDB02';
    END IF;
    RETURN writer;
END;
$$;
REVOKE EXECUTE ON FUNCTION v_voice_claim_encryption_key(BYTEA) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION v_voice_claim_encryption_key(BYTEA) TO mordomo_ivr;

CREATE OR REPLACE FUNCTION v_voice_check_encryption_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.config IS NULL THEN
        NEW.key_id := NULL;
    ELSIF TG_OP = 'INSERT' OR NEW.config IS DISTINCT FROM OLD.config THEN
        NEW.key_id := v_voice_claim_encryption_key(NEW.config);
    END IF;
    RETURN NEW;
END;
$$;

-- Records app.encryption_key as the current key after checking that every config of every domain opens with it,
-- and marks every config as under it: the way out of a recorded id that names no key in use (a guessed app.key_id
-- under migration 009). Refused with MDB03, changing nothing, when any config does not open. Takes the current-key
-- row first, as a rotation does, so writers wait. Only the owner runs it (`mordomo-db ivr repair-key`).
CREATE OR REPLACE FUNCTION v_voice_repair_encryption_key() RETURNS INTEGER
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    key TEXT := nullif(current_setting('app.encryption_key', true), '');
    each_domain UUID;
    checked INTEGER := 0;
    opened INTEGER;
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'the repair needs app.encryption_key set to the key the configs are under' USING ERRCODE = 'MDB02';
    END IF;
    PERFORM 1 FROM mordomo_ivr_encryption_key FOR UPDATE;
    FOR each_domain IN SELECT d.domain_uuid FROM v_domains d ORDER BY d.domain_uuid LOOP
        -- Row-level security is forced on the owner too: each domain is read under its own setting.
        PERFORM set_config('app.domain_uuid', each_domain::text, true);
        BEGIN
            SELECT count(pgp_sym_decrypt_bytea(p.config, key)) INTO opened
              FROM v_voice_ai_providers p WHERE p.domain_uuid = each_domain AND p.config IS NOT NULL;
        EXCEPTION WHEN external_routine_invocation_exception THEN
            RAISE EXCEPTION 'a provider config of domain % does not open with this key: it is not the key in use', each_domain
                USING ERRCODE = 'MDB03';
        END;
        UPDATE v_voice_ai_providers p SET key_id = v_voice_key_id(key)
         WHERE p.domain_uuid = each_domain AND p.config IS NOT NULL AND p.key_id IS DISTINCT FROM v_voice_key_id(key);
        checked := checked + opened;
    END LOOP;
    INSERT INTO mordomo_ivr_encryption_key (key_id) VALUES (v_voice_key_id(key))
        ON CONFLICT (singleton) DO UPDATE SET key_id = EXCLUDED.key_id, changed_at = now();
    RETURN checked;
END;
$$;
REVOKE EXECUTE ON FUNCTION v_voice_repair_encryption_key() FROM PUBLIC;
