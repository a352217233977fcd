"""The one write path of every CRM record: the browser, the API, imports and
workflows all create, change, delete and restore records through here.

Values are validated per field type (``fields.parse``), lookups and owners are
checked against the tenant, every change lands on the record's timeline, and
the search document is kept current. Flushes, never commits.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import timedelta

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, literal, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from saas.db import current_tenant, read_alone, session
from saas.i18n import tenant_settings
from saas.modules.customization import meta
from saas.modules.records import access, search
from saas.modules.records.fields import Field, FieldError, jsonable, parse
from saas.modules.records.models import TimelineEntry
from saas.modules.records.registry import ObjectType, all_types, get, type_of

RETENTION = timedelta(days=30)


class ValidationErrors(ValueError):
    """Field name -> message, for the form or the API to show next to each field."""

    def __init__(self, errors: Mapping[str, object]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = {k: str(v) for k, v in errors.items()}


def _tz() -> str:
    if has_request_context():
        return tenant_settings().get("timezone", "UTC")
    from saas.modules.workspace.service import settings

    return settings().get("timezone", "UTC")


# -- reading -----------------------------------------------------------------


def select_records(otype: ObjectType, *, deleted: bool = False, viewer=None):
    """A SELECT of the records ``viewer`` may see (in the recycle bin if ``deleted``)."""
    model = otype.model
    stmt = select(model).where(
        model.deleted_at.is_not(None) if deleted else model.deleted_at.is_(None)
    )
    clause = access.visible_clause(model, viewer)
    return stmt if clause is None else stmt.where(clause)


def select_values(otype: ObjectType, *, deleted: bool = False, viewer=None):
    """Like :func:`select_records`, as plain rows of the fields' values (``row.<field>``,
    custom fields included): for reading records out, as the API does, without the
    cost of ORM instances. Records to change are read with :func:`select_records`."""
    table = otype.model.__table__
    stmt = meta.shape(otype).values.where(
        table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)
    )
    clause = access.visible_clause(table.c, viewer)
    return stmt if clause is None else stmt.where(clause)


def _record_id(record_id) -> int | None:
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        return None
    return record_id if 0 < record_id < 2**63 else None


def get_record(otype: ObjectType, record_id, *, deleted: bool = False, viewer=None):
    """The record if it exists, is visible, and is (or is not) in the recycle bin."""
    if (record_id := _record_id(record_id)) is None:
        return None
    stmt = select_records(otype, deleted=deleted, viewer=viewer).where(otype.model.id == record_id)
    found = fetch(otype, stmt)
    return found[0] if found else None


def get_values(otype: ObjectType, record_id, *, viewer=None):
    """The values of a visible record outside the recycle bin (:func:`select_values`)."""
    if (record_id := _record_id(record_id)) is None:
        return None
    stmt = meta.shape(otype).by_id
    clause = access.visible_clause(otype.model.__table__.c, viewer)
    if clause is not None:
        stmt = stmt.where(clause)
    rows = read_alone(stmt, {"record_id": record_id})
    return rows[0] if rows else None


def fetch(otype: ObjectType, stmt) -> list:
    """The records of a SELECT of ``otype`` with the tenant's custom columns read in the
    same query (rules, pages and the API read them next)."""
    if not otype.custom_fields:
        return list(session().execute(stmt).scalars())
    stmt, custom = with_custom(otype, stmt)
    return [meta.record_of(row, custom) for row in session().execute(stmt)]


def with_custom(otype: ObjectType, stmt):
    """``stmt`` reading the tenant's custom columns after the record, and their names
    (``meta.record_of`` turns each of its rows into the record, the values kept on it)."""
    custom = [f.name for f in otype.custom_fields]
    return stmt.add_columns(*(otype.column(n) for n in custom)), custom


def titles(otype: ObjectType, ids: Iterable[int]) -> dict[int, str]:
    """Record titles by id for the given ids, in one query (deleted ones too)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = session().execute(select(otype.model).where(otype.model.id.in_(ids))).scalars()
    return {r.id: otype.title(r) for r in rows}


def member_names() -> dict[int, str]:
    """Names of the tenant's users by id (cached for the request)."""
    if has_request_context() and "member_names" in g:
        return g.member_names
    from saas.modules.accounts.models import Membership, User

    rows = session().execute(
        select(User.id, User.name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == uuid.UUID(current_tenant().id))
        .order_by(User.name)
    )
    names = {uid: name for uid, name in rows}
    if has_request_context():
        g.member_names = names
    return names


# -- validation ----------------------------------------------------------------


def resolve(f: Field, value):
    """Check a lookup or user value against the tenant; returns the id."""
    if value is None:
        return None
    if f.type == "user":
        names = member_names()
        if isinstance(value, int):
            if value in names:
                return value
        else:
            found = [uid for uid, name in names.items() if name.lower() == value.lower()]
            if len(found) == 1:
                return found[0]
        raise FieldError(_l("%(label)s: choose someone on your team.", label=f.label))
    target = get(f.target)
    if isinstance(value, int):
        if get_record(target, value) is not None:
            return value
        raise FieldError(_l("%(label)s: that record does not exist.", label=f.label))
    title_col = getattr(target.model, target.search_fields[0])
    ids = (
        session()
        .execute(
            select_records(target)
            .with_only_columns(target.model.id)
            .where(func.lower(title_col) == value.lower())
            .limit(2)
        )
        .scalars()
        .all()
    )
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise FieldError(
            _l(
                "%(label)s: no %(object)s named “%(name)s”.",
                label=f.label,
                object=target.label,
                name=value,
            )
        )
    raise FieldError(
        _l(
            "%(label)s: several records are named “%(name)s”; pick one from the list.",
            label=f.label,
            name=value,
        )
    )


def validate(otype: ObjectType, raw: Mapping, *, partial: bool, record=None) -> dict:
    """Parsed values of the fields present in ``raw`` (all editable fields unless
    ``partial``); raises :class:`ValidationErrors` listing every bad field.

    A retired picklist value a record already holds stays valid for that record."""
    values, errors = {}, {}
    tz = _tz()
    for f in otype.form_fields:
        if partial and f.name not in raw:
            continue
        if f.retired and record is not None:
            f = replace(f, retired=f.retired - set(_as_list(getattr(record, f.name))))
        try:
            value = parse(f, raw.get(f.name, f.initial), tz=tz)
            if f.type in {"lookup", "user"}:
                value = resolve(f, value)
            elif f.options is not None and value is not None and value not in dict(f.options()):
                raise FieldError(_l("%(label)s: choose one from the list.", label=f.label))
            values[f.name] = value
        except FieldError as exc:
            errors[f.name] = str(exc)
    unknown = set(raw) - set(otype.by_name) - {"csrf_token"}
    if partial and unknown:
        for name in sorted(unknown):
            errors[name] = f"Unknown field {name!r}."
    if errors:
        raise ValidationErrors(errors)
    return values


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


# -- writing -----------------------------------------------------------------------


def _timeline(otype: ObjectType, record_id: int, kind: str, actor: int | None, **data) -> None:
    session().add(
        TimelineEntry(object=otype.name, record_id=record_id, kind=kind, user_id=actor, data=data)
    )


def note_event(record, kind: str, actor: int | None = None, **data) -> None:
    """Add an entry of ``kind`` to a record's timeline (stage moves, conversions...)."""
    otype = type_of(record)
    _timeline(otype, record.id, kind, actor, **{k: jsonable(v) for k, v in data.items()})


def shown_changes(otype: ObjectType, many: list[dict]) -> list[dict]:
    """Each ``{field: (old, new)}`` as the timeline shows it: names of the people and
    records a lookup points at, labels of stages and price lists (one query per field)."""
    names: dict[str, dict] = {}
    for name in {n for changes in many for n in changes}:
        f = otype.field(name)
        if f is not None and f.type == "user":
            names[name] = member_names()
        elif f is not None and f.type == "lookup":
            ids = {v for changes in many if name in changes for v in changes[name]}
            names[name] = titles(get(f.target), ids)
        elif f is not None and f.options is not None:  # stage or price list ids: their names
            names[name] = dict(f.options())
    shown = []
    for changes in many:
        one = {}
        for name, (old, new) in changes.items():
            labels = names.get(name, {})
            one[name] = [jsonable(_label(labels, old)), jsonable(_label(labels, new))]
        shown.append(one)
    return shown


def _label(labels: dict, value):
    """The name of an id; a list (multi-picklist, tags) is shown as it is."""
    return value if isinstance(value, list) else labels.get(value, value)


def _refresh_search(otype: ObjectType, record) -> None:
    if otype.searchable:
        record.search = search.document(*(getattr(record, n) for n in otype.searchable))


# -- hooks of other modules ------------------------------------------------------------
# checks(otype, record, values, is_new): refuse a write by raising ValidationErrors
# (validation rules). listeners(otype, record, event, changes, actor) run after a write
# in the same transaction; event is "created", "updated", "deleted" or "restored" and
# changes {field: (old, new)} (workflow rules).
checks: list[Callable] = []
listeners: list[Callable] = []
# transfer_listeners(from_user, to_user, {object: [ids moved]}, actor) run after a
# transfer, which is set-based and calls no per-record listener (notifications, webhooks).
transfer_listeners: list[Callable] = []


def checks_for(otype: ObjectType) -> list[Callable]:
    """The checks with something to check on ``otype`` now (a check may say so with an
    ``applies(otype)`` attribute): a bulk write asks once, not once per record."""
    return [c for c in checks if getattr(c, "applies", None) is None or c.applies(otype)]


def wanted(otype: ObjectType, event: str) -> bool:
    """Whether a listener that needs each record written one by one (a workflow rule that
    may update it) wants ``event`` on ``otype``: bulk writes (imports) take their fast
    path only when none does. A listener says what it wants with a ``wants(otype, event)``
    attribute (one without it wants everything), and that it is content with the records
    of a bulk write as they were written with ``bulk_safe = True`` (notifications)."""
    return any(not getattr(fn, "bulk_safe", False) and _wants(fn, otype, event) for fn in listeners)


def _wants(fn: Callable, otype: ObjectType, event: str) -> bool:
    return getattr(fn, "wants", None) is None or fn.wants(otype, event)


def bulk_wanted(otype: ObjectType, event: str) -> bool:
    """Whether a ``bulk_safe`` listener wants to hear of a bulk write's records."""
    return any(getattr(fn, "bulk_safe", False) and _wants(fn, otype, event) for fn in listeners)


def tell_bulk(otype: ObjectType, writes: list[tuple], event: str, actor: int | None) -> None:
    """After a bulk write: the ``bulk_safe`` listeners hear of each ``(record, changes)``
    (the record may be a plain object holding the values written)."""
    for fn in listeners:
        if getattr(fn, "bulk_safe", False) and _wants(fn, otype, event):
            for record, changes in writes:
                fn(otype, record, event, changes, actor)


def _notify(otype: ObjectType, record, event: str, changes: dict, actor: int | None) -> None:
    for listener in listeners:
        listener(otype, record, event, changes, actor)


# -- custom columns --------------------------------------------------------------------


def _split(otype: ObjectType, values: dict) -> tuple[dict, dict]:
    """(standard, custom) values: custom ones are columns the ORM does not map."""
    custom_names = {f.name for f in otype.custom_fields}
    custom = {k: v for k, v in values.items() if k in custom_names}
    return {k: v for k, v in values.items() if k not in custom}, custom


def _database_errors(otype: ObjectType, exc: IntegrityError) -> ValidationErrors | None:
    """A unique or required custom column the database refused, as a form error."""
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "column_name", None) or ""
    constraint = getattr(diag, "constraint_name", None) or ""
    for f in otype.custom_fields:
        if name == f.name:
            return ValidationErrors({f.name: _l("%(label)s is required.", label=f.label)})
        if constraint.endswith("_" + f.name):
            return ValidationErrors(
                {f.name: _l("%(label)s: another record already has this value.", label=f.label)}
            )
    return None


def _guarded(otype: ObjectType, write: Callable):
    """Run ``write`` in a savepoint when the database may refuse it (unique or required
    custom columns), so that the refusal becomes a form error, not a failed request."""
    if not any(f.unique or f.required for f in otype.custom_fields):
        return write()
    try:
        with session().begin_nested():
            return write()
    except IntegrityError as exc:
        error = _database_errors(otype, exc)
        if error is None:
            raise
        raise error from None


@functools.cache
def _not_null(table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if not c.nullable)


def _fill_not_null(otype: ObjectType, values: dict, *, is_new: bool) -> None:
    """An optional field left empty whose column cannot be empty (a currency, a status)
    keeps its value, or on a new record gets the tenant's currency or the column default."""
    not_null = _not_null(otype.model.__table__)
    for name in [n for n, v in values.items() if v is None and n in not_null]:
        if is_new and name == "currency":
            values[name] = (tenant_settings() if has_request_context() else {}).get(
                "currency", "USD"
            )
        else:
            del values[name]


def create(otype: ObjectType, raw: Mapping, *, actor: int | None = None, trusted: bool = False):
    """A new record from ``raw`` values (validated unless ``trusted``: already parsed)."""
    values = dict(raw) if trusted else validate(otype, raw, partial=False)
    record = otype.model()
    record.created_by = actor
    if otype.before_write:  # sees a missing owner (leads assign round-robin) and the creator
        otype.before_write(record, values, True)
    if "owner_id" in otype.by_name and values.get("owner_id") is None and actor is not None:
        values["owner_id"] = actor
    _fill_not_null(otype, values, is_new=True)
    for check in checks:
        check(otype, record, values, True)
    for name, value in values.items():
        setattr(record, name, value)
    _refresh_search(otype, record)
    _insert(otype, record, _split(otype, values)[1])
    _timeline(otype, record.id, "created", actor)
    if otype.after_write:
        otype.after_write(record, values, True, actor)
    _notify(otype, record, "created", {k: (None, v) for k, v in values.items()}, actor)
    return record


def _insert(otype: ObjectType, record, custom: dict) -> None:
    """INSERT the record with its custom columns in one statement (the database checks a
    required custom column on INSERT), then attach it to the session as persistent."""
    table = otype.shape.table
    row = {
        attr.key: attr.value
        for attr in sa_inspect(record).attrs
        if attr.key in record.__dict__ and attr.key in table.c
    }
    row.update(custom)
    session().flush()
    names = [f.name for f in otype.custom_fields]
    stmt = insert(table).values(row).returning(table.c.id, *(table.c[n] for n in names))
    new_id, *stored = _guarded(otype, lambda: session().execute(stmt).one())
    record.id = new_id
    make_transient_to_detached(record)
    session().add(record)
    meta.keep(record, names, stored)


def update(
    otype: ObjectType,
    record,
    raw: Mapping,
    *,
    actor: int | None = None,
    trusted: bool = False,
    partial: bool = True,
) -> dict:
    """Apply changed values; returns {field: (old, new)} of what changed."""
    values = dict(raw) if trusted else validate(otype, raw, partial=partial, record=record)
    if otype.before_write:
        otype.before_write(record, values, False)
    _fill_not_null(otype, values, is_new=False)
    for check in checks:
        check(otype, record, values, False)
    changes = {}
    for name, value in values.items():
        old = getattr(record, name)
        if old != value:
            changes[name] = (old, value)
    if not changes:
        return {}
    for name, (_old, value) in changes.items():
        setattr(record, name, value)
    if set(changes) & set(otype.searchable):
        _refresh_search(otype, record)
    record.updated_at = func.now()
    _, custom = _split(otype, {k: new for k, (_old, new) in changes.items()})
    if custom:
        table = otype.shape.table
        session().flush()
        _guarded(
            otype,
            lambda: session().execute(
                sql_update(table).where(table.c.id == record.id).values(custom)
            ),
        )
    session().flush()
    _timeline(otype, record.id, "updated", actor, changes=shown_changes(otype, [changes])[0])
    if otype.after_write:
        otype.after_write(record, changes, False, actor)
    _notify(otype, record, "updated", changes, actor)
    return changes


def delete(otype: ObjectType, record, *, actor: int | None = None) -> None:
    """Move a record to the recycle bin (restorable for 30 days)."""
    record.deleted_at = func.now()
    session().flush()
    _timeline(otype, record.id, "deleted", actor)
    _notify(otype, record, "deleted", {}, actor)


def restore(otype: ObjectType, record, *, actor: int | None = None) -> None:
    """Take a record out of the recycle bin, unless a live record now takes its place
    (a licence for the same customer and product, a product code)."""
    try:
        with session().begin_nested():
            record.deleted_at = None
            session().flush()
    except IntegrityError:
        session().refresh(record)
        raise ValidationErrors(
            {
                "deleted_at": _l(
                    "Another record now has the same unique values; change or "
                    "delete that one first."
                )
            }
        ) from None
    _timeline(otype, record.id, "restored", actor)
    _notify(otype, record, "restored", {}, actor)


def assign(otype: ObjectType, records: Iterable, owner_id: int, *, actor: int | None = None) -> int:
    """Give records a new owner (each change on its record's timeline)."""
    count = 0
    for record in records:
        if update(otype, record, {"owner_id": owner_id}, actor=actor):
            count += 1
    return count


def transfer(from_user: int, to_user: int, *, actor: int | None = None) -> dict[str, int]:
    """Every live record owned by ``from_user`` now belongs to ``to_user`` (someone left).

    Set-based: one UPDATE and one timeline INSERT per object, whatever the count.
    """
    if to_user not in member_names():
        raise ValidationErrors({"to_user": _l("Choose someone on your team.")})
    names = member_names()
    moved: dict[str, list[int]] = {}
    for otype in all_types():
        if "owner_id" not in otype.by_name:
            continue
        model = otype.model
        ids = (
            session()
            .execute(
                sql_update(model)
                .where(model.owner_id == from_user, model.deleted_at.is_(None))
                .values(owner_id=to_user, updated_at=func.now())
                .returning(model.id)
            )
            .scalars()
            .all()
        )
        if ids:
            change = {"owner_id": [names.get(from_user, f"#{from_user}"), names.get(to_user)]}
            session().execute(
                insert(TimelineEntry).from_select(
                    ["object", "record_id", "kind", "user_id", "data"],
                    select(
                        literal(otype.name),
                        model.id,
                        literal("updated"),
                        literal(actor),
                        literal({"changes": change}, TimelineEntry.data.type),
                    ).where(model.id.in_(ids)),
                )
            )
        moved[otype.name] = list(ids)
    session().expire_all()
    for listener in transfer_listeners:
        listener(from_user, to_user, moved, actor)
    return {name: len(ids) for name, ids in moved.items()}


def timeline(otype: ObjectType, record_id: int, limit: int = 200) -> list[TimelineEntry]:
    stmt = (
        select(TimelineEntry)
        .where(TimelineEntry.object == otype.name, TimelineEntry.record_id == record_id)
        .order_by(TimelineEntry.id.desc())
        .limit(limit)
    )
    return list(session().execute(stmt).scalars())


def purge_expired() -> dict[str, int]:
    """Delete for good what has been in the recycle bin for more than 30 days."""
    counts = {}
    for otype in all_types():
        model = otype.model
        result = session().execute(
            model.__table__.delete().where(model.deleted_at < func.now() - RETENTION)
        )
        counts[otype.name] = result.rowcount
    return counts
