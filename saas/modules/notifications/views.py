"""In-app notifications: the bell, the list, mark read, each user's preferences."""

from __future__ import annotations

import sys

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from saas.db import current_tenant
from saas.i18n import tenant_settings
from saas.modules.notifications import preferences, service
from saas.modules.notifications.digest import DIGEST_HOUR
from saas.modules.notifications.kinds import CHANNELS, KINDS
from saas.tenants.context import personal

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

BELL_CAP = 100  # the bell shows "99+" beyond this: counting further costs and says nothing


@bp.app_template_global("unread_notifications")
def unread_notifications() -> int | None:
    """For the bell: the signed-in user's unread count here, or None where there is no bell."""
    if getattr(g, "tenant", None) is None or not current_user.is_authenticated:
        return None
    if current_tenant() != g.tenant:
        return None  # the tenant was found but its schema is not bound (suspended page)
    failure = sys.exc_info()[1]
    if failure is not None and not isinstance(failure, HTTPException):
        return None  # an error page: the transaction may be aborted
    return service.unread_count(current_user.id, limit=BELL_CAP)


@bp.route("/")
def index():
    return render_template(
        "notifications/index.html",
        notifications=service.recent(current_user.id),
        link=service.link,
    )


@bp.route("/<int:notification_id>/read", methods=["POST"])
@personal
def read(notification_id: int):
    notification = service.get(current_user.id, notification_id) or abort(404)
    service.mark_read(current_user.id, [notification.id])
    return redirect(service.link(notification) or url_for(".index"))


@bp.route("/read-all", methods=["POST"])
@personal
def read_all():
    service.mark_all_read(current_user.id)
    return redirect(url_for(".index"))


@bp.route("/preferences", methods=["GET", "POST"])
@personal
def settings():
    """How the signed-in user receives each kind of notification in this company."""
    current = preferences.for_user(current_user.id)
    errors = {}
    if request.method == "POST":
        chosen = {}
        for kind in KINDS:
            value = request.form.get(f"kind-{kind}", current[kind])
            if value in CHANNELS:
                chosen[kind] = value
            else:
                errors[kind] = _("Choose one of the ways offered.")
        if not errors:
            preferences.save(current_user.id, chosen)
            flash(_("Notification preferences saved."), "success")
            return redirect(url_for(".settings"))
        current |= {k: v for k, v in chosen.items()}
    return render_template(
        "notifications/preferences.html",
        kinds=KINDS.values(),
        channels=CHANNELS,
        current=current,
        errors=errors,
        digest_hour=f"{DIGEST_HOUR:02d}:00",
        zone=tenant_settings().get("timezone", "UTC"),
    ), (400 if errors else 200)
