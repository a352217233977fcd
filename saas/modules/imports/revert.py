"""Undoing an import, batch by batch like the import itself: what it created goes to
the recycle bin, what it updated gets back the values it had before the import.

Resumable the same way: each batch commits with ``revert_upto`` (the last log row
handled) under the import's row lock.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Date, DateTime, Numeric, func, select
from sqlalchemy import update as sql_update

from saas import tracked
from saas.db import current_tenant, db, session
from saas.jobs import Turn
from saas.modules.imports.engine import finish, locked
from saas.modules.imports.models import ImportRow
from saas.modules.records import bulk, service
from saas.modules.records.registry import ObjectType, get


def run(import_id: int) -> str:
    tenant = current_tenant()
    size = current_app.config["IMPORT_BATCH_ROWS"]
    turn = Turn(current_app.config["IMPORT_TURN_SECONDS"])
    with db.scope(tenant):
        imp = locked(import_id)
        if imp is None or imp.status != "reverting":
            return "nothing to revert"
        position = imp.revert_upto
        tracked.beat("revert", import_id)
    while True:
        with db.scope(tenant):
            imp = locked(import_id)
            if imp is None or imp.status != "reverting" or imp.revert_upto != position:
                return "taken over by another run"
            rows = (
                session()
                .execute(
                    select(ImportRow.row, ImportRow.record_id, ImportRow.before)
                    .where(ImportRow.import_id == import_id, ImportRow.row > position)
                    .order_by(ImportRow.row)
                    .limit(size)
                )
                .all()
            )
            if not rows:
                finish(imp, "reverted")
                return "reverted"
            otype = get(imp.object)
            note = {"import_revert": imp.id}
            _remove(otype, [r.record_id for r in rows if r.before is None], imp.user_id, note)
            refused = _restore(
                otype,
                [(r.record_id, r.before) for r in rows if r.before is not None],
                imp.user_id,
                note,
            )
            if refused:  # a validation rule added since, say: the admin reads why
                imp.error = _(
                    "%(n)d records kept their imported values: %(reason)s",
                    n=refused[0],
                    reason=refused[1],
                )
            imp.reverted += len(rows)
            imp.revert_upto = position = rows[-1].row
            tracked.beat("revert", import_id)
            if len(rows) == size and turn.over():  # other jobs wait: go on behind them
                tracked.start("revert", import_id)
                return "waiting for its turn"


def _remove(otype: ObjectType, ids: list[int], actor: int | None, note: dict) -> None:
    if not ids:
        return
    model = otype.model
    gone = (
        session()
        .execute(
            sql_update(model)
            .where(model.id.in_(ids), model.deleted_at.is_(None))
            .values(deleted_at=func.now())
            .returning(model.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    bulk.timeline(otype, [(i, "deleted", note) for i in gone], actor)


def _restore(
    otype: ObjectType, items: list[tuple[int, dict]], actor, note
) -> tuple[int, str] | None:
    """Put the earlier values back; returns (count, a reason) of records that refused."""
    if not items:
        return None
    fast = bulk.fits(otype, "updated")
    records = bulk.load(otype, [record_id for record_id, _b in items], plain=fast)
    rows = [
        (record_id, records[record_id], _values(otype, before))
        for record_id, before in items
        if record_id in records
    ]
    if fast:
        errors = bulk.update(otype, rows, actor=actor, note=note).errors
    else:
        errors = {}
        for key, record, values in rows:
            try:
                with session().begin_nested():
                    service.update(otype, record, values, actor=actor, trusted=True)
            except service.ValidationErrors as exc:
                errors[key] = " ".join(exc.errors.values())
    if not errors:
        return None
    return len(errors), next(iter(errors.values()))


def _values(otype: ObjectType, before: dict) -> dict:
    """Stored JSON back to the column's Python type (what the record held)."""
    table = otype.shape.table
    out = {}
    for name, value in before.items():
        if name not in table.c or otype.field(name) is None:
            continue  # a field deleted since the import
        kind = table.c[name].type
        if value is not None and isinstance(kind, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(kind, Date):
            value = date.fromisoformat(value)
        elif value is not None and isinstance(kind, Numeric):
            value = Decimal(str(value))
        out[name] = value
    return out
