"""List queries from URL parameters: text search, filters, sort and pages.

The same parameters drive the list page, its CSV export and saved views, so a
saved view is just its query string. Parameters:

- ``q``: words, prefixes or Chinese text (the search document);
- ``<field>=value`` for choices, owners (``me`` too), lookups and checkboxes,
  repeatable for "any of";
- ``<field>__from`` / ``<field>__to`` for dates, times and amounts;
- ``sort=<field>`` or ``sort=-<field>``; ``page``.

A bad value does not fail the page: it is dropped and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from saas.modules.records import search
from saas.modules.records.access import current_viewer
from saas.modules.records.fields import Field, FieldError, parse
from saas.modules.records.registry import ObjectType
from saas.modules.records.service import select_records

PAGE_SIZE = 50
COUNT_CAP = 10_000  # beyond this a list says "10,000+" instead of counting a million rows
# A text search is counted to a lower cap: its matches cannot come from an index-only
# scan, and 10,001 of them cost a 100,000-row scan for a prefix like "mar" in 1M contacts.
SEARCH_COUNT_CAP = 1_000
EQUALITY = {"choice", "multichoice", "user", "lookup", "bool"}
# A tenant's indexed text field filters by its exact value (words go through ``q``).
CUSTOM_EQUALITY = {"text", "email", "phone", "url"}
RANGES = {"date", "datetime", "number", "currency", "percent", "integer"}


@dataclass
class ListQuery:
    q: str = ""
    equals: dict[str, list] = field(default_factory=dict)
    ranges: dict[str, tuple] = field(default_factory=dict)
    sort: str = ""
    page: int = 1
    problems: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.q or self.equals or self.ranges)


def _is_equality(f: Field) -> bool:
    return f.type in EQUALITY or f.options is not None or (f.custom and f.type in CUSTOM_EQUALITY)


def parse_args(otype: ObjectType, args: MultiDict, tz: str = "UTC") -> ListQuery:
    lq = ListQuery(q=(args.get("q") or "").strip()[:200])
    viewer = current_viewer()
    for f in otype.filter_fields:
        if _is_equality(f):
            values = []
            for raw in args.getlist(f.name):
                if raw == "":
                    continue
                if f.type == "user" and raw == "me":
                    values.append(viewer.user_id)
                    continue
                if raw == "none" and f.type in {"user", "lookup"}:
                    values.append(None)
                    continue
                try:  # a retired picklist value still finds the records that have it
                    value = parse(replace(f, retired=frozenset()), raw, tz=tz)
                    values.append(int(value) if f.type in {"user", "lookup"} else value)
                except (FieldError, ValueError):
                    lq.problems.append(
                        _(
                            "Ignored the filter on %(label)s: %(value)s is not valid.",
                            label=f.label,
                            value=raw[:50],
                        )
                    )
            if values:
                lq.equals[f.name] = values
        elif f.type in RANGES:
            bounds = []
            # Date and time columns filter by whole days in the tenant's time zone.
            by = replace(f, type="date") if f.type == "datetime" else f
            for suffix in ("__from", "__to"):
                raw = args.get(f.name + suffix, "")
                try:
                    bounds.append(parse(by, raw, tz=tz) if raw else None)
                except FieldError as exc:
                    bounds.append(None)
                    lq.problems.append(str(exc))
            if f.type == "datetime":
                zone = ZoneInfo(tz)
                low, high = bounds
                bounds = [
                    datetime.combine(low, time(), zone) if low else None,
                    datetime.combine(high + timedelta(days=1), time(), zone) if high else None,
                ]
            if any(b is not None for b in bounds):
                lq.ranges[f.name] = tuple(bounds)
    sort = args.get("sort", "")
    f = otype.field(sort.lstrip("-"))
    if sort and (f is None or not f.sortable):
        lq.problems.append(_("Cannot sort by %(name)s.", name=sort[:50]))
        sort = ""
    lq.sort = sort or otype.default_sort
    page = args.get("page", "1")
    lq.page = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    return lq


def statement(otype: ObjectType, lq: ListQuery, *, viewer=None):
    """The SELECT for a list query (without paging)."""
    stmt = _filtered(otype, lq, viewer=viewer)
    name = lq.sort.lstrip("-")
    # Filtered to values (not "empty"), the sort column holds no NULLs to place last.
    valued = name in lq.equals and None not in lq.equals[name]
    return stmt.order_by(*_ordering(otype, lq.sort, valued=valued))


def _filtered(otype: ObjectType, lq: ListQuery, *, viewer=None):
    model = otype.model
    stmt = select_records(otype, viewer=viewer)
    if lq.q:
        clause = search.matches(model.search, lq.q)
        if clause is not None:
            stmt = stmt.where(clause)
    for name, values in lq.equals.items():
        column = otype.column(name)
        f = otype.field(name)
        if f.type == "multichoice":
            stmt = stmt.where(column.overlap(values))
            continue
        present = [v for v in values if v is not None]
        conditions = []
        if present:
            conditions.append(column.in_(present))
        if None in values:
            conditions.append(column.is_(None))
        stmt = stmt.where(conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1])
    for name, (low, high) in lq.ranges.items():
        column = otype.column(name)
        f = otype.field(name)
        if low is not None:
            stmt = stmt.where(column >= low)
        if high is not None:
            # A range includes its last day: timestamps stop before the next midnight.
            stmt = stmt.where(column < high if f.type == "datetime" else column <= high)
    return stmt


def _ordering(otype: ObjectType, sort: str, *, valued: bool = False) -> list:
    model = otype.model
    desc = sort.startswith("-")
    column = otype.column(sort.lstrip("-"))
    extra = []
    if otype.name in {"contact", "lead"} and sort.lstrip("-") == "last_name":
        extra.append(model.first_name.desc() if desc else model.first_name)
    # Empty values go last either way. A NOT NULL column is left at plain DESC: its
    # index read backwards gives DESC NULLS FIRST, so "NULLS LAST" would rule it out
    # and sort the whole table (a million contacts by -created_at).
    nullable = not valued and _nullable(otype, sort.lstrip("-"))
    if desc:
        order = column.desc().nulls_last() if nullable else column.desc()
    else:
        order = column.asc().nulls_last()
    tail = model.id.desc() if desc else model.id
    return [order, *extra, tail]


def _nullable(otype: ObjectType, name: str) -> bool:
    return getattr(otype.model.__table__.c.get(name), "nullable", True)


def _rows(otype: ObjectType, lq: ListQuery, stmt, per_page: int) -> list:
    """One page of ``stmt``. A descending sort of a column that may be empty is read in
    two parts, the values (its index read backwards) and then the empty ones: one
    ORDER BY … DESC NULLS LAST cannot use an ascending index and sorts the table."""
    from saas.db import session

    offset = (lq.page - 1) * per_page
    name = lq.sort.lstrip("-")
    column = otype.column(name) if lq.sort.startswith("-") else None
    if column is None or not _nullable(otype, name) or name in lq.equals:
        return session().execute(stmt.limit(per_page).offset(offset)).scalars().all()
    base = _filtered(otype, lq)
    order = _ordering(otype, lq.sort, valued=True)
    valued = base.where(column.is_not(None)).order_by(*order)
    rows = list(session().execute(valued.limit(per_page).offset(offset)).scalars())
    if len(rows) == per_page:
        return rows
    if rows:
        with_values = offset + len(rows)
    else:  # past the values: how many there are decides where the empty ones start
        counted = valued.order_by(None).with_only_columns(otype.model.id).subquery()
        with_values = session().execute(select(func.count()).select_from(counted)).scalar_one()
    empty = base.where(column.is_(None)).order_by(otype.model.id.desc())
    rest = empty.limit(per_page - len(rows)).offset(max(0, offset - with_values))
    return rows + list(session().execute(rest).scalars())


def page(otype: ObjectType, lq: ListQuery, per_page: int = PAGE_SIZE):
    """(records, count, capped): one page and the number of matches up to COUNT_CAP
    (SEARCH_COUNT_CAP with a text search)."""
    from saas.db import session

    cap = SEARCH_COUNT_CAP if lq.q and search.query_text(lq.q) else COUNT_CAP
    stmt = statement(otype, lq)
    rows = _rows(otype, lq, stmt, per_page)
    if len(rows) < per_page and (rows or lq.page == 1):  # the last page: nothing to count
        count = (lq.page - 1) * per_page + len(rows)
    else:
        counted = stmt.order_by(None).with_only_columns(otype.model.id).limit(cap + 1)
        count = session().execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    return rows, min(count, cap), count > cap
