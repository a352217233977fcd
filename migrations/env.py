"""Alembic environment for the public track.

Tenant schemas are migrated by ``saas.tenants.migrate`` (``saas db upgrade``),
which drives the tenant track itself, one transaction per tenant.
"""

import os

from alembic import context
from sqlalchemy import create_engine

from saas import models  # noqa: F401  (fills the metadata)
from saas.config import database_url
from saas.db import Base, TenantBase

config = context.config
TRACK = context.get_x_argument(as_dictionary=True).get("track", "public")


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table":
        return obj.schema == ("public" if TRACK == "public" else "tenant")
    return True


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.get_main_option("sqlalchemy.url") or database_url(os.environ["DATABASE_URL"])
        engine = create_engine(url)
        with engine.connect() as conn:
            _migrate(conn)
        engine.dispose()
    else:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata if TRACK == "public" else TenantBase.metadata,
        version_table_schema="public" if TRACK == "public" else "tenant",
        include_schemas=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


run()
