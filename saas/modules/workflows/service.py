"""Workflow rules for the builder: save, copy, order, switch on and off, delete; the run
history; the dry run. Flushes, never commits; every change to the rules tells the
tenant's cached shape (``meta.changed``) so every process runs the new rules."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from saas.db import session
from saas.modules.customization import meta
from saas.modules.records import access
from saas.modules.records import service as records
from saas.modules.records.registry import get
from saas.modules.workflows import definition
from saas.modules.workflows.actions import PREVIEW, ActionError, Context
from saas.modules.workflows.definition import RuleErrors, condition_text, form_text, tz
from saas.modules.workflows.matching import (
    MISSING,
    BrokenRule,
    Compiled,
    compile_rule,
    equal,
    value_of,
)
from saas.modules.workflows.models import WorkflowFiring, WorkflowRule, WorkflowRun

MAX_DRY_RUN = 200


def rules(object_name: str | None = None) -> list[WorkflowRule]:
    stmt = select(WorkflowRule).order_by(
        WorkflowRule.object, WorkflowRule.position, WorkflowRule.id
    )
    if object_name:
        stmt = stmt.where(WorkflowRule.object == object_name)
    return list(session().execute(stmt).scalars())


def get_rule(rule_id) -> WorkflowRule | None:
    try:
        rule_id = int(rule_id)
    except (TypeError, ValueError):
        return None
    return session().get(WorkflowRule, rule_id) if 0 < rule_id < 2**63 else None


def problems(rule: WorkflowRule) -> str | None:
    """Why a stored rule cannot run (a field it names was deleted), or None."""
    try:
        compile_rule(_row(rule))
    except (BrokenRule, KeyError) as exc:
        return str(_l("It names the field %(name)s, which no longer exists.", name=str(exc)))
    return None


def _row(rule: WorkflowRule) -> dict:
    return {
        "id": rule.id,
        "object": rule.object,
        "name": rule.name,
        "position": rule.position,
        "trigger": rule.trigger,
        "match": rule.match,
        "conditions": rule.conditions,
        "actions": rule.actions,
    }


def _next_position(object_name: str) -> int:
    stmt = select(func.max(WorkflowRule.position)).where(WorkflowRule.object == object_name)
    found = session().execute(stmt).scalar()
    return 0 if found is None else found + 1


def save(raw: Mapping, rule: WorkflowRule | None = None, *, actor: int | None = None):
    """Create (``rule`` None) or change a rule from submitted values; raises RuleErrors."""
    clean = definition.validate(raw)
    now = datetime.now(UTC)
    if rule is None:
        rule = WorkflowRule(
            created_by=actor, created_at=now, position=_next_position(clean["object"])
        )
        session().add(rule)
    else:
        if rule.object != clean["object"]:
            rule.position = _next_position(clean["object"])
        if rule.trigger != clean["trigger"]:
            rule.last_run_at = now  # a changed schedule starts at its next time, not at once
    for key, value in clean.items():
        setattr(rule, key, value)
    rule.updated_at = now
    session().flush()
    meta.changed()
    return rule


def set_active(rule: WorkflowRule, on: bool) -> None:
    rule.active, rule.updated_at = on, datetime.now(UTC)
    session().flush()
    meta.changed()


def copy(rule: WorkflowRule, *, actor: int | None = None) -> WorkflowRule:
    """A switched-off copy, last in order, with webhook secrets of its own."""
    actions = [
        {**a, "secret": secrets.token_hex(32)} if a["kind"] == "webhook" else dict(a)
        for a in rule.actions
    ]
    name = str(_l("Copy of %(name)s", name=rule.name))[:100]
    twin = WorkflowRule(
        object=rule.object,
        name=name,
        active=False,
        position=_next_position(rule.object),
        trigger=dict(rule.trigger),
        match=rule.match,
        conditions=[dict(c) for c in rule.conditions],
        actions=actions,
        created_by=actor,
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
    )
    session().add(twin)
    session().flush()
    meta.changed()
    return twin


def move(rule: WorkflowRule, step: int) -> None:
    """One place earlier (-1) or later (+1) in its object's run order."""
    ordered = rules(rule.object)
    at = ordered.index(rule)
    to = at + step
    if 0 <= to < len(ordered):
        ordered[at], ordered[to] = ordered[to], ordered[at]
    for position, each in enumerate(ordered):
        each.position = position
    session().flush()
    meta.changed()


def delete_rule(rule: WorkflowRule) -> None:
    """The rule and its date firings go; its runs stay in the records' history."""
    session().execute(delete(WorkflowFiring).where(WorkflowFiring.rule_id == rule.id))
    session().delete(rule)
    session().flush()
    meta.changed()


# -- the builder's form values of a stored rule ------------------------------------------------


def as_submitted(rule: WorkflowRule) -> dict:
    """A stored rule as the builder's inputs show it (values as people type them)."""
    otype = get(rule.object)
    trigger = dict(rule.trigger)
    f = otype.field(trigger.get("field") or "")
    for key in ("from", "to"):
        trigger[key] = condition_text(f, "equals", trigger.get(key))
    conditions = [
        {**c, "value": condition_text(otype.field(c["field"]), c["op"], c.get("value"))}
        for c in rule.conditions
    ]
    actions = []
    for a in rule.actions:
        if a["kind"] == "update":
            a = {**a, "value": form_text(otype.field(a["field"]), a.get("value"))}
        actions.append({**a, "due_days": "" if a.get("due_days") is None else a.get("due_days")})
    return {
        "object": rule.object,
        "name": rule.name,
        "active": rule.active,
        "trigger": trigger,
        "match": rule.match,
        "conditions": conditions,
        "actions": actions,
    }


# -- run history -------------------------------------------------------------------------------------


def runs_of_rule(rule_id: int, *, before: int | None = None, limit: int = 50) -> list[WorkflowRun]:
    stmt = select(WorkflowRun).where(WorkflowRun.rule_id == rule_id)
    if before:
        stmt = stmt.where(WorkflowRun.id < before)
    return list(session().execute(stmt.order_by(WorkflowRun.id.desc()).limit(limit)).scalars())


def record_runs(object_name: str, record_id: int, limit: int = 50) -> list[WorkflowRun]:
    """The runs of every rule on one record, newest first."""
    stmt = (
        select(WorkflowRun)
        .where(WorkflowRun.object == object_name, WorkflowRun.record_id == record_id)
        .order_by(WorkflowRun.id.desc())
        .limit(limit)
    )
    return list(session().execute(stmt).scalars())


# -- dry run -----------------------------------------------------------------------------------------


def dry_run(raw: Mapping, *, rule_id: int | None = None, last: int = 20, record_id=None) -> list:
    """Which of the last ``last`` records (or the one chosen) the rule would match, and
    what it would do to each. Reads only: nothing is written, nothing is enqueued."""
    clean = definition.validate(raw)
    otype = get(clean["object"])
    rule = compile_rule({**clean, "id": rule_id or 0, "position": 0})
    deleted = rule.kind == "deleted"
    if record_id not in (None, ""):
        found = records.get_record(otype, record_id, deleted=deleted, viewer=access.SYSTEM)
        if found is None:
            raise RuleErrors({"dry_record": _l("No record with this number.")})
        batch = [found]
    else:
        model = otype.model
        stmt = records.select_records(otype, deleted=deleted, viewer=access.SYSTEM)
        stmt = stmt.order_by(model.updated_at.desc(), model.id.desc())
        batch = list(session().execute(stmt.limit(max(1, min(int(last), MAX_DRY_RUN)))).scalars())
    meta.attach(otype, batch)
    today = datetime.now(ZoneInfo(tz())).date()
    return [_dry_one(rule, otype, record, today) for record in batch]


def _dry_trigger(rule: Compiled, record, today) -> tuple[bool, str | None]:
    """Whether the trigger would fire for an existing record, and what was assumed."""
    if rule.kind == "date":
        value = getattr(record, rule.trigger_field.name, None)
        if value is None:
            return False, str(_l("no date"))
        day = value.astimezone(ZoneInfo(tz())).date() if isinstance(value, datetime) else value
        due = day + timedelta(days=int(rule.trigger.get("offset") or 0))
        return due <= today, str(_l("due on %(day)s", day=due.isoformat()))
    if rule.kind == "field_changed":
        f = rule.trigger_field
        label = f.label
        if rule.trigger_to is not MISSING:
            now = value_of(record, {}, f.name)
            if not equal(now, rule.trigger_to):
                return False, str(
                    _l("%(field)s is %(value)s", field=label, value=definition.shown(f, now))
                )
        return True, str(_l("as if %(field)s had just changed", field=label))
    return True, None


def _dry_one(rule: Compiled, otype, record, today) -> dict:
    changes = {}
    if rule.kind == "created":
        changes = {f.name: (None, getattr(record, f.name, None)) for f in otype.fields}
    triggered, note = _dry_trigger(rule, record, today)
    why = rule.explain(record, changes, assume_changes=True)
    held = [w["ok"] is not False for w in why]
    conditions = not held or (any(held) if rule.match_any else all(held))
    matched = triggered and conditions
    would = []
    if matched:
        for index, action in enumerate(rule.actions):
            ctx = Context(rule, otype, record, "dry", index)
            try:
                outcome = PREVIEW[action["kind"]](ctx, action)
            except (ActionError, ValueError) as exc:
                outcome = {"error": str(exc)}
            would.append({"kind": action["kind"], **outcome})
    return {
        "record": record,
        "title": otype.title(record),
        "status": "dry",
        "matched": matched,
        "trigger": note,
        "triggered": triggered,
        "why": why,
        "would": would,
    }
