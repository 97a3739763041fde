"""libpq's sslmode in a URL reaches the driver through both helpers (issue 35), tested against a real verifying
handshake: `npm run test:python` gives its server a certificate for ``localhost`` only, signed by a CA it makes
(TEST_SERVER_CA), and keeps plain connections open too. So ``verify-full`` succeeds by that name, is refused by
another name for the same server, and ``disable`` stays plain."""
import os
import ssl

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from mordomo_db.engine import ivr_engine
from mordomo_db.pool import create_pool

from conftest import ADMIN_URL, KEY

SERVER_CA = os.environ.get("TEST_SERVER_CA", "")
pytestmark = pytest.mark.skipif(not SERVER_CA, reason="TEST_SERVER_CA is not set: the server of TEST_DATABASE_URL has no test certificate")

SSL_OF_THIS_SESSION = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def tls_url(host: str, mode: str) -> str:
    """ADMIN_URL reached by ``host``, with ``sslmode`` (and the test CA for the verifying modes)."""
    query = {"sslmode": mode, **({"sslrootcert": SERVER_CA} if mode.startswith("verify") else {})}
    target = make_url(ADMIN_URL).set(host=host, query=query)
    return str(target.render_as_string(hide_password=False))


def test_ivr_engine_verifies_the_server_with_verify_full_and_encrypts() -> None:
    engine = ivr_engine(tls_url("localhost", "verify-full"), KEY)
    with engine.connect() as connection:
        assert connection.execute(sqlalchemy.text(SSL_OF_THIS_SESSION)).scalar() is True
    engine.dispose()


def test_ivr_engine_refuses_a_certificate_that_does_not_name_the_host() -> None:
    refused = ivr_engine(tls_url("127.0.0.1", "verify-full"), KEY)
    with pytest.raises(sqlalchemy.exc.OperationalError, match="does not match host name"):
        refused.connect()
    refused.dispose()


def test_ivr_engine_with_sslmode_disable_stays_plain() -> None:
    engine = ivr_engine(tls_url("127.0.0.1", "disable"), KEY)
    with engine.connect() as connection:
        assert connection.execute(sqlalchemy.text(SSL_OF_THIS_SESSION)).scalar() is False
    engine.dispose()


async def test_create_pool_verifies_the_server_with_verify_full_and_encrypts() -> None:
    pool = await create_pool(tls_url("localhost", "verify-full"), min_size=1, max_size=1)
    try:
        assert await pool.fetchval(SSL_OF_THIS_SESSION) is True
    finally:
        await pool.close()


async def test_create_pool_refuses_a_certificate_that_does_not_name_the_host() -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        await create_pool(tls_url("127.0.0.1", "verify-full"), min_size=1, max_size=1)
