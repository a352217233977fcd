"""tenants.meta_version (custom fields and rules cache key); the required-field trigger

Revision ID: p0004
Revises: p0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "p0004"
down_revision = "p0003"
branch_labels = None
depends_on = None

# A required custom field: refuse an INSERT without a value, and an UPDATE that sets the
# column empty. Rows from before the field existed stay writable by other updates (a
# transfer, a stage move); the forms ask for the value when the record is edited.
REQUIRED = """
CREATE OR REPLACE FUNCTION public.cf_required() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'not_null_violation', COLUMN = TG_ARGV[0],
    TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA,
    MESSAGE = format('%s.%s is required', TG_TABLE_NAME, TG_ARGV[0]);
END $$
"""


def upgrade():
    op.add_column(
        "tenants",
        sa.Column("meta_version", sa.Integer(), server_default="0", nullable=False),
        schema="public",
    )
    op.execute(REQUIRED)


def downgrade():
    op.execute("DROP FUNCTION IF EXISTS public.cf_required()")
    op.drop_column("tenants", "meta_version", schema="public")
