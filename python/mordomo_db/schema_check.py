"""Compares the SQLAlchemy models with a migrated database, by reflection: every table, column, type, nullability,
server default, generated column, primary key and foreign key.

The migrations are the source of truth; this says where the models drifted from them. A table the models do not
describe must be listed in ``NOT_MODELLED`` with the reason, so that a table a migration adds is noticed too::

    from mordomo_db.schema_check import differences
    assert differences(engine) == []
"""
import re
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from sqlalchemy import MetaData, Table, inspect, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.schema import Computed, DefaultClause

from .models import Base

NOT_MODELLED: Mapping[str, str] = {
    "mordomo_migrations": "the migration runner's record of applied files; only the runner writes it",
    "mordomo_pending_indexes": "indexes the migration runner builds after a migration (CONCURRENTLY); the runner's own",
    "mordomo_idempotency_keys": "the HTTP service's Idempotency-Key records (src/db/idempotency.ts); a client of the "
    "database has no HTTP request to replay",
    "mordomo_api_keys": "the HTTP service's API keys, hashed as src/ivr/api-keys.ts does; made and revoked with "
    "`mordomo-db ivr keys` or the admin API, never by a service",
    "mordomo_ivr_encryption_key": "the id of the current encryption key, reached only through the database's "
    "functions (the runtime role cannot read it)",
    "message_rollup_hourly": "sums of messages kept by refresh_message_rollups() for the reports (message_totals())",
    "message_rollup_latency": "latency counts kept by refresh_message_rollups() for the reports (message_latencies())",
    "message_rollup_days": "days refresh_message_rollups() has summed",
    "message_rollup_dirty": "days changed since they were summed, marked by the messages' triggers",
    "search_words": "the search vocabulary, learned from messages by the search-words job (learn_search_words())",
    "search_words_learned": "how far the search-words job has read",
    "search_verbs": "verb forms the search widens a word to, written by the migrations",
    "search_verb_lexemes": "derived from search_verbs by search_verbs_derive()",
    "search_auxiliary_lexemes": "derived from search_verbs by search_verbs_derive()",
}
"""Tables of the migrated database that the models deliberately leave out, with the reason. Partitions (of
``system_logs``) are left out by the check itself: their rows are read and written through the parent."""

_DIALECT = postgresql.dialect()

# Ordinary and partitioned tables of the schema, without partitions (reached through their parent) and without
# tables an extension owns.
_TABLES = text(
    """
    SELECT c.relname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY 1"""
)

# Foreign keys with their columns in order and the ON DELETE action as PostgreSQL states it, column list included
# (PostgreSQL 16's SET NULL (column), which the IVR's composite keys use and SQLAlchemy's reflection drops).
_FOREIGN_KEYS = text(
    """
    SELECT t.relname AS table_name,
           ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, i)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.i) AS columns,
           r.relname AS referred_table,
           ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, i)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.i) AS referred_columns,
           pg_get_constraintdef(con.oid) AS definition
      FROM pg_constraint con
      JOIN pg_class t ON t.oid = con.conrelid
      JOIN pg_class r ON r.oid = con.confrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE con.contype = 'f' AND n.nspname = current_schema() AND NOT t.relispartition"""
)
_ON_DELETE = re.compile(r"ON DELETE (SET NULL|SET DEFAULT|CASCADE|RESTRICT|NO ACTION)( \([^)]*\))?")

ForeignKey = Tuple[Tuple[str, ...], str, Tuple[str, ...], str]


def differences(bind: Any, metadata: MetaData = Base.metadata, not_modelled: Mapping[str, str] = NOT_MODELLED) -> List[str]:
    """Every difference between ``metadata`` and the database ``bind`` (an Engine or Connection) is connected to, as
    one sentence each, table by table; empty when the models describe the migrated tables exactly."""
    if isinstance(bind, Connection):
        return _differences(bind, metadata, not_modelled)
    with bind.connect() as connection:
        return _differences(connection, metadata, not_modelled)


def _differences(connection: Connection, metadata: MetaData, not_modelled: Mapping[str, str]) -> List[str]:
    database: Set[str] = set(connection.execute(_TABLES).scalars())
    modelled: Set[str] = set(metadata.tables)
    found: List[str] = []
    for name in sorted(database - modelled - set(not_modelled)):
        found.append(f"table {name}: in the database, not in the models (model it, or list it in NOT_MODELLED with the reason)")
    for name in sorted(modelled - database):
        found.append(f"table {name}: in the models, not in the database")
    for name in sorted(set(not_modelled) - database):
        found.append(f"table {name}: listed in NOT_MODELLED, not in the database")
    for name in sorted(set(not_modelled) & modelled):
        found.append(f"table {name}: both modelled and listed in NOT_MODELLED")
    foreign_keys = _database_foreign_keys(connection)
    inspector = inspect(connection)
    for name in sorted(modelled & database):
        table = metadata.tables[name]
        found += _column_differences(table, inspector.get_columns(name))
        found += _primary_key_difference(table, inspector.get_pk_constraint(name)["constrained_columns"])
        found += _foreign_key_differences(table, foreign_keys.get(name, set()))
    return found


def _database_foreign_keys(connection: Connection) -> Dict[str, Set[ForeignKey]]:
    keys: Dict[str, Set[ForeignKey]] = {}
    for row in connection.execute(_FOREIGN_KEYS):
        match = _ON_DELETE.search(row.definition)
        on_delete = f"{match.group(1)}{match.group(2) or ''}" if match else "NO ACTION"
        keys.setdefault(row.table_name, set()).add((tuple(row.columns), row.referred_table, tuple(row.referred_columns), on_delete))
    return keys


def _type(sql_type: Any) -> str:
    return str(sql_type.compile(dialect=_DIALECT))


def _nullability(nullable: bool) -> str:
    return "NULL" if nullable else "NOT NULL"


def _model_default(column: Any) -> Optional[str]:
    """The model's server default as SQL text; None when it has none or marks a column a trigger sets."""
    default = column.server_default
    if isinstance(default, DefaultClause) and not isinstance(default, Computed):
        return str(default.arg.text if hasattr(default.arg, "text") else default.arg)
    return None


def _model_generated(column: Any) -> Optional[str]:
    return str(column.computed.sqltext) if column.computed is not None else None


def _column_differences(table: Table, reflected: List[Dict[str, Any]]) -> List[str]:
    found: List[str] = []
    in_database = {column["name"]: column for column in reflected}
    for name, column in in_database.items():
        where = f"{table.name}.{name}"
        model = table.columns.get(name)
        if model is None:
            found.append(f"{where}: in the database ({_type(column['type'])} {_nullability(column['nullable'])}), not in the model")
            continue
        if _type(column["type"]) != _type(model.type):
            found.append(f"{where}: type {_type(column['type'])} in the database, {_type(model.type)} in the model")
        if column["nullable"] != model.nullable:
            found.append(f"{where}: {_nullability(column['nullable'])} in the database, {_nullability(model.nullable)} in the model")
        if column.get("default") != _model_default(model):
            found.append(f"{where}: default {column.get('default')} in the database, {_model_default(model)} in the model")
        generated = (column.get("computed") or {}).get("sqltext")
        if generated != _model_generated(model):
            found.append(f"{where}: generated as {generated} in the database, {_model_generated(model)} in the model")
    for name in table.columns.keys():
        if name not in in_database:
            found.append(f"{table.name}.{name}: in the model, not in the database")
    return found


def _primary_key_difference(table: Table, reflected: List[str]) -> List[str]:
    model = [column.name for column in table.primary_key.columns]
    if model == list(reflected):
        return []
    return [f"{table.name}: primary key ({', '.join(reflected)}) in the database, ({', '.join(model)}) in the model"]


def _model_foreign_keys(table: Table) -> Set[ForeignKey]:
    keys: Set[ForeignKey] = set()
    for constraint in table.foreign_key_constraints:
        elements = constraint.elements
        keys.add((
            tuple(element.parent.name for element in elements),
            elements[0].column.table.name,
            tuple(element.column.name for element in elements),
            constraint.ondelete or "NO ACTION",
        ))
    return keys


def _describe(key: ForeignKey) -> str:
    columns, referred, referred_columns, on_delete = key
    return f"foreign key ({', '.join(columns)}) -> {referred} ({', '.join(referred_columns)}) ON DELETE {on_delete}"


def _foreign_key_differences(table: Table, reflected: Set[ForeignKey]) -> List[str]:
    model = _model_foreign_keys(table)
    return [f"{table.name}: {_describe(key)} in the database, not in the model" for key in sorted(reflected - model)] + [
        f"{table.name}: {_describe(key)} in the model, not in the database" for key in sorted(model - reflected)
    ]
