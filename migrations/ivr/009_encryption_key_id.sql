-- Which key the providers' configs are encrypted with, so that a key rotation and a service still holding the old
-- key cannot leave configs under two keys. The application sends, beside the key itself, its id (an HMAC of a
-- fixed text under the key: it names the key without revealing it) as the transaction setting app.key_id.
--
-- mordomo_ivr_encryption_key holds the id of the current key (one row, set by the first config written, then only by
-- a rotation). Every write of a config checks its key against it under a share lock, and a rotation updates it
-- first: a writer holding the old key either commits before the rotation re-encrypts (and is re-encrypted with the
-- rest) or waits for the rotation and is refused with SQLSTATE MDB02. No config is written under the old key after
-- a rotation commits.
-- Not tenant data (hence no v_voice_ prefix nor row-level security): the IVR role reaches it only through the
-- functions below.
CREATE TABLE IF NOT EXISTS mordomo_ivr_encryption_key (
    singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
    key_id TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
REVOKE ALL ON mordomo_ivr_encryption_key FROM PUBLIC;

-- NULL: a config written before this migration, under a key not recorded (a rotation works out which).
ALTER TABLE v_voice_ai_providers ADD COLUMN IF NOT EXISTS key_id TEXT;

-- The key id of the transaction (app.key_id), checked against the current one under a share lock held to the end
-- of the transaction. A transaction that writes configs calls this before it touches a provider row: a rotation
-- takes the current-key row first and provider rows after, so the same order here keeps the two from deadlocking.
-- The first config ever written makes its key the current one.
CREATE OR REPLACE FUNCTION v_voice_claim_encryption_key() RETURNS TEXT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    writer TEXT := nullif(current_setting('app.key_id', true), '');
    current_id TEXT;
BEGIN
    IF writer IS NULL THEN
        RAISE EXCEPTION 'a provider config must be written with app.key_id set' USING ERRCODE = 'MDB02';
    END IF;
    SELECT key_id INTO current_id FROM mordomo_ivr_encryption_key FOR SHARE;
    IF NOT FOUND THEN
        INSERT INTO mordomo_ivr_encryption_key (key_id) VALUES (writer) ON CONFLICT DO NOTHING;
        SELECT key_id INTO current_id FROM mordomo_ivr_encryption_key FOR SHARE;
    END IF;
    IF current_id <> writer THEN
        RAISE EXCEPTION 'the IVR encryption key was rotated: this key is no longer the current one' USING ERRCODE = 'MDB02';
    END IF;
    RETURN writer;
END;
$$;
REVOKE EXECUTE ON FUNCTION v_voice_claim_encryption_key() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION v_voice_claim_encryption_key() TO mordomo_ivr;

-- Whoever writes a config (the application, psql, FusionPBX's PHP) goes through the same check.
CREATE OR REPLACE FUNCTION v_voice_check_encryption_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.config IS NULL THEN
        NEW.key_id := NULL;
    ELSIF TG_OP = 'INSERT' OR NEW.config IS DISTINCT FROM OLD.config THEN
        NEW.key_id := v_voice_claim_encryption_key();
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER v_voice_ai_providers_key
    BEFORE INSERT OR UPDATE OF config ON v_voice_ai_providers
    FOR EACH ROW EXECUTE FUNCTION v_voice_check_encryption_key();

-- Starts a rotation from old_id to new_id: takes the current-key row (so writers wait), and moves it to new_id.
-- Refused when the current key is neither of the two (the old key given is not the one in use). Running it again
-- after a rotation committed (current = new_id) is allowed, so that a rotation can always be finished. Only the
-- owner runs it (the rotation calls it before it takes the IVR role).
CREATE OR REPLACE FUNCTION v_voice_start_key_rotation(old_id TEXT, new_id TEXT) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    current_id TEXT;
BEGIN
    SELECT key_id INTO current_id FROM mordomo_ivr_encryption_key FOR UPDATE;
    IF FOUND AND current_id NOT IN (old_id, new_id) THEN
        RAISE EXCEPTION 'the current IVR encryption key is neither of the two keys given' USING ERRCODE = 'MDB03';
    END IF;
    INSERT INTO mordomo_ivr_encryption_key (key_id) VALUES (new_id)
        ON CONFLICT (singleton) DO UPDATE SET key_id = EXCLUDED.key_id, changed_at = now();
END;
$$;
REVOKE EXECUTE ON FUNCTION v_voice_start_key_rotation(TEXT, TEXT) FROM PUBLIC;

-- A config's plaintext under whichever of two keys opens it (39000, "wrong key", when neither does): a rotation
-- interrupted or raced under the old code left configs under both keys, and finishing it must not need to know which.
CREATE OR REPLACE FUNCTION v_voice_decrypt_either(data BYTEA, first_key TEXT, second_key TEXT) RETURNS TEXT
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        RETURN pgp_sym_decrypt(data, first_key);
    EXCEPTION WHEN external_routine_invocation_exception THEN
        RETURN pgp_sym_decrypt(data, second_key);
    END;
END;
$$;
GRANT EXECUTE ON FUNCTION v_voice_decrypt_either(BYTEA, TEXT, TEXT) TO mordomo_ivr;
