"""Imports from the user's side: upload, mapping, preview, start, cancel, revert, the
report of rejected rows and the progress a browser polls. Flushes, never commits."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from saas import chunks, tracked
from saas.db import session
from saas.modules.imports import mapping, storage
from saas.modules.imports.models import (
    MODES,
    Import,
    ImportProblem,
    ImportRow,
    SavedMapping,
)
from saas.modules.imports.plan import Plan
from saas.modules.imports.reader import FileError, Sniffed, open_table, sniff
from saas.modules.records.registry import ObjectType, get
from saas.modules.workspace.service import settings

PREVIEW_ROWS = 10
PREVIEW_BYTES = 4 * 1024 * 1024


class ImportError_(ValueError):
    """A sentence for the user: what to change before the import can go on."""


def importable(otype: ObjectType) -> bool:
    return otype.creatable


# -- upload ------------------------------------------------------------------------------


def upload(
    otype: ObjectType, filename: str, stream, *, user_id: int, encoding: str | None = None
) -> Import:
    """Keep the file and read its header; the import waits for its mapping."""
    imp = Import(
        object=otype.name,
        user_id=user_id,
        filename=(filename or "upload")[-255:],
        size=0,
        format="csv",
    )
    session().add(imp)
    session().flush()
    # Read from the local copy made while storing: not fetched back from the database.
    with storage.temp_path(imp.id, _suffix(imp)) as path:
        with path.open("wb") as copy:
            try:
                imp.size = storage.save(imp.id, stream, also=copy)
            except chunks.TooLarge:
                limit = current_app.config["IMPORT_MAX_BYTES"] // (1024 * 1024)
                raise ImportError_(
                    _("The file is larger than %(mb)d MB. Split it into smaller files.", mb=limit)
                ) from None
        if imp.size == 0:
            raise ImportError_(
                _("The file is empty. Choose a CSV or Excel file with a header row.")
            )
        _read_header(imp, path, encoding)
    imp.mapping = mapping.suggest(otype, imp.header, _saved_columns(otype, imp.header))
    imp.dedupe = default_key(otype)
    return imp


def _suffix(imp: Import) -> str:
    """The upload's own extension (openpyxl reads only files named like a workbook)."""
    return (imp.filename.rsplit(".", 1)[-1].lower() if "." in imp.filename else "csv")[:10]


def read_header(imp: Import, encoding: str | None = None) -> None:
    """Sniff the stored file again (``encoding`` overrides the guess) and read its header."""
    with storage.temp_path(imp.id, _suffix(imp)) as path:
        storage.copy_to(imp.id, path)
        _read_header(imp, path, encoding)


def _read_header(imp: Import, path, encoding: str | None) -> None:
    try:
        found = sniff(path, imp.filename, encoding=encoding)
        table = open_table(path, found)
    except FileError as exc:
        raise ImportError_(str(exc)) from None
    imp.format, imp.encoding, imp.delimiter = found.format, found.encoding, found.delimiter
    imp.header = list(table.header)


def sniffed(imp: Import) -> Sniffed:
    return Sniffed(imp.format, imp.encoding, imp.delimiter)


def default_key(otype: ObjectType) -> str | None:
    keys = dedupe_keys(otype)
    return keys[0][0] if keys else None


def dedupe_keys(otype: ObjectType) -> list[tuple[str, object]]:
    """Fields that can find an existing record: e-mail, and every unique field (an
    external id from another system is a unique custom field)."""
    out = [(f.name, f.label) for f in otype.fields if f.name == "email"]
    out += [(f.name, f.label) for f in otype.fields if f.unique and f.name != "email"]
    return out


# -- mapping and options -----------------------------------------------------------------


def configure(imp: Import, form) -> None:
    """Take the mapping screen's choices; raises :class:`ImportError_` naming what to fix."""
    otype = get(imp.object)
    valid = {f.name for f in mapping.targets(otype)}
    if mapping.has_full_name(otype):
        valid.add(mapping.FULL_NAME)
    chosen, used = [], set()
    for index, _text in enumerate(imp.header):
        name = form.get(f"field_{index}", "")
        if name and name not in valid:
            raise ImportError_(_("Column %(n)d: choose a field from the list.", n=index + 1))
        if name and name in used:
            label = otype.field(name).label if otype.field(name) else _("Name")
            raise ImportError_(_("Two columns go to %(field)s; choose one.", field=label))
        used.add(name)
        by = form.get(f"by_{index}", "name")
        f = otype.field(name) if name else None
        if (
            f is not None
            and f.type in {"lookup", "user"}
            and by not in dict(mapping.ways(otype, f))
        ):
            by = "name"
        chosen.append({"field": name, "by": by})
    if not used - {""}:
        raise ImportError_(_("Choose a field for at least one column."))
    mode = form.get("mode", "insert")
    if mode not in MODES:
        raise ImportError_(_("Choose insert, update or insert and update."))
    key = form.get("dedupe") or None
    if key is not None and key not in dict(dedupe_keys(otype)):
        raise ImportError_(_("Choose a field that finds existing records."))
    if mode != "insert" and key is None:
        raise ImportError_(_("To update records, choose the field that finds them."))
    if key is not None and mode != "insert" and key not in used:
        field = otype.field(key).label
        raise ImportError_(
            _("Map a column to %(field)s: it finds the records to update.", field=field)
        )
    imp.mapping, imp.mode, imp.dedupe = chosen, mode, key
    imp.create_missing = form.get("create_missing") == "on"
    if form.get("save_as", "").strip():
        save_mapping(imp, form["save_as"].strip()[:100])


def save_mapping(imp: Import, name: str) -> SavedMapping:
    columns = {
        text: choice
        for text, choice in zip(imp.header, imp.mapping, strict=False)
        if choice.get("field")
    }
    saved = SavedMapping(object=imp.object, name=name, columns=columns, user_id=imp.user_id)
    session().add(saved)
    session().flush()
    return saved


def saved_mappings(otype: ObjectType) -> list[SavedMapping]:
    stmt = select(SavedMapping).where(SavedMapping.object == otype.name).order_by(SavedMapping.name)
    return list(session().execute(stmt).scalars())


def apply_saved(imp: Import, mapping_id: int) -> bool:
    saved = session().get(SavedMapping, mapping_id)
    if saved is None or saved.object != imp.object:
        return False
    imp.mapping = mapping.suggest(get(imp.object), imp.header, saved.columns)
    return True


def _saved_columns(otype: ObjectType, header: list[str]) -> dict | None:
    """The saved mapping that knows the most of these headers, if it knows any."""
    best, score = None, 0
    for saved in saved_mappings(otype):
        known = sum(1 for text in header if text in saved.columns)
        if known > score:
            best, score = saved, known
    return best.columns if best else None


# -- preview -----------------------------------------------------------------------------


def preview(imp: Import) -> list[dict]:
    """The first rows as they would be imported: values shown, or why a row fails."""
    otype = get(imp.object)
    plan = Plan(otype, imp.mapping, settings().get("timezone", "UTC"), actor=imp.user_id)
    with storage.temp_path(imp.id, imp.format) as path:
        # A CSV's first rows are at its start: the mapping page need not copy 100 MB.
        storage.copy_to(imp.id, path, limit=PREVIEW_BYTES if imp.format == "csv" else None)
        try:
            rows = list(islice(open_table(path, sniffed(imp)).rows(), PREVIEW_ROWS))
        except FileError as exc:
            raise ImportError_(str(exc)) from None
    session().begin_nested()  # lookups may create accounts here: none of it stays
    try:
        parsed = plan.parse_rows([r.cells for r in rows])
        fresh = [p for p in parsed if not p.blank]
        plan.complete(fresh)
    finally:
        session().rollback()
    out = []
    for row, p in zip(rows, parsed, strict=True):
        problems = [row.problem] if row.problem else p.errors
        out.append({"number": row.number, "cells": row.cells, "errors": problems, "blank": p.blank})
    return out


# -- running -----------------------------------------------------------------------------


def start(imp: Import) -> None:
    """Queue the import (after the commit); the reconciler watches it from here on."""
    if imp.status != "uploaded":
        raise ImportError_(_("This import has started already."))
    imp.status = "queued"
    tracked.start("import", imp.id)


def cancel(imp: Import) -> None:
    """Stop after the current batch; what earlier batches brought in stays (revert it)."""
    if imp.status == "uploaded":
        imp.status, imp.finished_at = "cancelled", datetime.now(UTC)
    elif imp.status in {"queued", "running"}:
        imp.cancel_requested = True
    else:
        raise ImportError_(_("Only an import that has not finished can be cancelled."))


def revert(imp: Import) -> None:
    """Queue the undoing of an import: what it created goes to the recycle bin, what it
    updated gets its earlier values back."""
    if imp.status not in {"done", "cancelled", "failed"}:
        raise ImportError_(_("Wait for the import to finish before reverting it."))
    if not imp.created and not imp.updated:
        raise ImportError_(_("This import changed nothing; there is nothing to revert."))
    imp.status = "reverting"
    imp.run_started_at, imp.run_started_done = datetime.now(UTC), imp.reverted
    tracked.start("revert", imp.id)


# -- reading -----------------------------------------------------------------------------


def visible(user, *, admin: bool):
    """A SELECT of the imports ``user`` may see: an admin all of them, others their own."""
    stmt = select(Import).order_by(Import.id.desc())
    return stmt if admin else stmt.where(Import.user_id == user)


def find(import_id: int, user, *, admin: bool) -> Import | None:
    if not 0 < import_id < 2**63:
        return None
    return (
        session()
        .execute(visible(user, admin=admin).where(Import.id == import_id))
        .scalar_one_or_none()
    )


def progress(imp: Import) -> dict:
    """What the progress bar shows (see static/progress.js)."""
    reverting = imp.status in {"reverting", "reverted"}
    done = imp.reverted if reverting else imp.done
    total = (imp.created + imp.updated) if reverting else imp.total
    rate = eta = None
    if imp.status in {"running", "reverting"} and imp.run_started_at is not None:
        seconds = (datetime.now(UTC) - imp.run_started_at).total_seconds()
        moved = done - imp.run_started_done
        if seconds > 0 and moved > 0:
            rate = moved / seconds
            if total:
                eta = int(max(total - done, 0) / rate)
    finished = imp.status not in {"queued", "running", "reverting"}
    return {
        "status": imp.status,
        "done": done,
        "total": total,
        "rate": round(rate, 1) if rate else None,
        "eta_s": eta,
        "finished": finished,
        "label": status_text(imp, done, total, rate, eta),
    }


STATUS_LABELS = {
    "uploaded": _l("Waiting for its mapping"),
    "queued": _l("Waiting for a worker"),
    "running": _l("Importing"),
    "done": _l("Finished"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
    "reverting": _l("Reverting"),
    "reverted": _l("Reverted"),
}


def status_label(imp: Import) -> str:
    if imp.status == "queued" and imp.done:  # it handed its worker over (see jobs.Turn)
        return _("Waiting for its turn (other jobs go first)")
    return str(STATUS_LABELS.get(imp.status, imp.status))


def status_text(imp: Import, done: int, total: int | None, rate, eta) -> str:
    parts = [status_label(imp)]
    if total:
        parts.append(_("%(done)s of %(total)s rows", done=f"{done:,}", total=f"{total:,}"))
    if rate:
        parts.append(_("%(rate)s rows/s", rate=f"{rate:,.0f}"))
    if eta is not None:
        parts.append(_("about %(time)s left", time=_duration(eta)))
    return " · ".join(parts)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return _("%(n)d s", n=seconds)
    if seconds < 3600:
        return _("%(n)d min", n=seconds // 60 + 1)
    return _("%(h)d h %(m)d min", h=seconds // 3600, m=seconds % 3600 // 60)


def problem_count(imp: Import) -> int:
    return (
        session()
        .execute(select(func.count()).where(ImportProblem.import_id == imp.id))
        .scalar_one()
    )


def problems(imp: Import, limit: int = 20) -> list[ImportProblem]:
    stmt = (
        select(ImportProblem)
        .where(ImportProblem.import_id == imp.id)
        .order_by(ImportProblem.row)
        .limit(limit)
    )
    return list(session().execute(stmt).scalars())


def streamed_report(import_id: int) -> Iterator[str]:
    """:func:`error_report` for a response that streams after the request's unit of work
    has ended: read in a unit of work of its own."""
    from saas.db import current_tenant, db

    tenant = current_tenant()  # now: the generator runs once the request's scope is gone

    def rows() -> Iterator[str]:
        with db.scope(tenant):
            yield from error_report(session().get(Import, import_id))

    return rows()


def error_report(imp: Import) -> Iterator[str]:
    """CSV of the rows not imported: the file's own columns plus the reason, so the file
    can be fixed and imported again (the reason column maps to no field)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*imp.header, _("Import error (row)")])
    yield "\ufeff" + buffer.getvalue()
    stmt = (
        select(ImportProblem.row, ImportProblem.cells, ImportProblem.reason)
        .where(ImportProblem.import_id == imp.id)
        .order_by(ImportProblem.row)
        .execution_options(yield_per=2000)
    )
    for part in session().execute(stmt).partitions(2000):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row, cells, reason in part:
            writer.writerow([*cells, _("Row %(n)d: %(reason)s", n=row, reason=reason)])
        yield buffer.getvalue()


def logged_count(imp: Import) -> int:
    return session().execute(select(func.count()).where(ImportRow.import_id == imp.id)).scalar_one()
