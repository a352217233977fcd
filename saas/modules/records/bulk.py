"""Many records at once, at close to COPY speed: the write path of imports.

The same rules as :mod:`service` ``create`` / ``update`` (values parsed by the
caller through ``fields.parse``, the object's ``before_write``, the owner
default, validation rules through ``service.checks``, the search document, a
timeline entry per record) but the rows go to PostgreSQL with ``COPY``: new
records straight into their table with ids taken from its sequence, changes
through a temporary table and one ``UPDATE … FROM``.

Usable when :func:`fits` says so: an object with an ``after_write`` hook, or
one whose writes a listener (a workflow rule) wants to hear of, is written
record by record through :mod:`service` instead, by the caller.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Text, any_, bindparam, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from saas.db import current_tenant, db, session
from saas.modules.customization import meta
from saas.modules.records import search, service
from saas.modules.records.registry import ObjectType
from saas.tenants.migrate import quoted_schema

log = logging.getLogger(__name__)


def fits(otype: ObjectType, event: str) -> bool:
    """Whether ``event`` writes of ``otype`` may take the bulk path."""
    return otype.after_write is None and not service.wanted(otype, event)


@dataclass
class Written:
    """What a bulk write did, by the caller's row keys."""

    ids: dict[int, int] = field(default_factory=dict)  # created or updated: key -> id
    errors: dict[int, str] = field(default_factory=dict)  # refused: key -> reason
    changes: dict[int, dict] = field(default_factory=dict)  # updated: key -> {f: (old, new)}


def _reason(exc: service.ValidationErrors) -> str:
    return " ".join(exc.errors.values())


def _raw():
    """The psycopg connection of the unit of work (same transaction, same role)."""
    return session().connection().connection.driver_connection


def _table(otype: ObjectType) -> str:
    return f"{quoted_schema(current_tenant().schema_name)}.{otype.model.__table__.name}"


def copy_into(table, names: Sequence[str], rows: list[list]) -> None:
    """COPY ``rows`` (values already adapted) into the tenant's ``table``, in the unit of
    work's transaction."""
    _copy(f"{quoted_schema(current_tenant().schema_name)}.{table.name}", names, rows)


def _roomy_gin() -> None:
    """Let GIN indexes (search documents) take this transaction's rows into their pending
    list, which VACUUM merges later, instead of merging every 4 MB during the write (a
    writer that has a :class:`SearchMerge` set a higher limit: it is kept)."""
    session().execute(
        text(
            "SELECT set_config('gin_pending_list_limit', '32MB', true)"
            " WHERE pg_size_bytes(current_setting('gin_pending_list_limit')) < 32 * 1024 * 1024"
        )
    )


class SearchMerge:
    """Merges the pending list of an object's search index into the index, on a
    connection and a thread of its own, while a long bulk write (an import) goes on.

    The writer's transactions only append to the pending list (:meth:`apart` sets a
    limit they never reach) and it calls :meth:`kick` after each commit; the merge, a
    third of the database's work for new records, runs on another CPU core meanwhile.
    Leaving the ``with`` block merges what is left, so no later write (a user's) finds
    a long pending list to merge. ``gin_clean_pending_list`` changes no row and needs
    the index's owner: it runs as the login role, which owns every tenant's tables.
    """

    LIMIT = "1GB"  # the writer's pending-list limit: never reached between two merges
    MERGE = "SELECT gin_clean_pending_list(CAST(:index AS regclass))"

    def __init__(self, otype: ObjectType):
        table = otype.model.__table__
        names = [i.name for i in table.indexes if [c.name for c in i.columns] == ["search"]]
        schema = quoted_schema(current_tenant().schema_name)
        self.index = f'{schema}."{names[0]}"' if names and otype.searchable else None
        self._wake, self._closing = threading.Event(), False
        self._idle = threading.Event()  # set while no merge runs or is due
        self._idle.set()
        self._turn = threading.Lock()  # a kick and the end of a merge, one at a time
        self._thread = threading.Thread(target=self._run, name="search-merge", daemon=True)

    def __enter__(self):
        if self.index is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.index is not None:
            self._closing = True
            self._wake.set()
            self._thread.join()

    def apart(self) -> None:
        """In the writer's transaction: its inserts leave the merging to this one (unless
        merging failed: then they merge as usual)."""
        if self.index is not None and self._thread.is_alive():
            session().execute(text(f"SET LOCAL gin_pending_list_limit = '{self.LIMIT}'"))

    def kick(self) -> None:
        """The writer committed: merge what it added (at once, or after the merge that
        runs now)."""
        with self._turn:
            self._idle.clear()
            self._wake.set()

    def settle(self) -> None:
        """Before the writer's own heavy statements: wait for the merge that runs, so that
        one of the two backends works at a time (the merge overlaps the writer's lookups
        and Python, not its writes) and the machine keeps a core for other companies."""
        if self._thread.is_alive():
            self._idle.wait()

    def _run(self) -> None:
        merge = text(self.MERGE)
        try:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                while True:
                    self._wake.wait()
                    self._wake.clear()
                    closing = self._closing
                    conn.execute(merge, {"index": self.index})
                    with self._turn:  # no kick comes between looking and saying idle
                        if not self._wake.is_set():
                            self._idle.set()
                    if closing:
                        return
        except Exception:  # the writer goes on; VACUUM or a later insert merges instead
            log.exception("merging the pending list of %s failed", self.index)
        finally:
            self._idle.set()  # nobody waits for a merge that will not come


class Statistics:
    """Keeps the planner's statistics of a table that a long bulk write (an import) grows:
    ``ANALYZE`` each time the writer has added as many rows as the statistics knew of.
    A new company's table is believed empty until autovacuum first analyses it, and a
    planner that believes a table small reads all of it for each batch's lookups.

    ``ANALYZE`` needs the table's owner: it runs as the login role, which owns every
    tenant's tables, on a connection of its own."""

    def __init__(self, otype: ObjectType, least: int):
        self.table, self.least, self.added = _table(otype), least, 0
        known = session().execute(
            text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": self.table},
        )
        self.known = max(0, int(known.scalar_one()))  # -1: never analysed

    def grew(self, rows: int) -> None:
        """The writer committed ``rows`` more rows."""
        self.added += rows
        if self.added < max(self.least, self.known):
            return
        try:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"ANALYZE {self.table}"))
        except Exception:  # the writer goes on; autovacuum analyses the table later
            log.exception("analysing %s failed", self.table)
        self.known, self.added = self.known + self.added, 0


def _copy(target: str, names: Sequence[str], rows) -> None:
    columns = ", ".join(f'"{n}"' for n in names)
    with _raw().cursor() as cursor:
        # A writer thread sends the data while this one formats the next rows.
        writer = QueuedLibpqWriter(cursor)
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN", writer=writer) as copy:
            for row in rows:
                copy.write_row(row)


# -- finding records by a key -------------------------------------------------------------

SEPARATOR = "\x1f"  # the unit separator: never in a key typed into a cell (else: see _keys)


def find(otype: ObjectType, column, keys: set, *, viewer=None) -> dict[object, list[int]]:
    """The ids of the live records (that ``viewer`` may see) whose ``column`` holds one of
    ``keys``, by key; in one query, which reads the column's index when it has one."""
    keys = {k for k in keys if k is not None}
    if not keys:
        return {}
    stmt = (
        service.select_records(otype, viewer=viewer)
        .with_only_columns(column, otype.model.id)
        .where(column == any_(_keys(keys, column.type)))
    )
    # Planned for these keys each time: a plan kept for the statement (psycopg prepares
    # it after five runs) does not know them and compares every row with every key.
    # Told the keys, the planner expects each to match a record and may choose to read
    # the whole table (four times slower on 500,000 contacts than the index); where the
    # column has no index, it reads the table once, looking each row up in the keys hashed.
    before = session().execute(_PLAN_FOR_KEYS).one()
    found: dict = {}
    for value, record_id in session().execute(stmt):
        found.setdefault(value, []).append(record_id)
    session().execute(_PLAN_AS_BEFORE, {"seqscan": before[0], "mode": before[1]})
    return found


_PLAN_FOR_KEYS = text(
    "SELECT current_setting('enable_seqscan'), current_setting('plan_cache_mode'),"
    " set_config('enable_seqscan', 'off', true),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)"
)
_PLAN_AS_BEFORE = text(
    "SELECT set_config('enable_seqscan', :seqscan, true),"
    " set_config('plan_cache_mode', :mode, true)"
)


def _keys(keys: set, item_type):
    """``keys`` as one array PostgreSQL knows while planning, so it hashes them: as a
    parameter cast to an array, the planner saw an unknown array and compared every row of
    a small table with every key (5 s for 10,000 keys and 5,000 contacts). Strings are
    sent as one text split by ``string_to_array``: psycopg adapts a list element by
    element, in Python, which took as long as the lookup for 10,000 e-mails."""
    if all(type(k) is str and SEPARATOR not in k for k in keys):
        joined = bindparam("keys", SEPARATOR.join(keys), type_=Text)
        return func.string_to_array(joined, SEPARATOR, type_=ARRAY(Text))
    return bindparam("keys", list(keys), type_=ARRAY(item_type))


# -- create ------------------------------------------------------------------------------


def create(
    otype: ObjectType, rows: list[tuple[int, dict]], *, actor: int | None, note: dict
) -> Written:
    """Insert records from parsed values ``[(key, values)]``; ``note`` goes on each
    record's "created" timeline entry (``{"import": 12}``). Flushes, never commits."""
    written = Written()
    ready: list[tuple[int, dict]] = []
    owned = "owner_id" in otype.by_name and actor is not None
    checks = service.checks_for(otype)
    for key, values in rows:
        values = dict(values)
        # The hook may expect a model instance; validation rules read any object.
        record = otype.model() if otype.before_write else SimpleNamespace()
        record.created_by = actor
        owner = actor if owned else None
        error = _prepare(otype, record, values, True, checks, owner)
        if error:
            written.errors[key] = error
        else:
            ready.append((key, values))
    if not ready:
        return written
    session().flush()
    sequence = (
        session()
        .execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": _table(otype)})
        .scalar_one()
    )
    ids = (
        session()
        .execute(
            text("SELECT nextval(:s) FROM generate_series(1, :n)"), {"s": sequence, "n": len(ready)}
        )
        .scalars()
        .all()
    )
    # Rows whose values name the same columns go in one COPY (a column left out keeps
    # its default, which NULL would not).
    groups: dict[tuple, list] = {}
    for (key, values), new_id in zip(ready, ids, strict=True):
        groups.setdefault(tuple(sorted(values)), []).append((key, new_id, values))
    searchable = otype.searchable
    for names, members in groups.items():
        columns = ["id", "created_by", *names] + (["search"] if searchable else [])

        def line(new_id, values, names=names):
            out = [new_id, actor, *(values[n] for n in names)]
            if searchable:
                out.append(search.vector_text([values.get(n) for n in searchable]))
            return out

        # Made as COPY sends them: the server stores a row while the next one is made.
        if _inserted(otype, columns, (line(i, v) for _k, i, v in members)):
            for key, new_id, _values in members:
                written.ids[key] = new_id
        else:  # a unique or required custom column refused a row: find which, one by one
            for key, new_id, values in members:
                error = _insert_one(otype, columns, line(new_id, values))
                if error is None:
                    written.ids[key] = new_id
                else:
                    written.errors[key] = error
    made = [(key, values) for key, values in ready if key in written.ids]
    timeline(otype, [(written.ids[k], "created", note) for k, _v in made], actor)
    if service.bulk_wanted(otype, "created"):
        service.tell_bulk(
            otype, [_as_written(written.ids[k], v, actor) for k, v in made], "created", actor
        )
    return written


def _prepare(otype, record, values: dict, is_new: bool, checks, owner=None) -> str | None:
    """What ``service.create`` / ``update`` do before writing: the object's hook, the
    owner default, columns that cannot be empty, the checks. Returns why it is refused."""
    try:
        if otype.before_write:
            otype.before_write(record, values, is_new)
        if owner is not None and values.get("owner_id") is None:
            values["owner_id"] = owner
        service._fill_not_null(otype, values, is_new=is_new)
        for check in checks:
            check(otype, record, values, is_new)
    except service.ValidationErrors as exc:
        return _reason(exc)
    return None


def _as_written(record_id: int, values: dict, actor: int | None) -> tuple:
    """A new record as listeners read it: its values, id and creator (a plain object, not
    in the session, so nothing more is written)."""
    record = SimpleNamespace(**values, id=record_id, created_by=actor)
    return record, {name: (None, value) for name, value in values.items()}


def _inserted(otype: ObjectType, columns: list[str], lines) -> bool:
    _roomy_gin()
    try:
        with session().begin_nested():
            _copy(_table(otype), columns, lines)
        return True
    except IntegrityError:
        return False
    except Exception as exc:  # psycopg errors raised by COPY are not wrapped by SQLAlchemy
        if _integrity(exc):
            return False
        raise


def _integrity(exc: Exception) -> bool:
    import psycopg.errors

    return isinstance(exc, psycopg.errors.IntegrityError)


def _insert_one(otype: ObjectType, columns: list[str], line: list) -> str | None:
    try:
        with session().begin_nested():
            _copy(_table(otype), columns, [line])
        return None
    except Exception as exc:
        if not _integrity(exc) and not isinstance(exc, IntegrityError):
            raise
        error = service._database_errors(otype, _Wrapped(exc))
        return _reason(error) if error else str(getattr(exc, "orig", exc)).split("\n")[0]


class _Wrapped:
    """Looks like SQLAlchemy's IntegrityError to ``service._database_errors``."""

    def __init__(self, exc: Exception):
        self.orig = getattr(exc, "orig", exc)


# -- update ------------------------------------------------------------------------------


def load(otype: ObjectType, ids: Sequence[int], *, plain: bool = False) -> dict[int, object]:
    """Live records by id with their custom values (for :func:`update`); ``plain``: as
    plain objects holding the values (cheaper, enough for the bulk path)."""
    if not ids:
        return {}
    custom = [f.name for f in otype.custom_fields]
    stmt = service.select_records(otype).where(otype.model.id.in_(list(ids)))
    if plain:
        table = otype.model.__table__
        columns = [c for c in table.c if c.name != "search"]
        stmt = stmt.with_only_columns(*columns, *(otype.column(n) for n in custom))
        names = [c.key for c in columns] + custom
        return {
            row.id: SimpleNamespace(**dict(zip(names, row, strict=True)))
            for row in session().execute(stmt)
        }
    out = {}
    for row in session().execute(stmt.add_columns(*(otype.column(n) for n in custom))):
        record = row[0]
        meta.keep(record, custom, row[1:])
        out[record.id] = record
    return out


def update(
    otype: ObjectType, rows: list[tuple[int, object, dict]], *, actor: int | None, note: dict
) -> Written:
    """Apply parsed values ``[(key, record, values)]`` to loaded records (see :func:`load`).

    Only what differs is written; ``written.changes[key]`` says what that was, and a row
    with no difference is in neither ``ids`` nor ``errors``. Flushes, never commits.
    """
    written = Written()
    changed: list[tuple[int, object, dict]] = []
    checks = service.checks_for(otype)
    for key, record, values in rows:
        values = dict(values)
        error = _prepare(otype, record, values, False, checks)
        if error:
            written.errors[key] = error
            continue
        changes = {n: (getattr(record, n), v) for n, v in values.items() if getattr(record, n) != v}
        if changes:
            changed.append((key, record, changes))
    if not changed:
        return written
    # In the order of their ids, the UPDATE meets the records' index and table pages in
    # order: each page read once, instead of at random over a table bigger than memory.
    changed.sort(key=lambda item: item[1].id)
    names = sorted({n for _k, _r, changes in changed for n in changes})
    searchable = otype.searchable
    search_too = bool(set(names) & set(searchable))

    def after(record, changes, name):
        return changes[name][1] if name in changes else getattr(record, name)

    def line(record, changes):
        out = [record.id, *(after(record, changes, n) for n in names)]
        if search_too:
            out.append(search.vector_text([after(record, changes, n) for n in searchable]))
        return out

    lines = (line(record, changes) for _key, record, changes in changed)
    columns = ["id", *names] + (["search"] if search_too else [])
    if _updated(otype, columns, lines):
        for key, record, changes in changed:
            written.ids[key] = record.id
            written.changes[key] = changes
    else:
        for key, record, changes in changed:
            error = _update_one(otype, columns, line(record, changes))
            if error is None:
                written.ids[key] = record.id
                written.changes[key] = changes
            else:
                written.errors[key] = error
    done = [(k, r, c) for k, r, c in changed if k in written.ids]
    shown = service.shown_changes(otype, [c for _k, _r, c in done])
    timeline(
        otype,
        [
            (r.id, "updated", {"changes": s, **note})
            for (_k, r, _c), s in zip(done, shown, strict=True)
        ],
        actor,
    )
    if service.bulk_wanted(otype, "updated"):
        service.tell_bulk(otype, [(r, c) for _k, r, c in done], "updated", actor)
    for _k, record, _c in done:  # what this unit of work reads next is the new row
        if not isinstance(record, SimpleNamespace):
            session().expire(record)
            meta.forget(otype, record)
    return written


def _updated(otype: ObjectType, columns: list[str], lines) -> bool:
    _roomy_gin()
    try:
        with session().begin_nested():
            _update_from(otype, columns, lines)
        return True
    except IntegrityError:
        return False
    except Exception as exc:
        if _integrity(exc):
            return False
        raise


def _update_one(otype: ObjectType, columns: list[str], line: list) -> str | None:
    try:
        with session().begin_nested():
            _update_from(otype, columns, [line])
        return None
    except Exception as exc:
        if not _integrity(exc) and not isinstance(exc, IntegrityError):
            raise
        error = service._database_errors(otype, _Wrapped(exc))
        return _reason(error) if error else str(getattr(exc, "orig", exc)).split("\n")[0]


def _update_from(otype: ObjectType, columns: list[str], lines) -> None:
    """COPY the new values into a temporary table, then one UPDATE … FROM it."""
    target = _table(otype)
    with _raw().cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.bulk_update")
        cursor.execute(
            "CREATE TEMP TABLE bulk_update ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA".format(
                ", ".join(f'"{c}"' for c in columns), target
            )
        )
    _copy("pg_temp.bulk_update", columns, lines)
    sets = ", ".join(f'"{c}" = u."{c}"' for c in columns if c != "id")
    with _raw().cursor() as cursor:
        cursor.execute(
            f"UPDATE {target} AS t SET {sets}, updated_at = now() "
            "FROM pg_temp.bulk_update AS u WHERE t.id = u.id"
        )
        cursor.execute("DROP TABLE pg_temp.bulk_update")


# -- timeline ----------------------------------------------------------------------------


def timeline(otype: ObjectType, entries: list[tuple[int, str, dict]], actor: int | None) -> None:
    """Timeline entries ``[(record id, kind, data)]`` in one COPY."""
    if not entries:
        return
    from saas.modules.records.models import TimelineEntry

    dumped: dict[int, str] = {}  # an import's entries share their data: dumped once
    lines = []
    for record_id, kind, data in entries:
        text_ = dumped.get(id(data))
        if text_ is None:
            text_ = dumped[id(data)] = json.dumps(data)
        lines.append([otype.name, record_id, kind, actor, text_])
    copy_into(TimelineEntry.__table__, ["object", "record_id", "kind", "user_id", "data"], lines)
