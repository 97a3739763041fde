-- One sample of the database size a day, taken by the scheduler, so the dashboard can show growth: PostgreSQL
-- itself only knows the size now.
CREATE TABLE IF NOT EXISTS database_size_history (
    sampled_on DATE PRIMARY KEY,
    bytes BIGINT NOT NULL CHECK (bytes >= 0),
    sampled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
