-- The isolation policy reads the transaction's domain once per statement instead of once per row checked: as a
-- scalar subquery, v_voice_current_domain() becomes an init plan whose value every row is compared with (and an
-- index can still use it). Same rows visible, same rows writable; only the cost of RLS changes.
CREATE OR REPLACE FUNCTION v_voice_isolate(target regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO mordomo_ivr', target);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
    EXECUTE format('DROP POLICY IF EXISTS domain_isolation ON %s', target);
    EXECUTE format('CREATE POLICY domain_isolation ON %s USING (domain_uuid = (SELECT v_voice_current_domain()))'
                   ' WITH CHECK (domain_uuid = (SELECT v_voice_current_domain()))', target);
END;
$$;
REVOKE EXECUTE ON FUNCTION v_voice_isolate(regclass) FROM PUBLIC;

SELECT v_voice_isolate(table_name::regclass)
  FROM (VALUES ('v_voice_ai_providers'), ('v_voice_secretaries'), ('v_voice_conversations'), ('v_voice_documents'),
               ('v_voice_transfer_rules'), ('v_voice_messages')) AS isolated(table_name);
