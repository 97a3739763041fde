"""Seed 000's Python tests (test_database.py), ported from its Prisma-for-Python fixture to SQLAlchemy, against the
migrated database as the runtime role, plus the seed's 7-day history query."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session, selectinload

from mordomo_db.history import user_history
from mordomo_db.models import Conversation, Message, User


@pytest.fixture
def db(database):
    """The seed's `db` fixture: a session as the runtime role, as the Brain connects."""
    with Session(database.runtime, future=True) as session:
        yield session


def test_create_user(db):
    user = User(name="Test User", email="test@example.com")
    db.add(user)
    db.commit()

    assert isinstance(user.id, uuid.UUID)
    assert user.name == "Test User"
    # The database's defaults, read back after the commit.
    assert (user.voice_enrolled, user.is_active, user.metadata_, user.last_interaction_at) == (False, True, {}, None)
    assert user.created_at.tzinfo is not None and user.created_at == user.updated_at


def test_create_conversation_with_two_nested_messages_and_read_it_back(db, database):
    user = User(name="User")
    db.add(user)
    db.flush()
    conversation = Conversation(
        user_id=user.id,
        messages=[Message(role="user", content="Hello"), Message(role="assistant", content="Hi!")],
    )
    db.add(conversation)
    db.commit()

    with Session(database.runtime, future=True) as other:
        read = other.scalars(
            select(Conversation).options(selectinload(Conversation.messages)).where(Conversation.id == conversation.id)
        ).one()
        assert len(read.messages) == 2
        assert sorted((m.role, m.content) for m in read.messages) == [("assistant", "Hi!"), ("user", "Hello")]
        # Copied from the conversation by the database, never set by the caller.
        assert {m.user_id for m in read.messages} == {user.id}
        # One transaction, one now(): both messages carry the transaction's time, so their order among themselves
        # is their ids' (give `timestamp` explicitly when the order of one transaction's messages matters).
        assert read.messages[0].timestamp == read.messages[1].timestamp
        assert read.message_count == 2


def test_message_count_is_what_the_trigger_made_it_once_the_orm_reads_the_row_again(db):
    """The seed asserted `conversation.messageCount == 0  # updated by trigger`: Prisma's nested create returned the
    conversation row as its INSERT returned it, before the messages were inserted. SQLAlchemy does not keep a server
    default's value from the INSERT: it expires the attribute and reads the row when it is next used."""
    user = User(name="Contador")
    conversation = Conversation(user=user, messages=[Message(role="user", content="Hello"), Message(role="assistant", content="Hi!")])
    db.add(conversation)
    # Before the flush the database has filled nothing: the default 0 exists only in the database.
    assert conversation.message_count is None

    db.flush()  # INSERT conversations, then INSERT messages: the messages' statement trigger adds 2 to the count.
    assert "message_count" in inspect(conversation).expired_attributes
    assert conversation.message_count == 2  # loaded now, after the trigger

    # What Prisma showed: the conversation row as its own INSERT ... RETURNING saw it, before any message.
    returned = db.execute(insert(Conversation).values(user_id=user.id).returning(Conversation.id, Conversation.message_count)).one()
    assert returned.message_count == 0
    db.add_all([Message(conversation_id=returned.id, role="user", content="Olá"), Message(conversation_id=returned.id, role="assistant", content="Oi!")])
    db.flush()

    # A value the ORM sent itself is not read again: it stays stale until a refresh.
    explicit = Conversation(user=user, message_count=0)
    db.add(explicit)
    db.flush()
    db.add_all([Message(conversation_id=explicit.id, role="user", content="Oi")])
    db.flush()
    assert explicit.message_count == 0
    db.refresh(explicit)
    assert explicit.message_count == 1
    assert db.get(Conversation, returned.id).message_count == 2
    db.rollback()


def test_the_seeds_7_day_history_returns_the_users_messages_newest_first(db, database):
    user, someone_else = User(name="Histórico"), User(name="Outra pessoa")
    earlier, later = Conversation(user=user), Conversation(user=user)
    # One transaction each, so that each message has its own now() (the database's clock orders the history).
    db.add_all([earlier, Message(conversation=earlier, role="user", content="primeira")])
    db.commit()
    db.add_all([later, Message(conversation=later, role="assistant", content="segunda")])
    db.add(Conversation(user=someone_else, messages=[Message(role="user", content="de outra pessoa")]))
    db.commit()
    # A message of an earlier day, written as the owner, as an import is (see test_core_rules.py for why the runtime
    # role cannot yet).
    with Session(database.owner, future=True) as owner:
        owner.add(Message(conversation_id=earlier.id, role="user", content="antiga", timestamp=datetime.now(timezone.utc) - timedelta(days=8)))
        owner.commit()

    assert [m.content for m in user_history(db, user.id)] == ["segunda", "primeira"]
    assert [m.content for m in user_history(db, str(user.id), days=7, limit=1)] == ["segunda"]
    assert [m.content for m in user_history(db, user.id, days=9)] == ["segunda", "primeira", "antiga"]
    with pytest.raises(ValueError):
        user_history(db, user.id, days=0)
