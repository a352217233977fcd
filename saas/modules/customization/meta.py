"""Each tenant's shape of its objects, cached per process.

A tenant's custom fields, layouts, validation rules (and whatever else a module
registers with :func:`loader`, workflow rules for one) are read once and kept
in a bounded LRU keyed by the tenant's schema and ``meta_version``. Every
change to them bumps ``public.tenants.meta_version`` in the same transaction
(:func:`changed`), and every request and job reads that version with its
tenant, so a process never uses a stale shape and memory does not grow with
the number of tenants it has served.

Inside the transaction that changes them, the unit of work sees its own
uncommitted shape; the process cache only ever holds committed ones.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, MetaData, Select, Table, bindparam, column, select, text

from saas.db import TENANT_SCHEMA, after_commit, current_tenant, session
from saas.modules.customization import types
from saas.modules.records.fields import TEXTUAL, Field

MAX_TENANTS = 256  # tenants whose shape one process keeps
SECTIONS = (
    ("details", _l("Details")),
    ("address", _l("Address")),
    ("care", _l("Customer care")),
    ("more", _l("More")),
)
AUDIT = {"owner_id", "created_at", "updated_at"}
LOADED = "_cf_loaded"  # on a record instance: its custom values are kept on it
_LOADERS: dict[str, Callable[[], object]] = {}
_cache: OrderedDict[str, TenantMeta] = OrderedDict()
_lock = threading.Lock()


def loader(name: str) -> Callable:
    """Register ``fn()`` (run in the tenant's unit of work) as part of the cached shape."""

    def register(fn: Callable[[], object]) -> Callable[[], object]:
        _LOADERS[name] = fn
        return fn

    return register


@dataclass
class Shape:
    """One object as one tenant has shaped it."""

    fields: tuple[Field, ...]
    by_name: dict[str, Field]
    custom: tuple[Field, ...]
    list_fields: tuple[Field, ...]
    sections: tuple[tuple[str, object], ...]
    searchable: tuple[str, ...]
    table: Table  # the object's table with its custom columns, for INSERT and UPDATE
    rules: tuple[dict, ...]  # active validation rules, in order
    # custom columns of the model's own table, for WHERE and ORDER BY next to it
    columns: dict = field(default_factory=dict)
    # SELECT of the id and every field's column (Core, no ORM instances): for reading out
    values: Select | None = None
    # ``values`` of one live record, bound as ``record_id``: one statement object, so
    # SQLAlchemy computes its cache key once, not on every read
    by_id: Select | None = None


@dataclass
class TenantMeta:
    version: int
    custom: dict[str, list[Field]]
    layouts: dict[str, dict]
    rules: dict[str, list[dict]]
    extra: dict[str, object]
    shapes: dict[str, Shape] = field(default_factory=dict)

    def get(self, name: str):
        """What the loader registered as ``name`` returned."""
        return self.extra.get(name)


def current() -> TenantMeta | None:
    """The shape of the current unit of work's tenant (None outside a tenant)."""
    tenant = current_tenant()
    if tenant is None:
        return None
    info = session().info
    if info.get("saas.meta_changed"):
        if "saas.meta" not in info:
            info["saas.meta"] = _load()
        return info["saas.meta"]
    with _lock:
        entry = _cache.get(tenant.schema_name)
        if entry is not None and entry.version >= tenant.meta_version:
            _cache.move_to_end(tenant.schema_name)
            return entry
    entry = _load()
    with _lock:
        _cache[tenant.schema_name] = entry
        _cache.move_to_end(tenant.schema_name)
        while len(_cache) > MAX_TENANTS:
            _cache.popitem(last=False)
    return entry


def changed() -> None:
    """The current tenant's fields, layouts or rules change in this unit of work."""
    tenant = current_tenant()
    session().execute(
        text("UPDATE public.tenants SET meta_version = meta_version + 1 WHERE id = :id"),
        {"id": tenant.id},
    )
    from saas.modules.api import auth_cache

    auth_cache.bump_after_commit(tenant.id)  # API callers carry the tenant's meta_version
    info = session().info
    info["saas.meta_changed"] = True
    info.pop("saas.meta", None)

    def forget() -> None:
        with _lock:
            _cache.pop(tenant.schema_name, None)
        info.pop("saas.meta_changed", None)
        info.pop("saas.meta", None)

    after_commit(forget)


def cached_tenants() -> int:
    return len(_cache)


def _load() -> TenantMeta:
    from saas.modules.customization.models import CustomField, Layout, ValidationRule

    s = session()
    # The version first: a change committed in between is loaded again next time.
    version = s.execute(
        text("SELECT meta_version FROM public.tenants WHERE id = :id"),
        {"id": current_tenant().id},
    ).scalar_one()
    custom: dict[str, list[Field]] = {}
    for cf in s.execute(select(CustomField).order_by(CustomField.id)).scalars():
        custom.setdefault(cf.object, []).append(types.to_field(cf))
    layouts = {
        row.object: {"sections": row.sections, "fields": row.fields, "columns": row.columns}
        for row in s.execute(select(Layout)).scalars()
    }
    rules: dict[str, list[dict]] = {}
    stmt = select(ValidationRule).where(ValidationRule.active.is_(True))
    for rule in s.execute(stmt.order_by(ValidationRule.position, ValidationRule.id)).scalars():
        rules.setdefault(rule.object, []).append(
            {
                "id": rule.id,
                "name": rule.name,
                "condition": rule.condition,
                "field": rule.field,
                "message": rule.message,
            }
        )
    extra = {name: fn() for name, fn in _LOADERS.items()}
    return TenantMeta(version=version, custom=custom, layouts=layouts, rules=rules, extra=extra)


def shape(otype) -> Shape | None:
    """``otype`` as the current tenant shaped it (None outside a tenant)."""
    meta = current()
    if meta is None:
        return None
    found = meta.shapes.get(otype.name)
    if found is None:
        found = meta.shapes[otype.name] = _shape(otype, meta)
    return found


def _shape(otype, meta: TenantMeta) -> Shape:
    custom = tuple(meta.custom.get(otype.name, ()))
    # A company's own fields come after the object's, before owner and audit times.
    audit = [f for f in otype.standard if f.name in AUDIT]
    base = [*(f for f in otype.standard if f.name not in AUDIT), *custom, *audit]
    layout = meta.layouts.get(otype.name) or {}
    # The layout's sections in its order (a standard one keeps its translated label
    # unless renamed: stored label None), then any standard section it does not name.
    defaults = dict(SECTIONS)
    sections: list[tuple[str, object]] = []
    for key, label in layout.get("sections") or ():
        if (key in defaults or label) and key not in {k for k, _ in sections}:
            sections.append((key, label or defaults[key]))
    known = {key for key, _ in sections}
    sections += [(key, label) for key, label in SECTIONS if key not in known]
    known |= set(defaults) | {key for key, _ in sections}
    by_name = {f.name: f for f in base}
    ordered: list[Field] = []
    for name, section in layout.get("fields") or ():
        f = by_name.get(name)
        if f is not None and f not in ordered:
            ordered.append(replace(f, section=section if section in known else f.section))
    placed = {f.name for f in ordered}
    ordered += [f for f in base if f.name not in placed]
    columns = [c for c in (layout.get("columns") or ()) if c in by_name]
    if columns:
        ordered = [replace(f, in_list=f.name in columns) for f in ordered]
        final = {f.name: f for f in ordered}
        list_fields = tuple(final[c] for c in columns)
    else:
        final = {f.name: f for f in ordered}
        list_fields = tuple(f for f in ordered if f.in_list)
    table = otype.model.__table__
    columns = {f.name: column(f.name, types.sql_type(f), _selectable=table) for f in custom}
    values = select(
        table.c.id, *(columns.get(f.name, table.c.get(f.name)) for f in ordered if f.name != "id")
    )
    searchable = tuple(otype.search_fields) + tuple(
        f.name for f in custom if f.type in TEXTUAL - {"longtext"}
    )
    return Shape(
        fields=tuple(ordered),
        by_name=final,
        custom=tuple(final[f.name] for f in custom),
        list_fields=list_fields,
        sections=tuple(sections),
        searchable=searchable,
        table=_table(otype, custom),
        rules=tuple(meta.rules.get(otype.name, ())),
        columns=columns,
        values=values,
        by_id=values.where(table.c.deleted_at.is_(None), table.c.id == bindparam("record_id")),
    )


def _table(otype, custom: tuple[Field, ...]) -> Table:
    """The object's table with the tenant's columns, in a metadata of its own."""
    base = otype.model.__table__
    columns = [Column(c.name, c.type, primary_key=c.primary_key) for c in base.columns]
    columns += [Column(f.name, types.sql_type(f)) for f in custom]
    return Table(base.name, MetaData(schema=TENANT_SCHEMA), *columns)


def column_of(otype, name: str):
    """A column to filter or sort by: the model's, or a custom one of the same table."""
    mapped = otype.model.__table__.c.get(name)  # the Core column: plain SQL, no ORM
    if mapped is not None:
        return mapped
    found = shape(otype)
    if found is None or name not in found.columns:
        raise KeyError(name)
    return found.columns[name]


def attach(otype, records) -> None:
    """Read the custom values of ``records`` in one query and set them on each."""
    found = shape(otype)
    if found is None or not found.custom:
        return
    pending = [r for r in records if r.__dict__.get("id") and not loaded(r)]
    if not pending:
        return
    table = found.table
    names = [f.name for f in found.custom]
    rows = session().execute(
        select(table.c.id, *(table.c[n] for n in names)).where(
            table.c.id.in_([r.id for r in pending])
        )
    )
    values = {row[0]: row[1:] for row in rows}
    for record in pending:
        keep(record, names, values.get(record.id) or [None] * len(names))


def record_of(row, names: list[str]):
    """The record of a row that reads it and then its custom columns ``names``, with
    those values kept on it."""
    record = row[0]
    if not loaded(record):
        keep(record, names, row[1:])
    return record


def loaded(record) -> bool:
    return LOADED in record.__dict__


def keep(record, names, values) -> None:
    """Custom values read with or for ``record``, kept on the instance (the ORM maps
    only standard columns); a value the instance holds already is newer and stays."""
    for name, value in zip(names, values, strict=True):
        record.__dict__.setdefault(name, value)
    record.__dict__[LOADED] = True


def forget(otype, record) -> None:
    """Drop the kept custom values: the next read asks the database again."""
    for f in otype.custom_fields:
        record.__dict__.pop(f.name, None)
    record.__dict__.pop(LOADED, None)


def custom_value(record, name: str):
    """``record.<name>`` for a custom column not read yet (RecordMixin.__getattr__)."""
    from saas.modules.records.registry import type_of

    otype = type_of(record)
    f = otype.field(name)
    if f is None or not f.custom:
        raise AttributeError(name)
    if record.__dict__.get("id") is not None:
        attach(otype, [record])
    if name not in record.__dict__:  # a new record, or the column came in after loading
        record.__dict__[name] = types.empty(f)
    return record.__dict__[name]
