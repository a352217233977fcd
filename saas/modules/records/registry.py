"""The CRM's objects: one :class:`ObjectType` per kind of record.

An object type names its model and fields; the generic service, list pages,
record pages, search, export and recycle bin work from it. Domain modules
register their types when imported (see ``saas.models``) and add behaviour
through hooks instead of a second write path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from saas.modules.records.fields import Field


@dataclass(frozen=True)
class Related:
    """A list of records of ``object`` whose ``via`` column points at this record."""

    object: str
    via: str
    label: object


@dataclass
class ObjectType:
    name: str  # "contact": timeline, search results, API names
    model: type
    label: object
    plural: object
    slug: str  # URL segment: /app/<tenant>/<slug>/
    standard: tuple[Field, ...]  # the fields every tenant has; ``fields`` adds its own
    title: Callable[[object], str]
    search_fields: tuple[str, ...] = ()
    default_sort: str = "-updated_at"
    related: tuple[Related, ...] = ()
    # before_write(record, values, is_new): derive values, raise FieldErrors; runs
    # before the values are applied. after_write(record, changes, is_new, actor): side effects
    # inside the same transaction (stage history, totals).
    before_write: Callable | None = None
    after_write: Callable | None = None
    creatable: bool = True  # created on its own page (quote lines are not, for example)
    detail_template: str | None = None  # extra block on the record page (lines, history)
    actions_template: str | None = None  # extra buttons on the record page (convert...)
    views: tuple[tuple[object, str], ...] = ()  # other views of the list: (label, endpoint)
    title_fields: tuple[str, ...] = ()  # the fields the title is made of
    standard_by_name: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.standard_by_name = {f.name: f for f in self.standard}

    # The current tenant's shape of the object: its custom fields, its layout (order,
    # sections, list columns) and its validation rules; the standard one outside a tenant.

    @property
    def shape(self):
        from saas.modules.customization.meta import shape

        return shape(self)

    @property
    def fields(self) -> tuple[Field, ...]:
        shape = self.shape
        return shape.fields if shape is not None else self.standard

    @property
    def by_name(self) -> dict[str, Field]:
        shape = self.shape
        return shape.by_name if shape is not None else self.standard_by_name

    @property
    def custom_fields(self) -> tuple[Field, ...]:
        shape = self.shape
        return shape.custom if shape is not None else ()

    @property
    def searchable(self) -> tuple[str, ...]:
        """The fields the search document is made of (custom text fields too)."""
        shape = self.shape
        return shape.searchable if shape is not None else self.search_fields

    def field(self, name: str) -> Field | None:
        return self.by_name.get(name)

    def column(self, name: str):
        """The column of field ``name`` for a WHERE or ORDER BY (custom ones too)."""
        from saas.modules.customization.meta import column_of

        return column_of(self, name)

    @property
    def form_fields(self) -> list[Field]:
        return [f for f in self.fields if f.editable]

    def summary_fields(self, skip: str | None = None, limit: int = 3) -> list[Field]:
        """List columns besides the title (and ``skip``), for related lists and cards."""
        title = set(self.title_fields) or {self.list_fields[0].name}
        return [f for f in self.list_fields if f.name not in title and f.name != skip][:limit]

    @property
    def list_fields(self) -> list[Field]:
        shape = self.shape
        if shape is not None:
            return list(shape.list_fields)
        return [f for f in self.standard if f.in_list]

    @property
    def filter_fields(self) -> list[Field]:
        return [f for f in self.fields if f.filter]


_TYPES: dict[str, ObjectType] = {}


def register(object_type: ObjectType) -> ObjectType:
    _TYPES[object_type.name] = object_type
    return object_type


def get(name: str) -> ObjectType:
    return _TYPES[name]


def by_slug(slug: str) -> ObjectType | None:
    return next((t for t in _TYPES.values() if t.slug == slug), None)


def for_model(model: type) -> ObjectType:
    return next(t for t in _TYPES.values() if t.model is model)


def all_types() -> list[ObjectType]:
    return list(_TYPES.values())


def type_of(record) -> ObjectType:
    """The object type of a record."""
    return next(t for t in _TYPES.values() if isinstance(record, t.model))


def standard_fields(owner_label=None) -> tuple[Field, ...]:
    """Owner and audit times: the fields every object lists, filters and sorts by."""
    from flask_babel import lazy_gettext as _l

    return (
        Field("owner_id", owner_label or _l("Owner"), "user", in_list=True, filter=True),
        Field("created_at", _l("Created"), "datetime", editable=False, filter=True),
        Field("updated_at", _l("Updated"), "datetime", editable=False, filter=True),
    )
