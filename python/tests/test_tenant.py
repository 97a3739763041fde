"""The tenant context from Python: asyncpg and SQLAlchemy transactions as the runtime role taking mordomo_ivr, one
domain per transaction, another domain's rows never returned and never written, the key never in SQL or logs."""
import logging

import asyncpg
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from conftest import KEY
from mordomo_db.engine import ivr_engine
from mordomo_db.models import Secretary
from mordomo_db.pool import SEED_POOL_SETTINGS, create_pool
from mordomo_db.tenant import domain_session, domain_transaction

# This database's statements as pg_stat_statements recorded them (it keeps the whole server's).
STATEMENTS = "SELECT count(*) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
CONTEXT = "SELECT current_user, current_setting('app.domain_uuid', true), current_setting('app.encryption_key', true)"


@pytest.fixture(scope="module")
def domains(database):
    """Two tenants with a secretary each, on the same extension."""
    ours, theirs = database.domain(), database.domain()
    return {"ours": ours, "theirs": theirs, "our_secretary": database.secretary(ours, "8000"), "their_secretary": database.secretary(theirs, "8000", "Deles")}


@pytest.fixture
async def connection(database):
    connection = await asyncpg.connect(database.runtime_url)
    yield connection
    await connection.close()


async def test_an_asyncpg_transaction_runs_as_mordomo_ivr_in_its_domain_and_leaves_nothing_behind(connection, domains):
    assert tuple(await connection.fetchrow(CONTEXT)) == ("mordomo_app", None, None)
    async with domain_transaction(connection, domains["ours"], KEY):
        assert tuple(await connection.fetchrow(CONTEXT)) == ("mordomo_ivr", str(domains["ours"]), KEY)
    # Transaction-local: a pooled connection goes back with the runtime role and no domain or key.
    assert tuple(await connection.fetchrow(CONTEXT)) == ("mordomo_app", "", "")


async def test_asyncpg_sees_only_its_domains_rows_even_without_a_filter(connection, domains):
    async with domain_transaction(connection, domains["ours"]):
        rows = await connection.fetch("SELECT secretary_uuid, name FROM v_voice_secretaries")
        assert [(r["secretary_uuid"], r["name"]) for r in rows] == [(domains["our_secretary"], "Recepção")]
        # Asking for the other domain by name finds nothing either.
        assert await connection.fetch("SELECT 1 FROM v_voice_secretaries WHERE domain_uuid = $1", domains["theirs"]) == []


async def test_asyncpg_cannot_write_another_domains_rows(connection, domains, database):
    async with domain_transaction(connection, domains["ours"]):
        assert await connection.execute("UPDATE v_voice_secretaries SET name = 'tomada' WHERE secretary_uuid = $1", domains["their_secretary"]) == "UPDATE 0"
        assert await connection.execute("DELETE FROM v_voice_secretaries WHERE domain_uuid = $1", domains["theirs"]) == "DELETE 0"
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match='new row violates row-level security policy for table "v_voice_secretaries"'):
        async with domain_transaction(connection, domains["ours"]):
            await connection.execute("INSERT INTO v_voice_secretaries (domain_uuid, name) VALUES ($1, 'Intrusa')", domains["theirs"])
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with domain_transaction(connection, domains["ours"]):
            await connection.execute("UPDATE v_voice_secretaries SET domain_uuid = $1", domains["theirs"])
    assert database.scalar("SELECT name FROM v_voice_secretaries WHERE secretary_uuid = :s", s=domains["their_secretary"]) == "Deles"
    assert database.scalar("SELECT count(*) FROM v_voice_secretaries WHERE domain_uuid = :d", d=domains["theirs"]) == 1


async def test_the_runtime_role_outside_a_domain_transaction_cannot_read_ivr_tables(connection):
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied for table v_voice_secretaries"):
        await connection.fetch("SELECT * FROM v_voice_secretaries")


async def test_a_domain_that_is_not_a_uuid_is_refused_before_any_sql(connection):
    with pytest.raises(ValueError):
        async with domain_transaction(connection, "' OR true --"):
            pass
    assert connection.is_in_transaction() is False


@pytest.fixture(scope="module")
def engine(database):
    """The runtime role's engine with the key on every connection, as an IVR service makes it."""
    engine = ivr_engine(database.runtime_url, KEY)
    yield engine
    engine.dispose()


def test_a_sqlalchemy_session_sees_and_writes_only_its_domain(database, domains, engine):
    with Session(engine, future=True) as session:
        with domain_session(session, domains["ours"]):
            assert session.execute(text(CONTEXT)).one() == ("mordomo_ivr", str(domains["ours"]), KEY)
            assert [(s.secretary_uuid, s.name) for s in session.scalars(select(Secretary))] == [(domains["our_secretary"], "Recepção")]
            assert session.execute(update(Secretary).where(Secretary.domain_uuid == domains["theirs"]).values(name="x")).rowcount == 0
        # The role and the domain end with the transaction; the key is the connection's.
        assert session.execute(text(CONTEXT)).one() == ("mordomo_app", "", KEY)
        session.rollback()

        with pytest.raises(DBAPIError) as raised:
            with domain_session(session, domains["ours"]):
                session.add(Secretary(domain_uuid=domains["theirs"], name="Intrusa", extension="9000"))
        assert raised.value.orig.pgcode == "42501"
        assert "new row violates row-level security policy" in str(raised.value.orig)

        with domain_session(session, domains["ours"]):
            session.add(Secretary(domain_uuid=domains["ours"], name="Nova", extension="8001"))
    assert database.scalar("SELECT count(*) FROM v_voice_secretaries WHERE name = 'Intrusa'") == 0
    assert database.scalar("SELECT domain_uuid FROM v_voice_secretaries WHERE name = 'Nova'") == domains["ours"]


def test_a_sqlalchemy_session_already_in_a_transaction_is_refused(domains, engine):
    with Session(engine, future=True) as session:
        session.execute(text("SELECT 1"))  # begins a transaction without the tenant context
        with pytest.raises(Exception, match="already begun"):
            with domain_session(session, domains["ours"]):
                pass


def test_a_key_with_spaces_and_backslashes_reaches_the_session_whole(database):
    key = "a key with  spaces\\and \\ backslashes"
    engine = ivr_engine(database.runtime_url, key, connect_args={"application_name": "escape-test"})
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT current_setting('app.encryption_key'), current_setting('application_name')")).one() == (key, "escape-test")
    finally:
        engine.dispose()


async def test_the_key_is_in_no_log_of_an_echoing_engine_nor_in_pg_stat_statements(database, domains, connection, caplog):
    echoing = ivr_engine(database.runtime_url, KEY, echo=True)
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            with Session(echoing, future=True) as session, domain_session(session, domains["ours"]):
                session.scalars(select(Secretary)).all()
    finally:
        echoing.dispose()
    async with domain_transaction(connection, domains["ours"], KEY):
        await connection.fetch("SELECT 1 FROM v_voice_secretaries")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "FROM v_voice_secretaries" in logged  # the engine did log its statements
    assert KEY not in logged
    assert database.scalar(f"{STATEMENTS} AND strpos(query, :key) > 0", key=KEY) == 0
    # Both paths' statements were recorded, so the check above looked at them.
    assert database.scalar(f"{STATEMENTS} AND strpos(query, 'set_config(''app.encryption_key''') > 0") == 1
    assert database.scalar(f"{STATEMENTS} AND query = 'SET LOCAL ROLE mordomo_ivr'") == 1


async def test_the_pool_has_the_seeds_settings_and_connects_as_the_runtime_role(database, domains):
    assert SEED_POOL_SETTINGS == {"min_size": 5, "max_size": 20, "command_timeout": 30, "max_inactive_connection_lifetime": 300}
    pool = await create_pool(database.runtime_url, server_settings={"application_name": "seed-pool"})
    try:
        assert (pool.get_min_size(), pool.get_max_size()) == (5, 20)
        assert pool._max_inactive_connection_lifetime == 300  # asyncpg has no public getter for it
        async with pool.acquire() as connection:
            assert connection._config.command_timeout == 30  # nor for this one
            backends = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'seed-pool' AND usename = 'mordomo_app'"
            )
            assert backends == 5
            assert await connection.fetchval("SELECT current_user") == "mordomo_app"
            async with domain_transaction(connection, domains["ours"]):
                assert await connection.fetchval("SELECT array_agg(DISTINCT domain_uuid) FROM v_voice_secretaries") == [domains["ours"]]
    finally:
        await pool.close()


async def test_the_pools_settings_can_be_overridden_and_a_slow_statement_is_cancelled(database):
    pool = await create_pool(database.runtime_url, min_size=1, command_timeout=0.2)
    try:
        with pytest.raises(TimeoutError):
            await pool.fetchval("SELECT pg_sleep(5)")
    finally:
        await pool.close()
