-- A user's history (the seed's history query: a user's messages of the last days, newest first) went through the
-- user's conversations, one probe of idx_messages_conversation per conversation: at 10M messages a user has ~100
-- conversations and the 7-day history took 13 ms at p99 (bench/scale), most of it on index pages of conversations
-- with nothing in the window. With the owner on each message it is one range of one index, however long the
-- user's past. The copy is kept by triggers, never by callers: a message filed under another user's id would show
-- up in that person's history.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS user_id UUID;

-- Existing rows, once. The counters' update trigger would queue every row in its transition table to find that
-- no message moved, so it is held off for this statement only (the whole migration is one transaction).
ALTER TABLE messages DISABLE TRIGGER messages_count_update;
UPDATE messages m
   SET user_id = c.user_id
  FROM conversations c
 WHERE c.id = m.conversation_id AND c.user_id IS NOT NULL AND m.user_id IS DISTINCT FROM c.user_id;
ALTER TABLE messages ENABLE TRIGGER messages_count_update;

-- Always the conversation's user, whatever the statement said (NULL for a speaker the assistant did not know).
CREATE OR REPLACE FUNCTION messages_set_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.user_id := (SELECT c.user_id FROM conversations c WHERE c.id = NEW.conversation_id);
    RETURN NEW;
END;
$$;
CREATE OR REPLACE TRIGGER messages_set_user
    BEFORE INSERT OR UPDATE OF conversation_id, user_id ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_set_user();

-- A conversation handed to another user (a speaker recognised later) takes its messages along.
CREATE OR REPLACE FUNCTION conversations_moved_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET user_id = NEW.user_id WHERE conversation_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE TRIGGER conversations_moved_user
    AFTER UPDATE OF user_id ON conversations
    FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION conversations_moved_user();

-- Messages of unknown speakers have no user history to serve, so they stay out of the index.
CREATE INDEX IF NOT EXISTS idx_messages_user ON messages(user_id, timestamp) WHERE user_id IS NOT NULL;
