"""Encrypting a provider's config for a write, from asyncpg or SQLAlchemy, inside a tenant transaction.

Seed 004's query implies writes of the form ``pgp_sym_encrypt('{"api_key": …}', current_setting('app.encryption_key'))``
inside the INSERT, which the database accepts. But a server on the seed's ``log_statement = 'mod'`` logs every
INSERT and UPDATE, with its parameters, and psycopg2 writes parameters into the text: the API keys would be in the
log. Encrypting in a SELECT first (not logged under 'mod'; its constant kept out of ``pg_stat_statements``) leaves
only the ciphertext to the INSERT. The database still checks that the ciphertext opens with the transaction's key
and that the key is the current one (migrations/ivr/012).

    async with domain_transaction(connection, domain_uuid, key):
        config = await encrypt_config(connection, {"api_key": "sk-…", "model": "gpt-4o-mini"})
        await connection.execute("UPDATE v_voice_ai_providers SET config = $1, is_enabled = true WHERE …", config)
"""
import json
from typing import Any, Mapping, Optional

from sqlalchemy import text

from .errors import NO_KEY, ConfigError

# aes256, as the TypeScript library encrypts; NULL (no key set) is answered here, before anything is written.
_ENCRYPT_ASYNCPG = "SELECT pgp_sym_encrypt($1, nullif(current_setting('app.encryption_key', true), ''), 'cipher-algo=aes256')"
_ENCRYPT = text("SELECT pgp_sym_encrypt(:config, nullif(current_setting('app.encryption_key', true), ''), 'cipher-algo=aes256')")


def _plaintext(config: Mapping[str, Any]) -> str:
    if not isinstance(config, Mapping):
        raise ValueError("a provider config must be a JSON object")
    return json.dumps(dict(config), ensure_ascii=False, allow_nan=False)


def _ciphertext(value: Optional[bytes]) -> bytes:
    if value is None:
        raise ConfigError(NO_KEY)
    return bytes(value)


async def encrypt_config(connection: Any, config: Mapping[str, Any]) -> bytes:
    """``config`` encrypted under the asyncpg transaction's key (``domain_transaction(..., key)``)."""
    return _ciphertext(await connection.fetchval(_ENCRYPT_ASYNCPG, _plaintext(config)))


def encrypt_config_in_session(session: Any, config: Mapping[str, Any]) -> bytes:
    """``config`` encrypted under the key of the session's engine (``ivr_engine(url, key)``)."""
    return _ciphertext(session.execute(_ENCRYPT, {"config": _plaintext(config)}).scalar())
