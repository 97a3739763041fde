"""The seeds' own statements sent as text from asyncpg, as a hand-written Python service would, as the owner and as the
runtime role (which takes mordomo_ivr for the IVR's): seed 000's useful and monitoring queries, seed 004's config
write and its three queries. The TypeScript half of this contract is test/core/seed-queries.test.ts and
test/ivr/hand-written-sql.test.ts."""
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy import text

from conftest import KEY, seed_statement
from mordomo_db.ivr_queries import CONVERSATION_HISTORY_SQL, PROVIDER_CONFIG_SQL, SECRETARY_BY_EXTENSION_SQL

MOST_ACTIVE_USERS = seed_statement("most_active_users")
COMMON_INTENTS = seed_statement("common_intents")
LATENCY_BY_CONTAINER = seed_statement("latency_by_container")
SLOWEST = seed_statement("slowest_statements")
LARGEST_TABLES = seed_statement("largest_tables")
UNUSED_INDEXES = seed_statement("unused_indexes")
RUNNING = seed_statement("running_queries")
TERMINATE = seed_statement("terminate_backend")

# The write seed 004's decrypting query implies, the config a parameter as pg_query_params would send it.
WRITE_CONFIG = """
INSERT INTO v_voice_ai_providers (domain_uuid, provider_type, provider_name, config, is_default, is_enabled)
VALUES ($1, $2, $3, pgp_sym_encrypt($4, current_setting('app.encryption_key')), true, true)
RETURNING provider_uuid"""

LOGINS = ["owner", "runtime"]


@pytest.fixture
async def session(database, request):
    """One connection as psql or a PHP page would hold it, as ``request.param`` (owner or runtime)."""
    connection = await asyncpg.connect(database.owner_url if request.param == "owner" else database.runtime_url)
    yield connection
    await connection.close()


@pytest.fixture(scope="module")
def assistant_data(database):
    """Known messages: Ana (two conversations, four messages), Bruno (one, two), Carla (one, ten days old)."""
    ten_days_ago = datetime.now(timezone.utc) - timedelta(days=10)
    with database.owner.begin() as connection:
        ids = {name: connection.execute(text("INSERT INTO users (name) VALUES (:n) RETURNING id"), {"n": name}).scalar() for name in ("Ana", "Bruno", "Carla")}
        conversation = lambda user, **values: connection.execute(  # noqa: E731
            text("INSERT INTO conversations (user_id, started_at) VALUES (:u, coalesce(:at, now())) RETURNING id"), {"u": ids[user], "at": values.get("at")}
        ).scalar()
        a1, a2, b1, c1 = conversation("Ana"), conversation("Ana"), conversation("Bruno"), conversation("Carla", at=ten_days_ago)
        rows = [
            (a1, "user", "Liga a luz", "iot_control", 0.75, 100, "brain"),
            (a1, "assistant", "Feito", None, None, 300, "brain"),
            (a1, "user", "E a da sala?", "iot_control", 0.25, None, None),
            (a2, "user", "Bom dia", "chat", 0.625, 50, "stt"),
            (b1, "user", "Oi", None, None, 10, None),
            (b1, "assistant", "Olá", None, None, None, None),
            (c1, "user", "Antigo", "old", 1.0, None, None),
        ]
        for conversation_id, role, content, intent, confidence, latency, source in rows:
            connection.execute(
                text("INSERT INTO messages (conversation_id, role, content, intent, confidence, latency_ms, metadata) "
                     "VALUES (:c, :r, :t, :i, :conf, :l, CAST(:m AS jsonb))"),
                {"c": conversation_id, "r": role, "t": content, "i": intent, "conf": confidence, "l": latency,
                 "m": json.dumps({"source": source} if source else {})},
            )
        # An intent outside the 30-day window.
        connection.execute(text("UPDATE messages SET timestamp = now() - interval '40 days' WHERE content = 'Antigo'"))


@pytest.mark.parametrize("session", LOGINS, indirect=True)
async def test_seed_000s_useful_queries_answer_as_computed_by_hand(session, assistant_data):
    assert [tuple(r) for r in await session.fetch(MOST_ACTIVE_USERS)] == [("Ana", 2, 4), ("Bruno", 1, 2)]
    assert [tuple(r) for r in await session.fetch(COMMON_INTENTS)] == [("iot_control", 2, 0.5), ("chat", 1, 0.625)]
    assert [tuple(r) for r in await session.fetch(LATENCY_BY_CONTAINER)] == [
        ("brain", Decimal("200"), 300), ("stt", Decimal("50"), 50), (None, Decimal("10"), 10)
    ]


@pytest.mark.parametrize("session", LOGINS, indirect=True)
async def test_seed_000s_monitoring_queries_run_as_written_but_the_unused_index_one(session, database):
    assert 0 < len(await session.fetch(SLOWEST)) <= 10
    tables = [r["tablename"] for r in await session.fetch(LARGEST_TABLES)]
    assert len(tables) == database.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert {"users", "messages", "v_voice_ai_providers", "system_logs_default"} <= set(tables)
    # As the seed wrote it, it reads columns pg_stat_user_indexes does not have (relname, indexrelname are).
    with pytest.raises(asyncpg.UndefinedColumnError, match='column "tablename" does not exist'):
        await session.fetch(UNUSED_INDEXES)
    running = await session.fetch(RUNNING)
    assert RUNNING in [r["query"] for r in running]  # this very statement, seen by either login
    assert await session.fetch(TERMINATE) == []


@pytest.mark.parametrize("session", LOGINS, indirect=True)
async def test_maintenance_is_the_owners_the_runtime_role_is_refused_reindex_and_skipped_by_vacuum(session, request):
    notices = []
    session.add_log_listener(lambda _, message: notices.append(message.message))
    if request.node.callspec.params["session"] == "owner":
        await session.execute("VACUUM ANALYZE messages")
        await session.execute("REINDEX TABLE messages")
        assert notices == []
    else:
        await session.execute("VACUUM ANALYZE messages")
        assert notices == ['permission denied to vacuum "messages", skipping it']
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner of table messages"):
            await session.execute("REINDEX TABLE messages")


async def _settings(session, login, domain):
    """What a hand-written IVR transaction sets: the key and the domain, and for the runtime role the IVR role."""
    if login == "runtime":
        await session.execute("SELECT set_config('role', 'mordomo_ivr', true)")
    await session.execute("SELECT set_config('app.encryption_key', $1, true), set_config('app.domain_uuid', $2, true)", KEY, str(domain))


@pytest.mark.parametrize("session", LOGINS, indirect=True)
async def test_seed_004s_config_write_and_three_queries_as_text(session, database, request):
    login = request.node.callspec.params["session"]
    domain = database.domain(defaults=True)
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    async with session.transaction():
        await _settings(session, login, domain)
        # One default per type (idx_providers_one_default): the disabled default of migration 007 gives way first.
        assert await session.execute(
            "UPDATE v_voice_ai_providers SET is_default = false WHERE domain_uuid = $1 AND provider_type = 'llm' AND is_default", domain
        ) == "UPDATE 1"
        llm = await session.fetchval(WRITE_CONFIG, domain, "llm", f"openai-{login}", '{"api_key": "sk-text"}')
        secretary = await session.fetchval(
            "INSERT INTO v_voice_secretaries (domain_uuid, name, extension, llm_provider_uuid) VALUES ($1, 'Recepção', '8000', $2) RETURNING secretary_uuid",
            domain, llm,
        )
        call = await session.fetchval(
            "INSERT INTO v_voice_conversations (domain_uuid, secretary_uuid, caller_id) VALUES ($1, $2, '+5511999990000') RETURNING conversation_uuid",
            domain, secretary,
        )
        await session.execute(
            "INSERT INTO v_voice_messages (domain_uuid, conversation_uuid, role, content) VALUES ($1, $2, 'assistant', 'Olá!'), ($1, $2, 'user', 'Boleto')",
            domain, call,
        )
    async with session.transaction():
        await _settings(session, login, domain)
        provider = await session.fetchrow(PROVIDER_CONFIG_SQL, domain, "llm")
        answering = await session.fetchrow(SECRETARY_BY_EXTENSION_SQL, domain, "8000")
        history = await session.fetch(CONVERSATION_HISTORY_SQL, domain, since)
    assert (provider["provider_uuid"], provider["provider_name"], json.loads(provider["config"])) == (llm, f"openai-{login}", {"api_key": "sk-text"})
    assert (answering["secretary_uuid"], answering["llm_provider"], answering["stt_provider"]) == (secretary, f"openai-{login}", None)
    assert [(r["conversation_uuid"], r["secretary_name"], r["message_count"]) for r in history] == [(call, "Recepção", 2)]
