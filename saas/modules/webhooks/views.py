"""Webhook endpoints in the admin area (``/settings/webhooks``): list, create, edit,
enable / disable, rotate the secret, test, delete, and the delivery log with redelivery."""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from saas.modules.records.registry import all_types
from saas.modules.webhooks import events, service
from saas.modules.webhooks.models import STATUSES
from saas.tenants.context import role_required

bp = Blueprint("webhooks", __name__, url_prefix="/settings/webhooks")


def _subscription_or_404(subscription_id: int):
    return service.get_subscription(subscription_id) or abort(404)


def _delivery_or_404(subscription_id: int, delivery_id: int):
    return service.get_delivery(subscription_id, delivery_id) or abort(404)


@bp.route("", strict_slashes=False)  # /settings/webhooks, as the nav links it
@role_required("admin")
def index():
    subs = service.subscriptions()
    return render_template(
        "webhooks/index.html", subscriptions=subs, counts={s.id: service.counts(s.id) for s in subs}
    )


def _render_form(raw: dict, sub, errors: dict, status: int = 200):
    return render_template(
        "webhooks/form.html",
        raw=raw,
        subscription=sub,
        errors=errors,
        objects=all_types(),
        actions=events.ACTIONS,
        special=events.SPECIAL,
        grid_open=any(not e.startswith("*") and e not in events.SPECIAL for e in raw["events"]),
    ), status


def _submit(sub):
    raw = service.submitted(request.form)
    try:
        saved = service.save(raw, sub, actor=current_user.id)
    except service.SubscriptionErrors as exc:
        return _render_form(raw, sub, exc.errors, 400)
    flash(_("Endpoint saved."), "success")
    return redirect(url_for(".show", subscription_id=saved.id))


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def new():
    if request.method == "POST":
        return _submit(None)
    return _render_form(service.blank(), None, {})


@bp.route("/<int:subscription_id>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit(subscription_id: int):
    sub = _subscription_or_404(subscription_id)
    if request.method == "POST":
        return _submit(sub)
    return _render_form(service.as_submitted(sub), sub, {})


@bp.route("/<int:subscription_id>")
@role_required("admin")
def show(subscription_id: int):
    sub = _subscription_or_404(subscription_id)
    status = request.args.get("status")
    status = status if status in STATUSES else None
    before = request.args.get("before", "")
    before = int(before) if before.isdigit() and len(before) < 19 else None
    found = service.deliveries(sub.id, status, before)
    return render_template(
        "webhooks/show.html",
        subscription=sub,
        deliveries=found,
        counts=service.counts(sub.id),
        status=status,
        older=found[-1].id if len(found) == service.PAGE else None,
    )


@bp.route("/<int:subscription_id>/deliveries/<int:delivery_id>")
@role_required("admin")
def delivery(subscription_id: int, delivery_id: int):
    sub = _subscription_or_404(subscription_id)
    found = _delivery_or_404(sub.id, delivery_id)
    return render_template(
        "webhooks/delivery.html",
        subscription=sub,
        delivery=found,
        attempts=service.attempts(found.id),
        body=json.dumps(json.loads(found.body), indent=2, ensure_ascii=False),
    )


@bp.route("/<int:subscription_id>/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@role_required("admin")
def redeliver(subscription_id: int, delivery_id: int):
    sub = _subscription_or_404(subscription_id)
    found = _delivery_or_404(sub.id, delivery_id)
    if not service.redeliver(found):
        flash(_("This delivery is being sent right now; look again in a minute."), "error")
    elif sub.active:
        flash(_("The event will be sent again in a moment, with the same event id."), "success")
    else:
        flash(_("The event will be sent again once the endpoint is enabled."), "success")
    if request.form.get("back") == "log":
        return redirect(url_for(".show", subscription_id=sub.id))
    return redirect(url_for(".delivery", subscription_id=sub.id, delivery_id=found.id))


@bp.route("/<int:subscription_id>/ping", methods=["POST"])
@role_required("admin")
def ping(subscription_id: int):
    sub = _subscription_or_404(subscription_id)
    if not sub.active:
        flash(_("Enable the endpoint first: a disabled endpoint receives nothing."), "error")
    else:
        service.ping(sub)
        flash(_("A test event (ping) is on its way; it appears in the log below."), "success")
    return redirect(url_for(".show", subscription_id=sub.id))


@bp.route("/<int:subscription_id>/enable", methods=["POST"])
@role_required("admin")
def enable(subscription_id: int):
    sub = _subscription_or_404(subscription_id)
    service.enable(sub)
    flash(_("Endpoint enabled; waiting deliveries are being sent."), "success")
    return redirect(url_for(".show", subscription_id=sub.id))


@bp.route("/<int:subscription_id>/disable", methods=["POST"])
@role_required("admin")
def disable(subscription_id: int):
    sub = _subscription_or_404(subscription_id)
    service.disable(sub, _("Switched off by %(name)s.", name=current_user.name))
    flash(_("Endpoint disabled: it receives nothing until you enable it again."), "success")
    return redirect(url_for(".show", subscription_id=sub.id))


@bp.route("/<int:subscription_id>/rotate", methods=["POST"])
@role_required("admin")
def rotate(subscription_id: int):
    sub = _subscription_or_404(subscription_id)
    service.rotate(sub)
    flash(
        _("New secret made. For 24 hours each event is signed with both the new and the old one."),
        "success",
    )
    return redirect(url_for(".show", subscription_id=sub.id))


@bp.route("/<int:subscription_id>/delete", methods=["POST"])
@role_required("admin")
def delete(subscription_id: int):
    sub = _subscription_or_404(subscription_id)
    service.delete(sub)
    flash(_("Endpoint deleted with its delivery log."), "success")
    return redirect(url_for(".index"))
