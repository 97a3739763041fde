-- The transcript of a call. domain_uuid is carried on every message so isolation needs no join, and the
-- composite foreign key keeps it equal to the conversation's.
CREATE TABLE IF NOT EXISTS v_voice_messages (
    message_uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    domain_uuid UUID NOT NULL REFERENCES v_domains(domain_uuid) ON DELETE CASCADE,
    conversation_uuid UUID NOT NULL,
    role VARCHAR(20) NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content TEXT NOT NULL,
    created_at TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    latency_ms INTEGER CHECK (latency_ms >= 0),
    intent VARCHAR(100),
    confidence FLOAT CHECK (confidence BETWEEN 0 AND 1),
    CONSTRAINT v_voice_messages_conversation_fk FOREIGN KEY (domain_uuid, conversation_uuid)
        REFERENCES v_voice_conversations (domain_uuid, conversation_uuid) ON DELETE CASCADE
);

-- domain_uuid second: the conversation lookup alone (the seed's history query) uses the prefix, and under
-- row-level security the policy's domain condition joins it in the same index scan (with
-- (conversation_uuid, created_at) alone the planner combined two indexes: 4x slower history under RLS).
CREATE INDEX IF NOT EXISTS idx_voice_messages_conversation ON v_voice_messages(conversation_uuid, domain_uuid, created_at);
CREATE INDEX IF NOT EXISTS idx_voice_messages_domain ON v_voice_messages(domain_uuid, created_at);

SELECT v_voice_isolate('v_voice_messages');
