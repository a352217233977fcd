"""Running an import: batch after batch, each its own committed unit of work.

A batch locks the import's row, checks that the import is still where this
runner left it (``done``), writes its records, its log and its rejected rows
and moves ``done`` on, all in one transaction. A runner killed mid-batch loses
only that uncommitted batch, which the next runner does again from the file;
two runners of one import cannot both write a batch (the second one finds
``done`` moved and stops).
"""

from __future__ import annotations

import contextvars
import gc
import logging
import queue
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import count, islice

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from saas import tracked
from saas.db import current_tenant, db, session
from saas.jobs import Turn
from saas.modules.imports import storage
from saas.modules.imports.batch import Batch
from saas.modules.imports.models import Import, ImportRow
from saas.modules.imports.plan import Plan
from saas.modules.imports.reader import FileError, Sniffed, open_table
from saas.modules.notifications.service import batched, muted, notify, tenant_locale
from saas.modules.records.bulk import SearchMerge, Statistics
from saas.modules.records.registry import get
from saas.modules.workspace.service import settings

log = logging.getLogger(__name__)
# fn(imp, status) when a run ends, in its transaction (webhooks' import.finished).
finish_listeners: list = []


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


def row_limit(plan: str) -> int:
    limits = current_app.config["IMPORT_MAX_ROWS"]
    return limits.get(plan, limits["default"])


def run(import_id: int) -> str:
    """Bring an import's file in, from where it stands; returns what happened."""
    tenant = current_tenant()
    turn = Turn(current_app.config["IMPORT_TURN_SECONDS"])
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
        tracked.beat("import", import_id)
        sniffed = Sniffed(imp.format, imp.encoding, imp.delimiter)
        position, total = imp.done, imp.total
        plan = Plan(
            get(imp.object),
            imp.mapping,
            settings().get("timezone", "UTC"),
            create_missing=imp.create_missing,
            actor=imp.user_id,
        )
    with storage.temp_path(import_id, sniffed.format) as path:
        with db.scope(tenant):
            storage.copy_to(import_id, path)
        try:
            table = open_table(path, sniffed)
            if total is None:
                total = table.estimate()
                if total > row_limit(current_tenant().plan):
                    total = table.count()  # exactly, before refusing the file
                if (error := _too_many(total)) is not None:
                    return _fail(import_id, error)
                with db.scope(tenant):
                    imp = locked(import_id)
                    imp.total = total
                    tracked.beat("import", import_id)
            size = current_app.config["IMPORT_BATCH_ROWS"]
            pause = current_app.config["IMPORT_PAUSE_MS"] / 1000
            with db.scope(tenant):
                statistics = Statistics(plan.otype, least=size)
            with (
                Ahead(table.rows(start=position), size, plan) as batches,
                rare_full_gc() as tick,
                SearchMerge(plan.otype) as merge,
            ):
                for batch, parsed in batches:
                    turn.going()
                    tick()
                    # Owners hear once, when the import ends (see finish); the rest is
                    # summarised per batch instead of one notification per row.
                    with db.scope(tenant), batched(), muted("assigned"):
                        imp = locked(import_id)
                        if imp is None or imp.status != "running" or imp.done != position:
                            return "taken over by another run"
                        if imp.cancel_requested:
                            finish(imp, "cancelled")
                            return "cancelled"
                        merge.apart()
                        created_before = imp.created
                        Batch(imp, plan, settle=merge.settle).write(batch, parsed)
                        imp.done = position = position + len(batch)
                        tracked.beat("import", import_id)
                        # Other jobs wait for this worker: go on behind them (not after
                        # the last batch, which would only find the end of the file).
                        handing_over = position < total and turn.over()
                        if handing_over:
                            imp.status = "queued"
                            tracked.start("import", import_id)
                    merge.kick()
                    statistics.grew(imp.created - created_before)
                    if handing_over:
                        return "waiting for its turn"
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


@contextmanager
def rare_full_gc(every: int = 20):
    """While a run goes, the cycle collector looks at the whole heap once per ``every``
    batches (when the ``tick`` this yields is called once per batch) instead of when
    Python's thresholds say: a batch keeps a few hundred thousand short-lived objects
    alive, and scanning them all every few thousand rows took 45% of the worker's time
    (bench/RESULTS.md). Young objects are collected as usual."""
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 1_000_000)
    gc.freeze()  # what the run started with (the app, its modules) is not scanned again
    batches = count(1)

    def tick() -> None:
        if next(batches) % every == 0:
            gc.collect()

    try:
        yield tick
    finally:
        gc.unfreeze()
        gc.set_threshold(gen0, gen1, gen2)


class Ahead:
    """The file's rows in batches, each parsed (:meth:`Plan.parse`, which reads no
    database) by a thread while the batch before it is written: the worker's Python
    and PostgreSQL work at the same time. A reading error comes out where the batch
    would have."""

    DEPTH = 2  # batches parsed ahead

    def __init__(self, rows, size: int, plan: Plan):
        self._queue: queue.Queue = queue.Queue(maxsize=self.DEPTH)
        self._stop = threading.Event()
        # The thread runs in a copy of this context: the app, the locale of messages.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._fill, rows, size, plan),
            name="import-ahead",
            daemon=True,
        )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def __iter__(self):
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _fill(self, rows, size: int, plan: Plan) -> None:
        try:
            while batch := list(islice(rows, size)):
                if not self._put((batch, plan.parse([r.cells for r in batch if not r.problem]))):
                    return
            self._put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread
            self._put(exc)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


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
    imp.status, imp.finished_at = status, now()
    tracked.stop("import", imp.id)
    tracked.stop("revert", imp.id)
    for listener in finish_listeners:
        listener(imp, status)
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
                    "The import of %(file)s gave you %(num)d %(what)s",
                    "The import of %(file)s gave you %(num)d %(what)s",
                    n,
                    file=imp.filename,
                    what=str(otype.label if n == 1 else otype.plural).lower(),
                ),
                url=f"/{otype.slug}/?owner_id={owner}",
                key=f"import:{imp.id}:assigned",
            )
