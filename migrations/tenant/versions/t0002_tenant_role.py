"""a role per tenant: tenant transactions run as it (SET LOCAL ROLE)

Revision ID: t0002
Revises: t0001
Create Date: 2026-11-23
"""

from alembic import op

from saas.tenants.migrate import quoted_schema, tenant_schema

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None


def upgrade():
    from saas.tenants.provisioning import role_statements

    s = quoted_schema(tenant_schema())
    name = tenant_schema()
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}')"
        f" THEN DROP OWNED BY {s}; DROP ROLE {s}; END IF; END $$"
    )
    for statement in role_statements(s):
        op.execute(statement)


def downgrade():
    s = quoted_schema(tenant_schema())
    op.execute(f"DROP OWNED BY {s}")
    op.execute(f"DROP ROLE {s}")
