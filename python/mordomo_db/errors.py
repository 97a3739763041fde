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

# MDB02: the database refused a config write for its key (migrations/ivr/012), or because none was set. 39000 with
# pgcrypto's "Wrong key or corrupt data": a config did not open with the key given. 42704: app.encryption_key was
# never set on the connection (current_setting without a default).
_KEY_REFUSED = "MDB02"
_EXTERNAL_ROUTINE = "39000"
_UNDEFINED_SETTING = "42704"


def sqlstate(error: BaseException) -> Optional[str]:
    """The SQLSTATE of an asyncpg, psycopg or psycopg2 error, or of the one a SQLAlchemy error wraps."""
    for candidate in (error, getattr(error, "orig", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def key_error(error: BaseException, key_given: Optional[bool] = None) -> Optional[MordomoDbError]:
    """The error to raise instead of ``error`` when the database refused the transaction for its encryption key:
    ConfigError when there was none (``key_given`` False, or the database says so), KeyNotCurrentError when it is
    not the current one; None for any other error, which is then raised as it is."""
    code, text = sqlstate(error), str(error).lower()
    no_key = (
        (code == _UNDEFINED_SETTING and "app.encryption_key" in text)
        or (code == _KEY_REFUSED and "written with app.encryption_key set" in text)
        # pgcrypto refuses an empty password ("Illegal argument to function") before any key check.
        or (code in (_KEY_REFUSED, _EXTERNAL_ROUTINE) and key_given is False)
    )
    if no_key:
        return ConfigError(NO_KEY)
    if code == _KEY_REFUSED or (code == _EXTERNAL_ROUTINE and ("wrong key" in text or "corrupt data" in text)):
        return KeyNotCurrentError(KEY_NOT_CURRENT)
    return None
