"""Layouts: the sections of an object's record page, the order and section of its fields
(which is also the order of its forms), and the columns of its list view.

One ``Layout`` row per object holds what the admin chose; without one an object shows
its defaults. ``meta._shape`` applies the row to ``otype.fields``, ``otype.list_fields``
and ``otype.shape.sections``. Stored:

- sections: ``[[key, label], ...]`` every section in order; a standard section's label
  is ``None`` unless renamed, so it stays translated;
- fields: ``[[name, section], ...]`` every field in order (fields added later follow);
- columns: ``[name, ...]`` the list view's columns in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from saas.db import session
from saas.modules.customization import meta
from saas.modules.customization.models import Layout
from saas.modules.records.service import ValidationErrors

MAX_COLUMNS = 20
MAX_LABEL = 60
STANDARD = dict(meta.SECTIONS)


@dataclass
class Section:
    key: str
    label: str | None  # None: the standard section's own (translated) label
    position: tuple = ()  # the sort key while reading the editor's form

    @property
    def standard(self) -> bool:
        return self.key in STANDARD

    @property
    def shown(self) -> str:
        return self.label or str(STANDARD.get(self.key, self.key))


@dataclass
class Draft:
    """A layout as the editor shows it and the admin changes it."""

    sections: list[Section]
    fields: list[tuple[str, str]]  # (field name, section key), in order
    columns: list[str]

    @property
    def section_keys(self) -> set[str]:
        return {s.key for s in self.sections}


def row(otype) -> Layout | None:
    return session().get(Layout, otype.name)


def current(otype) -> Draft:
    """The object's layout as it stands (its defaults when there is no row)."""
    stored = row(otype)
    sections = [Section(key, None) for key in STANDARD]
    if stored is not None:
        chosen = [
            Section(k, lbl or None) for k, lbl in stored.sections or () if k in STANDARD or lbl
        ]
        keys = {s.key for s in chosen}
        sections = chosen + [s for s in sections if s.key not in keys]
    keys = {s.key for s in sections}
    fields = [(f.name, f.section if f.section in keys else "details") for f in otype.fields]
    return Draft(sections, fields, [f.name for f in otype.list_fields])


def column_choices(otype) -> list:
    """The fields a list view can show (long texts do not fit a column)."""
    return [f for f in otype.fields if f.type != "longtext"]


def read(otype, form) -> Draft:
    """The layout the editor's form asks for; raises ValidationErrors keyed by input."""
    base = current(otype)
    errors: dict[str, object] = {}
    names = {f.name for f in otype.fields}
    for key in form:
        prefix, _, name = key.partition("-")
        if prefix in {"field_section", "field_pos", "column_pos"} and name not in names:
            errors["fields"] = _l("There is no field “%(name)s” on this object.", name=name)
    sections = _sections(base, form, errors)
    keys = {s.key for s in sections}
    removed = base.section_keys - keys

    fields = []
    for i, (name, section) in enumerate(base.fields):
        chosen = form.get(f"field_section-{name}", section)
        if chosen in removed:
            chosen = "details"  # a removed section's fields go back to the first section
        if chosen not in keys:
            errors[f"field_section-{name}"] = _l("Choose a section from the list.")
        position = _position(form, f"field_pos-{name}", i, errors)
        fields.append((position, name, chosen))
    ordered = [(name, section) for _, name, section in sorted(fields, key=lambda t: t[0])]

    choices = [f.name for f in column_choices(otype)]
    picked = form.getlist("column")
    unknown = [c for c in picked if c not in choices]
    if unknown:
        errors["columns"] = _l("There is no column “%(name)s” to show.", name=unknown[0])
    start = base.columns + [c for c in choices if c not in base.columns]
    columns = []
    for i, name in enumerate(start):
        if name in picked:
            columns.append((_position(form, f"column_pos-{name}", i, errors), name))
    columns = [name for _, name in sorted(columns)]
    if "column" not in form and not any(k.startswith("column_pos-") for k in form):
        columns = base.columns  # a form without the columns part keeps them
    elif not columns and "columns" not in errors:
        errors["columns"] = _l("Choose at least one column.")
    elif len(columns) > MAX_COLUMNS:
        errors["columns"] = _l("Choose at most %(n)d columns.", n=MAX_COLUMNS)
    if errors:
        raise ValidationErrors(errors)
    draft = Draft(sections, ordered, columns)
    _move(draft, form.get("move") or "")
    return draft


def _sections(base: Draft, form, errors: dict) -> list[Section]:
    """The sections in their new order: renamed, removed, one added."""
    sections = []
    for i, section in enumerate(base.sections):
        key = section.key
        if not section.standard and form.get(f"sec_remove-{key}") == "on":
            continue
        label = (form.get(f"sec_label-{key}", section.shown) or "").strip()
        if len(label) > MAX_LABEL:
            errors[f"sec_label-{key}"] = _l("Use at most %(n)d characters.", n=MAX_LABEL)
        elif not label and not section.standard:
            errors[f"sec_label-{key}"] = _l("Give the section a name.")
        if section.standard and (not label or label == str(STANDARD[key])):
            label = None
        position = _position(form, f"sec_pos-{key}", i, errors)
        sections.append(Section(key, label or None, position))
    known = {s.key for s in base.sections}
    for key in form.getlist("sec"):
        if key not in known:
            errors["sections"] = _l("There is no section “%(key)s”; reload the page.", key=key)
    new = (form.get("new_section") or "").strip()
    if len(new) > MAX_LABEL:
        errors["new_section"] = _l("Use at most %(n)d characters.", n=MAX_LABEL)
    elif new:
        if new.casefold() in {s.shown.casefold() for s in base.sections}:
            errors["new_section"] = _l("There is a section with this name already.")
        n = 1 + max((int(k[7:]) for k in known if k[7:].isdigit()), default=0)
        sections.append(Section(f"custom_{n}", new, (10_000, 1, 10_000)))
    return sorted(sections, key=lambda s: s.position)


def _position(form, key: str, index: int, errors: dict) -> tuple[int, int, int]:
    """A sort key: the number typed, then what the admin moved before what stayed."""
    raw = (form.get(key) or "").strip()
    if not raw:
        return (index + 1, 1, index)
    if not raw.isdigit() or not 0 < int(raw) < 10_000:
        errors[key] = _l("Enter a position: a whole number from 1.")
        return (index + 1, 1, index)
    number = int(raw)
    return (number, 0 if number != index + 1 else 1, index)


def _move(draft: Draft, move: str) -> None:
    """Apply a ↑/↓ button ("field:amount:up"): the editor works without JavaScript."""
    kind, _, rest = move.partition(":")
    name, _, direction = rest.rpartition(":")
    items = {
        "section": (draft.sections, lambda s: s.key),
        "field": (draft.fields, lambda f: f[0]),
        "column": (draft.columns, lambda c: c),
    }.get(kind)
    if items is None or direction not in {"up", "down"}:
        return
    seq, key = items
    found = [i for i, item in enumerate(seq) if key(item) == name]
    if not found:
        return
    i = found[0]
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(seq):
        seq[i], seq[j] = seq[j], seq[i]


def save(otype, draft: Draft) -> Layout:
    """Store the layout; every page of every process of the tenant shows it next."""
    layout = row(otype)
    if layout is None:
        layout = Layout(object=otype.name)
        session().add(layout)
    layout.sections = [[s.key, s.label] for s in draft.sections]
    layout.fields = [[name, section] for name, section in draft.fields]
    layout.columns = list(draft.columns)
    session().flush()
    meta.changed()
    return layout


def place(otype, name: str, section: str) -> None:
    """Put a field in a section of the saved layout, keeping its place (for the fields
    page's section choice: a saved layout would otherwise override it). Nothing to do
    without a saved layout; the caller calls ``meta.changed()``."""
    layout = row(otype)
    if layout is None:
        return
    entries = [list(entry) for entry in layout.fields or ()]
    for entry in entries:
        if entry[0] == name:
            entry[1] = section
            break
    else:
        entries.append([name, section])
    layout.fields = entries


def reset(otype) -> None:
    """Back to the object's default layout."""
    layout = row(otype)
    if layout is not None:
        session().delete(layout)
        session().flush()
    meta.changed()
