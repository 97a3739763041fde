"""Seed 004's three queries ("Queries Comuns"), verbatim, as typed functions over an asyncpg connection.

Run them inside ``domain_transaction`` for the same domain: under row-level security a query outside one (or for
another domain) returns nothing. ``provider_config`` also needs the encryption key in that transaction.
"""
import json
from datetime import datetime
from typing import Any, Dict, List, Optional, TypedDict, Union, cast
from uuid import UUID


PROVIDER_TYPES = ("stt", "tts", "llm", "embeddings", "realtime")

PROVIDER_CONFIG_SQL = """
SELECT 
    p.provider_uuid,
    p.provider_name,
    pgp_sym_decrypt(p.config::bytea, current_setting('app.encryption_key'))::json as config
FROM v_voice_ai_providers p
WHERE p.domain_uuid = $1
  AND p.provider_type = $2
  AND p.is_enabled = true
ORDER BY p.is_default DESC
LIMIT 1;"""

SECRETARY_BY_EXTENSION_SQL = """
SELECT s.*, 
       p_stt.provider_name as stt_provider,
       p_tts.provider_name as tts_provider,
       p_llm.provider_name as llm_provider
FROM v_voice_secretaries s
LEFT JOIN v_voice_ai_providers p_stt ON s.stt_provider_uuid = p_stt.provider_uuid
LEFT JOIN v_voice_ai_providers p_tts ON s.tts_provider_uuid = p_tts.provider_uuid
LEFT JOIN v_voice_ai_providers p_llm ON s.llm_provider_uuid = p_llm.provider_uuid
WHERE s.domain_uuid = $1
  AND s.extension = $2;"""

CONVERSATION_HISTORY_SQL = """
SELECT 
    c.conversation_uuid,
    c.caller_id,
    c.started_at,
    c.ended_at,
    c.resolution,
    s.name as secretary_name,
    COUNT(m.message_uuid) as message_count
FROM v_voice_conversations c
JOIN v_voice_secretaries s ON c.secretary_uuid = s.secretary_uuid
LEFT JOIN v_voice_messages m ON c.conversation_uuid = m.conversation_uuid
WHERE c.domain_uuid = $1
  AND c.started_at >= $2
GROUP BY c.conversation_uuid, s.name
ORDER BY c.started_at DESC;"""


class ProviderConfig(TypedDict):
    provider_uuid: UUID
    provider_name: str
    config: Dict[str, Any]


class SecretaryByExtension(TypedDict):
    """``s.*`` of v_voice_secretaries, and the names of its providers."""

    secretary_uuid: UUID
    domain_uuid: UUID
    name: str
    extension: Optional[str]
    processing_mode: str
    system_prompt: Optional[str]
    greeting: Optional[str]
    farewell: Optional[str]
    stt_provider_uuid: Optional[UUID]
    tts_provider_uuid: Optional[UUID]
    llm_provider_uuid: Optional[UUID]
    realtime_provider_uuid: Optional[UUID]
    stt_provider_type: str
    tts_provider_type: str
    llm_provider_type: str
    realtime_provider_type: str
    created_at: datetime
    updated_at: datetime
    stt_provider: Optional[str]
    tts_provider: Optional[str]
    llm_provider: Optional[str]


class ConversationSummary(TypedDict):
    conversation_uuid: UUID
    caller_id: Optional[str]
    started_at: datetime
    ended_at: Optional[datetime]
    resolution: Optional[str]
    secretary_name: str
    message_count: int


def _uuid(value: Union[UUID, str]) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


async def provider_config(connection: Any, domain_uuid: Union[UUID, str], provider_type: str) -> Optional[ProviderConfig]:
    """The domain's default (else any) enabled provider of ``provider_type`` with its config decrypted, or None."""
    if provider_type not in PROVIDER_TYPES:
        raise ValueError(f"provider_type must be one of {', '.join(PROVIDER_TYPES)}, not {provider_type!r}")
    row = await connection.fetchrow(PROVIDER_CONFIG_SQL, _uuid(domain_uuid), provider_type)
    if row is None:
        return None
    # asyncpg hands json over as text (no codec is registered on the caller's connection).
    return {"provider_uuid": row["provider_uuid"], "provider_name": row["provider_name"], "config": json.loads(row["config"])}


async def secretary_by_extension(connection: Any, domain_uuid: Union[UUID, str], extension: str) -> Optional[SecretaryByExtension]:
    """The secretary answering ``extension`` in the domain, with its providers' names, or None."""
    row = await connection.fetchrow(SECRETARY_BY_EXTENSION_SQL, _uuid(domain_uuid), extension)
    return cast(SecretaryByExtension, dict(row)) if row is not None else None


async def conversation_history(connection: Any, domain_uuid: Union[UUID, str], since: datetime) -> List[ConversationSummary]:
    """The domain's calls since ``since`` (aware datetime), newest first, each with its secretary's name and number
    of messages. As the seed wrote it, calls whose secretary was deleted are not listed (an inner join)."""
    if since.tzinfo is None:
        raise ValueError("since must be an aware datetime (timestamptz): a naive one is ambiguous")
    rows = await connection.fetch(CONVERSATION_HISTORY_SQL, _uuid(domain_uuid), since)
    return [cast(ConversationSummary, dict(row)) for row in rows]
