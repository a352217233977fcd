"""Which events happen, and the outbox that keeps them in the transaction of the change.

Record events come from the ``records.service`` listener: ``<object>.created``,
``.updated``, ``.deleted``, ``.restored``; a deal update that moves ``stage_id`` is also
``deal.stage_changed``, a lead update that sets ``converted_at`` also ``lead.converted``.
``import.finished`` comes from the import engine's hook; other modules call :func:`emit`.

Events wait in the unit of work (``session.info``) and go to ``webhook_deliveries`` in
one set-based INSERT per thousand, at the latest just before the transaction (or the
savepoint) commits; a savepoint that rolls back takes its events with it. The delivery
jobs are enqueued once the outermost transaction has committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, SessionTransaction

from saas.db import current_tenant, session
from saas.modules.records import service as records
from saas.modules.records.registry import ObjectType, all_types, get
from saas.modules.webhooks.models import WebhookDelivery, WebhookSubscription
from saas.modules.webhooks.payload import changes_json, event_body, record_json

ACTIONS = ("created", "updated", "deleted", "restored")
SPECIAL = ("deal.stage_changed", "lead.converted", "import.finished")
PATTERNS = ("*", *(f"*.{a}" for a in ACTIONS))  # every event; one action of every object
PING = "ping"
FLUSH_AT = 1000  # events kept in memory before they are written (bulk imports)
OUTBOX, SUBS, KICKS = "saas.webhooks.outbox", "saas.webhooks.subs", "saas.webhooks.kicks"


def event_types() -> list[str]:
    """Every event a subscription can name, object by object, then the special ones."""
    return [f"{t.name}.{a}" for t in all_types() for a in ACTIONS] + list(SPECIAL)


@dataclass(frozen=True)
class Sub:
    """An active subscription as the write path matches it."""

    id: int
    events: frozenset
    objects: frozenset

    def matches(self, event_type: str, object_name: str | None) -> bool:
        if self.objects and object_name not in self.objects:
            return False
        action = event_type.rpartition(".")[2]
        return bool({"*", event_type, f"*.{action}"} & self.events)


def subscriptions() -> list[Sub]:
    """The tenant's active subscriptions, read once per unit of work."""
    tenant = current_tenant()
    if tenant is None:
        return []
    info = session().info
    cached = info.get(SUBS)
    if cached is None or cached[0] != tenant.schema_name:
        s = WebhookSubscription
        rows = session().execute(select(s.id, s.events, s.objects).where(s.active.is_(True)))
        subs = [Sub(i, frozenset(e or ()), frozenset(o or ())) for i, e, o in rows]
        cached = info[SUBS] = (tenant.schema_name, subs)
    return cached[1]


def forget() -> None:
    """Subscriptions changed in this unit of work: read them again."""
    session().info.pop(SUBS, None)


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
        _add(_Event(event_type, otype.name, record.id, otype.name, data, otype if plain else None))


def _wants(otype: ObjectType, event: str) -> bool:
    subs = subscriptions()
    return any(s.matches(t, otype.name) for t in _possible(otype, event) for s in subs)


on_write.wants = _wants
# It only reads the record: imports keep their COPY path and tell it of each record.
on_write.bulk_safe = True
records.listeners.append(on_write)


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
        _add(_Event(event_type, object_name, record_id, filter_object, data))


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


# -- the outbox ------------------------------------------------------------------------------


@dataclass
class _Event:
    type: str
    object: str | None
    record_id: int | None
    filter_object: str | None
    data: dict
    reload: ObjectType | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    tx: SessionTransaction | None = None


def _add(ev: _Event) -> None:
    s = session()
    ev.tx = s.get_nested_transaction() or s.get_transaction()
    pending = s.info.setdefault(OUTBOX, [])
    pending.append(ev)
    if len(pending) >= FLUSH_AT:
        flush(s)


def flush(s: Session) -> int:
    """Write the waiting events as deliveries (in the current transaction); returns how many."""
    pending = s.info.pop(OUTBOX, None)
    tenant = current_tenant()
    if not pending or tenant is None:
        return 0
    _read_back(pending)
    subs = subscriptions()
    rows = []
    for ev in pending:
        body = None
        for sub in subs:
            if sub.matches(ev.type, ev.filter_object):
                body = body or event_body(ev.id, ev.type, tenant.slug, ev.data, ev.at)
                rows.append({"subscription_id": sub.id, "event_id": ev.id, "event_type": ev.type,
                             "object": ev.object, "record_id": ev.record_id, "body": body})  # fmt: skip
    if rows:
        s.execute(insert(WebhookDelivery.__table__), rows)
        s.info.setdefault(KICKS, set()).update(r["subscription_id"] for r in rows)
    return len(rows)


def _read_back(pending: list[_Event]) -> None:
    """Records a bulk write handed over as the values it wrote: the whole rows, read in
    one query per object (defaults and audit times included)."""
    from saas.modules.records.bulk import load

    by_type: dict[str, list[_Event]] = {}
    for ev in pending:
        if ev.reload is not None:
            by_type.setdefault(ev.reload.name, []).append(ev)
    for name, events in by_type.items():
        otype = get(name)
        rows = load(otype, list({ev.record_id for ev in events}), plain=True)
        for ev in events:
            if ev.record_id in rows:
                ev.data = {**ev.data, "record": record_json(otype, rows[ev.record_id])}


def _within(tx: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while tx is not None:
        if tx is ended:
            return True
        tx = tx.parent
    return False


@sa_event.listens_for(Session, "before_commit")
def _before_commit(s: Session) -> None:
    if s.info.get(OUTBOX):
        flush(s)
    kicks = None if s.in_nested_transaction() else s.info.pop(KICKS, None)
    if kicks and current_tenant() is not None:
        from saas.jobs import enqueue
        from saas.modules.webhooks.jobs import deliver

        for sub_id in sorted(kicks):
            enqueue(deliver, sub_id)  # after this commit; a lost one is the sweep's


@sa_event.listens_for(Session, "after_soft_rollback")
def _after_rollback(s: Session, ended: SessionTransaction) -> None:
    if ended.parent is None:
        for key in (OUTBOX, KICKS, SUBS):
            s.info.pop(key, None)
    elif s.info.get(OUTBOX):
        s.info[OUTBOX] = [ev for ev in s.info[OUTBOX] if not _within(ev.tx, ended)]


@sa_event.listens_for(Session, "after_commit")
def _after_commit(s: Session) -> None:
    if not s.in_nested_transaction():
        s.info.pop(SUBS, None)  # another unit of work may change them from now on
