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
    """Titles of linked records and option labels for a set of records.

    ``earlier``, the names of an earlier batch of the same fields (an export's), is
    built on: its users and labels are kept and only titles not known yet are read."""

    def __init__(self, otype: ObjectType, records, fields=None, earlier: Names | None = None):
        from saas.modules.customization.meta import attach
        from saas.modules.records import service

        fields = fields if fields is not None else otype.fields
        if any(f.custom for f in fields):
            attach(otype, records)  # one query for the custom values of every record
        self.users = earlier.users if earlier else service.member_names()
        # Titles by target and id; None for an id with no record (shown as "#id").
        self.lookups: dict[str, dict[int, str | None]] = earlier.lookups if earlier else {}
        self.options: dict[str, dict] = earlier.options if earlier else {}
        wanted: dict[str, set[int]] = defaultdict(set)
        for f in fields:
            if f.type == "lookup":
                wanted[f.target].update(getattr(r, f.name) for r in records)
            elif f.options is not None and f.name not in self.options:
                self.options[f.name] = dict(f.options())
        for target, ids in wanted.items():
            known = self.lookups.setdefault(target, {})
            missing = {i for i in ids if i is not None and i not in known}
            if missing:
                found = service.titles(get(target), missing)
                known.update({i: found.get(i) for i in missing})

    def lookup(self, f: Field, value) -> str:
        title = self.lookups.get(f.target, {}).get(value)
        return title if title is not None else f"#{value}"


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
