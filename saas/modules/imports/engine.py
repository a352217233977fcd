"""Running an import: batch after batch, each its own committed unit of work.

A batch locks the import's row, checks that the import is still where this
runner left it (``done``), writes its records, its log and its rejected rows
and moves ``done`` on, all in one transaction. A runner killed mid-batch loses
only that uncommitted batch, which the next runner does again from the file;
two runners of one import cannot both write a batch (the second one finds
``done`` moved and stops).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from psycopg.types.json import Jsonb
from sqlalchemy import any_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from saas.db import current_tenant, db, session
from saas.modules.imports import storage
from saas.modules.imports.models import Import, ImportProblem, ImportRow, TrackedJob
from saas.modules.imports.plan import Parsed, Plan
from saas.modules.imports.reader import FileError, Sniffed, open_table
from saas.modules.notifications.service import batched, muted, notify, tenant_locale
from saas.modules.records import bulk, service
from saas.modules.records.registry import ObjectType, get
from saas.modules.workspace.service import settings

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


def locked(import_id: int) -> Import | None:
    stmt = (
        select(Import)
        .where(Import.id == import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session().execute(stmt).scalar_one_or_none()


def heartbeat(kind: str, import_id: int) -> None:
    import uuid

    session().execute(
        update(TrackedJob)
        .where(
            TrackedJob.tenant_id == uuid.UUID(current_tenant().id),
            TrackedJob.kind == kind,
            TrackedJob.ref_id == import_id,
        )
        .values(heartbeat_at=now())
    )


def row_limit(plan: str) -> int:
    limits = current_app.config["IMPORT_MAX_ROWS"]
    return limits.get(plan, limits["default"])


def run(import_id: int) -> str:
    """Bring an import's file in, from where it stands; returns what happened."""
    tenant = current_tenant()
    with db.scope(tenant):
        imp = locked(import_id)
        if imp is None:
            return "gone"
        if imp.status not in {"queued", "running"}:
            return f"already {imp.status}"
        if imp.cancel_requested:
            finish(imp, "cancelled")
            return "cancelled"
        imp.status, imp.run_started_at, imp.run_started_done = "running", now(), imp.done
        heartbeat("import", import_id)
        sniffed = Sniffed(imp.format, imp.encoding, imp.delimiter)
        position, total = imp.done, imp.total
    with storage.temp_path(import_id, sniffed.format) as path:
        with db.scope(tenant):
            storage.copy_to(import_id, path)
        try:
            table = open_table(path, sniffed)
            if total is None:
                total = table.count()
                if (error := _too_many(total)) is not None:
                    return _fail(import_id, error)
                with db.scope(tenant):
                    imp = locked(import_id)
                    imp.total = total
                    heartbeat("import", import_id)
            rows = table.rows(start=position)
            size = current_app.config["IMPORT_BATCH_ROWS"]
            pause = current_app.config["IMPORT_PAUSE_MS"] / 1000
            while batch := list(islice(rows, size)):
                # Owners hear once, when the import ends (see finish); the rest is
                # summarised per batch instead of one notification per row.
                with db.scope(tenant), batched(), muted("assigned"):
                    imp = locked(import_id)
                    if imp is None or imp.status != "running" or imp.done != position:
                        return "taken over by another run"
                    if imp.cancel_requested:
                        finish(imp, "cancelled")
                        return "cancelled"
                    Batch(imp).write(batch)
                    imp.done = position = position + len(batch)
                    heartbeat("import", import_id)
                if pause:
                    time.sleep(pause)
        except FileError as exc:
            return _fail(import_id, str(exc))
    with db.scope(tenant):
        imp = locked(import_id)
        if imp is not None and imp.status == "running" and imp.done == position:
            imp.total = position  # what the file really held (blank lines are not rows)
            finish(imp, "done")
    return "done"


def _too_many(total: int) -> str | None:
    limit = row_limit(current_tenant().plan)
    if total == 0:
        return _("The file has column names but no rows.")
    if total > limit:
        return _(
            "The file has %(n)s rows; your plan imports up to %(limit)s at a time. "
            "Split it into smaller files.",
            n=f"{total:,}",
            limit=f"{limit:,}",
        )
    return None


def _fail(import_id: int, error: str) -> str:
    with db.scope(current_tenant()):
        imp = locked(import_id)
        if imp is not None:
            imp.error = error
            finish(imp, "failed")
    return "failed"


def finish(imp: Import, status: str) -> None:
    """Close a run: its status, the tracked job gone, the user told."""
    import uuid

    imp.status, imp.finished_at = status, now()
    session().execute(
        TrackedJob.__table__.delete().where(
            TrackedJob.tenant_id == uuid.UUID(current_tenant().id),
            TrackedJob.ref_id == imp.id,
        )
    )
    titles = {
        "done": _l("Import of %(file)s finished", file=imp.filename),
        "failed": _l("Import of %(file)s failed", file=imp.filename),
        "cancelled": _l("Import of %(file)s was cancelled", file=imp.filename),
        "reverted": _l("Import of %(file)s was reverted", file=imp.filename),
    }
    if status in {"done", "cancelled"}:
        _tell_owners(imp)
    if status not in titles:
        return
    with force_locale(tenant_locale()):  # stored once, read in the company's language
        body = _(
            "%(created)s created, %(updated)s updated, %(skipped)s skipped, %(failed)s failed.",
            created=imp.created,
            updated=imp.updated,
            skipped=imp.skipped,
            failed=imp.failed,
        )
        if imp.error:
            body = imp.error
        notify(
            [imp.user_id],
            kind="import_finished",
            title=str(titles[status]),
            body=body if status != "reverted" else "",
            url=f"/imports/{imp.id}",
            key=f"import:{imp.id}:{status}",
        )


def _tell_owners(imp: Import) -> None:
    """One notification per person the import gave records to (not per record)."""
    otype = get(imp.object)
    if "owner_id" not in otype.by_name:
        return
    model = otype.model
    given = or_(ImportRow.before.is_(None), ImportRow.before.has_key("owner_id"))
    counts = (
        session()
        .execute(
            select(model.owner_id, func.count())
            .join(ImportRow, ImportRow.record_id == model.id)
            .where(ImportRow.import_id == imp.id, given, model.owner_id != imp.user_id)
            .group_by(model.owner_id)
        )
        .all()
    )
    for owner, n in counts:
        with force_locale(tenant_locale()):
            notify(
                [owner],
                kind="assigned",
                title=ngettext(
                    "The import of %(file)s gave you %(num)d %(object)s",
                    "The import of %(file)s gave you %(num)d %(objects)s",
                    n,
                    file=imp.filename,
                    object=str(otype.label).lower(),
                    objects=str(otype.plural).lower(),
                ),
                url=f"/{otype.slug}/?owner_id={owner}",
                key=f"import:{imp.id}:assigned",
            )


# -- one batch -------------------------------------------------------------------------------


@dataclass
class Outcome:
    logged: list[list] = field(default_factory=list)  # import_rows lines
    problems: list[list] = field(default_factory=list)  # import_problems lines


class Batch:
    """The rows of one batch, written in one transaction."""

    def __init__(self, imp: Import):
        self.imp = imp
        self.otype: ObjectType = get(imp.object)
        tz = settings().get("timezone", "UTC")
        self.plan = Plan(
            self.otype, imp.mapping, tz, create_missing=imp.create_missing, actor=imp.user_id
        )
        self.key = imp.dedupe if imp.dedupe and self.otype.field(imp.dedupe) else None
        self.out = Outcome()
        self.cells: dict[int, list[str]] = {}

    # -- outcome of a row --

    def failed(self, number: int, reason: str, *, skipped: bool = False) -> None:
        self.out.problems.append(
            [self.imp.id, number, skipped, Jsonb(self.cells[number]), reason[:2000]]
        )
        if skipped:
            self.imp.skipped += 1
        else:
            self.imp.failed += 1

    def write(self, rows) -> None:
        good = []
        for row in rows:
            self.cells[row.number] = row.cells
            if row.problem:
                self.failed(row.number, row.problem)
            else:
                good.append(row)
        parsed = self.plan.parse_rows([r.cells for r in good])
        pending = []
        for row, p in zip(good, parsed, strict=True):
            if p.blank:
                self.failed(row.number, _("The row is empty."), skipped=True)
            elif p.errors:
                self.failed(row.number, " ".join(p.errors))
            else:
                pending.append((row.number, p))
        while pending:  # a key seen twice in a batch: the second waits for the first's write
            seen, now_, later = set(), [], []
            for item in pending:
                k = item[1].values.get(self.key) if self.key else None
                if k is not None and k in seen:
                    later.append(item)
                else:
                    seen.add(k)
                    now_.append(item)
            self._round(now_)
            pending = later
        self._log()

    def _round(self, items: list[tuple[int, Parsed]]) -> None:
        existing = self._existing([p.values.get(self.key) for _n, p in items]) if self.key else {}
        mode = self.imp.mode
        creates, updates = [], []
        label = self.otype.field(self.key).label if self.key else ""
        for number, p in items:
            k = p.values.get(self.key) if self.key else None
            ids = existing.get(k, []) if k is not None else []
            if len(ids) > 1 and mode != "insert":
                self.failed(
                    number,
                    _(
                        "%(n)d records have this %(field)s; make it unique to update by it.",
                        n=len(ids),
                        field=label,
                    ),
                )
            elif mode == "insert" and ids:
                self.failed(
                    number,
                    _(
                        "Skipped: a record with this %(field)s exists already (#%(id)d).",
                        field=label,
                        id=ids[0],
                    ),
                    skipped=True,
                )
            elif mode == "update" and not ids:
                reason = (
                    _("Skipped: no %(field)s to find the record by.", field=label)
                    if k is None
                    else _("Skipped: no record has this %(field)s.", field=label)
                )
                self.failed(number, reason, skipped=True)
            elif ids:
                updates.append((number, ids[0], p))
            else:
                creates.append((number, p))
        if creates:
            self._create(creates)
        if updates:
            self._update(updates)

    def _existing(self, keys: list) -> dict:
        keys = [k for k in keys if k is not None]
        if not keys:
            return {}
        column = self.otype.column(self.key)
        stmt = (
            service.select_records(self.otype)
            .with_only_columns(column, self.otype.model.id)
            .where(column == any_(bindparam("keys", list(set(keys)), type_=ARRAY(column.type))))
        )
        found: dict = {}
        for value, record_id in session().execute(stmt):
            found.setdefault(value, []).append(record_id)
        return found

    def _create(self, items: list[tuple[int, Parsed]]) -> None:
        self.plan.complete([p for _n, p in items])
        rows = []
        for number, p in items:
            if p.errors:
                self.failed(number, " ".join(p.errors))
            else:
                rows.append((number, p.values))
        if not rows:
            return
        actor = self.imp.user_id
        if bulk.fits(self.otype, "created"):
            written = bulk.create(self.otype, rows, actor=actor, note={"import": self.imp.id})
            ids, errors = written.ids, written.errors
        else:
            ids, errors = {}, {}
            for number, values in rows:
                try:
                    with session().begin_nested():
                        ids[number] = service.create(
                            self.otype, values, actor=actor, trusted=True
                        ).id
                except service.ValidationErrors as exc:
                    errors[number] = " ".join(exc.errors.values())
        for number, reason in errors.items():
            self.failed(number, reason)
        for number, record_id in ids.items():
            self.out.logged.append([self.imp.id, number, record_id, None])
        self.imp.created += len(ids)

    def _update(self, items: list[tuple[int, int, Parsed]]) -> None:
        fast = bulk.fits(self.otype, "updated")
        records = bulk.load(self.otype, [record_id for _n, record_id, _p in items], plain=fast)
        actor = self.imp.user_id
        rows = [(n, records[rid], p.values) for n, rid, p in items if rid in records]
        changes: dict[int, dict] = {}
        errors: dict[int, str] = {}
        if fast:
            written = bulk.update(self.otype, rows, actor=actor, note={"import": self.imp.id})
            changes, errors = written.changes, written.errors
        else:
            for number, record, values in rows:
                try:
                    with session().begin_nested():
                        changed = service.update(
                            self.otype, record, values, actor=actor, trusted=True
                        )
                    if changed:
                        changes[number] = changed
                except service.ValidationErrors as exc:
                    errors[number] = " ".join(exc.errors.values())
        for number, reason in errors.items():
            self.failed(number, reason)
        by_number = {n: rid for n, rid, _p in items}
        for number, changed in changes.items():
            before = {name: _jsonable(old) for name, (old, _new) in changed.items()}
            self.out.logged.append([self.imp.id, number, by_number[number], Jsonb(before)])
        self.imp.updated += len(changes)
        self.imp.unchanged += len(rows) - len(changes) - len(errors)

    def _log(self) -> None:
        if self.out.logged:
            columns = ["import_id", "row", "record_id", "before"]
            bulk.copy_into(ImportRow.__table__, columns, self.out.logged)
        if self.out.problems:
            columns = ["import_id", "row", "skipped", "cells", "reason"]
            bulk.copy_into(ImportProblem.__table__, columns, self.out.problems)


def _jsonable(value):
    return service._jsonable(value)
