-- The role the service and the library run as: it logs in (the embedded server gives it a generated password; on
-- another server the operator does, see the README), is no superuser, owns nothing and cannot bypass row-level
-- security, so whatever SQL it sends it can touch only the rows its grants name. Migrations, backups and the
-- scheduled jobs run as the owner, which alone can change the schema. The migration runner creates the role (every
-- module needs it and none owns it: src/db/runtime-role.ts); each module grants it what requests need.
GRANT USAGE ON SCHEMA public TO mordomo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, conversations, messages, actions, reminders, system_logs, config,
    mordomo_idempotency_keys TO mordomo_app;
-- Written by the messages' triggers (days whose sums must be recomputed), read by the reports.
GRANT SELECT, INSERT ON message_rollup_dirty TO mordomo_app;
GRANT SELECT ON message_rollup_hourly, message_rollup_latency, message_rollup_days, database_size_history,
    mordomo_migrations TO mordomo_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO mordomo_app;

-- The dashboard reads the statistics views (pg_stat_statements among them) of every role's queries. Granting a
-- predefined role needs a superuser: where the owner is none, the dashboard shows only the runtime role's queries.
DO $$
BEGIN
    GRANT pg_read_all_stats TO mordomo_app;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_read_all_stats not granted to mordomo_app (%): the dashboard will show its own queries only', SQLERRM;
END $$;
