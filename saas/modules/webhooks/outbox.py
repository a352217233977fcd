"""The outbox: events wait in the unit of work and become delivery rows in its transaction.

Events wait in ``session.info`` and go to ``webhook_deliveries`` (one row per
subscription that wants them) in one set-based INSERT per thousand, at the latest just
before the transaction, or the savepoint, commits: a change that rolls back sends
nothing (a savepoint that rolls back takes its events with it), a committed one is never
lost. The delivery jobs are enqueued once the outermost transaction has committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

from flask import has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, SessionTransaction

from saas.db import current_tenant, session
from saas.modules.records.registry import ObjectType, get
from saas.modules.webhooks.models import WebhookDelivery, WebhookSubscription
from saas.modules.webhooks.payload import event_body, record_json

FLUSH_AT = 1000  # events kept in memory before they are written (bulk imports)
OUTBOX, SUBS, KICKS = "saas.webhooks.outbox", "saas.webhooks.subs", "saas.webhooks.kicks"


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


@dataclass
class Event:
    """One event waiting for the commit."""

    type: str
    object: str | None
    record_id: int | None
    filter_object: str | None
    data: dict
    reload: ObjectType | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    tx: SessionTransaction | None = None


def add(ev: Event) -> None:
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


def _read_back(pending: list[Event]) -> None:
    """Records a bulk write handed over as the values it wrote: the whole rows, read in
    one query per object (defaults and audit times included), whoever may see them."""
    by_type: dict[str, list[Event]] = {}
    for ev in pending:
        if ev.reload is not None:
            by_type.setdefault(ev.reload.name, []).append(ev)
    for name, found in by_type.items():
        otype = get(name)
        table = otype.model.__table__
        columns = [c for c in table.c if c.name != "search"]
        custom = [f.name for f in otype.custom_fields]
        names = [c.key for c in columns] + custom
        stmt = select(*columns, *(otype.column(n) for n in custom)).where(
            table.c.id.in_({ev.record_id for ev in found})
        )
        rows = {
            row.id: SimpleNamespace(**dict(zip(names, row, strict=True)))
            for row in session().execute(stmt)
        }
        for ev in found:
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
    # Without an app (a script's bare unit of work) there is no queue: the sweep sends them.
    if kicks and current_tenant() is not None and has_app_context():
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
