"""Tenant resolution for browser URLs ``/app/<tenant-slug>/…``.

The tenant is resolved once per request, checked against the signed-in user's
membership (a non-member gets 404, so a tenant's existence does not leak), and
the request's unit of work is bound to the tenant's schema. Every view below
has a minimum role: ``readonly`` for reading, ``member`` for writing unless a
view asks for more with :func:`role_required`.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_login import current_user
from sqlalchemy import select

from saas.db import db, session
from saas.extensions import login_manager
from saas.modules.accounts.models import Membership, role_at_least
from saas.tenants.models import Tenant

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def role_required(role: str) -> Callable:
    """The minimum role for a tenant view (overrides the read/write default)."""

    def decorate(view: Callable) -> Callable:
        view.min_role = role
        return view

    return decorate


def personal(view: Callable) -> Callable:
    """A write that only touches the signed-in user's own state (marking their
    notifications read): read-only members may do it too."""
    view.min_role = "readonly"
    view.personal = True
    return view


def required_role(view: Callable | None, method: str) -> str:
    default = "readonly" if method in SAFE_METHODS else "member"
    return getattr(view, "min_role", None) or default


def make_blueprint(*children: Blueprint) -> Blueprint:
    """The ``/app/<tenant_slug>`` blueprint holding every tenant module (one per app)."""
    bp = Blueprint("tenant", __name__, url_prefix="/app/<tenant_slug>")
    bp.url_value_preprocessor(_pull_slug)
    bp.url_defaults(_add_slug)
    bp.before_request(_resolve_tenant)
    for child in children:
        bp.register_blueprint(child)
    return bp


def _pull_slug(endpoint, values):
    g.tenant_slug = values.pop("tenant_slug", None) if values else None


def _add_slug(endpoint, values):
    if "tenant_slug" not in values and getattr(g, "tenant", None) is not None:
        values["tenant_slug"] = g.tenant.slug


def _resolve_tenant():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    row = (
        session()
        .execute(
            select(Tenant, Membership.role)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(
                Tenant.slug == g.tenant_slug,
                Membership.user_id == current_user.id,
                Tenant.status != "deleted",
            )
        )
        .first()
    )
    if row is None:
        abort(404)
    tenant, role = row
    g.tenant_row, g.tenant, g.role = tenant, tenant.ref(), role
    if tenant.status == "suspended":
        return render_template("tenants/suspended.html", tenant=tenant), 403
    db.bind_tenant(g.tenant)
    view = current_app.view_functions.get(request.endpoint)
    needed = required_role(view, request.method)
    if not role_at_least(role, needed):
        return render_template("errors/forbidden.html", needed=needed), 403
    return None


def can(role: str) -> bool:
    """In templates: does the current member have at least ``role``?"""
    return getattr(g, "role", None) is not None and role_at_least(g.role, role)
