-- Typos that Portuguese spelling invites, and words written a minute ago (issue 32, part 3).
--
-- Trigram similarity (migration core 017) misses misspellings that change several letters yet sound the same:
-- "sossinha" for "cozinha", "ajendamento" for "agendamento", "chícara" for "xícara", "oje" for "hoje". The
-- vocabulary now keeps each word's sound as well: a spelling key where the letters Portuguese writes one sound
-- with are one letter (s/z/ç/ss/sc/c before e and i; x/ch; g/j before e and i; a silent h; l/u at the end of a
-- syllable; doubled letters; accents are already folded). A query word no message has is widened to the known
-- words that sound like it, or else that are spelt most like it.
--
-- The vocabulary learns in the background (the search-words job, every minute, a minute short of now): a typo of a
-- word written a minute ago found nothing. A search now also reads the words of the newest messages the job has
-- not learned yet (at most FRESH_MESSAGES below; a minute or two of a home's or a small IVR's traffic), and says
-- which words found nothing like them.

-- The spelling key of a folded word (lower case, no accents, letters only: search_words_of). Order matters: ch
-- before h, and c, g, q before e/i before the others.
CREATE OR REPLACE FUNCTION search_sound(word text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT regexp_replace(
             regexp_replace(
               regexp_replace(
                 regexp_replace(
                   translate(
                     regexp_replace(
                       regexp_replace(
                         regexp_replace(
                           regexp_replace(
                             regexp_replace(
                               regexp_replace(
                                 regexp_replace(
                                   regexp_replace(regexp_replace(word, '(.)\1+', '\1', 'g'),
                                                  '(ch|sh)', 'x', 'g'),
                                   'lh', 'L', 'g'),
                                 'nh', 'N', 'g'),
                               'h', '', 'g'),
                             '(sc|xc|sç)(?=[ei])', 's', 'g'),
                           'c(?=[ei])', 's', 'g'),
                         '(qu|q)(?=[ei])', 'k', 'g'),
                       'gu(?=[ei])', 'g', 'g'),
                     -- g before e/i is j; the rest one letter each: c, q, k are k; z is s; y is i; w is v.
                     'cqzyw', 'kksiv'),
                   'g(?=[ei])', 'j', 'g'),
                 -- l and m at the end of a syllable sound u and n (mal/mau, tanbém/também).
                 'l(?=[^aeiouLN]|$)', 'u', 'g'),
               'm(?=[^aeiouLN]|$)', 'n', 'g'),
             '(.)\1+', '\1', 'g')
$$;

-- The sounds a query word may be written for: its own, and the one where an s sound before a, o or u was meant as
-- ç, which folding made a c (the vocabulary keeps "servico" for "serviço": k, where "servisso" has s).
CREATE OR REPLACE FUNCTION search_sounds_of_query(word text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN ARRAY[search_sound(word), search_sound(regexp_replace(word, '(?<=[aeiounr])(ss|s|z)(?=[aou])', 'c', 'g'))];

ALTER TABLE search_words ADD COLUMN IF NOT EXISTS sound text GENERATED ALWAYS AS (search_sound(word)) STORED;
CREATE INDEX IF NOT EXISTS idx_search_words_sound ON search_words (sound);

-- The words of the newest messages the vocabulary has not learned yet, with their lexemes and sounds. Bounded by
-- `max_messages` so that a search costs the same whatever the job's backlog (a backlog larger than that is a job
-- that is failing, which /metrics and the jobs' table show).
CREATE OR REPLACE FUNCTION search_fresh_words(max_messages integer) RETURNS TABLE (word text, lexeme text, sound text)
LANGUAGE sql STABLE PARALLEL SAFE STRICT AS $$
    SELECT w, (tsvector_to_array(to_tsvector('mordomo_pt'::regconfig, w)))[1], search_sound(w)
      FROM (SELECT DISTINCT w
              FROM (SELECT m.content FROM messages m
                     WHERE m.id > (SELECT up_to FROM search_words_learned)
                     ORDER BY m.id DESC
                     LIMIT max_messages) fresh, search_words_of(fresh.content) AS w) words
$$;

-- search_query of migration 017 with the sounds, the fresh words, and `unmatched`: the query words (4 letters or
-- more) that no message has and that are like no known word, for the answer to say why nothing was found. Its
-- result columns change, so it takes a new name, search_plan: under the old one, 017's CREATE OR REPLACE could
-- not run again over it (every migration must run twice). 017's function goes.
DROP FUNCTION IF EXISTS search_query(text);
CREATE OR REPLACE FUNCTION search_plan(q text, OUT query tsquery, OUT corrected boolean, OUT unmatched text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE STRICT AS $$
DECLARE
    fresh_messages constant integer := 2000;
    folded text := mordomo_fold(q);
    without text;
    word_of_query text;
    its_lexeme text;
    variants text[];
    lookalikes text[];
    sounds text[];
    variant text;
    substitute tsquery;
    fresh_read boolean := false;
    fresh_words text[];
    fresh_lexemes text[];
    fresh_sounds text[];
BEGIN
    corrected := false;
    unmatched := '{}';
    -- Auxiliary verbs out, while something is left ("ter reunião" is "reunião"). Folding changes no lexeme.
    FOR word_of_query IN
        SELECT DISTINCT w FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, folded))) AS w
         WHERE w ~ '^[a-z]{2,30}$'
           AND (tsvector_to_array(to_tsvector('mordomo_pt'::regconfig, w)))[1] IN (SELECT lexeme FROM search_auxiliary_lexemes)
    LOOP
        without := regexp_replace(folded, '(^|[^a-z0-9])' || word_of_query || '(?=$|[^a-z0-9])', '\1', 'g');
        IF numnode(websearch_to_tsquery('mordomo_pt', without)) > 0 THEN
            folded := without;
        END IF;
    END LOOP;
    query := websearch_to_tsquery('mordomo_pt', folded);
    IF numnode(query) = 0 THEN
        RETURN;
    END IF;
    FOR word_of_query IN
        SELECT DISTINCT w FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, folded))) AS w WHERE w ~ '^[a-z]{2,30}$'
    LOOP
        its_lexeme := (tsvector_to_array(to_tsvector('mordomo_pt'::regconfig, word_of_query)))[1];
        CONTINUE WHEN its_lexeme IS NULL;
        variants := coalesce(search_lexeme_variants(its_lexeme), '{}');
        IF length(word_of_query) >= 4 AND NOT EXISTS (SELECT 1 FROM search_words s WHERE s.lexeme = ANY (variants || its_lexeme)) THEN
            -- Read once per search, and only when a word is not in the vocabulary.
            IF NOT fresh_read THEN
                SELECT coalesce(array_agg(f.word), '{}'), coalesce(array_agg(f.lexeme), '{}'), coalesce(array_agg(f.sound), '{}')
                  INTO fresh_words, fresh_lexemes, fresh_sounds
                  FROM search_fresh_words(fresh_messages) f;
                fresh_read := true;
            END IF;
            IF NOT fresh_lexemes && (variants || its_lexeme) THEN
                sounds := search_sounds_of_query(word_of_query);
                -- Words that sound like it first, then those spelt like it; the nearest spellings of each.
                lookalikes := ARRAY(
                    SELECT DISTINCT c.lexeme FROM (
                        SELECT c.lexeme FROM (
                            SELECT s.word, s.lexeme, true AS sounds_like FROM search_words s WHERE s.sound = ANY (sounds)
                            UNION ALL
                            SELECT s.word, s.lexeme, false FROM search_words s
                             WHERE s.word % word_of_query AND similarity(s.word, word_of_query) >= 0.45
                            UNION ALL
                            SELECT f.word, f.lexeme, f.sound = ANY (sounds)
                              FROM unnest(fresh_words, fresh_lexemes, fresh_sounds) AS f (word, lexeme, sound)
                             WHERE f.sound = ANY (sounds) OR similarity(f.word, word_of_query) >= 0.45) c
                         WHERE c.lexeme IS NOT NULL
                         ORDER BY c.sounds_like DESC, c.word <-> word_of_query
                         LIMIT 3) c);
                IF cardinality(lookalikes) > 0 THEN
                    variants := variants || lookalikes;
                    corrected := true;
                ELSE
                    unmatched := unmatched || word_of_query;
                END IF;
            END IF;
        END IF;
        IF cardinality(variants) > 0 THEN
            substitute := search_lexeme_query(its_lexeme);
            FOREACH variant IN ARRAY variants LOOP
                substitute := substitute || search_lexeme_query(variant);
            END LOOP;
            query := ts_rewrite(query, search_lexeme_query(its_lexeme), substitute);
        END IF;
    END LOOP;
END;
$$;

-- A search, run as the runtime role, reads where the vocabulary's job has got to (search_fresh_words); only the
-- job, run as the owner, moves it.
GRANT SELECT ON search_words_learned TO mordomo_app;
