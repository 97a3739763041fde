CREATE TABLE IF NOT EXISTS actions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id UUID REFERENCES messages(id) ON DELETE CASCADE,
    conversation_id UUID REFERENCES conversations(id) ON DELETE CASCADE,
    action_type VARCHAR(100) NOT NULL,  -- iot_control, reminder, query
    action_name VARCHAR(255) NOT NULL,  -- turn_on, create_reminder
    parameters JSONB NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'executing', 'success', 'failed')),
    result JSONB,
    executed_at TIMESTAMPTZ,
    error_message TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_actions_conversation ON actions(conversation_id);
CREATE INDEX IF NOT EXISTS idx_actions_type ON actions(action_type);
CREATE INDEX IF NOT EXISTS idx_actions_status ON actions(status);
-- Not in the seed: without it, deleting a message scans every action to cascade.
CREATE INDEX IF NOT EXISTS idx_actions_message ON actions(message_id);

-- An action only moves forward: pending -> executing -> success | failed. Enforced here as well as in the
-- library so that other clients of the database (the Brain, Prisma users) cannot rewrite history either.
CREATE OR REPLACE FUNCTION actions_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'pending' AND NEW.status = 'executing')
        OR (OLD.status = 'executing' AND NEW.status IN ('success', 'failed'))
    ) THEN
        RAISE EXCEPTION 'action % cannot go from % to % (allowed: pending -> executing -> success | failed)',
            OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'MDB01';
    END IF;
    IF NEW.status IN ('success', 'failed') AND OLD.status = 'executing' AND NEW.executed_at IS NULL THEN
        NEW.executed_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER actions_check_transition
    BEFORE UPDATE ON actions
    FOR EACH ROW EXECUTE FUNCTION actions_check_transition();
