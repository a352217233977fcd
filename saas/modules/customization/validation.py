"""Validation rules: conditions a tenant admin sets per object that refuse a write, each
with the message the user sees (like Salesforce's error condition formulas).

A rule **refuses** the write when its condition holds. A condition is all / any of
items comparing a field with a value or with another field; "required if" is written
"X is empty AND Y equals v". :func:`check` runs in ``service.checks``, so every write path
(forms, API, imports, workflow updates) meets the rules, on the record as it would be
after the write. Rule values are parsed once per tenant shape version (:func:`compiled`):
a write costs no query and no parsing beyond reading the record's own values.

What the operators mean (the rule form says the same):

- equals / does not equal: text ignores case; an empty field equals nothing, so
  "does not equal" holds for it.
- greater / less (or equal): numbers, currency, percent, dates, times; never holds
  for an empty field. Date values may be ``today``, ``today+7`` or ``today-30``.
- contains / does not contain: text (ignoring case), or one value of a multi-select
  picklist or of tags.
- does not match the pattern: a filled value that is not wholly of the pattern's form
  (the admin writes the pattern of valid values, e.g. ``[A-Z]{2}[0-9]{6}``); an empty
  value is left to "is empty". "matches the pattern" is the opposite: a filled value
  wholly of that form.
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
from sqlalchemy import func, select

from saas.db import session
from saas.modules.customization import meta
from saas.modules.customization.models import ValidationRule
from saas.modules.records import service
from saas.modules.records.fields import TEXTUAL, Field, FieldError, parse

TOP = "__all__"  # ValidationErrors key of a message shown at the top of the form
OPS = {
    "equals": _l("equals"),
    "not_equals": _l("does not equal"),
    "greater": _l("is greater than"),
    "greater_or_equal": _l("is greater than or equal to"),
    "less": _l("is less than"),
    "less_or_equal": _l("is less than or equal to"),
    "contains": _l("contains"),
    "not_contains": _l("does not contain"),
    "not_matches": _l("does not match the pattern"),
    "matches": _l("matches the pattern"),
    "is_empty": _l("is empty"),
    "is_not_empty": _l("is not empty"),
}
NO_VALUE = {"is_empty", "is_not_empty"}
ORDER = {
    "greater": operator.gt,
    "greater_or_equal": operator.ge,
    "less": operator.lt,
    "less_or_equal": operator.le,
}
NUMERIC = {"integer", "number", "currency", "percent"}
LISTS = {"multichoice", "tags"}
RELATIVE = re.compile(r"^today\s*(?:([+-])\s*(\d{1,4}))?$", re.IGNORECASE)
MAX_PATTERN = 300
MAX_CONDITIONS = 20


def ops_for(f: Field) -> tuple[str, ...]:
    """The operators that apply to a field's type."""
    empty = ("is_empty", "is_not_empty")
    if f.options is not None or f.type in {"choice", "lookup", "user"}:
        return ("equals", "not_equals", *empty)
    if f.type in TEXTUAL:
        return (
            "equals",
            "not_equals",
            "contains",
            "not_contains",
            "not_matches",
            "matches",
            *empty,
        )
    if f.type in NUMERIC | {"date", "datetime"}:
        return ("equals", "not_equals", *ORDER, *empty)
    if f.type in LISTS:
        return ("contains", "not_contains", *empty)
    if f.type == "bool":
        return ("equals", "not_equals")
    return empty


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


# -- compiled rules: what a write checks ------------------------------------------------


@dataclass(frozen=True)
class Condition:
    field: Field
    op: str
    value: object = None
    other: str | None = None
    days: int | None = None  # a date relative to today: today + days
    pattern: re.Pattern | None = None


@dataclass(frozen=True)
class Rule:
    id: int
    any: bool
    conditions: tuple[Condition, ...]
    field: str | None
    message: str


@meta.loader("validation")
def _fresh_cache() -> dict:
    """Where one tenant shape version keeps its compiled rules (filled on first use)."""
    return {}


def compiled(otype) -> tuple[Rule, ...]:
    """The object's active rules, parsed once per version of the tenant's shape."""
    shape = otype.shape
    if shape is None or not shape.rules:
        return ()
    cache = meta.current().get("validation")
    found = cache.get(otype.name) if cache is not None else None
    if found is None:
        found = tuple(r for r in (_compile(otype, rule) for rule in shape.rules) if r)
        if cache is not None:
            cache[otype.name] = found
    return found


def _compile(otype, rule: dict) -> Rule | None:
    """A rule ready to check; None when it names a field that is gone (not enforced)."""
    condition = rule.get("condition") or {}
    try:
        items = tuple(_condition(otype, c) for c in condition.get("conditions") or ())
    except (FieldError, KeyError, TypeError, ValueError, re.error):
        return None
    if not items:
        return None
    field = rule.get("field")
    return Rule(
        id=rule["id"],
        any=condition.get("match") == "any",
        conditions=items,
        field=field if field in otype.by_name else None,
        message=rule["message"],
    )


def _condition(otype, item: dict) -> Condition:
    f = otype.by_name[item["field"]]
    op = item["op"]
    if op not in ops_for(f):
        raise ValueError(op)
    if op in NO_VALUE:
        return Condition(f, op)
    if item.get("other"):
        other = otype.by_name[item["other"]]
        if kind(other) != kind(f):
            raise ValueError(item["other"])
        return Condition(f, op, other=other.name)
    raw = str(item["value"])
    if op in {"matches", "not_matches"}:
        return Condition(f, op, pattern=re.compile(raw))
    if f.type in {"date", "datetime"} and (match := RELATIVE.match(raw)):
        return Condition(f, op, days=_days(match))
    return Condition(f, op, value=_stored(f, op, raw))


def _days(match: re.Match) -> int:
    sign, n = match.groups()
    return (-1 if sign == "-" else 1) * int(n or 0)


def _stored(f: Field, op: str, raw: str):
    """The value a rule stores (its canonical string) as the record holds it."""
    if f.type in {"lookup", "user"} or f.options is not None:
        keys = {str(k): k for k, _ in f.options()} if f.options is not None else None
        return keys[raw] if keys is not None else int(raw)
    if f.type in LISTS or f.type == "choice":
        return raw
    loose = replace(f, required=False, retired=frozenset(), minimum=None, maximum=None)
    return parse(loose, raw)


# -- the check ----------------------------------------------------------------------------


def check(otype, record, values: dict, is_new: bool) -> None:
    """Refuse the write when any active rule's condition holds on the record as it
    would be after it; every failing rule's message, next to its field."""
    rules = compiled(otype)
    if not rules:
        return

    def get(name: str):
        return values[name] if name in values else getattr(record, name, None)

    today = _today()
    errors: dict[str, str] = {}
    for rule in rules:
        results = (_holds(c, get, today) for c in rule.conditions)
        if any(results) if rule.any else all(results):
            key = rule.field or TOP
            errors[key] = f"{errors[key]} {rule.message}" if key in errors else rule.message
    if errors:
        raise service.ValidationErrors(errors)


def _today() -> Callable[[], tuple[date, str]]:
    """The tenant's today and time zone, asked only if a rule compares with today."""
    found: list = []

    def today() -> tuple[date, str]:
        if not found:
            # Read once per unit of work: an import job checks thousands of rows.
            info = session().info
            tz = info.get("saas.validation.tz") or info.setdefault(
                "saas.validation.tz", service._tz()
            )
            found.append((datetime.now(ZoneInfo(tz)).date(), tz))
        return found[0]

    return today


def _empty(value) -> bool:
    return value is None or value == "" or value == []


def _holds(c: Condition, get: Callable, today: Callable) -> bool:
    value = get(c.field.name)
    if c.field.type == "bool":
        value = bool(value)
    if c.op == "is_empty":
        return _empty(value)
    if c.op == "is_not_empty":
        return not _empty(value)
    if c.pattern is not None:
        if _empty(value):
            return False
        return (c.pattern.fullmatch(str(value)) is not None) == (c.op == "matches")
    other = get(c.other) if c.other else c.value
    if c.days is not None:
        day, tz = today()
        other = day + timedelta(days=c.days)
        if isinstance(value, datetime):  # a time is compared by its day in the tenant's zone
            value = value.astimezone(ZoneInfo(tz)).date()
    if c.op in {"contains", "not_contains"}:
        return _contains(c.field, value, other) == (c.op == "contains")
    if c.op in {"equals", "not_equals"}:
        return _same(value, other) == (c.op == "equals")
    if _empty(value) or _empty(other):
        return False
    try:
        return ORDER[c.op](_number(value), _number(other))
    except TypeError:  # a trusted caller's value of another type: no comparison holds
        return False


def _number(value):
    return Decimal(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _same(value, other) -> bool:
    if _empty(value) or _empty(other):
        return _empty(value) and _empty(other)
    if isinstance(value, str) and isinstance(other, str):
        return value.casefold() == other.casefold()
    return value == other


def _contains(f: Field, value, part) -> bool:
    if _empty(value):
        return False
    if f.type in LISTS:
        items = value if isinstance(value, list | tuple) else [value]
        return str(part).casefold() in {str(v).casefold() for v in items}
    return str(part).casefold() in str(value).casefold()


# -- the admin's rules -----------------------------------------------------------------


def rules(otype) -> list[ValidationRule]:
    """Every rule of the object (inactive ones too), in the order they run."""
    stmt = select(ValidationRule).where(ValidationRule.object == otype.name)
    return list(
        session().execute(stmt.order_by(ValidationRule.position, ValidationRule.id)).scalars()
    )


def get_rule(otype, rule_id: int) -> ValidationRule | None:
    rule = session().get(ValidationRule, rule_id)
    return rule if rule is not None and rule.object == otype.name else None


def rules_using(otype, name: str) -> list[ValidationRule]:
    """The rules that name field ``name`` (to say so before the field is deleted)."""
    return [
        rule
        for rule in rules(otype)
        if rule.field == name
        or any(
            name in (item.get("field"), item.get("other"))
            for item in (rule.condition or {}).get("conditions") or ()
        )
    ]


def broken(otype, rule: ValidationRule) -> bool:
    """A rule naming a field or value that is gone is not enforced; the list says so."""
    return _compile(otype, {"id": rule.id, "condition": rule.condition, "message": ""}) is None


def save(otype, rule: ValidationRule | None, form) -> ValidationRule:
    """Create or change a rule from the admin's form; raises ValidationErrors keyed by
    the form's inputs (``cond-<i>-field``, ``cond-<i>-value``...), saving nothing."""
    errors: dict[str, object] = {}
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = _l("Give the rule a name.")
    elif len(name) > 100:
        errors["name"] = _l("Use at most 100 characters.")
    match = form.get("match") or "all"
    if match not in {"all", "any"}:
        errors["match"] = _l("Choose “all” or “any”.")
    items = []
    for i, row in enumerate(form_rows(form)):
        item = _read_row(otype, i, row, errors)
        if item is not None:
            items.append(item)
    if not items and not any(k.startswith("cond-") for k in errors):
        errors["conditions"] = _l("Add at least one condition.")
    message = (form.get("message") or "").strip()
    if not message:
        errors["message"] = _l("Write the message the user sees when the rule refuses a save.")
    elif len(message) > 500:
        errors["message"] = _l("Use at most 500 characters.")
    shown_on = form.get("field") or None
    if shown_on is not None and shown_on not in {f.name for f in otype.form_fields}:
        errors["field"] = _l("Choose a field from the list.")
    if errors:
        raise service.ValidationErrors(errors)
    if rule is None:
        last = (
            session()
            .execute(
                select(func.max(ValidationRule.position)).where(ValidationRule.object == otype.name)
            )
            .scalar()
        )
        rule = ValidationRule(object=otype.name, position=(last if last is not None else -1) + 1)
        session().add(rule)
    rule.name, rule.message, rule.field = name, message, shown_on
    rule.condition = {"match": match, "conditions": items}
    rule.active = form.get("active") == "on"
    session().flush()
    meta.changed()
    return rule


def toggle(rule: ValidationRule) -> None:
    rule.active = not rule.active
    meta.changed()


def move(otype, rule: ValidationRule, direction: str) -> None:
    """Run a rule one place earlier ("up") or later; positions are renumbered 0..n-1."""
    if direction not in {"up", "down"}:
        return
    ordered = rules(otype)
    i = ordered.index(rule)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(ordered):
        ordered[i], ordered[j] = ordered[j], ordered[i]
    for position, r in enumerate(ordered):
        r.position = position
    meta.changed()


def delete(rule: ValidationRule) -> None:
    session().delete(rule)
    meta.changed()


def form_rows(form) -> list[dict[str, str]]:
    """The condition rows of a submitted form, up to the last one filled in."""
    rows = [
        {k: (form.get(f"cond-{i}-{k}") or "").strip() for k in ("field", "op", "value", "other")}
        for i in range(MAX_CONDITIONS)
    ]
    while rows and not any(rows[-1].values()):
        rows.pop()
    return rows


def _read_row(otype, i: int, row: dict, errors: dict) -> dict | None:
    """One condition item from a form row; None (and an error) when it is not valid."""
    key = f"cond-{i}-"
    if not any(row.values()):
        return None
    f = otype.field(row["field"])
    if f is None:
        errors[key + "field"] = _l("Choose a field from the list.")
        return None
    op = row["op"]
    if op not in ops_for(f):
        errors[key + "op"] = _l("Choose what to check about %(label)s.", label=f.label)
        return None
    if op in NO_VALUE:
        return {"field": f.name, "op": op}
    if row["other"]:
        if row["value"]:
            errors[key + "value"] = _l("Compare with a value or with another field, not both.")
        elif row["other"] not in {g.name for g in others_for(otype, f, op)}:
            errors[key + "other"] = _l(
                "Choose a field %(label)s can be compared with.", label=f.label
            )
        else:
            return {"field": f.name, "op": op, "other": row["other"]}
        return None
    if not row["value"]:
        errors[key + "value"] = _l("Enter the value to compare with, or choose another field.")
        return None
    try:
        return {"field": f.name, "op": op, "value": _canonical(otype, f, op, row["value"])}
    except FieldError as exc:
        errors[key + "value"] = str(exc)
    except service.ValidationErrors as exc:
        errors[key + "value"] = " ".join(exc.errors.values())
    return None


def _canonical(otype, f: Field, op: str, raw: str) -> str:
    """The value to store for a condition, checked against the field's type."""
    if op in {"matches", "not_matches"}:
        return _pattern(raw)
    if f.type in {"date", "datetime"} and (match := RELATIVE.match(raw)):
        days = _days(match)
        return f"today{days:+d}" if days else "today"
    if f.options is not None:
        for key, label in f.options():
            if raw == str(key) or raw.casefold() == str(label).casefold():
                return str(key)
        raise FieldError(_l("%(label)s: choose one from the list.", label=f.label))
    loose = replace(f, required=False, retired=frozenset())
    if f.type in {"lookup", "user"}:
        if f.editable:
            return str(service.validate(otype, {f.name: raw}, partial=True)[f.name])
        return str(int(parse(loose, raw)))
    if f.type in TEXTUAL:
        if len(raw) > 500:
            raise FieldError(_l("%(label)s: use at most 500 characters.", label=f.label))
        return raw
    if f.type == "tags":
        if "," in raw:
            raise FieldError(_l("%(label)s: enter one tag.", label=f.label))
        return raw
    value = parse(loose, raw, tz=service._tz())
    if f.type == "multichoice":
        if len(value) != 1:
            raise FieldError(_l("%(label)s: choose one value.", label=f.label))
        return value[0]
    if f.type == "bool":
        return "yes" if value else "no"
    return value.isoformat() if isinstance(value, date) else str(value)


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


service.checks.append(check)
