-- Virtual secretaries answering extensions. Each provider reference must be a provider of the same domain and of
-- the matching type: a composite foreign key onto (domain_uuid, provider_uuid, provider_type), whose type column
-- is pinned by a CHECK. A deleted provider leaves the reference empty, not the secretary broken.
CREATE TABLE IF NOT EXISTS v_voice_secretaries (
    secretary_uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    domain_uuid UUID NOT NULL REFERENCES v_domains(domain_uuid) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    extension VARCHAR(10) CHECK (extension ~ '^[0-9*#]{1,10}$'),
    processing_mode VARCHAR(20) NOT NULL DEFAULT 'turn_based' CHECK (processing_mode IN ('turn_based', 'realtime')),
    system_prompt TEXT,
    greeting TEXT,
    farewell TEXT,
    stt_provider_uuid UUID,
    tts_provider_uuid UUID,
    llm_provider_uuid UUID,
    realtime_provider_uuid UUID,
    stt_provider_type VARCHAR(20) NOT NULL DEFAULT 'stt' CHECK (stt_provider_type = 'stt'),
    tts_provider_type VARCHAR(20) NOT NULL DEFAULT 'tts' CHECK (tts_provider_type = 'tts'),
    llm_provider_type VARCHAR(20) NOT NULL DEFAULT 'llm' CHECK (llm_provider_type = 'llm'),
    realtime_provider_type VARCHAR(20) NOT NULL DEFAULT 'realtime' CHECK (realtime_provider_type = 'realtime'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT v_voice_secretaries_extension_unique UNIQUE (domain_uuid, extension),
    CONSTRAINT v_voice_secretaries_domain_key UNIQUE (domain_uuid, secretary_uuid),
    CONSTRAINT v_voice_secretaries_stt_fk FOREIGN KEY (domain_uuid, stt_provider_uuid, stt_provider_type)
        REFERENCES v_voice_ai_providers (domain_uuid, provider_uuid, provider_type) ON DELETE SET NULL (stt_provider_uuid),
    CONSTRAINT v_voice_secretaries_tts_fk FOREIGN KEY (domain_uuid, tts_provider_uuid, tts_provider_type)
        REFERENCES v_voice_ai_providers (domain_uuid, provider_uuid, provider_type) ON DELETE SET NULL (tts_provider_uuid),
    CONSTRAINT v_voice_secretaries_llm_fk FOREIGN KEY (domain_uuid, llm_provider_uuid, llm_provider_type)
        REFERENCES v_voice_ai_providers (domain_uuid, provider_uuid, provider_type) ON DELETE SET NULL (llm_provider_uuid),
    CONSTRAINT v_voice_secretaries_realtime_fk FOREIGN KEY (domain_uuid, realtime_provider_uuid, realtime_provider_type)
        REFERENCES v_voice_ai_providers (domain_uuid, provider_uuid, provider_type) ON DELETE SET NULL (realtime_provider_uuid)
);

CREATE INDEX IF NOT EXISTS idx_secretaries_domain ON v_voice_secretaries(domain_uuid);
CREATE INDEX IF NOT EXISTS idx_secretaries_extension ON v_voice_secretaries(domain_uuid, extension);

CREATE OR REPLACE TRIGGER v_voice_secretaries_updated_at
    BEFORE UPDATE ON v_voice_secretaries FOR EACH ROW EXECUTE FUNCTION v_voice_set_updated_at();

SELECT v_voice_isolate('v_voice_secretaries');
