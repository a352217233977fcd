"""Rules and runs in words, for the builder, the run history and the record page.

Registered as the template global ``workflows`` (see ``views``), so that the
record page's partial ``workflows/_record_runs.html`` needs nothing but ``runs``.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from saas.modules.customization.conditions import (
    CHANGE_OPS,
    OPS,
    PATTERN_OPS,
    RELATIVE,
    ops_for,
    others_for,
    parsed,
    shown,
)
from saas.modules.records.registry import ObjectType, get
from saas.modules.workflows import definition
from saas.modules.workflows.definition import ACTIONS, TRIGGERS

EVENTS = {
    "created": _l("created"),
    "updated": _l("changed"),
    "deleted": _l("deleted"),
    "date": _l("date reached"),
    "schedule": _l("schedule"),
    "dry": _l("dry run"),
}
STATUSES = {"ok": _l("Done"), "error": _l("Error"), "stopped": _l("Stopped"), "dry": _l("Dry run")}


def _otype(name: str) -> ObjectType | None:
    try:
        return get(name)
    except KeyError:
        return None


def field_label(object_name: str, name: str) -> str:
    otype = _otype(object_name)
    f = otype.field(name) if otype is not None else None
    return str(f.label) if f is not None else name


def op(name: str) -> str:
    return str(OPS.get(name, name))


def action(kind: str) -> str:
    return str(ACTIONS.get(kind, kind))


def event(name: str) -> str:
    return str(EVENTS.get(name, name))


def status(name: str) -> str:
    return str(STATUSES.get(name, name))


def trigger(object_name: str, spec: dict) -> str:
    """The trigger in words: "Stage changes to Won", "30 days before End"..."""
    kind = spec.get("kind")
    otype = _otype(object_name)
    f = otype.field(spec.get("field") or "") if otype is not None else None
    label = str(f.label) if f is not None else spec.get("field", "")
    if kind == "field_changed":
        text = str(_l("%(field)s changes", field=label))
        if spec.get("from") is not None:
            text += " " + str(_l("from %(value)s", value=_value(f, "equals", spec["from"])))
        if spec.get("to") is not None:
            text += " " + str(_l("to %(value)s", value=_value(f, "equals", spec["to"])))
        return text
    if kind == "date":
        days = int(spec.get("offset") or 0)
        if days < 0:
            return str(_l("%(n)d days before %(field)s", n=-days, field=label))
        if days > 0:
            return str(_l("%(n)d days after %(field)s", n=days, field=label))
        return str(_l("On %(field)s", field=label))
    if kind == "schedule":
        if spec.get("every") == "hourly":
            return str(_l("Every hour"))
        return str(_l("Every day at %(hour)02d:00", hour=int(spec.get("hour") or 0)))
    return str(TRIGGERS.get(kind, kind or ""))


def _value(f, op_name: str, text) -> str:
    """A stored condition value as people read it."""
    if f is None or op_name in PATTERN_OPS or RELATIVE.match(str(text)):
        return str(text)
    try:
        return shown(f, parsed(f, text))
    except (KeyError, ValueError):  # a stage that is gone
        return str(text)


def condition(object_name: str, spec: dict) -> str:
    otype = _otype(object_name)
    f = otype.field(spec["field"]) if otype is not None else None
    text = f"{field_label(object_name, spec['field'])} {op(spec['op'])}"
    if spec.get("other"):
        text += " " + field_label(object_name, spec["other"])
    elif spec.get("value") is not None:
        text += " " + _value(f, spec["op"], spec["value"])
    return text


def condition_ops(f, trigger_kind: str | None, chosen: str = "") -> list[tuple[str, str]]:
    """The operators a condition row offers: those of its field, the change ones only
    when the trigger brings a change (and the one chosen, so that its error shows)."""
    changes = trigger_kind in definition.CHANGING
    keys = [k for k in OPS if changes or k not in CHANGE_OPS] if f is None else ops_for(f, changes)
    if chosen in OPS and chosen not in keys:
        keys = [*keys, chosen]
    return [(key, str(OPS[key])) for key in keys]


def condition_others(otype: ObjectType, f) -> list:
    """The fields a condition row's field can be compared with."""
    return others_for(otype, f, "equals") if f is not None else []


def record_runs(object_name: str, record_id: int, limit: int = 20):
    """The runs on one record, newest first (for the record page)."""
    from saas.modules.workflows.service import record_runs as found

    return found(object_name, record_id, limit)


class Words:
    """What the templates call as ``workflows.<name>(...)``."""

    field_label = staticmethod(field_label)
    op = staticmethod(op)
    action = staticmethod(action)
    event = staticmethod(event)
    status = staticmethod(status)
    trigger = staticmethod(trigger)
    condition = staticmethod(condition)
    condition_ops = staticmethod(condition_ops)
    condition_others = staticmethod(condition_others)
    record_runs = staticmethod(record_runs)
    triggers = TRIGGERS
    operators = OPS
    actions = ACTIONS
    every = definition.EVERY


words = Words()
