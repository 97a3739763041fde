"""libpq's sslmode in a URL reaches the driver through the helpers (issue 35): the test server does not speak TLS,
so ``require`` is refused by the driver itself and ``disable`` connects."""
import pytest
import sqlalchemy

from mordomo_db.engine import ivr_engine

from conftest import ADMIN_URL


def with_sslmode(mode: str) -> str:
    return f"{ADMIN_URL}{'&' if '?' in ADMIN_URL else '?'}sslmode={mode}"


def test_ivr_engine_passes_sslmode_through() -> None:
    engine = ivr_engine(with_sslmode("disable"), "test-encryption-key-0123456789")
    with engine.connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar() is False
    engine.dispose()
    refused = ivr_engine(with_sslmode("require"), "test-encryption-key-0123456789")
    with pytest.raises(sqlalchemy.exc.OperationalError, match="SSL"):
        refused.connect()
    refused.dispose()
