"""Activity pages beyond the generic ones: notes on any record, the calendar."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request
from flask_babel import gettext as _
from flask_login import current_user

from saas.modules.records import service
from saas.modules.records.registry import ObjectType, get
from saas.modules.records.views import record_or_404, record_url

bp = Blueprint("activities", __name__)


@bp.route("/<object:otype>/<int:record_id>/notes", methods=["POST"])
def note(otype: ObjectType, record_id: int):
    """A note on a record's timeline."""
    record = record_or_404(otype, record_id)
    body = (request.form.get("body") or "").strip()
    if not body:
        flash(_("Write the note first."), "error")
        return redirect(record_url(otype, record.id))
    subject = body.splitlines()[0][:120]
    service.create(
        get("activity"),
        {
            "kind": "note",
            "subject": subject,
            "body": body[:20000],
            "done": True,
            "related_object": otype.name,
            "related_id": record.id,
            "owner_id": current_user.id,
        },
        actor=current_user.id,
        trusted=True,
    )
    flash(_("Note added."), "success")
    return redirect(record_url(otype, record.id))
