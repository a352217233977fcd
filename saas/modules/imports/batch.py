"""One batch of an import: its rows parsed, matched to existing records by the
dedupe key, written through the records' bulk path (or record by record when a
workflow rule must see each write), logged for revert, and its rejected rows kept
for the error report. Runs inside the batch's unit of work (see ``engine``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from psycopg.types.json import Jsonb

from saas.db import session
from saas.modules.imports.models import Import, ImportProblem, ImportRow
from saas.modules.imports.plan import Parsed, Plan
from saas.modules.records import bulk, service
from saas.modules.records.fields import jsonable
from saas.modules.records.registry import ObjectType


@dataclass
class Outcome:
    logged: list[list] = field(default_factory=list)  # import_rows lines
    problems: list[list] = field(default_factory=list)  # import_problems lines


class Batch:
    """The rows of one batch, written in one transaction."""

    def __init__(self, imp: Import, plan: Plan, settle=lambda: None):
        """``settle()`` is called before the batch's records are written (see
        ``bulk.SearchMerge.settle``)."""
        self.settle = settle
        self.imp = imp
        self.otype: ObjectType = plan.otype
        self.plan = plan
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

    def write(self, rows, parsed: list[Parsed]) -> None:
        """``parsed``: :meth:`Plan.parse` of the cells of the rows without a problem."""
        good = []
        for row in rows:
            self.cells[row.number] = row.cells
            if row.problem:
                self.failed(row.number, row.problem)
            else:
                good.append(row)
        self.plan.resolve(parsed)
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
        existing = (
            bulk.find(
                self.otype, self.otype.column(self.key), {p.values.get(self.key) for _n, p in items}
            )
            if self.key
            else {}
        )
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
        self.settle()
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
        self.settle()
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
            before = {name: jsonable(old) for name, (old, _new) in changed.items()}
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
