"""What a Python user of the core tables relies on the database for, as the runtime role: an action's lifecycle, a
reminder claimed once, bad input refused with the database's error and nothing written."""
import threading
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from mordomo_db.models import Action, Conversation, Message, Reminder, User
from mordomo_db.reminders import claim_due_reminders

ALLOWED = "(allowed: pending -> executing -> success | failed)"


@pytest.fixture
def db(database):
    with Session(database.runtime, future=True) as session:
        yield session


def _action(db):
    conversation = Conversation(user=User(name="Ação"), messages=[Message(role="user", content="Liga a luz")])
    db.add(conversation)
    db.flush()
    action = Action(message=conversation.messages[0], conversation=conversation, action_type="iot_control",
                    action_name="turn_on", parameters={"device": "luz.cozinha"})
    db.add(action)
    db.commit()
    return action


def test_an_action_goes_pending_executing_success_and_the_database_stamps_executed_at(db):
    action = _action(db)
    assert (action.status, action.executed_at) == ("pending", None)
    action.status = "executing"
    db.commit()
    assert (action.status, action.executed_at) == ("executing", None)
    action.status, action.result = "success", {"ok": True}
    db.commit()
    assert (action.status, action.result) == ("success", {"ok": True})
    # Set by the transition trigger: the model marks the column so the ORM reads it back.
    assert action.executed_at is not None and action.executed_at >= action.created_at


@pytest.mark.parametrize("path", [("success",), ("failed",), ("executing", "pending"), ("executing", "success", "failed")])
def test_an_action_refuses_to_skip_or_go_back_with_the_databases_error_and_keeps_its_status(db, path):
    action = _action(db)
    *allowed, refused = path
    for status in allowed:
        action.status = status
        db.commit()
    before = action.status
    action.status = refused
    with pytest.raises(DBAPIError) as raised:
        db.commit()
    db.rollback()
    assert raised.value.orig.pgcode == "MDB01"
    assert raised.value.orig.diag.message_primary == f"action {action.id} cannot go from {before} to {refused} {ALLOWED}"
    assert db.scalar(select(Action.status).where(Action.id == action.id)) == before


def _due_reminders(db, count):
    user = User(name="Lembretes")
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    due = [Reminder(user=user, title=f"Lembrete {i}", scheduled_at=past + timedelta(seconds=i)) for i in range(count)]
    later = Reminder(user=user, title="Amanhã", scheduled_at=past + timedelta(days=1))
    db.add_all(due + [later])
    db.commit()
    return user, due, later


def _statuses(db, user):
    return dict(db.execute(select(Reminder.title, Reminder.status).where(Reminder.user_id == user.id)).all())


def test_a_due_reminder_claimed_by_two_sessions_at_once_goes_to_one_and_the_other_does_not_wait(db, database):
    user, (due,), later = _due_reminders(db, 1)
    with Session(database.runtime, future=True) as first, Session(database.runtime, future=True) as second:
        claimed = claim_due_reminders(first)  # holds the row's lock until it commits
        # If the second waited for the first's lock, this would fail after 2 s instead of returning at once.
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert [r.id for r in claimed] == [due.id]
        assert claim_due_reminders(second) == []
        first.commit()
        second.commit()
        assert claim_due_reminders(second) == []
    assert _statuses(db, user) == {"Lembrete 0": "triggered", "Amanhã": "pending"}
    db.refresh(due)
    assert due.triggered_at is not None


def test_concurrent_claims_on_two_connections_take_every_due_reminder_exactly_once(db, database):
    user, due, later = _due_reminders(db, 20)
    start = threading.Barrier(2)
    claims = {}

    def claim(name):
        with Session(database.runtime, future=True) as session:
            start.wait()
            claims[name] = [r.id for r in claim_due_reminders(session, limit=20)]
            session.commit()

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert set(claims["a"]).isdisjoint(claims["b"])
    assert sorted(claims["a"] + claims["b"]) == sorted(r.id for r in due)
    assert set(_statuses(db, user).values()) == {"triggered", "pending"} and _statuses(db, user)["Amanhã"] == "pending"


def _count(db, model):
    return db.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    "bad, constraint",
    [
        (lambda c: Message(conversation=c, role="robot", content="Oi"), "messages_role_check"),
        (lambda c: Message(conversation=c, role="user", content="Oi", confidence=1.5), "messages_confidence_check"),
        (lambda c: Message(conversation=c, role="user", content="Oi", latency_ms=-1), "messages_latency_ms_check"),
    ],
)
def test_a_bad_message_is_refused_by_its_check_and_nothing_of_the_transaction_is_written(db, bad, constraint):
    messages, conversations = _count(db, Message), _count(db, Conversation)
    conversation = Conversation(user=User(name="Inválido"))
    db.add_all([conversation, Message(conversation=conversation, role="user", content="válida"), bad(conversation)])
    with pytest.raises(IntegrityError) as raised:
        db.commit()
    db.rollback()
    assert (raised.value.orig.pgcode, raised.value.orig.diag.constraint_name) == ("23514", constraint)
    assert (_count(db, Message), _count(db, Conversation)) == (messages, conversations)


@pytest.mark.parametrize("score", [1.01, -0.5])
def test_a_satisfaction_score_outside_0_to_1_is_refused_and_nothing_is_written(db, score):
    conversations = _count(db, Conversation)
    db.add(Conversation(user=User(name="Nota"), satisfaction_score=score))
    with pytest.raises(IntegrityError) as raised:
        db.commit()
    db.rollback()
    assert (raised.value.orig.pgcode, raised.value.orig.diag.constraint_name) == ("23514", "conversations_satisfaction_score_check")
    assert _count(db, Conversation) == conversations


def test_a_nul_byte_in_text_is_refused_before_it_reaches_the_database_by_psycopg2(db):
    """PostgreSQL's text cannot hold NUL; psycopg2 refuses to send one (a ValueError, no SQL state)."""
    messages = _count(db, Message)
    db.add(Conversation(user=User(name="NUL"), messages=[Message(role="user", content="a\x00b")]))
    with pytest.raises(ValueError, match="NUL"):
        db.commit()
    db.rollback()
    assert _count(db, Message) == messages


def test_a_nul_escape_in_jsonb_is_refused_by_the_database_and_nothing_is_written(db):
    users = _count(db, User)
    db.add(User(name="NUL", metadata_={"apelido": "a\x00b"}))
    with pytest.raises(DBAPIError) as raised:
        db.commit()
    db.rollback()
    assert raised.value.orig.pgcode == "22P05"  # untranslatable_character: \u0000 cannot be converted to text
    assert _count(db, User) == users


async def test_a_nul_byte_in_text_sent_by_asyncpg_is_refused_by_the_database_and_nothing_is_written(database):
    connection = await asyncpg.connect(database.runtime_url)
    try:
        before = await connection.fetchval("SELECT count(*) FROM users")
        with pytest.raises(asyncpg.CharacterNotInRepertoireError) as raised:
            async with connection.transaction():
                await connection.execute("INSERT INTO users (name) VALUES ($1)", "válido")
                await connection.execute("INSERT INTO users (name) VALUES ($1)", "a\x00b")
        assert raised.value.sqlstate == "22021"
        assert await connection.fetchval("SELECT count(*) FROM users") == before
    finally:
        await connection.close()


def test_the_runtime_role_writes_and_deletes_a_message_dated_an_earlier_day(db):
    conversation = Conversation(user=User(name="Importado"))
    old = Message(conversation=conversation, role="user", content="de ontem", timestamp=datetime.now(timezone.utc) - timedelta(days=2))
    db.add_all([conversation, old])
    db.commit()
    db.delete(old)
    db.commit()
