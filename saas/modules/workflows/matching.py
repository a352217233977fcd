"""Rules compiled once per cached load: cheap tests on every write, SQL for timed rules.

A stored rule becomes a :class:`Compiled` rule whose trigger and conditions
(:mod:`saas.modules.customization.conditions`) are closures over already-parsed
values, so that a write only compares values; a write that no rule is interested
in costs a dictionary lookup (see ``engine``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, or_, true

from saas.modules.customization import conditions
from saas.modules.customization.conditions import Condition, same, today
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, get

MISSING = object()
equal = same  # what the actions call a change (the conditions' equality)


class BrokenRule(ValueError):
    """A stored rule names a field the object no longer has."""


def value_of(record, changes: dict, name: str):
    """The record's value now: after the write, and after earlier rules' updates."""
    return getattr(record, name, None)


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
        tests = self._tests
        if not tests:
            return True

        def get(name: str):
            return getattr(record, name, None)

        if self.match_any:
            for test in tests:  # noqa: SIM110
                if test(get, changes, today):
                    return True
            return False
        for test in tests:  # noqa: SIM110  (no generator object per write)
            if not test(get, changes, today):
                return False
        return True

    def explain(self, record, changes: dict, *, assume_changes: bool = False) -> list[dict]:
        def get(name: str):
            return getattr(record, name, None)

        return [c.explain(get, changes, today, assume=assume_changes) for c in self.conditions]

    def where(self, otype: ObjectType):
        """The conditions as one SQL clause."""
        if not self.conditions:
            return true()
        clauses = [c.clause(otype) for c in self.conditions]
        return or_(*clauses) if self.match_any else and_(*clauses)


def compile_rule(row: dict) -> Compiled:
    """A stored rule (plain dict) compiled against the current tenant's fields."""
    otype = get(row["object"])
    compiled = []
    for cond in row["conditions"]:
        try:
            compiled.append(conditions.compile(otype, cond))
        except conditions.Broken as exc:
            raise BrokenRule(str(exc)) from None
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
        conditions=compiled,
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
                try:
                    setattr(rule, attr, conditions.parsed(f, row["trigger"][key]))
                except (KeyError, ValueError):  # a stage that is gone
                    raise BrokenRule(name) from None
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
