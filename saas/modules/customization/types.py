"""The types a tenant admin can give a custom field: their SQL column type and the
:class:`Field` every surface reads them through."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Numeric, String, Text
from sqlalchemy.dialects.postgresql import ARRAY

from saas.modules.records.fields import Field

# key -> label, in the order the "new field" form offers them
TYPES = {
    "text": _l("Text"),
    "longtext": _l("Long text"),
    "number": lazy_pgettext("field type", "Number"),
    "currency": _l("Currency"),
    "percent": _l("Percent"),
    "date": _l("Date"),
    "datetime": _l("Date and time"),
    "bool": _l("Checkbox"),
    "choice": _l("Picklist"),
    "multichoice": _l("Multi-select picklist"),
    "email": _l("E-mail"),
    "phone": _l("Phone"),
    "url": _l("URL"),
    "lookup": _l("Lookup"),
}
MAX_LENGTH = {"text": 255, "longtext": 32000, "email": 254, "phone": 50, "url": 2000}
CHOICE_KEY_LENGTH = 100
PLACES = {"currency": 2, "percent": 2, "number": 2}


def sql_type(f: Field):
    """The column type of a custom field."""
    if f.type in {"text", "email", "phone", "url"}:
        return String(f.max_length)
    if f.type == "longtext":
        return Text()
    if f.type in {"number", "currency", "percent"}:
        return Numeric(18, f.places)
    if f.type == "date":
        return Date()
    if f.type == "datetime":
        return DateTime(timezone=True)
    if f.type == "bool":
        return Boolean()
    if f.type == "choice":
        return String(CHOICE_KEY_LENGTH)
    if f.type == "multichoice":
        return ARRAY(String(CHOICE_KEY_LENGTH))
    if f.type == "lookup":
        return BigInteger()
    raise ValueError(f"unknown custom field type {f.type!r}")


def empty(f: Field):
    """The value of a record that has none."""
    return [] if f.type == "multichoice" else (False if f.type == "bool" else None)


def to_field(cf) -> Field:
    """The :class:`Field` of a custom field definition row."""
    options = cf.options or {}
    return Field(
        name=cf.name,
        label=cf.label,
        type=cf.type,
        required=cf.required and cf.type != "bool",
        max_length=int(options.get("max_length") or MAX_LENGTH.get(cf.type, 200)),
        choices=tuple((str(k), str(label)) for k, label in options.get("choices") or ()),
        target=options.get("target"),
        filter=cf.indexed,
        help=cf.help or "",
        section=options.get("section") or "details",
        places=int(options.get("places", PLACES.get(cf.type, 2))),
        default=cf.default,
        custom=True,
        unique=cf.unique,
        indexed=cf.indexed and cf.index_state == "ready" or cf.unique,
        retired=frozenset(options.get("retired") or ()),
    )
