"""row-level security on the public tables: a tenant's role sees only its own rows,
and changes only what its transactions change

Tenant transactions run as the tenant's database role (see saas.db). Until now that
role could read and write every row of the public tables, so a query missing its
``tenant_id`` filter would have reached other companies' members, keys and jobs. With
these policies the database itself keeps each tenant to its own rows; the platform's
own work (sign-up, log-in, API-key lookup, the reconcilers) runs as the login role,
which owns the tables and is not subject to them.

A tenant's role is named after its schema, ``t_<tenant id as 32 hex digits>``
(saas.tenants.models.schema_name_for), so ``public.role_tenant_id()`` reads the
tenant's id from ``current_user`` without a lookup.

Revision ID: p0007
Revises: p0006
Create Date: 2026-11-24
"""

from alembic import op

revision = "p0007"
down_revision = "p0006"
branch_labels = None
depends_on = None

ROLE_TENANT_ID = """
CREATE OR REPLACE FUNCTION public.role_tenant_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN current_user ~ '^t_[0-9a-f]{32}$' THEN substr(current_user, 3)::uuid END
$$
"""

# table -> the condition a row must meet to be seen or written by a tenant's role
OWN_ROWS = {
    "tenants": "id = public.role_tenant_id()",
    "memberships": "tenant_id = public.role_tenant_id()",
    "invitations": "tenant_id = public.role_tenant_id()",
    "api_keys": "tenant_id = public.role_tenant_id()",
    "tracked_jobs": "tenant_id = public.role_tenant_id()",
    "audit_log": "tenant_id = public.role_tenant_id()",
    # A user is seen by the companies they belong to (memberships' own policy applies).
    "users": (
        "EXISTS (SELECT 1 FROM public.memberships m"
        " WHERE m.user_id = users.id AND m.tenant_id = public.role_tenant_id())"
    ),
}
# Tables no tenant transaction has any business with.
PLATFORM_ONLY = ("schema_pool", "alembic_version")
POLICY = "tenant_own_rows"
# Of the rows it sees, what a tenant's role may not change: users (a person may belong
# to other companies too: their e-mail or password is never the business of one
# company's transaction), its own company row except its name and the version of its
# customization (not its plan or status), and the audit log once written.
READ_ONLY = {"users": "INSERT, UPDATE, DELETE", "tenants": "INSERT, UPDATE, DELETE"}
APPEND_ONLY = {"audit_log": "UPDATE, DELETE"}
COMPANY_COLUMNS = "name, meta_version"


def upgrade():
    op.execute(ROLE_TENANT_ID)
    op.execute("GRANT EXECUTE ON FUNCTION public.role_tenant_id() TO saas_tenant")
    for table, condition in OWN_ROWS.items():
        op.execute(f"ALTER TABLE public.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {POLICY} ON public.{table} TO saas_tenant"
            f" USING ({condition}) WITH CHECK ({condition})"
        )
    for table in PLATFORM_ONLY:
        op.execute(f"REVOKE ALL ON public.{table} FROM saas_tenant")
    for table, rights in {**READ_ONLY, **APPEND_ONLY}.items():
        op.execute(f"REVOKE {rights} ON public.{table} FROM saas_tenant")
    op.execute(f"GRANT UPDATE ({COMPANY_COLUMNS}) ON public.tenants TO saas_tenant")


def downgrade():
    op.execute(f"REVOKE UPDATE ({COMPANY_COLUMNS}) ON public.tenants FROM saas_tenant")
    for table, rights in {**READ_ONLY, **APPEND_ONLY}.items():
        op.execute(f"GRANT {rights} ON public.{table} TO saas_tenant")
    for table in PLATFORM_ONLY:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON public.{table} TO saas_tenant")
    for table in OWN_ROWS:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON public.{table}")
        op.execute(f"ALTER TABLE public.{table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS public.role_tenant_id()")
