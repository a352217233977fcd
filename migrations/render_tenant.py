"""Write (or rewrite) a tenant-track revision from the difference between the
models and the schema the earlier revisions build.

    .venv/bin/python migrations/render_tenant.py t0004 t0003 add_widgets "add widgets"

It builds a scratch database, migrates a schema to ``down_revision``, compares
it with the models (``alembic.autogenerate``) and writes the operations with
``schema=s``. The file defines ``generated(s)`` and ``generated_drops(s)``; hand-written
code after the line ``# -- end of generated operations --`` (``upgrade()`` and
any data migration) is kept, so a revision that has not been
released yet can be rendered again after a model change.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import psycopg
from alembic.autogenerate import produce_migrations, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine

from saas import models  # noqa: F401
from saas.db import TENANT_GROUP_ROLE, TenantBase
from saas.tenants.migrate import script_directory

MARKER = "# -- end of generated operations --\n"
SCRATCH = "t_" + "0" * 32
ADMIN = "postgresql://postgres@127.0.0.1/postgres"


def _operations(down: str) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS render_tenant WITH (FORCE)")
        c.execute("CREATE DATABASE render_tenant")
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1/render_tenant")
    script = script_directory()
    try:
        with engine.connect() as conn, conn.begin():
            if not conn.exec_driver_sql(
                f"SELECT 1 FROM pg_roles WHERE rolname = '{TENANT_GROUP_ROLE}'"
            ).first():
                conn.exec_driver_sql(f"CREATE ROLE {TENANT_GROUP_ROLE} NOLOGIN")
            conn.exec_driver_sql(f"CREATE SCHEMA {SCRATCH}")
            opts = {
                "version_table_schema": SCRATCH,
                "tenant_schema": SCRATCH,
                "script": script,
                "fn": lambda rev, _ctx: script._upgrade_revs(down, rev),
            }
            ctx = MigrationContext.configure(conn, opts=opts)
            with Operations.context(ctx):
                ctx.run_migrations()
            conn.exec_driver_sql(f"ALTER SCHEMA {SCRATCH} RENAME TO tenant")
        with engine.connect() as conn:

            def include(obj, name, type_, reflected, compare_to):
                return type_ != "table" or (obj.schema == "tenant" and name != "alembic_version")

            ctx = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": True,
                    "include_object": include,
                    "compare_type": True,
                    "target_metadata": TenantBase.metadata,
                },
            )
            code = render_python_code(produce_migrations(ctx, TenantBase.metadata).upgrade_ops)
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN, autocommit=True) as c:
            c.execute("DROP DATABASE render_tenant WITH (FORCE)")
            c.execute(
                f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SCRATCH}')"
                f" THEN DROP OWNED BY {SCRATCH}; DROP ROLE {SCRATCH}; END IF; END $$"
            )
    code = code.replace("schema='tenant'", "schema=s")
    code = code.replace(
        "source_schema='tenant', referent_schema='tenant'", "source_schema=s, referent_schema=s"
    )
    code = re.sub(r"\['tenant\.([a-z_]+)\.([a-z_]+)'\]", r"[f'{s}.\1.\2']", code)
    code = re.sub(r"(?<![.\w])(Text|String|Integer|BigInteger)\(", r"sa.\1(", code)
    lines = [ln for ln in code.splitlines(keepends=True) if "### " not in ln]
    drops = [ln for ln in lines if ln.lstrip().startswith("op.drop_column(")]
    body = [ln for ln in lines if ln not in drops]
    # Columns go last, after any hand-written data migration that still reads them.
    return (
        "def generated(s):\n"
        + ("".join(body) or "    pass\n")
        + "\n\ndef generated_drops(s):\n"
        + ("".join(drops) or "    pass\n")
        + "\n\n"
    )


def main(rev: str, down: str, slug: str, message: str) -> Path:
    path = Path(__file__).parent / "tenant" / "versions" / f"{rev}_{slug}.py"
    tail = ""
    if path.exists():
        old = path.read_text()
        if MARKER in old:
            tail = old.split(MARKER, 1)[1]
    head = f'''"""{message}

Revision ID: {rev}
Revises: {down}
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from saas.tenants.migrate import tenant_schema

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


'''
    tail = (
        tail
        or "\n\ndef upgrade():\n    s = tenant_schema()\n    generated(s)\n    generated_drops(s)\n"
    )
    path.write_text(head + _operations(down) + MARKER.strip() + "\n" + tail)
    return path


if __name__ == "__main__":
    print(main(*sys.argv[1:5]))
