"""the group role of all tenant roles, with what tenant transactions need in public

Revision ID: p0003
Revises: p0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "p0003"
down_revision = "p0002"
branch_labels = None
depends_on = None

GRANTS = "SELECT, INSERT, UPDATE, DELETE"


def upgrade():
    # Roles belong to the cluster, so another database may have created it already.
    op.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'saas_tenant')"
        " THEN CREATE ROLE saas_tenant NOLOGIN; END IF; END $$"
    )
    op.execute("GRANT USAGE ON SCHEMA public TO saas_tenant")
    op.execute(f"GRANT {GRANTS} ON ALL TABLES IN SCHEMA public TO saas_tenant")
    op.execute("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO saas_tenant")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {GRANTS} ON TABLES TO saas_tenant")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        " GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO saas_tenant"
    )


def downgrade():
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE {GRANTS} ON TABLES FROM saas_tenant")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        " REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM saas_tenant"
    )
    op.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM saas_tenant")
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM saas_tenant")
    op.execute("REVOKE USAGE ON SCHEMA public FROM saas_tenant")
