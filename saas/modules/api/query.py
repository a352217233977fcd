"""List parameters of the API: filters, sort, cursor pages, field selection.

- ``<field>=v`` (equals) or ``<field>[op]=v`` with op one of eq, ne, lt, lte, gt, gte,
  in (comma-separated), contains, starts_with, is_null (true / false); date and time
  ranges are gte / lte; a list field (multi-picklist, tags) matches by element;
- ``q``: words, prefixes or Chinese text (the search document);
- ``sort=<field>`` or ``sort=-<field>`` (any sortable field; ``id`` by default);
- ``limit`` (1–200, default 50) and ``cursor`` (from the previous page's ``next_cursor``);
- ``fields=a,b`` (``id`` and ``object`` always come) and ``expand=<lookup>,…``.

Anything it cannot use is a 400 naming the parameter, never silently ignored.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, func, or_

from saas.modules.api.problems import Problem
from saas.modules.records import search
from saas.modules.records.fields import Field, FieldError, parse
from saas.modules.records.registry import ObjectType

RESERVED = {"q", "sort", "limit", "cursor", "fields", "expand"}
OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "starts_with", "is_null")
ORDERED = {"integer", "number", "currency", "percent", "date", "datetime", "text", "email",
           "phone", "url", "choice"}  # fmt: skip
TEXTUAL = {"text", "longtext", "email", "phone", "url"}
LISTS = {"multichoice", "tags"}
PARAM = re.compile(r"^([a-z_][a-z0-9_]*)(?:\[([a-z_]+)\])?$")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_ID = 2**63  # ids and lookups beyond bigint are no record's


@dataclass
class ApiQuery:
    where: list = field(default_factory=list)
    sort: str = "id"
    limit: int = DEFAULT_LIMIT
    after: tuple | None = None  # (sort value, id) of the last record of the previous page
    fields: list[str] | None = None
    expand: list[str] = field(default_factory=list)


def _bad(param: str, detail: str) -> Problem:
    return Problem("bad-request", f"Query parameter {param!r}: {detail}")


def _value(f: Field, raw: str, param: str, tz):
    loose = replace(f, required=False, retired=frozenset(), options=None, max_length=10_000)
    try:
        # Only a datetime is read in the company's zone: ask for it only then.
        value = parse(loose, raw, tz=tz() if f.type == "datetime" else "UTC")
    except (FieldError, ValueError) as exc:
        raise _bad(param, str(exc)) from None
    if f.type in {"lookup", "user"} and not (isinstance(value, int) and value < MAX_ID):
        raise _bad(param, "expected an id (a whole number).")
    return value


def _condition(otype: ObjectType, f: Field, op: str, raw: str, param: str, tz):
    column = otype.column(f.name)
    if op == "is_null":
        if raw not in {"true", "false"}:
            raise _bad(param, "use true or false.")
        if f.type in LISTS:
            empty = func.cardinality(column) == 0
            return or_(column.is_(None), empty) if raw == "true" else ~or_(column.is_(None), empty)
        return column.is_(None) if raw == "true" else column.is_not(None)
    if op in {"contains", "starts_with"}:
        if f.type in LISTS and op == "contains":
            items = _value(f, raw, param, tz)
            if not items:
                raise _bad(param, "give a value (use [is_null]=true for empty values).")
            return column.contains(items[:1])
        if f.type not in TEXTUAL:
            raise _bad(param, f"{op} works on text fields only.")
        escaped = raw.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%" if op == "contains" else f"{escaped}%"
        return column.ilike(pattern, escape="\\")
    if op == "in":
        values = [_value(f, part, param, tz) for part in raw.split(",") if part.strip()]
        if not values or len(values) > 100:
            raise _bad(param, "give 1 to 100 comma-separated values.")
        if f.type in LISTS:
            return column.overlap([v for vs in values for v in vs])
        return column.in_(values)
    value = _value(f, raw, param, tz)
    if f.type in LISTS:
        if op not in {"eq", "ne"}:
            raise _bad(param, f"{op} does not apply to a list field.")
        clause = column.contains(value)
        return clause if op == "eq" else ~clause
    if op in {"lt", "lte", "gt", "gte"} and f.type not in ORDERED:
        raise _bad(param, f"{op} does not apply to a {f.type} field.")
    if value is None:
        raise _bad(param, "give a value (use [is_null]=true for empty values).")
    return {
        "eq": lambda: column == value,
        "ne": lambda: or_(column != value, column.is_(None)),
        "lt": lambda: column < value,
        "lte": lambda: column <= value,
        "gt": lambda: column > value,
        "gte": lambda: column >= value,
    }[op]()


def parse_args(otype: ObjectType, args, tz) -> ApiQuery:
    """``tz()`` gives the tenant's time zone (asked only when a date value needs it)."""
    aq = ApiQuery()
    for param in args:
        if param in RESERVED:
            continue
        match = PARAM.match(param)
        name, op = (match.group(1), match.group(2) or "eq") if match else (param, "eq")
        f = otype.field(name) if match else None
        if f is None and name != "id":
            raise _bad(param, f"{otype.name} has no field {name!r}.")
        if op not in OPS:
            raise _bad(param, f"unknown operator {op!r}; use one of {', '.join(OPS)}.")
        f = f or Field("id", "id", "integer")
        for raw in args.getlist(param):
            aq.where.append(_condition(otype, f, op, raw, param, tz))
    q = (args.get("q") or "").strip()
    if q:
        clause = search.matches(otype.model.search, q[:200])
        if clause is not None:
            aq.where.append(clause)
    aq.sort = _sort(otype, args.get("sort") or "id")
    aq.limit = _limit(args.get("limit"))
    aq.fields = names(otype, args.get("fields"), "fields") if args.get("fields") else None
    aq.expand = names(otype, args.get("expand"), "expand") if args.get("expand") else []
    bad = [n for n in aq.expand if otype.by_name[n].type not in {"lookup", "user"}]
    if bad:
        raise _bad("expand", f"only lookup and user fields can be expanded, not {bad[0]!r}.")
    if args.get("cursor"):
        aq.after = _decode(otype, args["cursor"], aq.sort)
    return aq


def _sort(otype: ObjectType, raw: str) -> str:
    name = raw.removeprefix("-")
    f = otype.field(name)
    if name != "id" and (f is None or not f.sortable):
        raise _bad("sort", f"cannot sort {otype.name} by {name!r}.")
    return raw


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise _bad("limit", f"use a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def names(otype: ObjectType, raw: str, param: str) -> list[str]:
    names = [n.strip() for n in raw.split(",") if n.strip() and n.strip() != "id"]
    unknown = [n for n in names if otype.field(n) is None]
    if unknown:
        raise _bad(param, f"{otype.name} has no field {unknown[0]!r}.")
    return list(dict.fromkeys(names))


# -- keyset pages --------------------------------------------------------------------


def ordering(otype: ObjectType, sort: str) -> list:
    model, name = otype.model, sort.removeprefix("-")
    column = model.id if name == "id" else otype.column(name)
    if sort.startswith("-"):
        return [column.desc().nulls_last(), model.id.desc()] if name != "id" else [model.id.desc()]
    return [column.asc().nulls_last(), model.id.asc()] if name != "id" else [model.id.asc()]


def after_clause(otype: ObjectType, sort: str, after: tuple):
    """Records after ``after`` = (sort value, id) in the order of ``sort`` (empty last)."""
    model, name = otype.model, sort.removeprefix("-")
    value, last_id = after
    desc = sort.startswith("-")
    beyond_id = model.id < last_id if desc else model.id > last_id
    if name == "id":
        return beyond_id
    column = otype.column(name)
    if value is None:
        return and_(column.is_(None), beyond_id)
    beyond = column < value if desc else column > value
    return or_(beyond, and_(column == value, beyond_id), column.is_(None))


def encode(otype: ObjectType, sort: str, rec) -> str:
    name = sort.removeprefix("-")
    value = None if name == "id" else getattr(rec, name)
    if isinstance(value, Decimal | date | datetime):
        value = value.isoformat() if not isinstance(value, Decimal) else str(value)
    raw = json.dumps([sort, value, rec.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(otype: ObjectType, cursor: str, sort: str) -> tuple:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, value, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(last_id, int) or not 0 <= last_id < MAX_ID or cursor_sort != sort:
            raise ValueError
        f = otype.field(sort.removeprefix("-"))
        if value is not None and f is not None and not _cursor_type(f, value):
            raise ValueError  # a forged cursor: a value the column cannot be compared with
        if value is not None and f is not None:
            value = {
                "date": date.fromisoformat,
                "datetime": datetime.fromisoformat,
                "number": Decimal,
                "currency": Decimal,
                "percent": Decimal,
            }.get(f.type, lambda v: v)(value)
    except (ValueError, TypeError, ArithmeticError):
        raise _bad(
            "cursor", "not a cursor of this list; pass next_cursor as given, with the same sort."
        ) from None
    return value, last_id


def _cursor_type(f: Field, value) -> bool:
    if f.type in {"integer", "lookup", "user"}:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < MAX_ID
    if f.type == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)
