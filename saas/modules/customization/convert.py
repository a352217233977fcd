"""Changing a custom field's type: every stored value is converted by the new type's
own parser, or nothing changes and the admin learns how many values would not
convert (with examples).

Each distinct value is read once and parsed in Python, the same way a form or an
import would read it, so "1,250.50" becomes a number here as it would there.
The converted values go into a new column in one UPDATE, which then takes the
old column's place.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from saas.db import session
from saas.jobs import enqueue
from saas.modules.customization import ddl, meta, types
from saas.modules.customization.models import CustomField
from saas.modules.customization.service import (
    MAX_CHOICES,
    UNIQUE_TYPES,
    FieldChangeError,
    _ddl,
    _options,
    as_owner,
)
from saas.modules.records.fields import Field, FieldError, parse
from saas.modules.records.registry import ObjectType

TEMP = "cf_tmp_convert"
EXAMPLES = 3
# Above this many rows a conversion runs on a worker: its UPDATE of every row would
# outlast a web request (about 90 s for a million rows).
IN_REQUEST_ROWS = 50_000


def estimated_rows(otype: ObjectType) -> int:
    """PostgreSQL's estimate of the object's table size (no scan)."""
    table = otype.model.__table__
    found = (
        session()
        .execute(
            text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": f"{ddl.table_name(otype)}"},
        )
        .scalar()
    )
    return max(0, int(found or 0)) if table is not None else 0


def queue(otype: ObjectType, cf: CustomField, new_type: str, form) -> None:
    """Convert on a worker; the field's page shows the state until it is done."""
    from saas.modules.customization.jobs import convert_field

    if (cf.options or {}).get("conversion", {}).get("state") == "queued":
        raise FieldChangeError({"type": _l("A change of type is already on its way.")})
    if new_type not in types.TYPES or new_type == cf.type:
        raise FieldChangeError({"type": _l("Choose the type of the field.")})
    conversion = {"state": "queued", "to": new_type, "choices": str(form.get("choices") or "")}
    cf.options = {**(cf.options or {}), "conversion": conversion}
    session().flush()
    enqueue(convert_field, cf.id)


def run_queued(otype: ObjectType, cf: CustomField) -> dict:
    """The worker's side of :func:`queue`: convert, and note the outcome on the field."""
    conversion = dict((cf.options or {}).get("conversion") or {})
    if conversion.get("state") != "queued":
        return conversion
    try:
        with session().begin_nested():
            converted = change_type(otype, cf, conversion["to"], {"choices": conversion["choices"]})
        outcome = {"state": "done", "to": conversion["to"], "converted": converted}
    except FieldChangeError as exc:
        session().refresh(cf)
        outcome = {
            "state": "failed",
            "to": conversion["to"],
            "error": " ".join(exc.errors.values()),
        }
    cf.options = {**(cf.options or {}), "conversion": outcome}
    session().flush()
    return outcome


def as_input(f: Field, value) -> str:
    """A stored value as a person would type it (labels for picklists)."""
    if f.type == "choice":
        return f.choice_label(value)
    if f.type == "multichoice":
        return ", ".join(f.choice_label(v) for v in value)
    if f.type == "bool":
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def change_type(otype: ObjectType, cf: CustomField, new_type: str, form) -> int:
    """Convert the field to ``new_type``; returns how many records got a new value."""
    if new_type == cf.type:
        return 0
    if new_type not in types.TYPES:
        raise FieldChangeError({"type": _l("Choose the type of the field.")})
    if "lookup" in (cf.type, new_type):
        raise FieldChangeError(
            {
                "type": _l(
                    "A lookup field cannot change type, nor can another field become one: "
                    "add a new field and delete this one."
                )
            }
        )
    old = types.to_field(cf)
    table = ddl.table_name(otype)
    rows = (
        session()
        .execute(
            text(
                f"SELECT {cf.name}, {cf.name}::text, count(*) FROM {table}"
                f" WHERE {cf.name} IS NOT NULL GROUP BY 1, 2"
            )
        )
        .all()
    )
    errors: dict[str, object] = {}
    options = _options(form, new_type, {}, {k: v for k, v in cf.options.items() if k != "choices"})
    if new_type in {"choice", "multichoice"}:
        options["choices"] = _choices_for(old, rows, form, errors)
        options["retired"] = []
    if errors:
        raise FieldChangeError(errors)
    draft = CustomField(
        object=cf.object, name=cf.name, label=cf.label, type=new_type, required=False,
        unique=False, indexed=False, index_state="none", help="", default=None, options=options,
    )  # fmt: skip
    new = types.to_field(draft)
    mapping, failed, examples = {}, 0, []
    for value, key, count in rows:
        try:
            mapping[key] = parse(replace(new, required=False), as_input(old, value))
        except FieldError:
            failed += count
            if len(examples) < EXAMPLES:
                examples.append(as_input(old, value)[:40])
    if failed:
        raise FieldChangeError(
            {
                "type": _l(
                    "%(n)d values would not convert to %(type)s, for example %(examples)s. "
                    "Change or empty them first, or choose another type.",
                    n=failed,
                    type=types.TYPES[new_type],
                    examples=", ".join(f"“{e}”" for e in examples),
                )
            }
        )
    if cf.unique and new_type in UNIQUE_TYPES:
        _refuse_merged_values(rows, mapping)
    _rewrite(otype, cf, old, new, mapping)
    cf.type, cf.options = new_type, options
    cf.default = None  # the old default may not be a value of the new type
    if cf.unique and new_type not in UNIQUE_TYPES:
        cf.unique = False
    cf.indexed = cf.indexed and new_type != "longtext"
    _restore_constraints(otype, cf)
    session().flush()
    meta.changed()
    return sum(count for _value, key, count in rows if key in mapping)


def _refuse_merged_values(rows, mapping: dict) -> None:
    """A unique field whose different values would become equal (1.0 and 1)."""
    seen: dict = {}
    for _value, key, count in rows:
        if key in mapping:
            new = repr(mapping[key])
            seen[new] = seen.get(new, 0) + count
    clashes = sum(1 for n in seen.values() if n > 1)
    if clashes:
        raise FieldChangeError(
            {
                "type": _l(
                    "%(n)d converted values would no longer be unique; make them different first.",
                    n=clashes,
                )
            }
        )


def _choices_for(old: Field, rows, form, errors: dict) -> list:
    """Picklist values: the ones the admin gave, else one per distinct stored value."""
    given = [line.strip() for line in str(form.get("choices") or "").splitlines() if line.strip()]
    if not given:
        labels = []
        for value, _key, _count in rows:
            for item in value if isinstance(value, list) else [value]:
                label = as_input(
                    replace(old, type="choice") if old.type == "multichoice" else old, item
                )
                if label and label not in labels:
                    labels.append(label[:100])
        given = labels
    if len(given) > MAX_CHOICES:
        errors["choices"] = _l(
            "The field holds %(n)d different values; a picklist can have at most %(max)d.",
            n=len(given),
            max=MAX_CHOICES,
        )
        return []
    from saas.modules.customization.service import parse_choices

    choices = parse_choices("\n".join(given))
    if not choices:
        errors["choices"] = _l("Give at least one value, one per line.")
    return choices


def _rewrite(otype: ObjectType, cf: CustomField, old: Field, new: Field, mapping: dict) -> None:
    table = ddl.table_name(otype)
    sql_type = types.sql_type(new).compile(dialect=postgresql.dialect())
    not_null = " NOT NULL DEFAULT false" if new.type == "bool" else ""
    statements = [
        ddl.drop_trigger(otype, old),
        f"ALTER TABLE {table} ADD COLUMN {TEMP} {sql_type}{not_null}",
        f"CREATE TEMP TABLE {TEMP} (k text PRIMARY KEY, v {sql_type}) ON COMMIT DROP",
    ]
    with as_owner() as conn:
        ddl.execute(*statements)
        if mapping:
            conn.exec_driver_sql(
                f"INSERT INTO {TEMP} (k, v) VALUES (%s, %s)", list(mapping.items())
            )
            conn.exec_driver_sql(
                f"UPDATE {table} t SET {TEMP} = c.v FROM {TEMP} c WHERE t.{cf.name}::text = c.k"
            )
        ddl.execute(
            f"DROP TABLE {TEMP}",
            f"ALTER TABLE {table} DROP COLUMN {cf.name}",
            f"ALTER TABLE {table} RENAME COLUMN {TEMP} TO {cf.name}",
        )


def _restore_constraints(otype: ObjectType, cf: CustomField) -> None:
    """Required, unique and index of the field, on its new column."""
    f = types.to_field(cf)
    statements = []
    if cf.required and cf.type != "bool":
        statements.append(ddl.required_trigger(otype, f))
    if cf.unique:
        statements.append(ddl.unique_index(otype, f))
        cf.index_state = "ready"
    elif cf.indexed:
        cf.index_state = "building"
        from saas.modules.customization.jobs import build_index

        enqueue(build_index, cf.id)
    else:
        cf.index_state = "none"
    if statements:
        _ddl(statements)
