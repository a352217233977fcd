"""Validation rules: conditions a tenant admin sets per object that refuse a write, each
with the message the user sees (like Salesforce's error condition formulas).

A rule **refuses** the write when its condition holds. A condition is all / any of
items (see :mod:`conditions` for what each operator means); "required if" is written
"X is empty AND Y equals v", "Stage changed from Won" refuses reopening a won deal.
:func:`check` runs in ``service.checks``, so every write path (forms, API, imports,
workflow updates) meets the rules, on the record as it would be after the write. Rules
are compiled once per tenant shape version (:func:`compiled`): a write costs no query
and no parsing beyond reading the record's own values.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from saas.db import session
from saas.modules.customization import conditions, meta
from saas.modules.customization.conditions import OPS, RELATIVE, Broken, others_for  # noqa: F401
from saas.modules.customization.models import ValidationRule
from saas.modules.records import service
from saas.modules.records.fields import Field

TOP = "__all__"  # ValidationErrors key of a message shown at the top of the form
MAX_CONDITIONS = 20


def ops_for(f: Field) -> tuple[str, ...]:
    """The operators a validation rule offers for a field (a write is a change)."""
    return conditions.ops_for(f, changes=True)


# -- compiled rules: what a write checks ------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: int
    any: bool
    tests: tuple
    field: str | None
    message: str
    changes: bool  # a condition looks at what the write changes


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
        items = tuple(conditions.compile(otype, c) for c in condition.get("conditions") or ())
    except Broken:
        return None
    if not items:
        return None
    field = rule.get("field")
    return Rule(
        id=rule["id"],
        any=condition.get("match") == "any",
        tests=tuple(c.test for c in items),
        field=field if field in otype.by_name else None,
        message=rule["message"],
        changes=any(c.op in conditions.CHANGE_OPS for c in items),
    )


# -- the check ----------------------------------------------------------------------------


def check(otype, record, values: dict, is_new: bool) -> None:
    """Refuse the write when any active rule's condition holds on the record as it
    would be after it; every failing rule's message, next to its field."""
    rules = compiled(otype)
    if not rules:
        return

    def get(name: str):
        return values[name] if name in values else getattr(record, name, None)

    changes = {}
    if any(rule.changes for rule in rules):  # the record still holds the old values
        changes = {
            name: (None if is_new else getattr(record, name, None), new)
            for name, new in values.items()
        }
    today = conditions.today
    errors: dict[str, str] = {}
    for rule in rules:
        results = (test(get, changes, today) for test in rule.tests)
        if any(results) if rule.any else all(results):
            key = rule.field or TOP
            errors[key] = f"{errors[key]} {rule.message}" if key in errors else rule.message
    if errors:
        raise service.ValidationErrors(errors)


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
        if not any(row.values()):
            continue
        item = conditions.read_row(otype, row, f"cond-{i}-", errors, changes=True)
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


check.applies = lambda otype: bool(compiled(otype))  # bulk writes ask once per batch
service.checks.append(check)
