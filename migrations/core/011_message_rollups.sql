-- Rollups of messages for the reports over weeks of history (intents, latency per source, messages per period,
-- latency percentiles): at 10M messages, scanning a 30-day window took 1.4-3.1 s per report. Complete UTC days
-- are summed once by refresh_message_rollups() (the scheduler's `rollups` job); a report reads those sums for the
-- days of its window that are rolled up and clean, and the messages themselves for everything else (the edges
-- of the window, today and yesterday, days not rolled up yet, days changed since). So reports stay exact.

-- Per UTC hour and per (source, transcription model, intent): the sums the reports need.
CREATE TABLE IF NOT EXISTS message_rollup_hourly (
    day date NOT NULL,
    hour timestamptz NOT NULL,
    source text NOT NULL,                 -- coalesce(metadata->>'source', 'unknown'), as the reports group it
    transcription_model text NOT NULL,    -- coalesce(transcription_model, 'unknown')
    intent text,
    messages integer NOT NULL,
    confidence_count integer NOT NULL,
    confidence_sum double precision NOT NULL,
    latency_count integer NOT NULL,
    latency_sum bigint NOT NULL,
    latency_max integer
);
CREATE INDEX IF NOT EXISTS idx_message_rollup_hourly_day ON message_rollup_hourly(day);

-- Per UTC day, how many messages had each latency, by source and by transcription model: latency_ms is an
-- integer, so these counts give exact percentiles.
CREATE TABLE IF NOT EXISTS message_rollup_latency (
    day date NOT NULL,
    dimension text NOT NULL CHECK (dimension IN ('source', 'transcription_model')),
    key text NOT NULL,
    latency_ms integer NOT NULL,
    messages integer NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_message_rollup_latency_day ON message_rollup_latency(day, dimension);

-- Days whose sums are in the two tables above.
CREATE TABLE IF NOT EXISTS message_rollup_days (
    day date PRIMARY KEY,
    rolled_at timestamptz NOT NULL DEFAULT now()
);

-- Days that changed after they were rolled up (a message written, moved or deleted with an earlier day's
-- timestamp: imports, erasures, retention). Reports read those days from the messages until the next refresh.
CREATE TABLE IF NOT EXISTS message_rollup_dirty (
    day date PRIMARY KEY,
    marked_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Marks the days of `changed` before today (UTC). An existing mark is updated, not skipped: a refresh running
-- concurrently (REPEATABLE READ) then fails to delete it instead of dropping a mark it never saw the cause of.
CREATE OR REPLACE FUNCTION message_rollup_mark(days date[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO message_rollup_dirty (day)
    SELECT DISTINCT d FROM unnest(days) AS d WHERE d < (clock_timestamp() AT TIME ZONE 'UTC')::date
    ON CONFLICT (day) DO UPDATE SET marked_at = clock_timestamp();
$$;

-- The counter triggers of 004, each now also marking the earlier days its statement touched. An ordinary append
-- (timestamped now) touches no earlier day and marks nothing.
CREATE OR REPLACE FUNCTION messages_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations c
       SET message_count = c.message_count + n.added
      FROM (SELECT conversation_id, count(*)::integer AS added FROM new_rows GROUP BY conversation_id) n
     WHERE c.id = n.conversation_id;

    UPDATE users u
       SET last_interaction_at = GREATEST(u.last_interaction_at, latest.at)
      FROM (SELECT c.user_id, max(n.timestamp) AS at
              FROM new_rows n JOIN conversations c ON c.id = n.conversation_id
             WHERE c.user_id IS NOT NULL
             GROUP BY c.user_id) latest
     WHERE u.id = latest.user_id
       AND u.last_interaction_at IS DISTINCT FROM GREATEST(u.last_interaction_at, latest.at);

    PERFORM message_rollup_mark(array_agg(DISTINCT (timestamp AT TIME ZONE 'UTC')::date))
       FROM new_rows WHERE timestamp < date_trunc('day', clock_timestamp(), 'UTC')
      HAVING count(*) > 0;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION messages_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations c
       SET message_count = GREATEST(c.message_count - o.removed, 0)
      FROM (SELECT conversation_id, count(*)::integer AS removed FROM old_rows GROUP BY conversation_id) o
     WHERE c.id = o.conversation_id;

    PERFORM message_rollup_mark(array_agg(DISTINCT (timestamp AT TIME ZONE 'UTC')::date))
       FROM old_rows WHERE timestamp < date_trunc('day', clock_timestamp(), 'UTC')
      HAVING count(*) > 0;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION messages_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations c
       SET message_count = c.message_count + d.delta
      FROM (SELECT conversation_id, sum(delta)::integer AS delta
              FROM (SELECT conversation_id, 1 AS delta FROM new_rows
                    UNION ALL
                    SELECT conversation_id, -1 FROM old_rows) moves
             GROUP BY conversation_id
            HAVING sum(delta) <> 0) d
     WHERE c.id = d.conversation_id;

    PERFORM message_rollup_mark(array_agg(DISTINCT (timestamp AT TIME ZONE 'UTC')::date))
       FROM (SELECT timestamp FROM new_rows UNION ALL SELECT timestamp FROM old_rows) changed
      WHERE timestamp < date_trunc('day', clock_timestamp(), 'UTC')
     HAVING count(*) > 0;
    RETURN NULL;
END;
$$;

-- Rolls up complete days not rolled up yet or marked since, newest first, at most `max_days` per call (the first
-- run on a long history is spread over several). Days up to the day before yesterday (UTC): a writer that began
-- before midnight may still commit yesterday's messages. Must run in a REPEATABLE READ transaction, so that the
-- messages it sums and the marks it clears are the same moment's.
CREATE OR REPLACE FUNCTION refresh_message_rollups(max_days integer DEFAULT 31) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    last_day date := (now() AT TIME ZONE 'UTC')::date - 2;
    first_day date;
    todo date[];
BEGIN
    IF current_setting('transaction_isolation') <> 'repeatable read' THEN
        RAISE EXCEPTION 'refresh_message_rollups() must run in a REPEATABLE READ transaction'
            USING ERRCODE = 'MDB02';
    END IF;
    SELECT (min(timestamp) AT TIME ZONE 'UTC')::date INTO first_day FROM messages;
    SELECT array_agg(day) INTO todo
      FROM (SELECT day FROM (
                SELECT d::date AS day
                  FROM generate_series(first_day, last_day, interval '1 day') AS d
                 WHERE NOT EXISTS (SELECT 1 FROM message_rollup_days r WHERE r.day = d::date)
                UNION
                SELECT day FROM message_rollup_dirty WHERE day <= last_day) candidates
             ORDER BY day DESC LIMIT max_days) chosen;
    IF todo IS NULL THEN
        RETURN 0;
    END IF;

    DELETE FROM message_rollup_hourly WHERE day = ANY (todo);
    DELETE FROM message_rollup_latency WHERE day = ANY (todo);
    INSERT INTO message_rollup_hourly (day, hour, source, transcription_model, intent, messages, confidence_count,
                                       confidence_sum, latency_count, latency_sum, latency_max)
    SELECT d.day, date_trunc('hour', m.timestamp, 'UTC'), coalesce(m.metadata->>'source', 'unknown'),
           coalesce(m.transcription_model, 'unknown'), m.intent, count(*), count(m.confidence),
           coalesce(sum(m.confidence), 0), count(m.latency_ms), coalesce(sum(m.latency_ms), 0), max(m.latency_ms)
      FROM unnest(todo) AS d(day)
      JOIN messages m ON m.timestamp >= d.day::timestamp AT TIME ZONE 'UTC'
                     AND m.timestamp < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
     GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO message_rollup_latency (day, dimension, key, latency_ms, messages)
    SELECT d.day, k.dimension, k.key, m.latency_ms, count(*)
      FROM unnest(todo) AS d(day)
      JOIN messages m ON m.timestamp >= d.day::timestamp AT TIME ZONE 'UTC'
                     AND m.timestamp < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
     CROSS JOIN LATERAL (VALUES ('source', coalesce(m.metadata->>'source', 'unknown')),
                                ('transcription_model', coalesce(m.transcription_model, 'unknown'))) AS k(dimension, key)
     WHERE m.latency_ms IS NOT NULL
     GROUP BY 1, 2, 3, 4;

    INSERT INTO message_rollup_days (day) SELECT unnest(todo)
        ON CONFLICT (day) DO UPDATE SET rolled_at = now();
    DELETE FROM message_rollup_dirty WHERE day = ANY (todo);
    RETURN cardinality(todo);
END;
$$;

-- The window [since, ∞) (or (since, ∞) when not inclusive, as the seed's `timestamp > since`) as ranges of
-- time: whole rolled-up clean days (rolled = true), and the rest, to be read from the messages.
CREATE OR REPLACE FUNCTION message_rollup_ranges(since timestamptz, inclusive boolean)
RETURNS TABLE (lo timestamptz, hi timestamptz, day date, rolled boolean)
LANGUAGE sql STABLE AS $$
    -- From the window's start, or the first message when that is later (a window may start at -infinity).
    WITH first AS (
        SELECT greatest(since, coalesce((SELECT min(m.timestamp) FROM messages m), now())) AS at
    ),
    days AS (
        SELECT d AS start, (d AT TIME ZONE 'UTC')::date AS day
          FROM first, generate_series(date_trunc('day', first.at, 'UTC'), greatest(now(), first.at), interval '24 hours') AS d
    ),
    marked AS (
        SELECT days.start, days.day,
               (days.start > since OR (inclusive AND days.start = since))
               AND EXISTS (SELECT 1 FROM message_rollup_days r WHERE r.day = days.day)
               AND NOT EXISTS (SELECT 1 FROM message_rollup_dirty x WHERE x.day = days.day) AS rolled
          FROM days
    )
    SELECT greatest(start, since), CASE WHEN start + interval '24 hours' > now() THEN 'infinity' ELSE start + interval '24 hours' END,
           day, rolled
      FROM marked
$$;

-- Hourly sums of the messages of the window, the same whether they come from the rollup or the messages. The
-- ranges read from the messages are scanned one by one through the timestamp index (LATERAL): a join on a range
-- condition would otherwise tempt the planner into reading all of messages.
CREATE OR REPLACE FUNCTION message_totals(since timestamptz, inclusive boolean DEFAULT false)
RETURNS TABLE (hour timestamptz, source text, transcription_model text, intent text, messages bigint,
               confidence_count bigint, confidence_sum double precision, latency_count bigint, latency_sum bigint,
               latency_max integer)
LANGUAGE sql STABLE AS $$
    SELECT h.hour, h.source, h.transcription_model, h.intent, h.messages, h.confidence_count, h.confidence_sum,
           h.latency_count, h.latency_sum, h.latency_max
      FROM message_rollup_ranges(since, inclusive) r
      JOIN message_rollup_hourly h ON h.day = r.day
     WHERE r.rolled
    UNION ALL
    SELECT date_trunc('hour', m.timestamp, 'UTC'), coalesce(m.metadata->>'source', 'unknown'),
           coalesce(m.transcription_model, 'unknown'), m.intent, count(*), count(m.confidence),
           coalesce(sum(m.confidence), 0), count(m.latency_ms), coalesce(sum(m.latency_ms), 0), max(m.latency_ms)
      FROM (SELECT lo, hi FROM message_rollup_ranges(since, inclusive) WHERE NOT rolled) r
     CROSS JOIN LATERAL (SELECT * FROM messages m
                          WHERE m.timestamp >= r.lo AND m.timestamp < r.hi AND (inclusive OR m.timestamp > since)) m
     GROUP BY 1, 2, 3, 4
$$;

-- How many messages of the window had each latency, per key of `dimension` ('source' or 'transcription_model').
CREATE OR REPLACE FUNCTION message_latencies(since timestamptz, dimension text)
RETURNS TABLE (key text, latency_ms integer, messages bigint)
LANGUAGE sql STABLE AS $$
    SELECT l.key, l.latency_ms, sum(l.messages)::bigint
      FROM (SELECT l.key, l.latency_ms, l.messages::bigint AS messages
              FROM message_rollup_ranges(since, false) r
              JOIN message_rollup_latency l ON l.day = r.day AND l.dimension = message_latencies.dimension
             WHERE r.rolled
            UNION ALL
            SELECT CASE WHEN message_latencies.dimension = 'source' THEN coalesce(m.metadata->>'source', 'unknown')
                        ELSE coalesce(m.transcription_model, 'unknown') END,
                   m.latency_ms, 1
              FROM (SELECT lo, hi FROM message_rollup_ranges(since, false) WHERE NOT rolled) r
             CROSS JOIN LATERAL (SELECT * FROM messages m
                                  WHERE m.timestamp >= r.lo AND m.timestamp < r.hi AND m.timestamp > since
                                    AND m.latency_ms IS NOT NULL) m) l
     GROUP BY 1, 2
$$;
