"""An import's log without a foreign key to the import

Each row a batch logs was checked against ``imports`` by a trigger: 2 µs a row,
a tenth of the database's work for an import's batch. Imports are never deleted
(the log is written and read only by ``saas.modules.imports``), so the check
guarded nothing.

Revision ID: t0007
Revises: t0006
Create Date: 2026-11-24
"""

from alembic import op

from saas.tenants.migrate import tenant_schema

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint(
        "fk_import_rows_import_id_imports", "import_rows", schema=tenant_schema(), type_="foreignkey"
    )
