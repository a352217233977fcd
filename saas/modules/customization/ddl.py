"""The DDL of custom fields: columns, the required-value trigger, unique and plain
indexes, lookup foreign keys.

Tenant transactions run as the tenant's role, which may read and write its
rows but not change its tables; these statements run as the tables' owner for
the rest of the transaction (``SET LOCAL ROLE NONE``), built only from names
this module checked. Adding a column with a constant default does not rewrite
the table, so it takes milliseconds on a million rows; plain indexes are built
afterwards by a worker with ``CREATE INDEX CONCURRENTLY`` so writes go on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, literal
from sqlalchemy.dialects import postgresql

from saas.db import current_tenant, db, session
from saas.modules.customization import types
from saas.modules.records.fields import Field
from saas.tenants.migrate import quoted_schema

NAME = re.compile(r"^cf_[a-z][a-z0-9_]{0,39}$")
LOCK_TIMEOUT = "5s"  # a busy table makes the admin try again instead of queueing writes


def _check(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"not a custom field column name: {name!r}")
    return name


def table_name(otype) -> str:
    return f"{quoted_schema(current_tenant().schema_name)}.{otype.model.__tablename__}"


@contextmanager
def as_owner() -> Iterator[Connection]:
    """A savepoint whose statements run as the tables' owner; then back to the tenant's
    own role (defense in depth for what follows). A failure rolls the savepoint back,
    which also undoes the role change."""
    with session().begin_nested():
        conn = session().connection()
        conn.exec_driver_sql("SET LOCAL ROLE NONE")
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        yield conn
        conn.exec_driver_sql(f"SET LOCAL ROLE {quoted_schema(current_tenant().schema_name)}")


def execute(*statements: str) -> None:
    conn = session().connection()
    for statement in statements:
        conn.exec_driver_sql(statement)


def _literal(f: Field, value) -> str:
    compiled = literal(value, types.sql_type(f)).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def column_default(f: Field, value) -> str:
    """`` DEFAULT <value>`` for a column, or "" when the type has no SQL default we set."""
    if f.type == "bool":
        return f" DEFAULT {'true' if value else 'false'}"
    if value is None or f.type in {"multichoice", "datetime", "lookup"}:
        return ""
    return f" DEFAULT {_literal(f, value)}"


def add_column(otype, f: Field, default) -> list[str]:
    name, table = _check(f.name), table_name(otype)
    sql = types.sql_type(f).compile(dialect=postgresql.dialect())
    statement = f"ALTER TABLE {table} ADD COLUMN {name} {sql}{column_default(f, default)}"
    if f.type == "bool" or (f.required and column_default(f, default)):
        statement += " NOT NULL"
    statements = [statement]
    if f.required and f.type != "bool" and not column_default(f, default):
        statements.append(required_trigger(otype, f))
    if f.unique:
        statements.append(unique_index(otype, f))
    if f.type == "lookup":
        statements.append(foreign_key(otype, f))
    return statements


def required_trigger(otype, f: Field) -> str:
    """Refuse an INSERT without a value and an UPDATE that empties the column."""
    name, table = _check(f.name), table_name(otype)
    empty = f"NEW.{name} IS NULL"
    if f.type == "multichoice":
        empty += f" OR cardinality(NEW.{name}) = 0"
    return (
        f"CREATE TRIGGER {name}_required BEFORE INSERT OR UPDATE OF {name} ON {table}"
        f" FOR EACH ROW WHEN ({empty}) EXECUTE FUNCTION public.cf_required('{name}')"
    )


def drop_trigger(otype, f: Field) -> str:
    """Drop the required-value trigger (if any)."""
    return f"DROP TRIGGER IF EXISTS {_check(f.name)}_required ON {table_name(otype)}"


def drop_required(otype, f: Field) -> list[str]:
    """No trigger, and no NOT NULL (a required field added with a default has one);
    a checkbox keeps its NOT NULL: it is always yes or no."""
    if f.type == "bool":
        return [drop_trigger(otype, f)]
    drop = f"ALTER TABLE {table_name(otype)} ALTER COLUMN {f.name} DROP NOT NULL"
    return [drop_trigger(otype, f), drop]


def index_name(otype, f: Field, kind: str) -> str:
    return f"{kind}_{otype.model.__tablename__}_{_check(f.name)}"


def unique_index(otype, f: Field) -> str:
    """Unique among live records: a record in the recycle bin keeps its value."""
    return (
        f"CREATE UNIQUE INDEX {index_name(otype, f, 'cfu')} ON {table_name(otype)}"
        f" ({f.name}) WHERE deleted_at IS NULL"
    )


def drop_index(otype, f: Field, kind: str) -> str:
    schema = quoted_schema(current_tenant().schema_name)
    return f"DROP INDEX IF EXISTS {schema}.{index_name(otype, f, kind)}"


def plain_index(otype, f: Field, *, concurrently: bool = True) -> str:
    """Filter and sort by the field: (value, id) of live records matches the list's
    WHERE deleted_at IS NULL … ORDER BY value, id, and counts from the index alone."""
    how = "CONCURRENTLY " if concurrently else ""
    target = f"USING gin ({f.name})" if f.type == "multichoice" else f"({f.name}, id)"
    return (
        f"CREATE INDEX {how}IF NOT EXISTS {index_name(otype, f, 'cfi')}"
        f" ON {table_name(otype)} {target} WHERE deleted_at IS NULL"
    )


def foreign_key(otype, f: Field) -> str:
    """A lookup points at a live row; a record purged from the recycle bin leaves it empty.
    NOT VALID: existing rows (all empty) are not scanned."""
    from saas.modules.records.registry import get

    target = get(f.target).model.__tablename__
    schema = quoted_schema(current_tenant().schema_name)
    return (
        f"ALTER TABLE {table_name(otype)} ADD CONSTRAINT {index_name(otype, f, 'cff')}"
        f" FOREIGN KEY ({f.name}) REFERENCES {schema}.{target} (id) ON DELETE SET NULL NOT VALID"
    )


def drop_column(otype, f: Field) -> list[str]:
    return [drop_trigger(otype, f), f"ALTER TABLE {table_name(otype)} DROP COLUMN {f.name}"]


def build_index_concurrently(otype, f: Field) -> None:
    """CREATE INDEX CONCURRENTLY outside any transaction, as the tables' owner."""
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            conn.exec_driver_sql(plain_index(otype, f))
        except Exception:
            # A failed concurrent build leaves an INVALID index behind: drop it.
            conn.exec_driver_sql(drop_index(otype, f, "cfi").replace("INDEX", "INDEX CONCURRENTLY"))
            raise
