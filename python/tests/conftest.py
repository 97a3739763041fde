"""The real PostgreSQL of `npm run test:python` (test/run.ts): each test module gets its own database cloned from the
migrated template, dropped after the module unless one of its tests failed (then kept, and named, for inspection)."""
import os
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional

import psycopg2
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

ADMIN_URL = os.environ.get("TEST_ADMIN_URL", "")
TEMPLATE = os.environ.get("TEST_TEMPLATE_DATABASE", "mordomo_template")
RUNTIME_PASSWORD = os.environ.get("TEST_RUNTIME_PASSWORD", "")
KEY = "python-test-encryption-key-0123456789"

# The seeds' statements, verbatim, shared with the TypeScript tests (test/harness/seed-statements.ts).
SEED_STATEMENTS = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "seed-statements.sql")


def seed_statement(name: str) -> str:
    """One of the seeds' statements of test/fixtures/seed-statements.sql, as the seed writes it."""
    with open(SEED_STATEMENTS, encoding="utf-8") as file:
        sections = file.read().split("-- name: ")[1:]
    for section in sections:
        heading, _, body = section.partition("\n")
        if heading.split(" ")[0] == name:
            return "\n" + body.strip()
    raise KeyError(f"no statement {name!r} in {SEED_STATEMENTS}")
OTHER_KEY = "some-other-encryption-key-9876543210"

if not ADMIN_URL:
    raise pytest.UsageError("TEST_ADMIN_URL is not set: run these tests with `npm run test:python`, which starts PostgreSQL")

# Node ids of failed tests and of their modules: their databases are kept.
_FAILED: Dict[str, bool] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    if outcome.get_result().failed:
        _FAILED[item.nodeid] = True
        module = item.getparent(pytest.Module)
        if module is not None:
            _FAILED[module.nodeid] = True


def url(database: str, runtime: bool = False) -> str:
    """The URL of ``database`` as the owner (the admin login) or as the runtime role ``mordomo_app``."""
    target = make_url(ADMIN_URL).set(database=database)
    if runtime:
        target = target.set(username="mordomo_app", password=RUNTIME_PASSWORD)
    return str(target.render_as_string(hide_password=False))


def admin(statement: str) -> None:
    """A statement on the server's postgres database, outside a transaction (CREATE/DROP DATABASE)."""
    connection = psycopg2.connect(ADMIN_URL)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@dataclass
class Database:
    name: str
    owner_url: str
    runtime_url: str
    owner: Engine
    runtime: Engine

    def domain(self, defaults: bool = False) -> uuid.UUID:
        """A FusionPBX domain, inserted as FusionPBX does (as the owner); with the five default providers, disabled
        and not configured, when ``defaults`` (what migration ivr 007 gives every domain it finds)."""
        domain = uuid.uuid4()
        with self.owner.begin() as connection:
            connection.execute(
                text("INSERT INTO v_domains (domain_uuid, domain_name) VALUES (:d, :name)"),
                {"d": domain, "name": f"d-{domain.hex[:8]}.example.com"},
            )
            if defaults:
                connection.execute(text("SELECT v_voice_insert_default_providers(:d)"), {"d": domain})
        return domain

    def scalar(self, sql: str, domain: Optional[uuid.UUID] = None, **params: Any) -> Any:
        """One value of ``sql`` run as the owner in its own transaction, with ``app.domain_uuid`` set to ``domain``
        when given (row-level security is forced on the owner too, unless the owner is a superuser)."""
        with self.owner.begin() as connection:
            if domain is not None:
                connection.execute(text("SELECT set_config('app.domain_uuid', :d, true)"), {"d": str(domain)})
            return connection.execute(text(sql), params).scalar()

    def secretary(self, domain: uuid.UUID, extension: str, name: str = "Recepção") -> uuid.UUID:
        """A secretary of ``domain``, written as the owner."""
        return self.scalar(
            "INSERT INTO v_voice_secretaries (domain_uuid, name, extension) VALUES (:d, :name, :ext) RETURNING secretary_uuid",
            domain, d=domain, name=name, ext=extension,
        )


def make_database(label: str) -> Database:
    name = f"py_{label[:30]}_{secrets.token_hex(3)}".lower()
    admin(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    owner_url, runtime_url = url(name), url(name, runtime=True)
    return Database(name, owner_url, runtime_url, create_engine(owner_url, future=True), create_engine(runtime_url, future=True))


def drop_database(database: Database, keep: bool) -> None:
    database.owner.dispose()
    database.runtime.dispose()
    if keep:
        print(f"\nkept database {database.name} for inspection")
    else:
        admin(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """This module's database."""
    made = make_database(request.module.__name__.rsplit(".", 1)[-1].replace("test_", ""))
    yield made
    drop_database(made, keep=_FAILED.get(request.node.nodeid, False))


@pytest.fixture
def scratch_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A database of this test alone, for tests that change the schema."""
    made = make_database("scratch")
    yield made
    drop_database(made, keep=_FAILED.get(request.node.nodeid, False))
