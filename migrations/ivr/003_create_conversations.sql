-- Calls handled by a secretary. The secretary must belong to the same domain (composite foreign key).
CREATE TABLE IF NOT EXISTS v_voice_conversations (
    conversation_uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    domain_uuid UUID NOT NULL REFERENCES v_domains(domain_uuid) ON DELETE CASCADE,
    secretary_uuid UUID,
    caller_id VARCHAR(50),
    call_uuid VARCHAR(100),
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at TIMESTAMPTZ,
    resolution VARCHAR(50),
    transferred_to VARCHAR(50),
    CONSTRAINT v_voice_conversations_call_unique UNIQUE (domain_uuid, call_uuid),
    CONSTRAINT v_voice_conversations_domain_key UNIQUE (domain_uuid, conversation_uuid),
    CONSTRAINT v_voice_conversations_secretary_fk FOREIGN KEY (domain_uuid, secretary_uuid)
        REFERENCES v_voice_secretaries (domain_uuid, secretary_uuid) ON DELETE SET NULL (secretary_uuid),
    CONSTRAINT v_voice_conversations_ended_after_start CHECK (ended_at IS NULL OR ended_at >= started_at)
);

CREATE INDEX IF NOT EXISTS idx_conversations_domain ON v_voice_conversations(domain_uuid);
CREATE INDEX IF NOT EXISTS idx_conversations_date ON v_voice_conversations(domain_uuid, started_at);
CREATE INDEX IF NOT EXISTS idx_voice_conversations_secretary ON v_voice_conversations(domain_uuid, secretary_uuid);

SELECT v_voice_isolate('v_voice_conversations');
