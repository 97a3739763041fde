-- When and where a secretary hands a call to a person (the seed names this file only).
-- A rule matches when the caller's intent is one of match_intents, or the utterance contains one of
-- match_keywords (case- and accent-blind); a rule with neither is a catch-all (e.g. after hours -> voicemail).
-- It applies only inside its optional window: weekdays (ISO, 1 = Monday .. 7 = Sunday) and time_start..time_end
-- in the rule's time zone (a window may cross midnight: 22:00..06:00). Lowest priority number wins; a rule of
-- the secretary beats a domain-wide one (secretary_uuid NULL) of the same priority.
CREATE TABLE IF NOT EXISTS v_voice_transfer_rules (
    rule_uuid UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    domain_uuid UUID NOT NULL REFERENCES v_domains(domain_uuid) ON DELETE CASCADE,
    secretary_uuid UUID,
    name VARCHAR(100) NOT NULL,
    match_intents TEXT[] NOT NULL DEFAULT '{}',
    match_keywords TEXT[] NOT NULL DEFAULT '{}',
    destination_type VARCHAR(20) NOT NULL CHECK (destination_type IN ('extension', 'number', 'voicemail')),
    destination VARCHAR(50) NOT NULL CHECK (destination ~ '^\+?[0-9*#]{1,49}$'),
    priority INTEGER NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 10000),
    weekdays SMALLINT[] CHECK (weekdays IS NULL OR (cardinality(weekdays) > 0 AND weekdays <@ ARRAY[1,2,3,4,5,6,7]::smallint[])),
    time_start TIME,
    time_end TIME,
    timezone TEXT NOT NULL DEFAULT 'America/Sao_Paulo',
    is_enabled BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT v_voice_transfer_rules_window CHECK ((time_start IS NULL) = (time_end IS NULL) AND (time_start IS NULL OR time_start <> time_end)),
    CONSTRAINT v_voice_transfer_rules_secretary_fk FOREIGN KEY (domain_uuid, secretary_uuid)
        REFERENCES v_voice_secretaries (domain_uuid, secretary_uuid) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_transfer_rules_domain ON v_voice_transfer_rules(domain_uuid, secretary_uuid, priority) WHERE is_enabled;

CREATE OR REPLACE TRIGGER v_voice_transfer_rules_updated_at
    BEFORE UPDATE ON v_voice_transfer_rules FOR EACH ROW EXECUTE FUNCTION v_voice_set_updated_at();

SELECT v_voice_isolate('v_voice_transfer_rules');
