"""Which events happen: the record listener, the import hook and :func:`emit`.

Record events come from the ``records.service`` listener: ``<object>.created``,
``.updated``, ``.deleted``, ``.restored``; a deal update that moves ``stage_id`` is also
``deal.stage_changed``, a lead update that sets ``converted_at`` also ``lead.converted``.
``import.finished`` comes from the import engine's hook; other modules call :func:`emit`.
Each goes to the outbox (:mod:`.outbox`) for the subscriptions that want it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from saas.modules.records import service as records
from saas.modules.records.registry import ObjectType, all_types, get
from saas.modules.webhooks.outbox import Event, add, subscriptions
from saas.modules.webhooks.payload import changes_json, record_json

ACTIONS = ("created", "updated", "deleted", "restored")
SPECIAL = ("deal.stage_changed", "lead.converted", "import.finished")
PATTERNS = ("*", *(f"*.{a}" for a in ACTIONS))  # every event; one action of every object
PING = "ping"


def event_types() -> list[str]:
    """Every event a subscription can name, object by object, then the special ones."""
    return [f"{t.name}.{a}" for t in all_types() for a in ACTIONS] + list(SPECIAL)


# -- record events -------------------------------------------------------------------------


def _possible(otype: ObjectType, event: str) -> list[str]:
    out = [f"{otype.name}.{event}"]
    if event == "updated" and otype.name == "deal":
        out.append("deal.stage_changed")
    if event == "updated" and otype.name == "lead":
        out.append("lead.converted")
    return out


def types_for(otype: ObjectType, event: str, changes: dict) -> list[str]:
    """The events one write is."""
    out = [f"{otype.name}.{event}"]
    if event == "updated" and otype.name == "deal" and "stage_id" in changes:
        out.append("deal.stage_changed")
    converted = changes.get("converted_at") if otype.name == "lead" else None
    if event == "updated" and converted and converted[0] is None and converted[1] is not None:
        out.append("lead.converted")
    return out


def on_write(otype: ObjectType, record, event: str, changes: dict, actor: int | None) -> None:
    """``records.service`` listener: the write's events, for the subscriptions that want them."""
    subs = subscriptions()
    if not subs:
        return
    wanted = [
        t for t in types_for(otype, event, changes) if any(s.matches(t, otype.name) for s in subs)
    ]
    if not wanted:
        return
    plain = not isinstance(record, otype.model)  # a bulk write's values: read back at flush
    snapshot = record_json(otype, record)
    for event_type in wanted:
        data = {"object": otype.name, "id": record.id, "record": snapshot}
        if event == "updated":
            data["changes"] = changes_json(changes)
        add(Event(event_type, otype.name, record.id, otype.name, data, otype if plain else None))


def _wants(otype: ObjectType, event: str) -> bool:
    subs = subscriptions()
    return any(s.matches(t, otype.name) for t in _possible(otype, event) for s in subs)


def on_transfer(from_user: int, to_user: int, ids: dict[str, list], actor: int | None) -> None:
    """``records.service.transfer`` hook: each record given to another owner is a
    ``<object>.updated`` event, as if it had been changed one by one."""
    subs = subscriptions()
    for name, moved in ids.items():
        event_type = f"{name}.updated"
        if not moved or not any(s.matches(event_type, name) for s in subs):
            continue
        otype = get(name)
        change = {"owner_id": [from_user, to_user]}
        for record_id in moved:
            data = {"object": name, "id": record_id, "record": {}, "changes": change}
            add(Event(event_type, name, record_id, name, data, otype))


on_write.wants = _wants
# It only reads the record: imports keep their COPY path and tell it of each record.
on_write.bulk_safe = True
records.listeners.append(on_write)
records.transfer_listeners.append(on_transfer)


def emit(
    event_type: str,
    data: dict,
    *,
    object_name: str | None,
    record_id: int | None,
    filter_object: str | None = None,
) -> None:
    """Send ``event_type`` with ``data`` to the subscriptions that want it, once this unit
    of work commits. ``object_name``/``record_id`` order the events of one thing;
    ``filter_object`` is what a subscription's object filter compares (default the object)."""
    filter_object = filter_object or object_name
    if any(s.matches(event_type, filter_object) for s in subscriptions()):
        add(Event(event_type, object_name, record_id, filter_object, data))


def on_import_finished(imp, status: str) -> None:
    """``imports.engine.finish`` hook: ``import.finished`` (done, failed or cancelled)."""
    if status not in {"done", "failed", "cancelled"}:
        return
    summary = {
        name: getattr(imp, name)
        for name in ("object", "filename", "mode", "total", "created", "updated", "unchanged",
                     "skipped", "failed", "error", "user_id")
    }  # fmt: skip
    summary["status"] = status
    summary["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    data = {"object": "import", "id": imp.id, "record": summary}
    emit("import.finished", data, object_name="import", record_id=imp.id, filter_object=imp.object)
