"""Adding, changing and deleting a tenant's custom fields. Flushes, never commits.

Each change writes the definition row and the column DDL in the current
transaction, so a field and its column appear (or go) together, and bumps the
tenant's meta version so every process sees the new shape.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from flask_babel import lazy_gettext as _l
from slugify import slugify
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from saas.db import session
from saas.jobs import enqueue
from saas.modules.customization import ddl, meta, types
from saas.modules.customization.models import CustomField, Layout
from saas.modules.records.fields import FieldError, form_value, parse
from saas.modules.records.registry import ObjectType, all_types

MAX_FIELDS = 500  # per object
MAX_CHOICES = 1000
UNIQUE_TYPES = {"text", "email", "phone", "url", "number", "date"}
INDEX_TYPES = set(types.TYPES) - {"longtext"}


class FieldChangeError(ValueError):
    """Field name -> message, for the admin's form."""

    def __init__(self, errors: Mapping[str, object]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = {k: str(v) for k, v in errors.items()}


def definitions(otype: ObjectType) -> list[CustomField]:
    stmt = select(CustomField).where(CustomField.object == otype.name).order_by(CustomField.id)
    return list(session().execute(stmt).scalars())


def get_definition(otype: ObjectType, field_id) -> CustomField | None:
    cf = session().get(CustomField, field_id) if str(field_id).isdigit() else None
    return cf if cf is not None and cf.object == otype.name else None


def lookup_targets() -> list[ObjectType]:
    return [t for t in all_types() if t.creatable]


# -- reading the admin's form ----------------------------------------------------------


def _flag(form: Mapping, name: str) -> bool:
    return str(form.get(name, "")).lower() in {"on", "1", "true", "yes"}


def column_name(label: str, otype: ObjectType, wanted: str = "") -> str:
    """``cf_`` and the label in ASCII (or ``field_<n>``), unused by the object."""
    base = slugify(wanted or unicodedata.normalize("NFKC", label), separator="_", max_length=36)
    base = re.sub(r"^[^a-z]+", "", base) or "field"
    taken = set(otype.by_name) | {cf.name for cf in definitions(otype)}
    name, n = f"cf_{base}", 2
    while name in taken:
        name, n = f"cf_{base}_{n}", n + 1
    return name


def parse_choices(text: str, existing: list | None = None) -> list[list[str]]:
    """One value per line -> [[key, label], ...]; keys stay stable once given."""
    choices = [list(c) for c in existing or ()]
    keys = {k for k, _ in choices}
    labels = {label.lower() for _, label in choices}
    for line in str(text or "").splitlines():
        label = line.strip()[:100]
        if not label or label.lower() in labels:
            continue
        key = slugify(label, separator="_", max_length=40) or "value"
        candidate, n = key, 2
        while candidate in keys:
            candidate, n = f"{key}_{n}", n + 1
        choices.append([candidate, label])
        keys.add(candidate)
        labels.add(label.lower())
    return choices


def _options(form: Mapping, ftype: str, errors: dict, existing: dict | None = None) -> dict:
    options = dict(existing or {})
    if ftype == "text":
        raw = str(form.get("max_length") or options.get("max_length") or 255)
        if not raw.isdigit() or not 1 <= int(raw) <= 2000:
            errors["max_length"] = _l("Maximum length: a whole number from 1 to 2000.")
        else:
            options["max_length"] = int(raw)
    if ftype == "number":
        raw = str(form.get("places", options.get("places", 2)))
        if not raw.isdigit() or int(raw) > 6:
            errors["places"] = _l("Decimal places: a whole number from 0 to 6.")
        else:
            options["places"] = int(raw)
    if ftype == "lookup":
        target = form.get("target") or options.get("target")
        if target not in {t.name for t in lookup_targets()}:
            errors["target"] = _l("Choose the kind of record this field points to.")
        options["target"] = target
    if ftype in {"choice", "multichoice"}:
        options["choices"] = parse_choices(form.get("choices", ""), options.get("choices"))
        if not options["choices"]:
            errors["choices"] = _l("Give at least one value, one per line.")
        elif len(options["choices"]) > MAX_CHOICES:
            errors["choices"] = _l("Use at most %(n)d values.", n=MAX_CHOICES)
    return options


def _check_default(cf_like: CustomField, errors: dict):
    """The parsed default value (errors noted), or None."""
    if cf_like.default in (None, ""):
        cf_like.default = None
        return None
    f = types.to_field(cf_like)
    try:
        value = parse(replace(f, required=False), cf_like.default)
    except FieldError as exc:
        errors["default"] = _l("Default value: %(error)s", error=str(exc))
        return None
    # Kept as a form would send it ("gold" for the label "Gold"), so forms preselect it.
    cf_like.default = form_value(f, value) or None
    return value


# -- adding --------------------------------------------------------------------------


def add_field(otype: ObjectType, form: Mapping) -> CustomField:
    """A new custom field and its column (indexed ones get their index from a worker)."""
    errors: dict[str, object] = {}
    label = str(form.get("label", "")).strip()
    ftype = str(form.get("type", ""))
    if not label or len(label) > 100:
        errors["label"] = _l("Give the field a name of at most 100 characters.")
    if ftype not in types.TYPES:
        errors["type"] = _l("Choose the type of the field.")
        raise FieldChangeError(errors)
    count = (
        session()
        .execute(
            select(func.count()).select_from(CustomField).where(CustomField.object == otype.name)
        )
        .scalar_one()
    )
    if count >= MAX_FIELDS:
        raise FieldChangeError(
            {
                "label": _l(
                    "%(object)s already has %(n)d custom fields, the most it can have. "
                    "Delete one you no longer use first.",
                    object=otype.label,
                    n=MAX_FIELDS,
                )
            }
        )
    wanted = str(form.get("name", "")).strip().removeprefix("cf_")
    if wanted and not re.fullmatch(r"[a-z][a-z0-9_]{0,35}", wanted):
        errors["name"] = _l("API name: lower-case letters, digits and _, starting with a letter.")
    cf = CustomField(
        object=otype.name,
        name=column_name(label, otype, wanted),
        label=label,
        type=ftype,
        required=_flag(form, "required") and ftype != "bool",
        unique=_flag(form, "unique"),
        indexed=_flag(form, "indexed") and ftype in INDEX_TYPES,
        help=str(form.get("help", "")).strip()[:500],
        default=str(form.get("default", "")).strip()[:500] or None,
        options=_options(form, ftype, errors),
    )
    if cf.unique and ftype not in UNIQUE_TYPES:
        errors["unique"] = _l(
            "Only text, e-mail, phone, URL, number and date fields can be unique."
        )
    if cf.unique and cf.default:
        errors["unique"] = _l("A unique field cannot have a default value.")
    default = _check_default(cf, errors)
    if errors:
        raise FieldChangeError(errors)
    cf.index_state = "ready" if cf.unique else ("building" if cf.indexed else "none")
    try:
        with session().begin_nested():
            session().add(cf)
            session().flush()
    except IntegrityError:  # another admin added the same API name a moment ago
        raise FieldChangeError(
            {
                "name": _l(
                    "%(object)s already has a field named %(name)s; choose another.",
                    object=otype.label,
                    name=cf.name,
                )
            }  # fmt: skip
        ) from None
    _ddl(ddl.add_column(otype, types.to_field(cf), default))
    _place(otype, cf.name, str(form.get("section") or "details"), _flag(form, "in_list"))
    meta.changed()
    if cf.index_state == "building":
        from saas.modules.customization.jobs import build_index

        enqueue(build_index, cf.id)
    return cf


def _ddl(statements: list[str]) -> None:
    with as_owner():
        ddl.execute(*statements)


@contextmanager
def as_owner() -> Iterator:
    """DDL as the tables' owner (:func:`ddl.as_owner`); a busy table or PostgreSQL's
    column limit is a sentence for the admin, not a failed request."""
    try:
        with ddl.as_owner() as conn:
            yield conn
    except DBAPIError as exc:
        code = getattr(exc.orig, "sqlstate", "")
        if code == "55P03":  # lock_not_available
            raise FieldChangeError(
                {"label": _l("The table is busy right now. Try again in a minute.")}
            ) from None
        if code == "54011":  # too_many_columns (deleted columns count too)
            raise FieldChangeError(
                {
                    "label": _l(
                        "This object's table has reached the database's column limit "
                        "(deleted fields count until the table is compacted). "
                        "Contact support to compact it."
                    )
                }
            ) from None
        raise


def _place(otype: ObjectType, name: str, section: str, in_list: bool) -> None:
    """Put a new field at the end of its section; in the list columns if asked."""
    layout = session().get(Layout, otype.name)
    if layout is None and section == "details" and not in_list:
        return  # the default layout already shows it at the end of Details
    if layout is None:
        layout = Layout(object=otype.name, sections=[], fields=[], columns=[])
        session().add(layout)
    known = {k for k, _ in meta.SECTIONS} | {k for k, _ in layout.sections or ()}
    section = section if section in known else "details"
    if layout.fields or section != "details":
        current = layout.fields or [[f.name, f.section] for f in otype.fields]
        layout.fields = [*current, [name, section]]
    if in_list:
        columns = layout.columns or [f.name for f in otype.list_fields]
        layout.columns = [*columns, name]


# -- changing -----------------------------------------------------------------------------


def update_field(otype: ObjectType, cf: CustomField, form: Mapping) -> CustomField:
    """Label, help, default, required, unique, indexed and picklist values; a new type
    goes through :func:`saas.modules.customization.convert.change_type`."""
    errors: dict[str, object] = {}
    before = types.to_field(cf)
    label = str(form.get("label", cf.label)).strip()
    if not label or len(label) > 100:
        errors["label"] = _l("Give the field a name of at most 100 characters.")
    cf.label = label or cf.label
    cf.help = str(form.get("help", cf.help or "")).strip()[:500]
    cf.default = str(form.get("default", cf.default or "")).strip()[:500] or None
    required = _flag(form, "required") and cf.type != "bool"
    unique = _flag(form, "unique")
    indexed = _flag(form, "indexed") and cf.type in INDEX_TYPES
    if unique and cf.type not in UNIQUE_TYPES:
        errors["unique"] = _l(
            "Only text, e-mail, phone, URL, number and date fields can be unique."
        )
    options = dict(cf.options or {})
    if cf.type in {"choice", "multichoice"}:
        options = _picklist(form, options, errors)
    elif cf.type in {"text", "number"}:
        options = _options(form, cf.type, errors, options)
    cf.options = options
    default = _check_default(cf, errors)
    if errors:
        session().expire(cf)
        raise FieldChangeError(errors)
    statements = []
    after = types.to_field(cf)
    if before.type == "text" and after.max_length != before.max_length:
        statements.append(_resize(otype, cf, before.max_length, after.max_length))
    if (cf.default or None) != (before.default or None):
        default_sql = ddl.column_default(after, default) or " DEFAULT NULL"
        statements.append(
            f"ALTER TABLE {ddl.table_name(otype)} ALTER COLUMN {cf.name} SET{default_sql}"
        )
    if required != cf.required:
        cf.required = required
        field = types.to_field(cf)
        if required:
            statements.append(ddl.required_trigger(otype, field))
        else:
            statements += ddl.drop_required(otype, field)
    if unique != cf.unique:
        cf.unique = unique
        if unique:
            _refuse_duplicates(otype, cf)
            statements.append(ddl.unique_index(otype, types.to_field(cf)))
        else:
            statements.append(ddl.drop_index(otype, before, "cfu"))
    enqueue_index = False
    if indexed != cf.indexed:
        cf.indexed = indexed
        if indexed:
            cf.index_state, enqueue_index = "building", True
        else:
            cf.index_state = "none"
            statements.append(ddl.drop_index(otype, before, "cfi"))
    if cf.unique:
        cf.index_state = "ready"
    if statements:
        _ddl(statements)
    session().flush()
    meta.changed()
    if enqueue_index:
        from saas.modules.customization.jobs import build_index

        enqueue(build_index, cf.id)
    return cf


def _resize(otype: ObjectType, cf: CustomField, old: int, new: int) -> str:
    if new < old:
        table = ddl.table_name(otype)
        longer = (
            session()
            .execute(text(f"SELECT count(*) FROM {table} WHERE length({cf.name}) > :n"), {"n": new})
            .scalar_one()
        )
        if longer:
            raise FieldChangeError(
                {
                    "max_length": _l(
                        "%(n)d records have a longer value; shorten them first or keep "
                        "the length at %(old)d or more.",
                        n=longer,
                        old=old,
                    )
                }
            )
    return f"ALTER TABLE {ddl.table_name(otype)} ALTER COLUMN {cf.name} TYPE varchar({new})"


def _refuse_duplicates(otype: ObjectType, cf: CustomField) -> None:
    table = ddl.table_name(otype)
    dupes = (
        session()
        .execute(
            text(
                f"SELECT count(*) FROM (SELECT {cf.name} FROM {table} WHERE deleted_at IS NULL"
                f" AND {cf.name} IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d"
            )
        )
        .scalar_one()
    )
    if dupes:
        raise FieldChangeError(
            {
                "unique": _l(
                    "%(n)d values appear on more than one record; make them different "
                    "before the field can be unique.",
                    n=dupes,
                )
            }
        )


def _picklist(form: Mapping, options: dict, errors: dict) -> dict:
    """Rename, reorder, retire and restore values (``label_<key>``, ``position_<key>``,
    ``retired_<key>``) and add new ones (``choices``, one per line)."""
    choices = [list(c) for c in options.get("choices") or ()]
    order = {}
    for index, (key, label) in enumerate(choices):
        new_label = str(form.get(f"label_{key}", label)).strip()[:100]
        if not new_label:
            errors["choices"] = _l("A value needs a label; retire it instead of emptying it.")
            new_label = label
        choices[index] = [key, new_label]
        position = str(form.get(f"position_{key}", index + 1))
        order[key] = (int(position) if position.isdigit() else index + 1, index)
    labels = [label.lower() for _, label in choices]
    if len(set(labels)) != len(labels):
        errors["choices"] = _l("Two values have the same label.")
    choices.sort(key=lambda c: order[c[0]])
    retired = [k for k, _ in choices if _flag(form, f"retired_{k}")] if "choices" in form else []
    choices = parse_choices(form.get("choices", ""), choices)
    if len(choices) > MAX_CHOICES:
        errors["choices"] = _l("Use at most %(n)d values.", n=MAX_CHOICES)
    if len(retired) == len(choices):
        errors["choices"] = _l("Keep at least one value in use.")
    return {**options, "choices": choices, "retired": retired}


# -- deleting -----------------------------------------------------------------------------


def usage(otype: ObjectType, cf: CustomField) -> int:
    """How many records (recycle bin included) hold a value the deletion would remove."""
    table = ddl.table_name(otype)
    empty = "false" if cf.type == "bool" else ("'{}'" if cf.type == "multichoice" else None)
    condition = f"{cf.name} IS NOT NULL" + (f" AND {cf.name} <> {empty}" if empty else "")
    return session().execute(text(f"SELECT count(*) FROM {table} WHERE {condition}")).scalar_one()


def delete_field(otype: ObjectType, cf: CustomField) -> None:
    """Drop the column and the definition; layouts forget the field."""
    _ddl(ddl.drop_column(otype, types.to_field(cf)))
    layout = session().get(Layout, otype.name)
    if layout is not None:
        layout.fields = [p for p in layout.fields or () if p[0] != cf.name]
        layout.columns = [c for c in layout.columns or () if c != cf.name]
    session().delete(cf)
    session().flush()
    meta.changed()


def object_types() -> list[ObjectType]:
    """Objects a tenant can add fields to: every one."""
    return all_types()
