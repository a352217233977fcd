"""Conditions of validation and workflow rules: one operator vocabulary, one way to read a
form row, one evaluator.

A stored condition is ``{"field", "op", "value" | "other"}``: a value is a canonical string
(parsed once with the field's own parser), ``today``/``today+7``/``today-30`` for a date,
or a pattern for "matches"; ``other`` names a field of the same kind. :func:`compile` turns
it into a :class:`Condition` whose ``test`` is a closure over already-parsed values, so a
write only compares values (no query, no parsing); ``clause`` is the same condition in SQL.

What the operators mean (the rule forms say the same):

- equals / does not equal: text ignores case; an empty field equals nothing (but an empty
  other field), so "does not equal" holds for it.
- greater / less (or equal): numbers, amounts, dates, times; never hold for an empty field.
  A time compared with a relative date is compared by its day in the tenant's time zone.
- contains / does not contain: text (ignoring case), or one value of a multi-select
  picklist or of tags.
- matches / does not match the pattern: a filled value wholly of the pattern's form, or
  not; an empty value is left to "is empty".
- changed / changed to / changed from: the write changed the field (to, from a value).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from re import _parser as sre_parse  # walked to refuse runaway patterns
from re._constants import MAXREPEAT
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import any_, false, func, literal, not_, or_, true

from saas.db import session
from saas.modules.records import service as records
from saas.modules.records.fields import TEXTUAL, Field, FieldError, parse
from saas.modules.records.registry import get

OPS = {
    "equals": _l("equals"),
    "not_equals": _l("does not equal"),
    "greater": _l("is greater than"),
    "greater_or_equal": _l("is greater than or equal to"),
    "less": _l("is less than"),
    "less_or_equal": _l("is less than or equal to"),
    "contains": _l("contains"),
    "not_contains": _l("does not contain"),
    "matches": _l("matches the pattern"),
    "not_matches": _l("does not match the pattern"),
    "is_empty": _l("is empty"),
    "is_not_empty": _l("is not empty"),
    "changed": _l("changed"),
    "changed_to": _l("changed to"),
    "changed_from": _l("changed from"),
}
EMPTY_OPS = ("is_empty", "is_not_empty")
CHANGE_OPS = ("changed", "changed_to", "changed_from")
NO_VALUE = {*EMPTY_OPS, "changed"}
PATTERN_OPS = {"matches", "not_matches"}
ORDER = {
    "greater": operator.gt,
    "greater_or_equal": operator.ge,
    "less": operator.lt,
    "less_or_equal": operator.le,
}
NUMERIC = {"integer", "number", "currency", "percent"}
DATES = {"date", "datetime"}
LISTS = {"multichoice", "tags"}
RELATIVE = re.compile(r"^today\s*(?:([+-])\s*(\d{1,4}))?$", re.IGNORECASE)
MAX_PATTERN = 300
MAX_VALUE = 500


def ops_for(f: Field, changes: bool = False) -> tuple[str, ...]:
    """The operators that apply to a field's type (change operators where a change exists)."""
    changed = CHANGE_OPS if changes else ()
    if f.options is not None or f.type in {"choice", "lookup", "user"}:
        return ("equals", "not_equals", *EMPTY_OPS, *changed)
    if f.type in TEXTUAL:
        return ("equals", "not_equals", "contains", "not_contains", *PATTERN_OPS, *EMPTY_OPS,
                *changed)  # fmt: skip
    if f.type in NUMERIC | DATES:
        return ("equals", "not_equals", *ORDER, *EMPTY_OPS, *changed)
    if f.type in LISTS:
        return ("contains", "not_contains", *EMPTY_OPS, *changed[:1])
    if f.type == "bool":
        return ("equals", "not_equals", *changed)
    return EMPTY_OPS


def kind(f: Field) -> str:
    """Fields of one kind can be compared with each other."""
    if f.options is not None:
        return f"options:{f.name}"
    if f.type in NUMERIC:
        return "number"
    if f.type in TEXTUAL:
        return "text"
    if f.type == "lookup":
        return f"lookup:{f.target}"
    return f.type


def others_for(otype, f: Field, op: str) -> list[Field]:
    """The fields ``f`` may be compared with by ``op``."""
    if op not in {"equals", "not_equals", *ORDER} or f.type in LISTS:
        return []
    return [g for g in otype.fields if g.name != f.name and kind(g) == kind(f)]


# -- a form row to a stored condition -------------------------------------------------------


def read_row(otype, row, key: str, errors: dict, *, changes: bool) -> dict | None:
    """The stored condition of a form row ``{field, op, value, other}``; None (and an error
    under ``key + "field"``/``"op"``/``"value"``/``"other"``) when it is not valid."""
    f = otype.field(_text(row.get("field")))
    if f is None:
        errors[key + "field"] = _l("Choose a field from the list.")
        return None
    op = _text(row.get("op"))
    if op in CHANGE_OPS and not changes:
        errors[key + "op"] = _l(
            "“%(op)s” needs a rule that runs when a record is created or changed.", op=OPS[op]
        )
        return None
    if op not in ops_for(f, changes):
        errors[key + "op"] = _l("Choose what to check about %(label)s.", label=f.label)
        return None
    if op in NO_VALUE:
        return {"field": f.name, "op": op}
    value, other = _text(row.get("value")), _text(row.get("other"))
    if other:
        if value:
            errors[key + "value"] = _l("Compare with a value or with another field, not both.")
        elif other not in {g.name for g in others_for(otype, f, op)}:
            errors[key + "other"] = _l(
                "Choose a field %(label)s can be compared with.", label=f.label
            )
        else:
            return {"field": f.name, "op": op, "other": other}
        return None
    if not value:
        errors[key + "value"] = _l("Enter the value to compare with, or choose another field.")
        return None
    try:
        return {"field": f.name, "op": op, "value": canonical(otype, f, op, value)}
    except FieldError as exc:
        errors[key + "value"] = str(exc)
    except records.ValidationErrors as exc:
        errors[key + "value"] = " ".join(exc.errors.values())
    return None


def _text(raw) -> str:
    return str(raw if raw is not None else "").strip()


def canonical(otype, f: Field, op: str, raw: str) -> str:
    """The string to store for a condition's value, checked against the field's type."""
    if op in PATTERN_OPS:
        return _pattern(raw)
    if f.type in DATES and (match := RELATIVE.match(raw)):
        days = _days(match)
        return f"today{days:+d}" if days else "today"
    if f.options is not None:
        return str(_option(f, raw))
    loose = replace(f, required=False, retired=frozenset())
    if f.type in {"lookup", "user"}:
        if f.editable:
            return str(records.validate(otype, {f.name: raw}, partial=True)[f.name])
        return str(int(parse(loose, raw)))
    if f.type in TEXTUAL:
        if len(raw) > MAX_VALUE:
            raise FieldError(_l("%(label)s: use at most 500 characters.", label=f.label))
        return raw
    if f.type == "tags":
        if "," in raw:
            raise FieldError(_l("%(label)s: enter one tag.", label=f.label))
        return raw
    value = parse(loose, raw, tz=records._tz())
    if f.type == "multichoice":
        if len(value) != 1:
            raise FieldError(_l("%(label)s: choose one value.", label=f.label))
        return value[0]
    if f.type == "bool":
        return "yes" if value else "no"
    return value.isoformat() if isinstance(value, date) else str(value)


def _option(f: Field, raw) -> int:
    """A stage (or other run-time option) by its id or its name."""
    options = f.options()
    text = str(raw).strip()
    for key, _label in options:
        if text == str(key):
            return key
    wanted = text.casefold()
    found = [i for i, label in options if str(label).casefold() == wanted]
    if not found:  # "Won" for "Sales › Won" when there are several pipelines
        found = [i for i, label in options if str(label).split(" › ")[-1].casefold() == wanted]
    if len(found) == 1:
        return found[0]
    names = ", ".join(str(label) for _, label in options[:20])
    if found:
        raise FieldError(
            _l(
                "%(label)s: several are named “%(name)s”; choose one of %(options)s.",
                label=f.label,
                name=text,
                options=names,
            )
        )
    raise FieldError(_l("%(label)s: choose one of %(options)s.", label=f.label, options=names))


def _days(match: re.Match) -> int:
    sign, n = match.groups()
    return (-1 if sign == "-" else 1) * int(n or 0)


def _pattern(raw: str) -> str:
    if len(raw) > MAX_PATTERN:
        raise FieldError(_l("Use a pattern of at most %(n)d characters.", n=MAX_PATTERN))
    try:
        parsed = sre_parse.parse(raw)
    except re.error as exc:
        raise FieldError(
            _l(
                "That is not a valid pattern (%(reason)s). Example: ^[A-Z]{2}[0-9]{6}$",
                reason=exc.msg,
            )
        ) from None
    if _nested_repeat(parsed):
        # Python's re has no time limit, and this runs on every save.
        raise FieldError(
            _l(
                "A repetition inside a repetition, like (a+)+, can take very long on some "
                "values; write the pattern without it."
            )
        )
    return raw


def _nested_repeat(items, inside: bool = False) -> bool:
    """Does an unbounded repetition contain another one (the cause of runaway matching)?"""
    for op, av in items:
        name, children, nested = str(op), [], inside
        if name in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
            unbounded = av[1] == MAXREPEAT or av[1] > 50
            if inside and unbounded:
                return True
            children, nested = [av[2]], inside or unbounded
        elif name == "SUBPATTERN":
            children = [av[-1]]
        elif name == "BRANCH":
            children = av[1]
        elif name in {"ASSERT", "ASSERT_NOT"}:
            children = [av[1]]
        elif name == "ATOMIC_GROUP":
            children = [av]
        if any(_nested_repeat(child, nested) for child in children):
            return True
    return False


def parsed(f: Field, text):
    """A stored canonical value as the record holds it (for comparisons)."""
    if text is None:
        return None
    raw = str(text)
    if f.options is not None:
        keys = {str(k): k for k, _ in f.options()}
        return keys[raw]
    if f.type in {"lookup", "user"}:
        return int(raw)
    if f.type in LISTS or f.type == "choice":
        return raw
    loose = replace(f, required=False, retired=frozenset(), minimum=None, maximum=None)
    return parse(loose, raw)


# -- compiled conditions ----------------------------------------------------------------------

Get = Callable[[str], object]
Today = Callable[[], tuple[date, str]]


class Broken(ValueError):
    """A stored condition names a field (or a value) the object no longer has."""


@dataclass(frozen=True)
class Condition:
    field: Field
    op: str
    value: object = None  # typed like the record's value
    other: Field | None = None
    days: int | None = None  # a date relative to today: today + days
    pattern: re.Pattern | None = None
    text: str | None = None  # the stored value, as stored

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", _tester(self))

    def explain(self, get: Get, changes: dict, today: Today, *, assume: bool = False) -> dict:
        """What was compared (the run history and the dry run); ``ok`` is None when a change
        cannot be known (a dry run over existing records) and is assumed."""
        name = self.field.name
        if assume and self.op in {"changed", "changed_from"} and name not in changes:
            ok = None
        elif assume and self.op == "changed_to" and name not in changes:
            ok = same(get(name), self.value)
        else:
            ok = self.test(get, changes, today)
        if self.other is not None:
            value = str(self.other.label)
        elif self.days is not None or self.pattern is not None:
            value = self.text
        else:
            value = None if self.value is None else shown(self.field, self.value)
        return {
            "field": name,
            "op": self.op,
            "value": value,
            "actual": shown(self.field, get(name)),
            "ok": ok,
        }

    def clause(self, otype):
        """The condition as SQL over the object's table (no change there: change operators
        never hold)."""
        f, op = self.field, self.op
        col = otype.column(f.name)
        if op in CHANGE_OPS:
            return false()
        if op in EMPTY_OPS:
            return _blank(f, col) if op == "is_empty" else not_(_blank(f, col))
        if self.pattern is not None:
            # PostgreSQL's regular expressions are not Python's: the SQL keeps every
            # candidate and the caller tests the pattern in Python (see workflows.jobs).
            return true()
        if op in {"contains", "not_contains"}:
            if f.type in LISTS:
                found = literal(str(self.value)) == any_(col)
            else:
                found = col.ilike(f"%{_escaped(str(self.value))}%", escape="\\")
            return found if op == "contains" else or_(not_(found), _blank(f, col))
        other = otype.column(self.other.name) if self.other is not None else None
        if self.days is not None:
            day, tz = today()
            other = literal(day + timedelta(days=self.days))
            if f.type == "datetime":
                col = func.date(func.timezone(tz, col))
        elif other is None:
            other = self.value
        if op in ORDER:
            return ORDER[op](col, other)
        if f.type == "bool":
            mine = func.coalesce(col, False)
            found = mine == (func.coalesce(other, False) if self.other is not None else other)
        elif f.type in TEXTUAL and self.other is not None:
            found = func.coalesce(func.lower(col), "") == func.coalesce(func.lower(other), "")
        elif f.type in TEXTUAL:
            found = func.lower(col) == str(other).lower()
        elif self.other is not None:
            found = col.is_not_distinct_from(other)
        else:
            found = col == other
        if op == "equals":
            return found
        return not_(found) if self.other is not None else or_(not_(found), col.is_(None))


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _blank(f: Field, col):
    if f.type in LISTS:
        return or_(col.is_(None), func.cardinality(col) == 0)
    if f.type == "bool":
        return or_(col.is_(None), col.is_(False))
    if f.type in TEXTUAL:
        return or_(col.is_(None), col == "")
    return col.is_(None)


def compile(otype, item: dict) -> Condition:
    """A stored condition ready to test; raises Broken when it names a field or a value
    the object no longer has (or one of another kind)."""
    try:
        return _compile(otype, item)
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise Broken(item.get("field") if isinstance(item, dict) else item) from exc


def _compile(otype, item: dict) -> Condition:
    f = otype.by_name[item["field"]]
    op = item["op"]
    if op not in ops_for(f, changes=True):
        raise ValueError(op)
    if op in NO_VALUE:
        return Condition(f, op)
    if item.get("other"):
        other = otype.by_name[item["other"]]
        if other not in others_for(otype, f, op):
            raise ValueError(item["other"])
        return Condition(f, op, other=other)
    text = str(item["value"])
    if op in PATTERN_OPS:
        return Condition(f, op, pattern=re.compile(text), text=text)
    if f.type in DATES and (match := RELATIVE.match(text)):
        return Condition(f, op, days=_days(match), text=text)
    return Condition(f, op, value=parsed(f, text), text=text)


def today() -> tuple[date, str]:
    """The tenant's today and time zone (asked only by a condition on a relative date)."""
    info = session().info
    # Read once per unit of work: an import job checks thousands of rows.
    tz = info.get("saas.conditions.tz") or info.setdefault("saas.conditions.tz", records._tz())
    return datetime.now(ZoneInfo(tz)).date(), tz


# -- the evaluator: closures built once, called on every write ------------------------------


def empty(value) -> bool:
    return value is None or value == "" or value == [] or value == ()


def same(value, other) -> bool:
    """Equal as people mean it: text ignores case, lists ignore order, empty is empty."""
    if empty(value) or empty(other):
        return empty(value) and empty(other)
    if isinstance(value, str) and isinstance(other, str):
        return value.casefold() == other.casefold()
    if isinstance(value, list | tuple) and isinstance(other, list | tuple):
        return sorted(map(_fold, value)) == sorted(map(_fold, other))
    try:
        return _number(value) == _number(other)
    except TypeError:
        return False


def _fold(v):
    return v.casefold() if isinstance(v, str) else v


def _number(value):
    return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _contains(lists: bool, value, part) -> bool:
    if empty(value):
        return False
    if lists:
        items = value if isinstance(value, list | tuple) else [value]
        return str(part).casefold() in {str(v).casefold() for v in items}
    return str(part).casefold() in str(value).casefold()


def _tester(c: Condition) -> Callable[[Get, dict, Today], bool]:
    """One condition as a closure: no operator dispatch left for the write to do."""
    name, op, value = c.field.name, c.op, c.value
    if op in CHANGE_OPS:
        pick = 1 if op == "changed_to" else 0

        def changed(get, changes, today) -> bool:
            pair = changes.get(name)
            if pair is None or same(pair[0], pair[1]):
                return False
            return op == "changed" or same(pair[pick], value)

        return changed
    if op in EMPTY_OPS:
        want = op == "is_empty"
        return lambda get, changes, today: empty(get(name)) is want
    if c.pattern is not None:
        search, want = c.pattern.fullmatch, op == "matches"

        def matches(get, changes, today) -> bool:
            v = get(name)
            return not empty(v) and (search(str(v)) is not None) is want

        return matches
    if op in {"contains", "not_contains"}:
        lists, want = c.field.type in LISTS, op == "contains"
        return lambda get, changes, today: _contains(lists, get(name), value) is want
    if c.field.type == "bool":  # an unset checkbox is "no"
        want = op == "equals"
        if c.other is not None:
            other = c.other.name
            return lambda get, changes, today: (bool(get(name)) is bool(get(other))) is want
        return lambda get, changes, today: (bool(get(name)) is bool(value)) is want
    if c.other is None and c.days is None:  # a value: the common case, kept short
        if op in {"equals", "not_equals"}:
            want = op == "equals"
            return lambda get, changes, today: same(get(name), value) is want
        order, bound = ORDER[op], _number(value)

        def ordered(get, changes, today) -> bool:
            v = get(name)
            if v is None or v == "":
                return False
            try:
                return order(_number(v), bound)
            except TypeError:  # a trusted caller's value of another type: none holds
                return False

        return ordered
    compare = _other(c)
    if op in {"equals", "not_equals"}:
        want = op == "equals"
        return lambda get, changes, today: same(*compare(get(name), get, today)) is want
    order = ORDER[op]

    def ordered_with(get, changes, today) -> bool:
        v, other = compare(get(name), get, today)
        if empty(v) or empty(other):
            return False
        try:
            return order(_number(v), _number(other))
        except TypeError:
            return False

    return ordered_with


def _other(c: Condition):
    """(record's value, what it is compared with) for another field or a relative date."""
    if c.other is not None:
        other = c.other.name
        return lambda v, get, today: (v, get(other))
    days = timedelta(days=c.days)

    def relative(v, get, today):
        day, tz = today()
        if isinstance(v, datetime):  # a time is compared by its day in the tenant's zone
            v = v.astimezone(ZoneInfo(tz)).date()
        return v, day + days

    return relative


# -- values in words ----------------------------------------------------------------------------


def shown(f: Field | None, value) -> str:
    """A value as people read it in the run history and the dry run."""
    if value is None or value == "" or value == []:
        return "—"
    if f is None:
        return str(value)
    if isinstance(value, list):
        return ", ".join(shown(replace(f, type="choice"), v) for v in value)
    if f.options is not None:
        return str(dict(f.options()).get(value, value))
    if f.choices:
        return f.choice_label(value)
    if f.type == "user":
        return records.member_names().get(value, f"#{value}")
    if f.type == "lookup":
        return records.titles(get(f.target), [value]).get(value, f"#{value}")
    if f.type == "bool":
        return str(_l("Yes") if value else _l("No"))
    if f.type == "datetime":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.astimezone(ZoneInfo(records._tz())).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return str(value)
