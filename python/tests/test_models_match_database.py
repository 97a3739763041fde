"""The models are the migrated schema, column for column: checked by reflection, as prisma/schema.prisma is, and the
check fails for each kind of drift a migration could bring."""
from sqlalchemy import text

from mordomo_db.models import Base
from mordomo_db.schema_check import NOT_MODELLED, differences


def test_the_models_describe_every_table_column_type_default_and_key_of_the_migrated_database(database):
    assert differences(database.owner) == []


def test_the_runtime_role_reflects_the_same_schema(database):
    assert differences(database.runtime) == []


def test_every_table_is_either_modelled_or_listed_with_a_reason(database):
    with database.owner.connect() as connection:
        tables = set(connection.execute(text(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition"
        )).scalars())
    assert tables == set(Base.metadata.tables) | set(NOT_MODELLED)
    assert all(len(reason) > 20 for reason in NOT_MODELLED.values())
    # The partitions of system_logs exist and are left to their parent.
    assert database.scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'system_logs'::regclass") >= 8


def test_a_column_added_by_a_migration_is_reported_exactly(scratch_database):
    with scratch_database.owner.begin() as connection:
        connection.execute(text("ALTER TABLE users ADD COLUMN nickname VARCHAR(40)"))
    assert differences(scratch_database.owner) == ["users.nickname: in the database (VARCHAR(40) NULL), not in the model"]


def test_a_table_added_by_a_migration_is_reported_until_it_is_modelled_or_listed(scratch_database):
    with scratch_database.owner.begin() as connection:
        connection.execute(text("CREATE TABLE v_voice_call_tags (tag TEXT PRIMARY KEY)"))
    found = ["table v_voice_call_tags: in the database, not in the models (model it, or list it in NOT_MODELLED with the reason)"]
    assert differences(scratch_database.owner) == found
    assert differences(scratch_database.owner, not_modelled={**NOT_MODELLED, "v_voice_call_tags": "a test"}) == []


def test_changed_types_nullability_defaults_and_keys_are_each_reported(scratch_database):
    with scratch_database.owner.begin() as connection:
        connection.execute(text("""
            ALTER TABLE messages ALTER COLUMN intent TYPE VARCHAR(200);
            ALTER TABLE reminders ALTER COLUMN description SET NOT NULL;
            ALTER TABLE config ALTER COLUMN updated_at DROP DEFAULT;
            ALTER TABLE v_voice_transfer_rules ALTER COLUMN priority SET DEFAULT 50;
            ALTER TABLE v_voice_secretaries DROP CONSTRAINT v_voice_secretaries_llm_fk;
            ALTER TABLE v_voice_secretaries ADD CONSTRAINT v_voice_secretaries_llm_fk
                FOREIGN KEY (domain_uuid, llm_provider_uuid, llm_provider_type)
                REFERENCES v_voice_ai_providers (domain_uuid, provider_uuid, provider_type) ON DELETE CASCADE;
            ALTER TABLE database_size_history DROP CONSTRAINT database_size_history_pkey;
            ALTER TABLE database_size_history ADD PRIMARY KEY (sampled_on, bytes);
            ALTER TABLE messages DROP COLUMN transcription_model;
        """))
    assert differences(scratch_database.owner) == [
        "config.updated_at: default None in the database, now() in the model",
        "database_size_history: primary key (sampled_on, bytes) in the database, (sampled_on) in the model",
        "messages.intent: type VARCHAR(200) in the database, VARCHAR(100) in the model",
        "messages.transcription_model: in the model, not in the database",
        "reminders.description: NOT NULL in the database, NULL in the model",
        "v_voice_secretaries: foreign key (domain_uuid, llm_provider_uuid, llm_provider_type) -> v_voice_ai_providers "
        "(domain_uuid, provider_uuid, provider_type) ON DELETE CASCADE in the database, not in the model",
        "v_voice_secretaries: foreign key (domain_uuid, llm_provider_uuid, llm_provider_type) -> v_voice_ai_providers "
        "(domain_uuid, provider_uuid, provider_type) ON DELETE SET NULL (llm_provider_uuid) in the model, not in the database",
        "v_voice_transfer_rules.priority: default 50 in the database, 100 in the model",
    ]
