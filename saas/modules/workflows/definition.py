"""What a workflow rule is made of, and the one check of a rule an admin submits.

A submitted rule (from the builder form or a test) has the user's raw values:
``{"object", "name", "active", "trigger": {...}, "match", "conditions": [...],
"actions": [...]}``. :func:`validate` turns it into the stored, canonical rule
(values parsed by each field's own parser: "Won" for a deal's stage becomes the
stage's id) or raises :class:`RuleErrors` keyed by the builder's input names. Conditions
and the trigger's from / to values are :mod:`saas.modules.customization.conditions`'.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

from flask import has_request_context
from flask_babel import lazy_gettext as _l

from saas.modules.customization import conditions
from saas.modules.customization.conditions import read_row, shown  # noqa: F401  (actions)
from saas.modules.records import service as records
from saas.modules.records.fields import Field, FieldError, form_value
from saas.modules.records.registry import ObjectType, all_types

TRIGGERS = {
    "created": _l("A record is created"),
    "updated": _l("A record is changed"),
    "field_changed": _l("A field changes"),
    "deleted": _l("A record is moved to the recycle bin"),
    "date": _l("A date is reached"),
    "schedule": _l("On a schedule"),
}
TIMED = {"date", "schedule"}
CHANGING = {"created", "updated", "field_changed"}  # triggers whose rules see a change
ACTIONS = {
    "update": _l("Update a field"),
    "task": _l("Create a task"),
    "assign": _l("Assign the owner"),
    "notify": _l("Notify (in the app and by e-mail)"),
    "webhook": _l("Send a signed webhook"),
}
EVERY = {"daily": _l("Every day at"), "hourly": _l("Every hour")}
PRIORITIES = ("normal", "high", "low")
MAX_CONDITIONS, MAX_ACTIONS = 20, 10
MAX_OFFSET, MAX_DUE_DAYS = 3650, 3650
SECRET = re.compile(r"^[0-9a-f]{64}$")


class RuleErrors(ValueError):
    """Input name -> message, shown next to each input of the builder."""

    def __init__(self, errors: Mapping[str, object]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = {k: str(v) for k, v in errors.items()}


def tz() -> str:
    """The tenant's time zone (rules read and show dates in it)."""
    if has_request_context():
        from saas.i18n import tenant_settings

        return tenant_settings().get("timezone", "UTC")
    from saas.modules.workspace.service import settings

    return settings().get("timezone", "UTC")


def objects() -> list[ObjectType]:
    """The objects a rule can belong to."""
    return [t for t in all_types() if t.creatable]


def object_type(name) -> ObjectType | None:
    return next((t for t in objects() if t.name == name), None)


# -- values ------------------------------------------------------------------------------


def canonical(value):
    """A parsed value as JSON keeps it (and :func:`typed` reads it back)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def typed(f: Field, value):
    """A stored canonical value as the record holds it (for comparisons)."""
    if value is None:
        return None
    if f.type in {"number", "currency", "percent"}:
        return Decimal(str(value))
    if f.type == "integer":
        return int(value)
    if f.type == "date":
        return date.fromisoformat(str(value)[:10])
    if f.type == "datetime":
        return datetime.fromisoformat(str(value))
    return value


def form_text(f: Field | None, value) -> str:
    """A stored value as the builder's input shows it."""
    if value is None or f is None:
        return "" if value is None else str(value)
    if f.type == "bool":
        return "true" if value else "false"
    if f.type == "lookup":
        return f"{shown(f, value)} (#{value})"
    if f.type == "datetime":
        return form_value(f, typed(f, value), tz())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def condition_text(f: Field | None, op: str, text) -> str:
    """A stored condition or trigger value as the builder's input shows it."""
    if text is None or f is None or op in conditions.PATTERN_OPS:
        return "" if text is None else str(text)
    if conditions.RELATIVE.match(str(text)):
        return str(text)
    try:
        return form_text(f, conditions.parsed(f, text))
    except (KeyError, ValueError):  # a stage that is gone: shown as stored
        return str(text)


# -- checking a submitted rule -------------------------------------------------------------


def _text(raw) -> str:
    return str(raw if raw is not None else "").strip()


def _int(raw, low: int, high: int, default: int | None = None) -> int | None:
    text = _text(raw)
    if not text:
        return default
    if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
        raise ValueError
    return int(text)


def _members() -> dict[int, str]:
    return records.member_names()


def _person(raw, *, owner: bool, team: bool) -> str | None:
    """Who: "owner", "user:<id>" (a member) or "team:<id>" (an existing team), or None."""
    text = _text(raw)
    if owner and text == "owner":
        return text
    kind, _, ident = text.partition(":")
    if not ident.isdigit():
        return None
    if kind == "user" and int(ident) in _members():
        return text
    if team and kind == "team":
        from saas.modules.teams.service import get_team

        found = get_team(int(ident))
        return text if found is not None else None
    return None


def validate(raw: Mapping) -> dict:
    """The canonical rule, or RuleErrors naming every bad input."""
    errors: dict[str, object] = {}
    otype = object_type(raw.get("object"))
    if otype is None:
        raise RuleErrors({"object": _l("Choose the kind of record the rule is about.")})
    name = " ".join(_text(raw.get("name")).split())
    if not name or len(name) > 100:
        errors["name"] = _l("Give the rule a name of at most 100 characters.")
    match = raw.get("match") or "all"
    if match not in {"all", "any"}:
        errors["match"] = _l("Choose whether all or any of the conditions must hold.")
    trigger = _trigger(otype, raw.get("trigger") or {}, errors)
    conditions = []
    changes = trigger.get("kind") in CHANGING
    for i, row in enumerate(raw.get("conditions") or ()):
        if not any(_text(row.get(key)) for key in ("field", "value", "other")):
            continue  # an empty row of the form
        found = read_row(otype, row, f"c-{i}-", errors, changes=changes)
        if found is not None:
            conditions.append(found)
    if len(conditions) > MAX_CONDITIONS:
        errors["conditions"] = _l("Use at most %(n)d conditions.", n=MAX_CONDITIONS)
    actions = []
    for i, row in enumerate(raw.get("actions") or ()):
        if not _text(row.get("kind")):
            continue
        found = _action(otype, trigger.get("kind"), row, f"a-{i}-", errors)
        if found is not None:
            actions.append(found)
    if not actions and not any(k.startswith("a-") for k in errors):
        errors["actions"] = _l("Add at least one action: what should happen.")
    elif len(actions) > MAX_ACTIONS:
        errors["actions"] = _l("Use at most %(n)d actions.", n=MAX_ACTIONS)
    if errors:
        raise RuleErrors(errors)
    return {
        "object": otype.name,
        "name": name,
        "active": bool(raw.get("active")),
        "trigger": trigger,
        "match": match,
        "conditions": conditions,
        "actions": actions,
    }


def _trigger(otype: ObjectType, raw: Mapping, errors: dict) -> dict:
    kind = raw.get("kind")
    if kind not in TRIGGERS:
        errors["trigger"] = _l("Choose when the rule runs.")
        return {}
    trigger: dict = {"kind": kind}
    if kind in {"field_changed", "date"}:
        f = otype.field(_text(raw.get("field")))
        if f is None or (kind == "date" and f.type not in {"date", "datetime"}):
            errors["trigger_field"] = (
                _l("Choose a date field.") if kind == "date" else _l("Choose the field.")
            )
            return trigger
        trigger["field"] = f.name
    if kind == "field_changed":
        for key in ("from", "to"):
            text = _text(raw.get(key))
            if not text:
                trigger[key] = None
                continue
            try:
                trigger[key] = conditions.canonical(otype, f, "equals", text)
            except FieldError as exc:
                errors[f"trigger_{key}"] = exc
            except records.ValidationErrors as exc:
                errors[f"trigger_{key}"] = " ".join(exc.errors.values())
    elif kind == "date":
        try:
            trigger["offset"] = _int(raw.get("offset"), -MAX_OFFSET, MAX_OFFSET, 0)
        except ValueError:
            errors["trigger_offset"] = _l(
                "Days: a whole number from -%(n)d to %(n)d (negative: before the date).",
                n=MAX_OFFSET,
            )
    elif kind == "schedule":
        every = raw.get("every") or "daily"
        if every not in EVERY:
            errors["trigger_every"] = _l("Choose how often the rule runs.")
        trigger["every"] = every
        if every == "daily":
            try:
                trigger["hour"] = _int(raw.get("hour"), 0, 23, 8)
            except ValueError:
                errors["trigger_hour"] = _l("Hour: a whole number from 0 to 23.")
    return trigger


def _action(otype, trigger_kind, row: Mapping, key: str, errors: dict) -> dict | None:
    kind = row.get("kind")
    if kind not in ACTIONS:
        errors[key + "kind"] = _l("Choose what the action does.")
        return None
    if kind in {"update", "assign"} and trigger_kind == "deleted":
        errors[key + "kind"] = _l("A record in the recycle bin cannot be changed.")
        return None
    before = len(errors)
    action = _ACTION_CHECKS[kind](otype, row, key, errors)
    return {"kind": kind, **action} if len(errors) == before else None


def _update(otype, row, key, errors) -> dict:
    name = _text(row.get("field"))
    if name not in {f.name for f in otype.form_fields}:
        errors[key + "field"] = _l("Choose a field that can be changed.")
        return {}
    try:
        values = records.validate(otype, {name: row.get("value", "")}, partial=True)
    except records.ValidationErrors as exc:
        errors[key + "value"] = next(iter(exc.errors.values()))
        return {}
    return {"field": name, "value": canonical(values[name])}


def _task(otype, row, key, errors) -> dict:
    subject = " ".join(_text(row.get("subject")).split())
    if not subject or len(subject) > 200:
        errors[key + "subject"] = _l("Give the task a subject of at most 200 characters.")
    try:
        due = _int(row.get("due_days"), 0, MAX_DUE_DAYS)
    except ValueError:
        errors[key + "due_days"] = _l("Due in: a whole number of days from 0 to %(n)d.", n=3650)
        due = None
    assignee = _person(row.get("assignee") or "owner", owner=True, team=False)
    if assignee is None:
        errors[key + "assignee"] = _l("Choose who gets the task.")
    priority = row.get("priority") or "normal"
    if priority not in PRIORITIES:
        errors[key + "priority"] = _l("Choose a priority.")
    return {"subject": subject, "due_days": due, "assignee": assignee, "priority": priority}


def _assign(otype, row, key, errors) -> dict:
    if "owner_id" not in otype.by_name:
        errors[key + "kind"] = _l("These records have no owner.")
        return {}
    to = _person(row.get("to"), owner=False, team=True)
    if to is None:
        errors[key + "to"] = _l("Choose someone on your team, or a team to take turns.")
        return {}
    if to.startswith("team:"):
        from saas.modules.teams.service import get_team

        if not get_team(int(to[5:])).round_robin:
            errors[key + "to"] = _l(
                "This team does not take turns: switch on round-robin on the team's page."
            )
    return {"to": to}


def _notify(otype, row, key, errors) -> dict:
    to = _person(row.get("to") or "owner", owner=True, team=True)
    if to is None:
        errors[key + "to"] = _l("Choose who is notified.")
    title = " ".join(_text(row.get("title")).split())
    if not title or len(title) > 200:
        errors[key + "title"] = _l("Give the notification a title of at most 200 characters.")
    body = _text(row.get("body"))
    if len(body) > 2000:
        errors[key + "body"] = _l("Use at most 2000 characters.")
    return {"to": to, "title": title, "body": body}


def _webhook(otype, row, key, errors) -> dict:
    url = _text(row.get("url"))
    parts = urlsplit(url)
    if (
        len(url) > 2000
        or parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.username
        or any(c.isspace() for c in url)
    ):
        errors[key + "url"] = _l("Enter the full address, like https://example.com/hooks/crm.")
    secret = _text(row.get("secret"))
    if not SECRET.match(secret) or row.get("new_secret"):
        secret = secrets.token_hex(32)
    return {"url": url, "secret": secret}


_ACTION_CHECKS = {
    "update": _update,
    "task": _task,
    "assign": _assign,
    "notify": _notify,
    "webhook": _webhook,
}
