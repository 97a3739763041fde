-- Search kept each message's lexemes only in its GIN index, so every row a search looked at had its text parsed
-- again: to test a candidate the index cannot settle (a phrase; a walk of the newest messages for words that are
-- common apart and rare together) and to rank it. The lexemes are now stored beside the text, parsed once when the
-- message is written (as the index needed anyway), and the index is over them. On the 10M messages of bench:scale
-- the 115 queries of bench/search went from p50 11.7 / p95 215 ms to 5.4 / 85 ms, a phrase of common words from
-- 12.3 s to 1.5 s; appends were as fast as before (pgbench on the append statement). Figures: bench/README.md.
--
-- The table is rewritten once, under an exclusive lock: 3 min 18 s for 10M messages on the project machine
-- (README, "Upgrading a large database"); seconds for a home assistant's history.

-- The old index first, so that the rewrite does not rebuild it only to drop it after.
DROP INDEX IF EXISTS idx_messages_search;

ALTER TABLE messages ADD COLUMN IF NOT EXISTS search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('mordomo_pt'::regconfig, content)) STORED;

SET LOCAL maintenance_work_mem = '256MB';
CREATE INDEX IF NOT EXISTS idx_messages_search_vector ON messages USING GIN (search_vector);
