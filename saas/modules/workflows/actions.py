"""What a rule does, action by action: for real (``run``) or as a dry run (``preview``).

Field updates, owners and tasks are written in the transaction of the write that
triggered the rule (the engine wraps each in a savepoint). Notifications and
webhooks are sent by jobs enqueued after the commit: ``run`` returns a callback
that enqueues them once the run's id (the event id they carry) is known.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from saas.db import current_tenant
from saas.jobs import enqueue
from saas.modules.records import service as records
from saas.modules.records.registry import ObjectType, get
from saas.modules.workflows.definition import canonical, shown, typed, tz
from saas.modules.workflows.matching import Compiled, equal

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class ActionError(ValueError):
    """Why an action could not be done, for the run history."""


@dataclass
class Context:
    rule: Compiled
    otype: ObjectType
    record: object
    event: str
    index: int  # the action's position in the rule


Later = Callable[[int], None] | None  # enqueue slow work, given the run id


def render(template: str, otype: ObjectType, record) -> str:
    """``{record}`` is the record's title, ``{field}`` a field's value as people read it."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "record":
            return otype.title(record) or ""
        f = otype.field(name)
        return shown(f, getattr(record, name, None)) if f is not None else match.group(0)

    return PLACEHOLDER.sub(value, template)


def _member(uid: int) -> str:
    name = records.member_names().get(uid)
    if name is None:
        raise ActionError(_l("User #%(id)s is no longer on your team.", id=uid))
    return name


def _person(to: str, record) -> int | None:
    if to == "owner":
        return getattr(record, "owner_id", None)
    return int(to.partition(":")[2])


def _record_path(ctx: Context) -> str:
    return f"/{ctx.otype.slug}/{ctx.record.id}"


# -- update a field -------------------------------------------------------------------------


def _changes(otype: ObjectType, changes: dict) -> list[list]:
    return [[name, shown(otype.field(name), old), shown(otype.field(name), new)]
            for name, (old, new) in changes.items()]  # fmt: skip


def run_update(ctx: Context, action: dict) -> tuple[dict, Later]:
    changes = records.update(ctx.otype, ctx.record, {action["field"]: action["value"]}, actor=None)
    return {"changes": _changes(ctx.otype, changes)}, None


def preview_update(ctx: Context, action: dict) -> dict:
    f = ctx.otype.field(action["field"])
    old, new = getattr(ctx.record, f.name, None), typed(f, action["value"])
    if equal(old, new):
        return {"changes": [], "note": str(_l("already has this value"))}
    return {"changes": [[f.name, shown(f, old), shown(f, new)]]}


# -- create a task ----------------------------------------------------------------------------


def _task_values(ctx: Context, action: dict) -> dict:
    from saas.modules.activities.objects import RELATED

    owner = _person(action["assignee"], ctx.record)
    if owner is not None:
        _member(owner)
    due = None
    if action.get("due_days") is not None:
        zone = ZoneInfo(tz())
        day = datetime.now(zone).date() + timedelta(days=action["due_days"])
        due = datetime.combine(day, time(9, 0), zone)
    related = ctx.otype.name in {key for key, _ in RELATED}
    return {
        "kind": "task",
        "subject": render(action["subject"], ctx.otype, ctx.record)[:200],
        "due_at": due,
        "priority": action.get("priority") or "normal",
        "related_object": ctx.otype.name if related else None,
        "related_id": ctx.record.id if related else None,
        "owner_id": owner,
        "done": False,
    }


def _task_outcome(values: dict) -> dict:
    return {
        "subject": values["subject"],
        "due": values["due_at"].date().isoformat() if values["due_at"] else None,
        "assignee": records.member_names().get(values["owner_id"], "—"),
    }


def run_task(ctx: Context, action: dict) -> tuple[dict, Later]:
    values = _task_values(ctx, action)
    task = records.create(get("activity"), values, actor=None, trusted=True)
    return {"task_id": task.id, **_task_outcome(values)}, None


def preview_task(ctx: Context, action: dict) -> dict:
    return _task_outcome(_task_values(ctx, action))


# -- assign the owner -----------------------------------------------------------------------------


def run_assign(ctx: Context, action: dict) -> tuple[dict, Later]:
    from saas.modules.teams.service import next_owner

    kind, _, ident = action["to"].partition(":")
    if kind == "team":
        owner = next_owner(int(ident))
        if owner is None:
            raise ActionError(
                _l("The team takes no turns or has nobody on it: nobody was assigned.")
            )
    else:
        owner = int(ident)
        _member(owner)
    changes = records.update(ctx.otype, ctx.record, {"owner_id": owner}, actor=None)
    return {"changes": _changes(ctx.otype, changes)}, None


def preview_assign(ctx: Context, action: dict) -> dict:
    from saas.modules.teams.service import get_team, member_ids

    kind, _, ident = action["to"].partition(":")
    owner = int(ident)
    if kind == "team":  # who is next in turn, without taking the turn
        team = get_team(owner)
        names = records.member_names()
        candidates = [u for u in member_ids(owner) if u in names] if team else []
        if not candidates or not team.round_robin:
            raise ActionError(_l("The team takes no turns or has nobody on it."))
        last = team.last_assigned_id
        owner = next((u for u in candidates if last is None or u > last), candidates[0])
    f = ctx.otype.field("owner_id")
    old = getattr(ctx.record, "owner_id", None)
    if old == owner:
        return {"changes": [], "note": str(_l("already has this value"))}
    return {"changes": [["owner_id", shown(f, old), shown(f, owner)]]}


# -- notify -------------------------------------------------------------------------------------------


def _recipients(action: dict, record) -> list[int]:
    to = action["to"]
    if to.startswith("team:"):
        from saas.modules.teams.service import member_ids

        names = records.member_names()
        return [u for u in member_ids(int(to[5:])) if u in names]
    uid = _person(to, record)
    return [uid] if uid is not None and uid in records.member_names() else []


def _notify_outcome(ctx: Context, action: dict) -> tuple[dict, list[int], str, str]:
    users = _recipients(action, ctx.record)
    if not users:
        raise ActionError(_l("Nobody to notify (no owner, or nobody on the team)."))
    title = render(action["title"], ctx.otype, ctx.record)
    body = render(action.get("body") or "", ctx.otype, ctx.record)
    names = records.member_names()
    return {"to": [names.get(u, f"#{u}") for u in users], "title": title}, users, title, body


def run_notify(ctx: Context, action: dict) -> tuple[dict, Later]:
    from saas.modules.workflows.jobs import send_notifications

    outcome, users, title, body = _notify_outcome(ctx, action)
    path, index = _record_path(ctx), ctx.index

    def later(run_id: int) -> None:
        enqueue(send_notifications, run_id, index, users, title, body, path)

    return outcome, later


def preview_notify(ctx: Context, action: dict) -> dict:
    return _notify_outcome(ctx, action)[0]


# -- webhook -----------------------------------------------------------------------------------------


def payload(ctx: Context) -> dict:
    """What a webhook receives (its ``id`` is added once the run is written)."""
    record = ctx.record
    return {
        "event": ctx.event,
        "rule": {"id": ctx.rule.id, "name": ctx.rule.name},
        "object": ctx.otype.name,
        "record_id": record.id,
        "record": {f.name: canonical(getattr(record, f.name, None)) for f in ctx.otype.fields},
        "tenant": current_tenant().slug,
    }


def run_webhook(ctx: Context, action: dict) -> tuple[dict, Later]:
    from saas.modules.workflows.jobs import deliver_webhook

    data = payload(ctx)
    index = ctx.index

    def later(run_id: int) -> None:
        body = json.dumps({"id": f"{run_id}.{index}", **data}, default=str, sort_keys=True)
        enqueue(deliver_webhook, run_id, index, body)

    return {"url": action["url"], "deliveries": []}, later


def preview_webhook(ctx: Context, action: dict) -> dict:
    return {"url": action["url"]}


RUN = {
    "update": run_update,
    "task": run_task,
    "assign": run_assign,
    "notify": run_notify,
    "webhook": run_webhook,
}
PREVIEW = {
    "update": preview_update,
    "task": preview_task,
    "assign": preview_assign,
    "notify": preview_notify,
    "webhook": preview_webhook,
}
IN_TRANSACTION = {"update", "task", "assign"}  # written in a savepoint of the write
