"""The IVR's tenant context, per transaction, for an asyncpg connection and for a SQLAlchemy session.

Each transaction takes the role ``mordomo_ivr`` (which owns nothing, so the ``v_voice_*`` tables' forced row-level
security applies) and sets ``app.domain_uuid`` (and, for asyncpg, ``app.encryption_key``), all transaction-local
(``set_config(..., true)``): after COMMIT or ROLLBACK the connection is back to the runtime role with no domain, and a
pooled connection carries nothing over. asyncpg sends them as bind parameters of one SELECT, so the key is never in
SQL text, in ``pg_stat_statements`` or in a server log of statements.
The database derives the key's id itself (migrations/ivr/012): ``app.key_id`` is not set.

    async with pool.acquire() as connection:
        async with domain_transaction(connection, domain_uuid, key):
            config = await provider_config(connection, domain_uuid, "llm")

With SQLAlchemy over psycopg2, which writes parameters into the SQL text, the key is instead a setting of the
engine's connections (``mordomo_db.engine.ivr_engine``) and the session helper sets the role and the domain:

    engine = ivr_engine(runtime_url, key)
    with Session(engine, future=True) as session, domain_session(session, domain_uuid):
        session.add(Secretary(domain_uuid=domain_uuid, name="Recepção", extension="8000"))
"""
from contextlib import asynccontextmanager, contextmanager
from typing import Any, AsyncIterator, Iterator, Optional, Union
from uuid import UUID

from sqlalchemy import text

from .errors import key_error

IVR_ROLE = "mordomo_ivr"

_SET_CONTEXT_ASYNCPG = (
    "SELECT set_config('role', $1, true), set_config('app.domain_uuid', $2, true), set_config('app.encryption_key', $3, true)"
)
_SET_ROLE = text(f"SET LOCAL ROLE {IVR_ROLE}")
_SET_DOMAIN = text("SELECT set_config('app.domain_uuid', :domain, true)")


def _domain(domain_uuid: Union[UUID, str]) -> str:
    """The domain as the database's uuid text; a value that is no UUID is refused before any SQL is sent."""
    return str(domain_uuid if isinstance(domain_uuid, UUID) else UUID(domain_uuid))


@asynccontextmanager
async def domain_transaction(
    connection: Any, domain_uuid: Union[UUID, str], encryption_key: Optional[str] = None
) -> AsyncIterator[Any]:
    """A transaction on the asyncpg ``connection`` (or pool connection) in the tenant context of ``domain_uuid``,
    committed when the block ends and rolled back when it raises. ``encryption_key`` is needed only to read or write
    provider configs; when the database refuses the transaction for its key, KeyNotCurrentError (or ConfigError
    without a key) is raised instead, from the database's error."""
    domain = _domain(domain_uuid)
    try:
        async with connection.transaction():
            await connection.execute(_SET_CONTEXT_ASYNCPG, IVR_ROLE, domain, encryption_key or "")
            yield connection
    except Exception as error:
        replacement = key_error(error, encryption_key is not None)
        if replacement is None:
            raise
        raise replacement from error


@contextmanager
def domain_session(session: Any, domain_uuid: Union[UUID, str]) -> Iterator[Any]:
    """A transaction of the SQLAlchemy ``session`` (which must not have one in progress) in the tenant context of
    ``domain_uuid``: ``session.begin()`` with the role and domain set first, committed when the block ends, rolled
    back when it raises. The key is the engine's (``mordomo_db.engine.ivr_engine``): psycopg2 would put a per-
    transaction key into the SQL text. Errors for the key are replaced as in ``domain_transaction``."""
    domain = _domain(domain_uuid)
    try:
        with session.begin():
            # Two statements: a role change inside a statement with parameters makes pg_stat_statements keep that
            # statement's text as sent (with psycopg2, the values written in), one entry per domain.
            session.execute(_SET_ROLE)
            session.execute(_SET_DOMAIN, {"domain": domain})
            yield session
    except Exception as error:
        replacement = key_error(error)
        if replacement is None:
            raise
        raise replacement from error
