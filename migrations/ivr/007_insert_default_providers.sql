-- Default providers for every domain, disabled and not configured (config NULL: an encrypted empty config
-- would need the encryption key, which migrations never see), so an integrator only fills in keys and enables
-- them. Inserts only what is missing: running it again, or after new domains appear, adds nothing twice.
-- New FusionPBX domains: run `mordomo-db ivr defaults` (or SELECT v_voice_insert_default_providers();).
CREATE OR REPLACE FUNCTION v_voice_insert_default_providers(p_domain_uuid uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d uuid;
    added integer := 0;
    n integer;
BEGIN
    FOR d IN SELECT domain_uuid FROM v_domains WHERE p_domain_uuid IS NULL OR domain_uuid = p_domain_uuid LOOP
        -- Row-level security is forced even for the owner: act as each domain in turn.
        PERFORM set_config('app.domain_uuid', d::text, true);
        INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config, is_default, is_enabled)
        SELECT d, defaults.provider_type, defaults.provider_name, NULL, NOT EXISTS (
                   SELECT 1 FROM v_voice_ai_providers p
                    WHERE p.domain_uuid = d AND p.provider_type = defaults.provider_type AND p.is_default), false
          FROM (VALUES ('stt', 'openai-whisper'), ('tts', 'elevenlabs'), ('llm', 'openai'),
                       ('embeddings', 'openai-embeddings'), ('realtime', 'openai-realtime'))
               AS defaults(provider_type, provider_name)
        ON CONFLICT (domain_uuid, provider_type, provider_name) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        added := added + n;
    END LOOP;
    PERFORM set_config('app.domain_uuid', '', true);
    RETURN added;
END;
$$;

SELECT v_voice_insert_default_providers();
