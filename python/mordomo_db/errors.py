"""The errors this package raises, and the one place database errors about the encryption key are recognised."""
from typing import Optional


class MordomoDbError(Exception):
    """Base of the errors of this package."""


class ConfigError(MordomoDbError):
    """The configuration (environment, key file) is unusable; the message says what to change."""


class KeyNotCurrentError(MordomoDbError):
    """The encryption key given is not the one the providers' configs are under; nothing was written."""


NO_KEY = "no encryption key: set MORDOMO_ENCRYPTION_KEY or MORDOMO_ENCRYPTION_KEY_FILE to read or write provider configs"
KEY_NOT_CURRENT = (
    "the encryption key is not the one the provider configs are under (rotated with mordomo-db ivr rotate-key?): "
    "set MORDOMO_ENCRYPTION_KEY to the current key; if no rotation was ever run, "
    "`mordomo-db ivr repair-key` records the key every config opens with"
)

# MDB02: the database refused a config write for its key (migrations/ivr/012). 39000 with pgcrypto's "Wrong key or
# corrupt data": a config did not open with the key given.
_KEY_REFUSED = "MDB02"
_EXTERNAL_ROUTINE = "39000"


def sqlstate(error: BaseException) -> Optional[str]:
    """The SQLSTATE of an asyncpg, psycopg or psycopg2 error, or of the one a SQLAlchemy error wraps."""
    for candidate in (error, getattr(error, "orig", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def key_error(error: BaseException, key_given: bool) -> Optional[MordomoDbError]:
    """The error to raise instead of ``error`` when the database refused the transaction for its encryption key
    (no key, or not the current one); None for any other error, which is then raised as it is."""
    code = sqlstate(error)
    refused = code == _KEY_REFUSED or (code == _EXTERNAL_ROUTINE and _is_wrong_key(error))
    if not refused:
        return None
    return KeyNotCurrentError(KEY_NOT_CURRENT) if key_given else ConfigError(NO_KEY)


def _is_wrong_key(error: BaseException) -> bool:
    text = str(error).lower()
    return "wrong key" in text or "corrupt data" in text
