"""Activity pages beyond the generic ones: notes and activities logged on any record,
marking done, the calendar."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, get_day_names
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from saas.i18n import tenant_settings
from saas.modules.activities import service as activities
from saas.modules.activities.objects import KINDS
from saas.modules.records import service
from saas.modules.records.registry import ObjectType, get
from saas.modules.records.views import (
    _form_values,
    _safe_next,
    _submitted,
    record_or_404,
    record_url,
)

bp = Blueprint("activities", __name__)
VIEWS = ("day", "week", "month")


@bp.app_template_global("activity_related")
def activity_related(activity):
    """(object type, record) an activity is about, if the viewer may see it."""
    return activities.related_record(activity)


@bp.app_template_global("activity_overdue")
def activity_overdue(activity) -> bool:
    return not activity.done and activity.due_at is not None and activity.due_at < activities.now()


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


@bp.route("/activities/new-for/<object:otype>/<int:record_id>", methods=["GET", "POST"])
def new_for(otype: ObjectType, record_id: int):
    """A task, call or meeting about a record: the activity form, tied to that record."""
    record = record_or_404(otype, record_id)
    atype = get("activity")
    errors = {}
    if request.method == "POST":
        try:
            values = service.validate(atype, _submitted(atype), partial=False)
        except service.ValidationErrors as exc:
            errors = exc.errors
        else:
            values |= {"related_object": otype.name, "related_id": record.id}
            activity = service.create(atype, values, actor=current_user.id, trusted=True)
            flash(
                _("%(object)s “%(title)s” created.", object=atype.label, title=activity.subject),
                "success",
            )
            return redirect(_safe_next() or record_url(otype, record.id))
    values = _form_values(atype)
    if request.method == "GET" and not values.get("owner_id"):
        values["owner_id"] = current_user.id  # assigned to whoever logs it, unless changed
    return render_template(
        "activities/form.html",
        otype=atype,
        related_type=otype,
        related=record,
        values=values,
        errors=errors,
        members=service.member_names(),
        next_url=_safe_next(),
    ), (400 if errors else 200)


def _set_done(activity_id: int, done: bool):
    atype = get("activity")
    activity = record_or_404(atype, activity_id)
    if activities.set_done(atype, activity, done, current_user.id):
        if done:
            flash(_("“%(title)s” is done.", title=activity.subject), "success")
        else:
            flash(_("“%(title)s” is open again.", title=activity.subject), "success")
    return redirect(_safe_next() or record_url(atype, activity.id))


@bp.route("/activities/<int:activity_id>/done", methods=["POST"])
def done(activity_id: int):
    return _set_done(activity_id, True)


@bp.route("/activities/<int:activity_id>/reopen", methods=["POST"])
def reopen(activity_id: int):
    return _set_done(activity_id, False)


@bp.route("/activities/mine")
def mine():
    """The activity list most people want: their own open ones, soonest first."""
    return redirect(
        url_for("tenant.records.index", otype="activity", owner_id="me", done="no", sort="due_at")
    )


# -- calendar ------------------------------------------------------------------------


def _period(view: str, day: date) -> tuple[date, date, date, date]:
    """(first, last, previous, next) days of the period shown; a month covers whole weeks."""
    if view == "day":
        return day, day, day - timedelta(days=1), day + timedelta(days=1)
    if view == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6), day - timedelta(days=7), day + timedelta(days=7)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    end = following - timedelta(days=1)
    first = start - timedelta(days=start.weekday())
    last = end + timedelta(days=6 - end.weekday())
    return first, last, (start - timedelta(days=1)).replace(day=1), following


def _owner_filter(members: dict[int, str]) -> tuple[str, int | None]:
    """The ``owner`` argument ("me", "all" or a member's id) and the id it selects."""
    raw = request.args.get("owner", "me")
    if raw == "all":
        return raw, None
    if raw.isdigit() and int(raw) in members:
        return raw, int(raw)
    return "me", current_user.id


@bp.route("/calendar")
def calendar():
    tz = tenant_settings().get("timezone", "UTC")
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    view = request.args.get("view") if request.args.get("view") in VIEWS else "week"
    try:
        shown = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        shown = today
    members = service.member_names()
    owner, owner_id = _owner_filter(members)
    first, last, previous, following = _period(view, shown)
    items: dict[date, list] = {}
    for activity in activities.in_range(*activities.day_bounds(first, last, tz), owner_id):
        local = activity.due_at.astimezone(zone)
        items.setdefault(local.date(), []).append((local.strftime("%H:%M"), activity))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    locale = get_locale()
    if view == "month":
        title = format_skeleton("yMMMM", shown, locale=locale)
    elif view == "week":
        title = f"{format_date(first, 'medium')} – {format_date(last, 'medium')}"
    else:
        title = format_date(shown, "full")
    return render_template(
        "activities/calendar.html",
        view=view,
        shown=shown,
        today=today,
        title=title,
        days=days,
        weeks=[days[i : i + 7] for i in range(0, len(days), 7)],
        items=items,
        kinds={key: str(label) for key, label in KINDS},
        weekday_names=get_day_names("abbreviated", locale=locale),
        weekday_full=get_day_names("wide", locale=locale),
        month=shown.month,
        previous=previous,
        following=following,
        owner=owner,
        members=members,
        zone=tz,
        show_owner=owner_id != current_user.id,
        capped=sum(len(v) for v in items.values()) >= activities.CALENDAR_LIMIT,
    )
