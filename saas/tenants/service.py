"""Tenant lifecycle: create, suspend, resume, delete, purge. Flushes, never commits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from slugify import slugify
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from saas.db import db, session
from saas.jobs import enqueue, job
from saas.modules.accounts.models import Membership, User
from saas.tenants import defaults
from saas.tenants.migrate import quoted_schema, tenant_head
from saas.tenants.models import AuditLog, Tenant
from saas.tenants.provisioning import claim_or_build, drop_schema, refill_schema_pool

RESERVED_SLUGS = {
    "admin", "api", "app", "apps", "assets", "auth", "billing", "blog", "dashboard", "dev",
    "docs", "help", "healthz", "invitations", "login", "logout", "mail", "new", "password",
    "pricing", "public", "root", "settings", "signup", "static", "status", "support",
    "system", "tenant", "tenants", "www",
}  # fmt: skip
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")


class TenantError(ValueError):
    """A sentence for the user about why the tenant cannot be created or changed."""


def audit(action: str, tenant_id=None, user_id=None, **data) -> None:
    address = request.remote_addr if has_request_context() else None
    session().add(
        AuditLog(action=action, tenant_id=tenant_id, user_id=user_id, ip=address, data=data)
    )


def slug_for(name: str) -> str:
    """A free, non-reserved slug derived from the company name."""
    base = slugify(name, max_length=40, word_boundary=True) or "company"
    if base in RESERVED_SLUGS or not SLUG_RE.match(base):
        base = f"{base}-crm"[:40].strip("-")
    taken = set(
        session()
        .execute(select(Tenant.slug).where((Tenant.slug == base) | Tenant.slug.like(f"{base}-%")))
        .scalars()
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def name_taken(name: str) -> bool:
    return (
        session()
        .execute(
            select(func.count())
            .select_from(Tenant)
            .where(func.lower(Tenant.name) == name.strip().lower(), Tenant.status != "deleted")
        )
        .scalar_one()
        > 0
    )


def create_tenant(name: str, owner: User, plan: str = "trial", language: str = "en") -> Tenant:
    """A tenant with its schema, tables and defaults, and ``owner`` as its owner; its
    defaults in ``language`` (the language the owner signed up in)."""
    name = name.strip()
    if not name:
        raise TenantError(_("Enter your company's name."))
    if name_taken(name):
        raise TenantError(
            _(
                "A company called “%(name)s” already has a CRM here. "
                "Ask its owner to invite you, or add something to tell yours apart.",
                name=name,
            )
        )
    tenant_id, schema_name = claim_or_build(session().connection())
    defaults.localize(session().connection(), quoted_schema(schema_name), language)
    tenant = Tenant(
        id=tenant_id,
        slug=slug_for(name),
        name=name,
        schema_name=schema_name,
        plan=plan,
        schema_version=tenant_head(),
    )
    try:
        with session().begin_nested():
            session().add(tenant)
    except IntegrityError:  # another sign-up took the slug between our check and insert
        raise TenantError(
            _(
                "Another company with a very similar name was created at the same moment. "
                "Send the form again."
            )
        ) from None
    session().add(Membership(tenant_id=tenant.id, user_id=owner.id, role="owner"))
    audit("tenant.created", tenant.id, owner.id, slug=tenant.slug)
    enqueue(refill_schema_pool)
    return tenant


def tenant_by_slug(slug: str) -> Tenant:
    tenant = session().execute(select(Tenant).where(Tenant.slug == slug)).scalar_one_or_none()
    if tenant is None:
        raise TenantError(f"No tenant with slug {slug!r}.")
    return tenant


def suspend(tenant: Tenant, reason: str = "") -> None:
    if tenant.status == "deleted":
        raise TenantError(f"{tenant.slug} is deleted; it cannot be suspended.")
    tenant.status, tenant.status_reason = "suspended", reason or None
    audit("tenant.suspended", tenant.id, reason=reason)


def resume(tenant: Tenant) -> None:
    if tenant.status == "deleted":
        raise TenantError(f"{tenant.slug} is deleted; it cannot be resumed.")
    tenant.status, tenant.status_reason = "active", None
    audit("tenant.resumed", tenant.id)


def delete(tenant: Tenant, grace_days: int | None = None) -> datetime:
    """Mark deleted now; the schema is dropped once the grace period is over."""
    if grace_days is None:
        grace_days = current_app.config["TENANT_DELETE_GRACE_DAYS"]
    when = datetime.now(UTC)
    tenant.status, tenant.deleted_at = "deleted", when
    tenant.purge_after = when + timedelta(days=grace_days)
    audit("tenant.deleted", tenant.id, purge_after=tenant.purge_after.isoformat())
    return tenant.purge_after


def restore(tenant: Tenant) -> None:
    """Undo a deletion during its grace period."""
    if tenant.status != "deleted":
        raise TenantError(f"{tenant.slug} is not deleted.")
    tenant.status, tenant.deleted_at, tenant.purge_after = "active", None, None
    audit("tenant.restored", tenant.id)


@job(queue="default", tenant=False, timeout=3600)
def purge_deleted_tenants() -> list[str]:
    """Drop the schemas of tenants whose deletion grace period is over."""
    purged = []
    due = select(Tenant).where(Tenant.status == "deleted", Tenant.purge_after <= func.now())
    for tenant in session().execute(due).scalars().all():
        # One transaction per tenant, so one failure does not undo the others.
        with db.engine.begin() as conn:
            drop_schema(conn, tenant.schema_name)
            conn.execute(Tenant.__table__.delete().where(Tenant.id == tenant.id))
            conn.execute(
                AuditLog.__table__.insert().values(
                    action="tenant.purged", data={"slug": tenant.slug}
                )
            )
        purged.append(tenant.slug)
    return purged
