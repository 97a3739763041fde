"""Provider configs written by hand as seed 004 implies, from Python, with only the key and the domain set (the
database derives the key's id, migrations/ivr/012): as the owner and as the runtime role taking mordomo_ivr, read
back with the seed's query; a wrong key or none is refused with a clear error and nothing is written."""
import asyncio
import hashlib
import hmac

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from conftest import KEY, OTHER_KEY
from mordomo_db.engine import ivr_engine
from mordomo_db.errors import KEY_NOT_CURRENT, NO_KEY, ConfigError, KeyNotCurrentError
from mordomo_db.ivr_queries import PROVIDER_CONFIG_SQL, provider_config
from mordomo_db.models import AiProvider
from mordomo_db.provider_configs import encrypt_config, encrypt_config_in_session
from mordomo_db.tenant import domain_session, domain_transaction

# The write seed 004's decrypting query implies, as a PHP page or psql sends it.
SEED_WRITE = """
INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config, is_default, is_enabled)
VALUES ($1, 'llm', $2, pgp_sym_encrypt('{"api_key": "sk-seed", "model": "gpt-4o-mini"}', current_setting('app.encryption_key')), true, true)
RETURNING provider_uuid"""
SEED_CONFIG = {"api_key": "sk-seed", "model": "gpt-4o-mini"}


def key_id(key):
    """The id the TypeScript library computed before migration 012 (an HMAC of a fixed text under the key)."""
    return hmac.new(key.encode(), b"mordomo-db provider config key", hashlib.sha256).hexdigest()[:32]


@pytest.fixture(scope="module")
def current(database):
    """A config under KEY, written first of all: KEY is then the database's current key."""
    domain = database.domain()

    async def write():
        connection = await asyncpg.connect(database.runtime_url)
        try:
            async with domain_transaction(connection, domain, KEY):
                await connection.execute(SEED_WRITE, domain, "first")
        finally:
            await connection.close()

    asyncio.run(write())
    return domain


@pytest.fixture
async def runtime(database):
    connection = await asyncpg.connect(database.runtime_url)
    yield connection
    await connection.close()


@pytest.fixture
async def owner(database):
    connection = await asyncpg.connect(database.owner_url)
    yield connection
    await connection.close()


def _providers(database, domain):
    return database.scalar("SELECT count(*) FROM v_voice_ai_providers WHERE domain_uuid = :d", d=domain)


def test_the_first_config_makes_its_key_the_current_one_under_the_id_the_database_derives(database, current):
    assert database.scalar("SELECT key_id FROM mordomo_ivr_encryption_key") == key_id(KEY)
    assert database.scalar("SELECT key_id FROM v_voice_ai_providers WHERE domain_uuid = :d", d=current) == key_id(KEY)


async def test_the_runtime_role_writes_the_seeds_insert_and_reads_it_back_with_the_seeds_query(runtime, database, current):
    domain = database.domain()
    async with domain_transaction(runtime, domain, KEY):
        provider = await runtime.fetchval(SEED_WRITE, domain, "openai-runtime")
    async with domain_transaction(runtime, domain, KEY):
        found = await provider_config(runtime, domain, "llm")
    assert found == {"provider_uuid": provider, "provider_name": "openai-runtime", "config": SEED_CONFIG}


async def test_the_owner_writes_with_only_the_key_and_the_domain_set_as_the_issue_shows(owner, database, current):
    domain = database.domain()
    # The issue's block: BEGIN; the two settings; the INSERT; COMMIT; no app.key_id, no role.
    async with owner.transaction():
        await owner.execute("SELECT set_config('app.encryption_key', $1, true), set_config('app.domain_uuid', $2, true)", KEY, str(domain))
        provider = await owner.fetchval(SEED_WRITE, domain, "openai-owner")
    async with owner.transaction():
        await owner.execute("SELECT set_config('app.encryption_key', $1, true)", KEY)
        row = await owner.fetchrow(PROVIDER_CONFIG_SQL, domain, "llm")
    assert (row["provider_uuid"], row["provider_name"], row["config"]) == (provider, "openai-owner", '{"api_key": "sk-seed", "model": "gpt-4o-mini"}')
    assert database.scalar("SELECT key_id FROM v_voice_ai_providers WHERE provider_uuid = :p", p=provider) == key_id(KEY)


async def test_a_default_provider_is_configured_by_hand_and_becomes_the_one_the_engine_reads(runtime, database, current):
    domain = database.domain(defaults=True)
    async with domain_transaction(runtime, domain, KEY):
        assert await provider_config(runtime, domain, "llm") is None  # the defaults are disabled and empty
        config = await encrypt_config(runtime, {"api_key": "sk-default", "model": "gpt-4o"})
        assert await runtime.execute(
            "UPDATE v_voice_ai_providers SET config = $1, is_enabled = true WHERE domain_uuid = $2 AND provider_type = 'llm' AND provider_name = 'openai'",
            config, domain,
        ) == "UPDATE 1"
    async with domain_transaction(runtime, domain, KEY):
        found = await provider_config(runtime, domain, "llm")
    assert (found["provider_name"], found["config"]) == ("openai", {"api_key": "sk-default", "model": "gpt-4o"})
    statements = "SELECT count(*) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    assert database.scalar(f"{statements} AND strpos(query, 'sk-default') > 0") == 0


async def test_a_write_under_a_key_that_is_not_the_current_one_is_refused_and_writes_nothing(runtime, database, current):
    domain = database.domain()
    with pytest.raises(KeyNotCurrentError) as raised:
        async with domain_transaction(runtime, domain, OTHER_KEY):
            await runtime.execute("INSERT INTO v_voice_secretaries (domain_uuid, name) VALUES ($1, 'antes')", domain)
            await runtime.execute(SEED_WRITE, domain, "wrong-key")
    assert str(raised.value) == KEY_NOT_CURRENT
    assert raised.value.__cause__.sqlstate == "MDB02"
    assert raised.value.__cause__.message.startswith("app.encryption_key is not the current one")
    assert (_providers(database, domain), database.scalar("SELECT count(*) FROM v_voice_secretaries WHERE domain_uuid = :d", d=domain)) == (0, 0)
    assert database.scalar("SELECT key_id FROM mordomo_ivr_encryption_key") == key_id(KEY)


async def test_reading_configs_under_a_wrong_key_is_refused_with_the_same_error(runtime, current):
    with pytest.raises(KeyNotCurrentError) as raised:
        async with domain_transaction(runtime, current, OTHER_KEY):
            await provider_config(runtime, current, "llm")
    assert raised.value.__cause__.sqlstate == "39000"
    assert "Wrong key or corrupt data" in str(raised.value.__cause__)


async def test_a_write_without_a_key_says_which_variables_to_set_and_writes_nothing(runtime, database, current):
    domain = database.domain()
    with pytest.raises(ConfigError) as raised:
        async with domain_transaction(runtime, domain):
            await runtime.execute(SEED_WRITE, domain, "no-key")
    assert str(raised.value) == NO_KEY
    # pgcrypto's own refusal of the empty key, before the database's check (MDB02) would refuse the write.
    assert (raised.value.__cause__.sqlstate, raised.value.__cause__.message) == ("39000", "Illegal argument to function")
    with pytest.raises(ConfigError, match=NO_KEY):
        async with domain_transaction(runtime, domain):
            await encrypt_config(runtime, SEED_CONFIG)
    # A ciphertext made elsewhere, written without the key: the database's own check refuses it.
    async with domain_transaction(runtime, domain, KEY):
        ciphertext = await encrypt_config(runtime, SEED_CONFIG)
    with pytest.raises(ConfigError, match=NO_KEY) as raised:
        async with domain_transaction(runtime, domain):
            await runtime.execute(
                "INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config) VALUES ($1, 'llm', 'x', $2)", domain, ciphertext
            )
    assert (raised.value.__cause__.sqlstate, raised.value.__cause__.message) == (
        "MDB02", "a provider config must be written with app.encryption_key set (the key it is encrypted with)"
    )
    assert _providers(database, domain) == 0


async def test_a_config_encrypted_under_another_key_than_the_transactions_is_refused(runtime, database, current):
    domain = database.domain()
    with pytest.raises(asyncpg.PostgresError) as raised:
        async with domain_transaction(runtime, domain, KEY):
            await runtime.execute(
                "INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config, is_enabled) "
                "VALUES ($1, 'stt', 'x', pgp_sym_encrypt('{}', $2), true)", domain, OTHER_KEY,
            )
    assert (raised.value.sqlstate, raised.value.message) == ("MDB04", "the provider config is not encrypted with app.encryption_key")
    assert _providers(database, domain) == 0


def test_sqlalchemy_writes_a_config_through_the_model_and_reads_it_with_the_seeds_query(database, current):
    domain = database.domain()
    engine = ivr_engine(database.runtime_url, KEY)
    try:
        with Session(engine, future=True) as session:
            with domain_session(session, domain):
                provider = AiProvider(domain_uuid=domain, provider_type="tts", provider_name="elevenlabs", is_default=True,
                                      config=encrypt_config_in_session(session, {"api_key": "el-python"}))
                session.add(provider)
                session.flush()
                assert provider.key_id == key_id(KEY)  # set by the database's trigger, read back by the ORM
            with domain_session(session, domain):
                row = session.execute(text(PROVIDER_CONFIG_SQL.replace("$1", ":d").replace("$2", ":t")), {"d": domain, "t": "tts"}).one()
                assert (row.provider_uuid, row.provider_name, row.config) == (provider.provider_uuid, "elevenlabs", {"api_key": "el-python"})
    finally:
        engine.dispose()


def test_sqlalchemy_under_a_wrong_key_or_none_is_refused_and_writes_nothing(database, current):
    domain = database.domain()
    for key, error, message in [(OTHER_KEY, KeyNotCurrentError, KEY_NOT_CURRENT), (None, ConfigError, NO_KEY)]:
        engine = ivr_engine(database.runtime_url, key)
        try:
            with Session(engine, future=True) as session:
                with pytest.raises(error) as raised:
                    with domain_session(session, domain):
                        session.add(AiProvider(domain_uuid=domain, provider_type="llm", provider_name="x", is_enabled=False,
                                               config=text("pgp_sym_encrypt('{}', current_setting('app.encryption_key'))")))
                assert str(raised.value) == message
                assert isinstance(raised.value.__cause__, DBAPIError)
        finally:
            engine.dispose()
    assert _providers(database, domain) == 0


def test_the_orm_never_reads_a_config_in_plaintext(database, current):
    with Session(ivr_engine(database.runtime_url, KEY), future=True) as session, domain_session(session, current):
        config = session.scalars(select(AiProvider.config).where(AiProvider.domain_uuid == current)).one()
        assert isinstance(config, bytes) and b"sk-seed" not in config
