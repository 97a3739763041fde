"""The Voice AI IVR's tables (migrations/ivr): FusionPBX's ``v_domains`` and the ``v_voice_*`` tables of each tenant.

Every ``v_voice_*`` table is under forced row-level security: rows are seen and written only inside a transaction
of ``mordomo_db.tenant`` (role ``mordomo_ivr``, ``app.domain_uuid`` set), whoever connects. References between
them are composite foreign keys with ``domain_uuid``, so PostgreSQL itself keeps each reference inside its domain.
"""
from sqlalchemy import (
    Boolean,
    Column,
    Computed,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    Time,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import relationship

from .base import DOUBLE, JSONB, TIMESTAMPTZ, TIMESTAMPTZ_MS, UUID, Base, default, set_by_trigger, updated_at

_DOMAIN = "v_domains.domain_uuid"


def _domain_uuid() -> Column:
    """The tenant of a row: a FusionPBX domain, whose deletion takes the domain's rows with it."""
    return Column(UUID, ForeignKey(_DOMAIN, ondelete="CASCADE"), nullable=False)


def _provider_reference(kind: str) -> ForeignKeyConstraint:
    """A secretary's ``<kind>`` provider: of the same domain and of that type (the type column is pinned by a CHECK).
    A deleted provider empties only the reference (PostgreSQL 16's ``SET NULL (column)``), not the domain or type."""
    return ForeignKeyConstraint(
        ["domain_uuid", f"{kind}_provider_uuid", f"{kind}_provider_type"],
        ["v_voice_ai_providers.domain_uuid", "v_voice_ai_providers.provider_uuid", "v_voice_ai_providers.provider_type"],
        name=f"v_voice_secretaries_{kind}_fk",
        ondelete=f"SET NULL ({kind}_provider_uuid)",
    )


def _secretary_reference(table: str, ondelete: str) -> ForeignKeyConstraint:
    """A reference to a secretary of the same domain."""
    return ForeignKeyConstraint(
        ["domain_uuid", "secretary_uuid"],
        ["v_voice_secretaries.domain_uuid", "v_voice_secretaries.secretary_uuid"],
        name=f"{table}_secretary_fk",
        ondelete=ondelete,
    )


class Domain(Base):
    """FusionPBX's table of tenants (``v_domains``). FusionPBX owns it; standalone, migration ivr 001 creates a
    compatible one. Read-only to the IVR role."""

    __tablename__ = "v_domains"

    domain_uuid = Column(UUID, primary_key=True)
    domain_parent_uuid = Column(UUID)
    domain_name = Column(Text, nullable=False)  # unique
    domain_enabled = Column(Boolean, server_default=default("true"))
    domain_description = Column(Text)
    insert_date = Column(TIMESTAMPTZ, server_default=default("now()"))
    insert_user = Column(UUID)
    update_date = Column(TIMESTAMPTZ)
    update_user = Column(UUID)


class AiProvider(Base):
    """An AI provider of a domain (``v_voice_ai_providers``). ``config`` is the provider's JSON encrypted with
    ``pgp_sym_encrypt`` under the service's key (NULL: not configured, then it must be disabled); ``key_id`` names
    that key and is set by the database whenever ``config`` is written."""

    __tablename__ = "v_voice_ai_providers"

    provider_uuid = Column(UUID, primary_key=True, server_default=default("gen_random_uuid()"))
    domain_uuid = _domain_uuid()
    provider_type = Column(String(20), nullable=False)  # stt | tts | llm | embeddings | realtime
    provider_name = Column(String(50), nullable=False)  # unique per (domain, type)
    config = Column(LargeBinary)
    is_default = Column(Boolean, nullable=False, server_default=default("false"))
    is_enabled = Column(Boolean, nullable=False, server_default=default("true"))
    created_at = Column(TIMESTAMPTZ, nullable=False, server_default=default("now()"))
    updated_at = updated_at()
    key_id = Column(Text, server_default=set_by_trigger(), server_onupdate=set_by_trigger())


class Secretary(Base):
    """A virtual secretary answering an extension (``v_voice_secretaries``). Each ``*_provider_type`` column only
    exists to pin the type in its composite foreign key; the database fills it."""

    __tablename__ = "v_voice_secretaries"
    __table_args__ = tuple(_provider_reference(kind) for kind in ("stt", "tts", "llm", "realtime"))

    secretary_uuid = Column(UUID, primary_key=True, server_default=default("gen_random_uuid()"))
    domain_uuid = _domain_uuid()
    name = Column(String(100), nullable=False)
    extension = Column(String(10))  # unique per domain
    processing_mode = Column(String(20), nullable=False, server_default=default("'turn_based'::character varying"))
    system_prompt = Column(Text)
    greeting = Column(Text)
    farewell = Column(Text)
    stt_provider_uuid = Column(UUID)
    tts_provider_uuid = Column(UUID)
    llm_provider_uuid = Column(UUID)
    realtime_provider_uuid = Column(UUID)
    stt_provider_type = Column(String(20), nullable=False, server_default=default("'stt'::character varying"))
    tts_provider_type = Column(String(20), nullable=False, server_default=default("'tts'::character varying"))
    llm_provider_type = Column(String(20), nullable=False, server_default=default("'llm'::character varying"))
    realtime_provider_type = Column(String(20), nullable=False, server_default=default("'realtime'::character varying"))
    created_at = Column(TIMESTAMPTZ, nullable=False, server_default=default("now()"))
    updated_at = updated_at()

    # Read-only: set the *_provider_uuid columns to change them (the composite keys share domain_uuid, which no
    # relationship may write).
    stt_provider = relationship(AiProvider, primaryjoin=stt_provider_uuid == AiProvider.provider_uuid, foreign_keys=[stt_provider_uuid], viewonly=True)
    tts_provider = relationship(AiProvider, primaryjoin=tts_provider_uuid == AiProvider.provider_uuid, foreign_keys=[tts_provider_uuid], viewonly=True)
    llm_provider = relationship(AiProvider, primaryjoin=llm_provider_uuid == AiProvider.provider_uuid, foreign_keys=[llm_provider_uuid], viewonly=True)
    realtime_provider = relationship(
        AiProvider, primaryjoin=realtime_provider_uuid == AiProvider.provider_uuid, foreign_keys=[realtime_provider_uuid], viewonly=True
    )


class VoiceConversation(Base):
    """A call handled by a secretary (``v_voice_conversations``)."""

    __tablename__ = "v_voice_conversations"
    __table_args__ = (_secretary_reference("v_voice_conversations", "SET NULL (secretary_uuid)"),)

    conversation_uuid = Column(UUID, primary_key=True, server_default=default("gen_random_uuid()"))
    domain_uuid = _domain_uuid()
    secretary_uuid = Column(UUID)
    caller_id = Column(String(50))
    call_uuid = Column(String(100))  # unique per domain
    started_at = Column(TIMESTAMPTZ, nullable=False, server_default=default("now()"))
    ended_at = Column(TIMESTAMPTZ)
    resolution = Column(String(50))
    transferred_to = Column(String(50))

    secretary = relationship(Secretary, primaryjoin=secretary_uuid == Secretary.secretary_uuid, foreign_keys=[secretary_uuid], viewonly=True)
    # Writable: a message added here takes the call's domain_uuid and conversation_uuid (its composite key).
    messages = relationship(
        "VoiceMessage", back_populates="conversation", order_by="(VoiceMessage.created_at, VoiceMessage.message_uuid)",
        cascade="all, delete-orphan", passive_deletes=True,
    )


class VoiceMessage(Base):
    """The transcript of a call (``v_voice_messages``); ``domain_uuid`` is the call's, kept equal by the key."""

    __tablename__ = "v_voice_messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["domain_uuid", "conversation_uuid"],
            ["v_voice_conversations.domain_uuid", "v_voice_conversations.conversation_uuid"],
            name="v_voice_messages_conversation_fk",
            ondelete="CASCADE",
        ),
    )

    message_uuid = Column(UUID, primary_key=True, server_default=default("gen_random_uuid()"))
    domain_uuid = _domain_uuid()
    conversation_uuid = Column(UUID, nullable=False)
    role = Column(String(20), nullable=False)  # user | assistant | system
    content = Column(Text, nullable=False)
    created_at = Column(TIMESTAMPTZ_MS, nullable=False, server_default=default("now()"))
    latency_ms = Column(Integer)
    intent = Column(String(100))
    confidence = Column(DOUBLE)

    conversation = relationship(VoiceConversation, back_populates="messages")


class Document(Base):
    """A secretary's knowledge base entry (``v_voice_documents``); ``secretary_uuid`` NULL: shared by the domain's
    secretaries. ``search_vector`` is generated by the database (title weighted above content)."""

    __tablename__ = "v_voice_documents"
    __table_args__ = (_secretary_reference("v_voice_documents", "CASCADE"),)

    document_uuid = Column(UUID, primary_key=True, server_default=default("gen_random_uuid()"))
    domain_uuid = _domain_uuid()
    secretary_uuid = Column(UUID)
    title = Column(String(255), nullable=False)
    content = Column(Text, nullable=False)
    source = Column(String(500))
    mime_type = Column(String(100), nullable=False, server_default=default("'text/plain'::character varying"))
    is_enabled = Column(Boolean, nullable=False, server_default=default("true"))
    created_at = Column(TIMESTAMPTZ, nullable=False, server_default=default("now()"))
    updated_at = updated_at()
    search_vector = Column(
        TSVECTOR,
        Computed(
            "(setweight(to_tsvector('mordomo_pt'::regconfig, (COALESCE(title, ''::character varying))::text), 'A'::\"char\") || "
            "setweight(to_tsvector('mordomo_pt'::regconfig, COALESCE(content, ''::text)), 'B'::\"char\"))",
            persisted=True,
        ),
    )


class TransferRule(Base):
    """When and where a secretary hands a call to a person (``v_voice_transfer_rules``); ``secretary_uuid`` NULL:
    a rule of the whole domain."""

    __tablename__ = "v_voice_transfer_rules"
    __table_args__ = (_secretary_reference("v_voice_transfer_rules", "CASCADE"),)

    rule_uuid = Column(UUID, primary_key=True, server_default=default("gen_random_uuid()"))
    domain_uuid = _domain_uuid()
    secretary_uuid = Column(UUID)
    name = Column(String(100), nullable=False)
    match_intents = Column(ARRAY(Text), nullable=False, server_default=default("'{}'::text[]"))
    match_keywords = Column(ARRAY(Text), nullable=False, server_default=default("'{}'::text[]"))
    destination_type = Column(String(20), nullable=False)  # extension | number | voicemail
    destination = Column(String(50), nullable=False)
    priority = Column(Integer, nullable=False, server_default=default("100"))  # lowest wins
    weekdays = Column(ARRAY(SmallInteger))  # ISO: 1 = Monday .. 7 = Sunday
    time_start = Column(Time)
    time_end = Column(Time)
    timezone = Column(Text, nullable=False, server_default=default("'America/Sao_Paulo'::text"))
    is_enabled = Column(Boolean, nullable=False, server_default=default("true"))
    created_at = Column(TIMESTAMPTZ, nullable=False, server_default=default("now()"))
    updated_at = updated_at()


class VoiceIdempotencyKey(Base):
    """The HTTP service's Idempotency-Key records of a domain's creates (``v_voice_idempotency_keys``)."""

    __tablename__ = "v_voice_idempotency_keys"

    domain_uuid = Column(UUID, ForeignKey(_DOMAIN, ondelete="CASCADE"), primary_key=True)
    key = Column(Text, primary_key=True)
    fingerprint = Column(LargeBinary, nullable=False)
    result = Column(JSONB)
    created_at = Column(TIMESTAMPTZ, nullable=False, server_default=default("now()"))
