"""API keys in the admin area: list, create (the token is shown once), rotate, revoke.

A token only ever travels in the body of the POST response that made it: never in a
URL, a flash message or the session cookie.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from saas.db import session
from saas.i18n import tenant_settings
from saas.modules.accounts.models import User
from saas.modules.api import keys
from saas.modules.records.registry import all_types
from saas.modules.records.service import ValidationErrors, member_names
from saas.modules.workspace.service import record
from saas.tenants.context import role_required
from saas.tenants.service import audit

bp = Blueprint("api_keys", __name__, url_prefix="/settings/api-keys")
STATES = {
    "active": _l("Active"),
    "expiring": _l("Expiring (rotated)"),
    "expired": _l("Expired"),
    "revoked": _l("Revoked"),
}


def _url(endpoint: str) -> str | None:
    """The URL of a page another part of the product may not have built yet."""
    try:
        return url_for(endpoint)
    except BuildError:
        return None


def _types() -> list:
    """Every object, by name in the visitor's language (the registry's order is arbitrary)."""
    return sorted(all_types(), key=lambda t: str(t.plural))


def describe(scopes: dict) -> str:
    """Scopes in words: “All objects: read and write”, “Contacts: write; Deals: read”."""
    if "*" in scopes:
        if scopes["*"] == "write":
            return _("All objects: read and write")
        return _("All objects: read only")
    words = {"read": _("read"), "write": _("write")}
    parts = [
        f"{t.plural}: {words.get(scopes[t.name], scopes[t.name])}"
        for t in _types()
        if t.name in scopes
    ]
    return "; ".join(parts)


def _names(rows) -> dict[int, str]:
    """Names of everyone a key mentions, including people who have left the company."""
    ids = {i for k in rows for i in (k.user_id, k.created_by) if i is not None}
    if not ids:
        return {}
    return dict(session().execute(select(User.id, User.name).where(User.id.in_(ids))).all())


@bp.route("")
@role_required("admin")
def index():
    rows = keys.keys()
    return render_template(
        "api/keys.html",
        rows=[(k, keys.state(k), describe(k.scopes)) for k in rows],
        states=STATES,
        names=_names(rows),
        members=member_names(),
        docs_url=_url("tenant.api_docs.index"),
        webhooks_url=_url("tenant.webhooks.index"),
    )


def _form_scopes(form) -> dict:
    if form.get("access", "all") == "all":
        return {"*": form.get("all_level", "read")}
    return {
        name.removeprefix("scope-"): level
        for name, level in form.items()
        if name.startswith("scope-") and level not in ("", "none")
    }


def _expiry(raw: str) -> datetime | None:
    """End of the chosen day in the company's time zone."""
    if not raw.strip():
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationErrors({"expires_at": _("Enter a date like 2031-03-31.")}) from None
    if day.year > 9000:
        raise ValidationErrors({"expires_at": _("Choose an expiry date before the year 9000.")})
    zone = ZoneInfo(tenant_settings().get("timezone") or "UTC")
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


def _acting_user(raw: str) -> int | None:
    if not raw.strip():
        return None
    if not raw.strip().isdigit():
        raise ValidationErrors({"user_id": _("Choose someone on your team.")})
    return int(raw)


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def new():
    errors: dict[str, str] = {}
    form = request.form
    if request.method == "POST":
        scopes = _form_scopes(form)
        try:
            expires_at = _expiry(form.get("expires_at", ""))
            user_id = _acting_user(form.get("user_id", ""))
            key, token = keys.create(
                form.get("name", ""),
                scopes,
                created_by=current_user.id,
                user_id=user_id,
                expires_at=expires_at,
            )
        except ValidationErrors as exc:
            errors = dict(exc.errors)
            try:  # create() stops at the first kind of mistake; show the scopes' too
                keys.clean_scopes(scopes)
            except ValidationErrors as more:
                errors.update({k: v for k, v in more.errors.items() if k not in errors})
        else:
            _log("api_key.created", key)
            return _token_page(key, token)
    return render_template(
        "api/new.html",
        errors=errors,
        form=form,
        types=_types(),
        members=member_names(),
    ), (400 if errors else 200)


def _key_or_404(key_id: int):
    return keys.find(key_id) or abort(404)


@bp.route("/<int:key_id>/revoke", methods=["POST"])
@role_required("admin")
def revoke(key_id: int):
    key = _key_or_404(key_id)
    if keys.state(key) in ("revoked", "expired"):
        flash(_("This key no longer works; nothing to revoke."), "info")
    else:
        keys.revoke(key)
        _log("api_key.revoked", key)
        flash(
            _("Key “%(name)s” revoked: calls with it are refused from now on.", name=key.name),
            "success",
        )
    return redirect(url_for(".index"), 303)


@bp.route("/<int:key_id>/rotate", methods=["POST"])
@role_required("admin")
def rotate(key_id: int):
    key = _key_or_404(key_id)
    try:
        new_key, token = keys.rotate(key, created_by=current_user.id)
    except ValidationErrors as exc:
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for(".index"), 303)
    _log("api_key.rotated", new_key, replaced=key.prefix)
    return _token_page(new_key, token, replaced=key)


def _token_page(key, token: str, replaced=None):
    base = current_app.config["BASE_URL"].rstrip("/")
    return render_template(
        "api/token.html",
        key=key,
        token=token,
        replaced=replaced,
        scopes=describe(key.scopes),
        curl=f'curl -H "Authorization: Bearer {token}" {base}/api/v1/contacts',
        docs_url=_url("tenant.api_docs.index"),
    )


def _log(action: str, key, **extra) -> None:
    """The platform audit log and the company's activity log: the prefix, never the token."""
    details = {"key_id": key.id, "prefix": key.prefix, "name": key.name, **extra}
    audit(action, g.tenant_row.id, current_user.id, **details)
    record(action, current_user.id, **details)
