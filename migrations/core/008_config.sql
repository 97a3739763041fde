CREATE TABLE IF NOT EXISTS config (
    key VARCHAR(255) PRIMARY KEY,
    value JSONB NOT NULL,
    description TEXT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by VARCHAR(100)
);

CREATE OR REPLACE TRIGGER config_set_updated_at
    BEFORE UPDATE ON config
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Seed default config. ON CONFLICT DO NOTHING: running this again (by hand) never overwrites an operator's value.
INSERT INTO config (key, value, description) VALUES
    ('wake_word.sensitivity', '0.7', 'Porcupine sensitivity'),
    ('tts.voice', '"pt_BR-faber-medium"', 'Piper TTS voice'),
    ('brain.model', '"qwen2.5:3b"', 'Ollama model'),
    ('brain.temperature', '0.7', 'LLM temperature'),
    ('brain.max_tokens', '200', 'Max response tokens')
ON CONFLICT (key) DO NOTHING;
