-- The seed declared a plain table and then a PARTITION OF it, which PostgreSQL refuses; and a partitioned
-- table's primary key must include the partition key. Fixed: partitioned by day on timestamp, key (id, timestamp).
CREATE TABLE IF NOT EXISTS system_logs (
    id BIGSERIAL,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT now(),
    level VARCHAR(10) NOT NULL CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR')),
    source VARCHAR(100) NOT NULL,  -- container name
    message TEXT NOT NULL,
    metadata JSONB NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (id, timestamp)
) PARTITION BY RANGE (timestamp);

CREATE INDEX IF NOT EXISTS idx_logs_timestamp ON system_logs(timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_logs_level ON system_logs(level);
CREATE INDEX IF NOT EXISTS idx_logs_source ON system_logs(source);

-- Rows for days without a partition land here instead of failing the insert; create_system_logs_partitions
-- moves them into their day's partition once it exists.
CREATE TABLE IF NOT EXISTS system_logs_default PARTITION OF system_logs DEFAULT;

-- Day boundaries are UTC midnights, whatever the session's time zone, so partition names (the seed's
-- system_logs_yYYYYmMMdDD) are stable across machines.
CREATE OR REPLACE FUNCTION create_system_logs_partitions(days_ahead integer DEFAULT 7, first_day date DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    start_day date := COALESCE(first_day, (now() AT TIME ZONE 'UTC')::date);
    day date;
    part text;
    lower_bound timestamptz;
    upper_bound timestamptz;
    created integer := 0;
BEGIN
    IF days_ahead < 0 OR days_ahead > 366 THEN
        RAISE EXCEPTION 'days_ahead must be between 0 and 366, got %', days_ahead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 0..days_ahead LOOP
        day := start_day + i;
        part := format('system_logs_y%sm%sd%s', to_char(day, 'YYYY'), to_char(day, 'MM'), to_char(day, 'DD'));
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        lower_bound := day::timestamp AT TIME ZONE 'UTC';
        upper_bound := (day + 1)::timestamp AT TIME ZONE 'UTC';
        -- Built detached, filled from the default partition, then attached: attaching a range that still has
        -- rows in the default partition would fail.
        EXECUTE format('CREATE TABLE %I (LIKE system_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        EXECUTE format(
            'WITH moved AS (DELETE FROM system_logs_default WHERE timestamp >= $1 AND timestamp < $2 RETURNING *)
             INSERT INTO %I SELECT * FROM moved', part)
            USING lower_bound, upper_bound;
        EXECUTE format('ALTER TABLE system_logs ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, lower_bound, upper_bound);
        created := created + 1;
    END LOOP;
    RETURN created;
END;
$$;

-- Kept under the seed's name, but retention drops whole expired day partitions (instant, no bloat) instead of
-- deleting row by row; only stray rows in the default partition are deleted. Returns the partitions dropped.
CREATE OR REPLACE FUNCTION cleanup_old_logs(retention interval DEFAULT INTERVAL '30 days')
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := now() - retention;
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_inherits i
          JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'system_logs'::regclass
           AND c.relname ~ '^system_logs_y\d{4}m\d{2}d\d{2}$'
    LOOP
        -- bound looks like: FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-02 00:00:00+00')
        IF substring(part.bound FROM 'TO \(''([^'']+)''\)')::timestamptz <= cutoff THEN
            EXECUTE format('ALTER TABLE system_logs DETACH PARTITION %I', part.relname);
            EXECUTE format('DROP TABLE %I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM system_logs_default WHERE timestamp < cutoff;
    RETURN dropped;
END;
$$;

SELECT create_system_logs_partitions(7);
