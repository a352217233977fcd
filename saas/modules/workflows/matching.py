"""Rules compiled once per cached load: cheap tests on every write, SQL for timed rules.

A stored rule becomes a :class:`Compiled` rule whose trigger and conditions are
closures over already-parsed values, so that a write only compares values; a
write that no rule is interested in costs a dictionary lookup (see ``engine``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, any_, false, func, not_, or_, true

from saas.modules.records.fields import TEXTUAL, Field
from saas.modules.records.registry import ObjectType, get
from saas.modules.workflows.definition import LISTS, shown, typed

MISSING = object()


class BrokenRule(ValueError):
    """A stored rule names a field the object no longer has."""


def value_of(record, changes: dict, name: str):
    """The record's value now: after the write, and after earlier rules' updates."""
    return getattr(record, name, None)


def _fold(v):
    return v.casefold() if isinstance(v, str) else v


def equal(a, b) -> bool:
    """Equal as people mean it: text ignores case, lists ignore order."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sorted(map(_fold, a)) == sorted(map(_fold, b))
    try:
        return _fold(a) == _fold(b)
    except TypeError:
        return False


def empty(v) -> bool:
    return v is None or v == "" or v == [] or v is False


def _ordered(a, b, op: str) -> bool:
    if a is None or b is None:
        return False
    try:
        return a > b if op == "gt" else a < b
    except TypeError:
        return False


def _contains(a, b) -> bool:
    if a is None:
        return False
    if isinstance(a, list | tuple):
        return _fold(b) in map(_fold, a)
    return str(b).casefold() in str(a).casefold()


def _tester(name: str, op: str, value) -> Callable[[object, dict], bool]:
    """A closure testing one condition: built once per cached load, called per write, so
    it does as little as possible (no operator dispatch, no attribute lookups)."""
    if op in {"changed", "changed_to", "changed_from"}:
        pick = 1 if op == "changed_to" else 0

        def changed(record, changes) -> bool:
            pair = changes.get(name)
            if pair is None or equal(pair[0], pair[1]):
                return False
            return op == "changed" or equal(pair[pick], value)

        return changed
    if op in {"gt", "lt"}:
        greater = op == "gt"

        def ordered(record, changes) -> bool:
            v = getattr(record, name, None)
            if v is None:
                return False
            try:
                return v > value if greater else v < value
            except TypeError:
                return False

        return ordered
    if op in {"equals", "not_equals"}:
        negate = op == "not_equals"
        if value is None or isinstance(value, str | list | tuple):
            return lambda record, changes: equal(getattr(record, name, None), value) is not negate
        if isinstance(value, bool):  # an unset checkbox is "no"
            return lambda record, changes: bool(getattr(record, name, None)) is (value ^ negate)

        def same(record, changes) -> bool:  # numbers and dates: a plain comparison
            v = getattr(record, name, None)
            return (v is not None and v == value) is not negate

        return same
    if op == "contains":
        return lambda record, changes: _contains(getattr(record, name, None), value)
    if op == "empty":
        return lambda record, changes: empty(getattr(record, name, None))
    return lambda record, changes: not empty(getattr(record, name, None))  # not_empty


@dataclass
class Condition:
    f: Field
    op: str
    value: object  # typed like the record's value
    raw: object  # canonical, as stored
    test: Callable[[object, dict], bool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.test = _tester(self.f.name, self.op, self.value)

    def explain(self, record, changes: dict, *, assume_changes: bool = False) -> dict:
        """What was compared (for the run history and the dry run); ``ok`` is None when a
        change cannot be known (a dry run over existing records) and is assumed."""
        name = self.f.name
        if self.op in {"changed", "changed_from"} and assume_changes and name not in changes:
            ok = None
        elif self.op == "changed_to" and assume_changes and name not in changes:
            ok = equal(value_of(record, changes, name), self.value)
        else:
            ok = self.test(record, changes)
        actual = value_of(record, changes, name)
        return {
            "field": name,
            "op": self.op,
            "value": None if self.value is None else shown(self.f, self.value),
            "actual": shown(self.f, actual),
            "ok": ok,
        }

    def clause(self, otype: ObjectType):
        """The condition as SQL over the object's table (timed rules: no changes there)."""
        col, v, f = otype.column(self.f.name), self.value, self.f
        text = f.type in TEXTUAL
        if self.op in {"equals", "not_equals"}:
            if f.type == "bool":
                found = col.is_(True) if v else or_(col.is_(None), col.is_(False))
            elif text:
                found = func.lower(col) == str(v).lower()
            else:
                found = col == v
            return found if self.op == "equals" else or_(not_(found), col.is_(None))
        if self.op == "gt":
            return col > v
        if self.op == "lt":
            return col < v
        if self.op == "contains":
            if f.type in LISTS:
                return v == any_(col)
            escaped = str(v).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return col.ilike(f"%{escaped}%", escape="\\")
        if f.type in LISTS:
            blank = or_(col.is_(None), func.cardinality(col) == 0)
        elif f.type == "bool":
            blank = or_(col.is_(None), col.is_(False))
        elif text:
            blank = or_(col.is_(None), col == "")
        else:
            blank = col.is_(None)
        if self.op == "empty":
            return blank
        if self.op == "not_empty":
            return not_(blank)
        return false()  # change operators never hold without a change


@dataclass
class Compiled:
    """An active rule, ready to test."""

    id: int
    name: str
    object: str
    position: int
    trigger: dict
    match_any: bool
    conditions: list[Condition]
    actions: list[dict]
    trigger_field: Field | None = None
    trigger_from: object = MISSING
    trigger_to: object = MISSING

    @property
    def kind(self) -> str:
        return self.trigger["kind"]

    def triggered(self, changes: dict) -> bool:
        """A "field_changed" trigger: the field changed (from / to the given values)."""
        if self.trigger_field is None or self.kind != "field_changed":
            return True
        name = self.trigger_field.name
        if name not in changes:
            return False
        old, new = changes[name]
        if equal(old, new):
            return False
        if self.trigger_from is not MISSING and not equal(old, self.trigger_from):
            return False
        return self.trigger_to is MISSING or equal(new, self.trigger_to)

    def __post_init__(self) -> None:
        self._tests = [c.test for c in self.conditions]

    def matches(self, record, changes: dict) -> bool:
        """Called for every write the rule is interested in: kept to plain loops."""
        if self.trigger_field is not None and not self.triggered(changes):
            return False
        if self.match_any:
            for test in self._tests:
                if test(record, changes):
                    return True
            return not self._tests
        for test in self._tests:  # noqa: SIM110  (no generator object per write)
            if not test(record, changes):
                return False
        return True

    def explain(self, record, changes: dict, *, assume_changes: bool = False) -> list[dict]:
        return [c.explain(record, changes, assume_changes=assume_changes) for c in self.conditions]

    def where(self, otype: ObjectType):
        """The conditions as one SQL clause."""
        if not self.conditions:
            return true()
        clauses = [c.clause(otype) for c in self.conditions]
        return or_(*clauses) if self.match_any else and_(*clauses)


def compile_rule(row: dict) -> Compiled:
    """A stored rule (plain dict) compiled against the current tenant's fields."""
    otype = get(row["object"])
    conditions = []
    for cond in row["conditions"]:
        f = otype.field(cond["field"])
        if f is None:
            raise BrokenRule(cond["field"])
        conditions.append(Condition(f, cond["op"], typed(f, cond.get("value")), cond.get("value")))
    for action in row["actions"]:
        if action["kind"] == "update" and otype.field(action["field"]) is None:
            raise BrokenRule(action["field"])
    rule = Compiled(
        id=row["id"],
        name=row["name"],
        object=row["object"],
        position=row["position"],
        trigger=row["trigger"],
        match_any=row["match"] == "any",
        conditions=conditions,
        actions=row["actions"],
    )
    name = row["trigger"].get("field")
    if name:
        f = otype.field(name)
        if f is None:
            raise BrokenRule(name)
        rule.trigger_field = f
        for key, attr in (("from", "trigger_from"), ("to", "trigger_to")):
            if row["trigger"].get(key) is not None:
                setattr(rule, attr, typed(f, row["trigger"][key]))
    return rule


@dataclass
class ObjectRules:
    """One object's active rules, by what starts them, each list in run order."""

    created: list[Compiled] = field(default_factory=list)
    updated: list[Compiled] = field(default_factory=list)  # any change
    deleted: list[Compiled] = field(default_factory=list)
    by_field: dict[str, list[Compiled]] = field(default_factory=dict)  # a field changed
    timed: list[Compiled] = field(default_factory=list)  # date and schedule

    def for_event(self, event: str, changes: dict) -> list[Compiled]:
        if event == "created":
            return self.created
        if event == "deleted":
            return self.deleted
        if event != "updated":
            return []
        if not self.by_field:
            return self.updated
        picked = [r for name in changes if name in self.by_field for r in self.by_field[name]]
        if not picked:
            return self.updated
        return sorted([*self.updated, *picked], key=lambda r: (r.position, r.id))


class RuleSet:
    """The tenant's active rules as the cache loader read them; compiled on first use
    (the loader runs while the tenant's shape loads, before fields can be asked)."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        self._index: dict[str, ObjectRules] | None = None
        self.broken: dict[int, str] = {}

    def index(self) -> dict[str, ObjectRules]:
        if self._index is None:
            self._index = self._build()
        return self._index

    def _build(self) -> dict[str, ObjectRules]:
        index: dict[str, ObjectRules] = {}
        for row in self.rows:  # in run order
            try:
                rule = compile_rule(row)
            except (BrokenRule, KeyError) as exc:
                self.broken[row["id"]] = str(exc)
                continue
            rules = index.setdefault(rule.object, ObjectRules())
            if rule.kind in {"date", "schedule"}:
                rules.timed.append(rule)
            elif rule.kind == "field_changed":
                rules.by_field.setdefault(rule.trigger_field.name, []).append(rule)
            else:
                getattr(rules, rule.kind).append(rule)
        return index
