-- The IVR's part of the runtime role (core's migrations/core/016 says why it exists): tenant data only through
-- mordomo_ivr, under row-level security; API keys, which the service checks before it knows the domain.
GRANT USAGE ON SCHEMA public TO mordomo_app;
-- Membership only to SET ROLE to it, not to use its privileges as itself (PostgreSQL 16's INHERIT FALSE; before
-- 16 a membership is inherited, and then row-level security alone keeps the rows of a domain not set out of reach).
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE 'GRANT mordomo_ivr TO mordomo_app WITH INHERIT FALSE, SET TRUE';
    ELSE
        GRANT mordomo_ivr TO mordomo_app;
    END IF;
END $$;
GRANT SELECT, INSERT, UPDATE ON mordomo_api_keys TO mordomo_app;
GRANT SELECT ON v_domains, mordomo_migrations TO mordomo_app;
