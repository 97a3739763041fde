-- A user's history (the seed's history query) starts from the user's conversations: with the conversation id in
-- the index, their ids come from the index alone instead of one heap page per conversation (at 10M messages a
-- user has ~100 conversations). Neither column ever changes when a
-- message is appended, so appends still update conversations in place (HOT). The seed's index name is kept.
DO $$
BEGIN
    IF (SELECT i.indnatts FROM pg_index i WHERE i.indexrelid = 'idx_conversations_user'::regclass) = 1 THEN
        DROP INDEX idx_conversations_user;
        CREATE INDEX idx_conversations_user ON conversations(user_id) INCLUDE (id);
    END IF;
END $$;
