"""Showing field values: one formatter per type, in the tenant's formats.

List pages show many rows; :class:`Names` loads the titles of linked records
and the names of owners once per page instead of once per cell.
"""

from __future__ import annotations

from collections import defaultdict

from flask_babel import gettext as _

from saas.i18n import day, moment, money, number
from saas.modules.records.fields import Field
from saas.modules.records.registry import ObjectType, get


class Names:
    """Titles of linked records and option labels for a set of records."""

    def __init__(self, otype: ObjectType, records, fields=None):
        from saas.modules.customization.meta import attach
        from saas.modules.records import service

        fields = fields if fields is not None else otype.fields
        if any(f.custom for f in fields):
            attach(otype, records)  # one query for the custom values of every record
        self.users = service.member_names()
        self.lookups: dict[str, dict[int, str]] = {}
        self.options: dict[str, dict] = {}
        wanted: dict[str, set[int]] = defaultdict(set)
        for f in fields:
            if f.type == "lookup":
                wanted[f.target].update(getattr(r, f.name) for r in records)
            elif f.options is not None:
                self.options[f.name] = dict(f.options())
        for target, ids in wanted.items():
            self.lookups[target] = service.titles(get(target), ids)

    def lookup(self, f: Field, value) -> str:
        return self.lookups.get(f.target, {}).get(value, f"#{value}")


def display(f: Field, record, names: Names | None = None) -> str:
    """The value of ``f`` on ``record`` as text for a page or an export."""
    value = getattr(record, f.name, None)
    if f.type == "bool":
        return _("Yes") if value else _("No")
    if value is None or value == "" or value == []:
        return ""
    if f.type == "user":
        return (names.users if names else {}).get(value, _("Former user"))
    if f.type == "lookup":
        return names.lookup(f, value) if names else f"#{value}"
    if f.options is not None:
        return str((names.options.get(f.name) if names else {}).get(value, value))
    if f.type == "choice":
        return f.choice_label(value)
    if f.type == "multichoice":
        return ", ".join(f.choice_label(v) for v in value)
    if f.type == "tags":
        return ", ".join(value)
    if f.type == "currency":
        return money(value, getattr(record, "currency", None))
    if f.type == "percent":
        return number(value) + " %"
    if f.type in {"number", "integer"}:
        return number(value)
    if f.type == "date":
        return day(value)
    if f.type == "datetime":
        return moment(value)
    return str(value)


def plain(f: Field, record, names: Names | None = None) -> str:
    """The value for a CSV file: numbers and dates unformatted, so spreadsheets read them."""
    value = getattr(record, f.name, None)
    if value is None or value == []:
        return ""
    if f.type in {"user", "lookup", "choice", "multichoice", "tags"} or f.options is not None:
        return display(f, record, names)
    if f.type == "bool":
        return "yes" if value else "no"
    if f.type == "datetime":
        return value.isoformat(timespec="seconds")
    if f.type == "date":
        return value.isoformat()
    return str(value)
