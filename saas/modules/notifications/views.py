"""In-app notifications: the bell, the list, mark read."""

from __future__ import annotations

import sys

from flask import Blueprint, abort, g, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from saas.db import current_tenant
from saas.modules.notifications import service
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
