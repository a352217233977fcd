"""indexes for sign-up lookups (name case-insensitive, slug prefix)

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "p0002"
down_revision = "p0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_tenants_name_lower", "tenants", [sa.text("lower(name)")], schema="public"
    )
    op.create_index(
        "ix_tenants_slug_pattern",
        "tenants",
        ["slug"],
        schema="public",
        postgresql_ops={"slug": "varchar_pattern_ops"},
    )


def downgrade():
    op.drop_index("ix_tenants_slug_pattern", table_name="tenants", schema="public")
    op.drop_index("ix_tenants_name_lower", table_name="tenants", schema="public")
