"""Seed 004's three queries as typed functions over asyncpg, on data written through the IVR models (SQLAlchemy) as
the runtime role: exact rows for the domain, nothing of another domain."""
import typing
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conftest import KEY
from mordomo_db.engine import ivr_engine
from mordomo_db.ivr_queries import SecretaryByExtension, conversation_history, provider_config, secretary_by_extension
from mordomo_db.models import AiProvider, Secretary, VoiceConversation, VoiceMessage
from mordomo_db.provider_configs import encrypt_config_in_session
from mordomo_db.tenant import domain_session, domain_transaction

NOW = datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def engine(database):
    engine = ivr_engine(database.runtime_url, KEY)
    yield engine
    engine.dispose()


def _tenant(engine, domain, name):
    """A domain's providers, a secretary on 8000 using them, and three calls: two recent, one two days old."""
    with Session(engine, future=True) as session, domain_session(session, domain):
        def provider(kind, provider_name, **values):
            row = AiProvider(domain_uuid=domain, provider_type=kind, provider_name=provider_name,
                             config=encrypt_config_in_session(session, {"api_key": f"{kind}-{name}"}), **values)
            session.add(row)
            return row

        stt, tts, llm = provider("stt", "whisper"), provider("tts", "piper"), provider("llm", f"llm-{name}", is_default=True)
        provider("llm", "spare")  # enabled, not the default
        session.add(AiProvider(domain_uuid=domain, provider_type="llm", provider_name="off", is_default=False, is_enabled=False))
        session.flush()
        secretary = Secretary(domain_uuid=domain, name=f"Recepção {name}", extension="8000", greeting="Olá!",
                              stt_provider_uuid=stt.provider_uuid, tts_provider_uuid=tts.provider_uuid, llm_provider_uuid=llm.provider_uuid)
        session.add(secretary)
        session.flush()
        calls = [
            VoiceConversation(domain_uuid=domain, secretary_uuid=secretary.secretary_uuid, caller_id="+5511999990001",
                              started_at=NOW - timedelta(minutes=10), messages=[VoiceMessage(role="assistant", content="Olá!"),
                                                                                VoiceMessage(role="user", content="Boleto", intent="billing", confidence=0.9)]),
            VoiceConversation(domain_uuid=domain, secretary_uuid=secretary.secretary_uuid, caller_id="+5511999990002",
                              started_at=NOW - timedelta(minutes=5), ended_at=NOW - timedelta(minutes=4), resolution="resolved"),
            VoiceConversation(domain_uuid=domain, secretary_uuid=secretary.secretary_uuid, caller_id="+5511999990003",
                              started_at=NOW - timedelta(days=2)),
        ]
        session.add_all(calls)
        session.flush()
        return {"secretary": secretary.secretary_uuid, "llm": llm.provider_uuid, "stt": stt.provider_uuid, "calls": [c.conversation_uuid for c in calls]}


@pytest.fixture(scope="module")
def tenants(database, engine):
    ours, theirs = database.domain(), database.domain()
    return {"ours": ours, "theirs": theirs, **_tenant(engine, ours, "ours"), "their": _tenant(engine, theirs, "theirs")}


@pytest.fixture
async def connection(database):
    connection = await asyncpg.connect(database.runtime_url)
    yield connection
    await connection.close()


async def test_provider_config_is_the_default_enabled_provider_with_its_config_decrypted(connection, tenants):
    async with domain_transaction(connection, tenants["ours"], KEY):
        assert await provider_config(connection, tenants["ours"], "llm") == {
            "provider_uuid": tenants["llm"], "provider_name": "llm-ours", "config": {"api_key": "llm-ours"}
        }
        assert await provider_config(connection, str(tenants["ours"]), "embeddings") is None
        # The other domain's, asked for by its id inside our transaction: row-level security hides it.
        assert await provider_config(connection, tenants["theirs"], "llm") is None
        with pytest.raises(ValueError, match="provider_type must be one of stt, tts, llm, embeddings, realtime"):
            await provider_config(connection, tenants["ours"], "LLM")


async def test_secretary_by_extension_is_every_column_of_the_secretary_and_its_providers_names(connection, tenants):
    async with domain_transaction(connection, tenants["ours"]):
        secretary = await secretary_by_extension(connection, tenants["ours"], "8000")
        assert await secretary_by_extension(connection, tenants["ours"], "8001") is None
        assert await secretary_by_extension(connection, tenants["theirs"], "8000") is None
    assert secretary is not None
    # The TypedDict names exactly the columns s.* returns: a column added by a migration fails here.
    assert list(secretary) == list(typing.get_type_hints(SecretaryByExtension))
    assert {k: secretary[k] for k in ("secretary_uuid", "domain_uuid", "name", "extension", "greeting", "processing_mode",
                                      "stt_provider", "tts_provider", "llm_provider", "realtime_provider_uuid")} == {
        "secretary_uuid": tenants["secretary"], "domain_uuid": tenants["ours"], "name": "Recepção ours", "extension": "8000",
        "greeting": "Olá!", "processing_mode": "turn_based", "stt_provider": "whisper", "tts_provider": "piper",
        "llm_provider": "llm-ours", "realtime_provider_uuid": None,
    }


async def test_conversation_history_lists_the_domains_calls_since_newest_first_with_their_message_counts(connection, tenants):
    async with domain_transaction(connection, tenants["ours"]):
        history = await conversation_history(connection, tenants["ours"], NOW - timedelta(hours=1))
        everything = await conversation_history(connection, tenants["ours"], NOW - timedelta(days=3))
        theirs = await conversation_history(connection, tenants["theirs"], NOW - timedelta(days=3))
    first, second, old = tenants["calls"]
    assert [(c["conversation_uuid"], c["caller_id"], c["resolution"], c["secretary_name"], c["message_count"]) for c in history] == [
        (second, "+5511999990002", "resolved", "Recepção ours", 0),
        (first, "+5511999990001", None, "Recepção ours", 2),
    ]
    assert history[0]["started_at"] == NOW - timedelta(minutes=5) and history[0]["ended_at"] == NOW - timedelta(minutes=4)
    assert [c["conversation_uuid"] for c in everything] == [second, first, old]
    assert theirs == []
    with pytest.raises(ValueError, match="aware datetime"):
        await conversation_history(connection, tenants["ours"], datetime.now())


def test_call_messages_added_through_the_relationship_carry_the_calls_domain(database, tenants):
    first = tenants["calls"][0]
    assert database.scalar("SELECT array_agg(DISTINCT domain_uuid) FROM v_voice_messages WHERE conversation_uuid = :c", c=first) == [tenants["ours"]]


@pytest.mark.parametrize("reference", ["another type", "another domain"])
def test_a_secretary_cannot_use_a_provider_of_another_type_or_another_domain(engine, tenants, reference):
    provider = tenants["stt"] if reference == "another type" else tenants["their"]["llm"]
    with Session(engine, future=True) as session:
        with pytest.raises(IntegrityError) as raised:
            with domain_session(session, tenants["ours"]):
                session.add(Secretary(domain_uuid=tenants["ours"], name="Errada", extension="8100", llm_provider_uuid=provider))
    assert (raised.value.orig.pgcode, raised.value.orig.diag.constraint_name) == ("23503", "v_voice_secretaries_llm_fk")
