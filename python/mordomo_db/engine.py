"""A SQLAlchemy engine whose connections carry the IVR encryption key from the moment they connect.

psycopg2 (SQLAlchemy 1.4's PostgreSQL driver) writes every parameter into the SQL text it sends: a key passed to
``set_config`` per transaction would travel as a literal, and land in ``pg_stat_statements`` (which keeps the raw
text of a statement that changes role) and in any server log of statements or errors. So for SQLAlchemy the key is
a session setting given in libpq's startup packet (``options=-c app.encryption_key=…``), which no statement carries;
``mordomo_db.tenant.domain_session`` then sets only the role and the domain per transaction.
"""
import re
from typing import Any, Optional

import sqlalchemy


def ivr_engine(url: str, encryption_key: Optional[str] = None, **kwargs: Any) -> Any:
    """``sqlalchemy.create_engine(url, future=True, **kwargs)``, every connection of which has
    ``app.encryption_key`` set to ``encryption_key`` (when given). Give the runtime role's URL; libpq's ``sslmode``
    and other URL parameters pass through to the driver.

        engine = ivr_engine("postgresql://mordomo_app:…@db/fusionpbx?sslmode=require", require_encryption_key())
    """
    if encryption_key:
        connect_args = dict(kwargs.pop("connect_args", {}))
        option = f"-c app.encryption_key={_escape(encryption_key)}"
        connect_args["options"] = f"{connect_args['options']} {option}" if connect_args.get("options") else option
        kwargs["connect_args"] = connect_args
    return sqlalchemy.create_engine(url, future=True, **kwargs)


def _escape(value: str) -> str:
    """The server splits ``options`` at whitespace; a backslash keeps the next character (whitespace or backslash)."""
    return re.sub(r"([\\\s])", r"\\\1", value)
