"""Scheduled exports as the admin sets them up: read the form, check it, save, list.

Form inputs: ``name``, ``format``, ``hour`` (0-23, the tenant's time), ``delivery``
(``download`` or ``url``), ``url``, ``active``, ``objects`` (repeated object names) and
``fields-<object>`` (repeated field names of that object, in the order given).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import select

from saas.db import session
from saas.modules.exports import files
from saas.modules.exports.models import ExportRun, ExportSchedule
from saas.modules.records.registry import all_types, get
from saas.outbound import blocked

DELIVERIES = ("download", "url")


class ScheduleErrors(ValueError):
    """What is wrong with a submitted schedule, by input name ("" for the whole form)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def blank() -> dict:
    """A new schedule: every field of an object ticked, so choosing it is one click."""
    return {
        "name": "",
        "format": "csv",
        "hour": 6,
        "delivery": "download",
        "url": "",
        "active": True,
        "objects": {},
    }


def as_submitted(schedule: ExportSchedule) -> dict:
    return {
        "name": schedule.name,
        "format": schedule.format,
        "hour": schedule.hour,
        "delivery": schedule.delivery,
        "url": schedule.url,
        "active": schedule.active,
        "objects": dict(schedule.objects),
    }


def submitted(form) -> dict:
    """The schedule as the form sent it (``form`` is a MultiDict)."""
    return {
        "name": (form.get("name") or "").strip(),
        "format": form.get("format", ""),
        "hour": form.get("hour", ""),
        "delivery": form.get("delivery", ""),
        "url": (form.get("url") or "").strip(),
        "active": form.get("active") == "on",
        "objects": {name: form.getlist(f"fields-{name}") for name in form.getlist("objects")},
    }


def validate(raw: Mapping) -> dict:
    errors: dict[str, str] = {}
    name = raw.get("name", "")
    if not name or len(name) > 100:
        errors["name"] = _("Give the schedule a name of at most 100 characters.")
    if raw.get("format") not in files.FORMATS:
        errors["format"] = _("Choose CSV or Excel.")
    hour = str(raw.get("hour", ""))
    if not hour.isdigit() or not 0 <= int(hour) <= 23:
        errors["hour"] = _("Choose an hour of the day.")
    delivery, url = raw.get("delivery"), raw.get("url", "")
    if delivery not in DELIVERIES:
        errors["delivery"] = _("Choose where the files go.")
    elif delivery == "url":
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname or len(url) > 500:
            errors["url"] = _(
                "Enter the address that receives the files, like https://erp.example.com/crm."
            )
        elif reason := blocked(url):
            errors["url"] = _("This address cannot be called: %(reason)s.", reason=reason)
    objects = {}
    known = {t.name for t in all_types()}
    for object_name, names in (raw.get("objects") or {}).items():
        if object_name not in known:
            errors["objects"] = _("Choose the records to export from the list.")
            continue
        otype = get(object_name)
        valid = {f.name for f in otype.fields}
        chosen = list(dict.fromkeys(n for n in names if n in valid))
        if not chosen:
            errors[f"fields-{object_name}"] = _(
                "Choose at least one field of %(object)s.", object=str(otype.plural).lower()
            )
        objects[object_name] = chosen
    if not objects and "objects" not in errors:
        errors["objects"] = _("Choose at least one kind of record to export.")
    if errors:
        raise ScheduleErrors(errors)
    return {
        "name": name,
        "format": raw["format"],
        "hour": int(hour),
        "delivery": delivery,
        "url": url if delivery == "url" else "",
        "active": bool(raw.get("active")),
        "objects": objects,
    }


def save(raw: Mapping, schedule: ExportSchedule | None = None, actor: int | None = None):
    """Create or change a schedule; raises ScheduleErrors with a sentence per input."""
    values = validate(raw)
    if schedule is None:
        schedule = ExportSchedule(secret=secrets.token_hex(32), created_by=actor)
        session().add(schedule)
    for key, value in values.items():
        setattr(schedule, key, value)
    session().flush()
    return schedule


def schedules() -> list[ExportSchedule]:
    return list(session().execute(select(ExportSchedule).order_by(ExportSchedule.name)).scalars())


def get_schedule(schedule_id: int) -> ExportSchedule | None:
    return session().get(ExportSchedule, schedule_id)


def new_secret(schedule: ExportSchedule) -> None:
    schedule.secret = secrets.token_hex(32)


def delete(schedule: ExportSchedule) -> None:
    """The schedule and its history (its kept files stay until they expire)."""
    session().delete(schedule)
    session().flush()


def runs(schedule_id: int, limit: int = 60) -> list[ExportRun]:
    stmt = (
        select(ExportRun)
        .where(ExportRun.schedule_id == schedule_id)
        .order_by(ExportRun.run_on.desc(), ExportRun.id.desc())
        .limit(limit)
    )
    return list(session().execute(stmt).scalars())
