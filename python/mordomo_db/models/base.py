"""The declarative base every model shares, and the column pieces the models repeat.

Classic ``Column(...)`` declarative through ``sqlalchemy.orm.declarative_base``: the subset SQLAlchemy 1.4 (Debian 12)
and 2.0 both run. The models describe the migrated tables; they never create one (the SQL migrations do).
"""
from typing import Any

from sqlalchemy import Column, DateTime, FetchedValue, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import declarative_base

Base: Any = declarative_base()
"""The base of every model; ``Base.metadata`` holds the tables as migrated (``mordomo_db.schema_check`` compares it
with a database)."""

UUID = postgresql.UUID(as_uuid=True)
JSONB = postgresql.JSONB
DOUBLE = postgresql.DOUBLE_PRECISION
"""``double precision``, the migrations' ``FLOAT`` (SQLAlchemy's ``Float`` would mean ``FLOAT`` with a precision)."""
TIMESTAMPTZ = DateTime(timezone=True)
TIMESTAMPTZ_MS = postgresql.TIMESTAMP(timezone=True, precision=3)
"""``timestamptz(3)``: the messages' timestamps keep milliseconds, so a timestamp read back is the stored one."""


def default(sql: str) -> Any:
    """A server default written exactly as PostgreSQL reports it (``pg_get_expr``): the schema check compares the
    text, and the ORM leaves the column out of an INSERT so that the database fills it."""
    return text(sql)


def set_by_trigger() -> Any:
    """The marker of a column a BEFORE trigger sets (it has no default): the ORM then expires the column after a
    flush and reads the trigger's value, instead of keeping the value it sent."""
    return FetchedValue()


def updated_at() -> Any:
    """``updated_at timestamptz NOT NULL DEFAULT now()``, set again by a BEFORE UPDATE trigger on every update."""
    return Column(TIMESTAMPTZ, nullable=False, server_default=default("now()"), server_onupdate=set_by_trigger())
