CREATE TABLE IF NOT EXISTS conversations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES users(id) ON DELETE CASCADE,  -- NULL: a speaker the assistant did not recognise
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at TIMESTAMPTZ,
    duration_seconds INTEGER,
    message_count INTEGER NOT NULL DEFAULT 0,
    satisfaction_score FLOAT CHECK (satisfaction_score BETWEEN 0 AND 1),
    metadata JSONB NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT conversations_ended_after_start CHECK (ended_at IS NULL OR ended_at >= started_at)
);

CREATE INDEX IF NOT EXISTS idx_conversations_user ON conversations(user_id);
CREATE INDEX IF NOT EXISTS idx_conversations_started ON conversations(started_at DESC);
CREATE INDEX IF NOT EXISTS idx_conversations_metadata ON conversations USING GIN(metadata);

-- duration_seconds is derived, never trusted from the caller: computed whenever ended_at is set or moved.
CREATE OR REPLACE FUNCTION conversations_set_duration() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ended_at IS NULL THEN
        NEW.duration_seconds := NULL;
    ELSE
        NEW.duration_seconds := floor(extract(epoch FROM NEW.ended_at - NEW.started_at))::integer;
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER conversations_set_duration
    BEFORE INSERT OR UPDATE OF ended_at, started_at, duration_seconds ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_set_duration();
