"""Building tenant schemas and claiming them at sign-up.

A tenant schema is built from DDL rendered once per process from the tenant
models (the test suite checks that they agree with the migrations), sent in
one round trip inside the caller's transaction. A small pool of ready schemas,
refilled by a job, makes sign-up a claim of one row.
"""

from __future__ import annotations

import json
import uuid
from functools import cache

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import Connection, MetaData, delete, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from saas import models  # noqa: F401  (fills the metadata)
from saas.db import NAMING, TENANT_GROUP_ROLE, TenantBase, db
from saas.jobs import job
from saas.modules.workspace.models import DEFAULT_SETTINGS
from saas.tenants import defaults
from saas.tenants.migrate import quoted_schema, tenant_head
from saas.tenants.models import PooledSchema, schema_name_for

_MARKER = "saas_schema_marker"


@cache
def _rendered_ddl() -> str:
    """Every CREATE statement of a tenant schema, with a marker for its name."""
    dialect = postgresql.psycopg.dialect()
    marked = MetaData(naming_convention=NAMING)
    for table in TenantBase.metadata.sorted_tables:
        # Foreign keys stay inside the tenant's schema.
        table.to_metadata(marked, schema=_MARKER, referred_schema_fn=lambda *a: _MARKER)
    statements = [f"CREATE SCHEMA {_MARKER}"]
    for table in marked.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)))
        for index in sorted(table.indexes, key=lambda i: i.name):
            statements.append(str(CreateIndex(index).compile(dialect=dialect)))
    statements.append(
        f"CREATE TABLE {_MARKER}.alembic_version (version_num VARCHAR(32) NOT NULL,"
        " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
    )
    statements.append(f"INSERT INTO {_MARKER}.alembic_version VALUES ('{tenant_head()}')")
    statements += role_statements(_MARKER)
    for key, value in DEFAULT_SETTINGS.items():
        literal = json.dumps(value).replace("'", "''")
        statements.append(
            f"INSERT INTO {_MARKER}.settings (key, value) VALUES ('{key}', '{literal}')"
        )
    statements += defaults.statements(_MARKER)
    ddl = ";\n".join(s.strip() for s in statements) + ";"
    if ddl.count(_MARKER) != sum(s.count(_MARKER) for s in statements):
        raise AssertionError("schema marker collided with other DDL text")
    return ddl


def role_statements(schema: str) -> list[str]:
    """The tenant's own role: it can reach its schema and the public tables, no other
    tenant's schema. Tenant transactions run as this role (``SET LOCAL ROLE``)."""
    grants = "SELECT, INSERT, UPDATE, DELETE"
    return [
        f"CREATE ROLE {schema} NOLOGIN IN ROLE {TENANT_GROUP_ROLE}",
        f"GRANT {schema} TO CURRENT_USER",
        f"GRANT USAGE ON SCHEMA {schema} TO {schema}",
        f"GRANT {grants} ON ALL TABLES IN SCHEMA {schema} TO {schema}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {schema}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT {grants} ON TABLES TO {schema}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {schema}",
    ]


def drop_schema(conn: Connection, schema_name: str) -> None:
    """Drop a tenant schema with everything in it, and its role."""
    quoted = quoted_schema(schema_name)
    conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quoted} CASCADE")
    conn.exec_driver_sql(f"DROP ROLE IF EXISTS {quoted}")


def drop_database(admin_url: str, name: str) -> int:
    """Drop a throw-away database (tests, benchmarks) and the roles of its tenants, which
    belong to the cluster and outlive it: the schemas go with the database, then the
    roles, many per statement. Returns how many tenants it held."""
    try:
        with psycopg.connect(make_conninfo(admin_url, dbname=name)) as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname ~ '^t_[0-9a-f]{32}$'"
                )
            ]
    except psycopg.OperationalError:  # never created
        names = []
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for i in range(0, len(names), 500):
            roles = ", ".join(quoted_schema(n) for n in names[i : i + 500])
            conn.execute(f"DROP ROLE IF EXISTS {roles}")
    return len(names)


def tenant_ddl(schema_name: str) -> str:
    """The SQL that builds a complete tenant schema named ``schema_name``."""
    return _rendered_ddl().replace(_MARKER, quoted_schema(schema_name))


def build_schema(conn: Connection, schema_name: str) -> None:
    """Create a tenant schema with all its tables and defaults, in ``conn``'s transaction."""
    conn.exec_driver_sql(tenant_ddl(schema_name))


def claim_or_build(conn: Connection) -> tuple[uuid.UUID, str]:
    """A ready schema for a new tenant: claimed from the pool, or built now."""
    head = tenant_head()
    oldest = (
        select(PooledSchema.tenant_id)
        .where(PooledSchema.schema_version == head)
        .order_by(PooledSchema.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    row = conn.execute(
        delete(PooledSchema)
        .where(PooledSchema.tenant_id == oldest)
        .returning(PooledSchema.tenant_id, PooledSchema.schema_name)
    ).first()
    if row is not None:
        return row.tenant_id, row.schema_name
    tenant_id = uuid.uuid4()
    schema_name = schema_name_for(tenant_id)
    build_schema(conn, schema_name)
    return tenant_id, schema_name


def pool_size() -> int:
    with db.engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(PooledSchema)
            .where(PooledSchema.schema_version == tenant_head())
        ).scalar_one()


def add_to_pool() -> str:
    """Build one schema and put it in the pool (its own transaction)."""
    tenant_id = uuid.uuid4()
    schema_name = schema_name_for(tenant_id)
    with db.engine.begin() as conn:
        build_schema(conn, schema_name)
        conn.execute(
            PooledSchema.__table__.insert().values(
                tenant_id=tenant_id, schema_name=schema_name, schema_version=tenant_head()
            )
        )
    return schema_name


@job(queue="default", tenant=False, timeout=300)
def refill_schema_pool(target: int | None = None) -> int:
    """Top the pool of ready tenant schemas up to ``target``; returns how many were built."""
    from flask import current_app

    target = current_app.config["SCHEMA_POOL_SIZE"] if target is None else target
    built = 0
    while pool_size() < target:
        add_to_pool()
        built += 1
    return built
