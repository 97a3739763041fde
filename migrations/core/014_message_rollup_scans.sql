-- The reports' ranges not rolled up yet (yesterday, today, days changed since) were meant to be read one by one
-- through the timestamp index (the LATERAL of migration 011), but PostgreSQL may pull such a subquery up into a
-- plain join, and then it estimated the ranges from generate_series' default of 1000 rows and read all of
-- messages instead: at 10M messages (bench/scale) the percentiles report took 7 s, the others ~0.6 s, where a
-- day's scan takes tens of milliseconds. OFFSET 0 keeps the subquery whole, so each range is one index scan
-- whatever the estimates. Same functions otherwise.

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
                          WHERE m.timestamp >= r.lo AND m.timestamp < r.hi AND (inclusive OR m.timestamp > since)
                         OFFSET 0) m
     GROUP BY 1, 2, 3, 4
$$;

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
                                    AND m.latency_ms IS NOT NULL
                                 OFFSET 0) m) l
     GROUP BY 1, 2
$$;
