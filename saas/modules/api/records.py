"""CRUD and lists of every object: ``/api/v1/<objects>`` and ``/api/v1/<objects>/<id>``.

Writes go through the same service as the browser (:mod:`saas.modules.records.service`):
the same validation, workflow rules, timeline entries and notifications.
"""

from __future__ import annotations

from flask import g, jsonify, request, url_for
from sqlalchemy import select

from saas.db import read_alone
from saas.i18n import tenant_settings
from saas.modules.api import query, serialize
from saas.modules.api.blueprint import actor, body, bp, invalid, require
from saas.modules.api.problems import Problem
from saas.modules.records import service
from saas.modules.records.registry import ObjectType, get


def _tz() -> str:
    return tenant_settings().get("timezone", "UTC")


def found(otype: ObjectType, record_id: int, *, deleted: bool = False):
    """The record, visible to the caller, or a 404 (another tenant's ids are unknown here)."""
    rec = service.get_record(otype, record_id, deleted=deleted, viewer=g.viewer)
    if rec is None:
        raise _not_found(otype, record_id, deleted=deleted)
    return rec


def _not_found(otype: ObjectType, record_id: int, *, deleted: bool = False) -> Problem:
    where = "in the recycle bin" if deleted else "that you can see"
    return Problem("not-found", f"There is no {otype.name} {record_id} {where}.")


def one(otype: ObjectType, rec, status: int = 200):
    resp = jsonify(serialize.record(otype, rec))
    resp.status_code = status
    if status == 201:
        resp.headers["Location"] = url_for("api.read", otype=otype, record_id=rec.id)
    return resp


@bp.route("/<object:otype>", methods=["GET"])
def index(otype: ObjectType):
    require(otype, "read")
    aq = query.parse_args(otype, request.args, _tz)
    stmt = service.select_values(otype, viewer=g.viewer).where(*aq.where)
    if aq.after is not None:
        stmt = stmt.where(query.after_clause(otype, aq.sort, aq.after))
    stmt = stmt.order_by(*query.ordering(otype, aq.sort)).limit(aq.limit + 1)
    rows = read_alone(stmt)
    more = len(rows) > aq.limit
    rows = rows[: aq.limit]
    data = [serialize.record(otype, r, aq.fields) for r in rows]
    if aq.expand:
        _embed(otype, rows, data, aq.expand)
    return jsonify(
        {
            "object": "list",
            "data": data,
            "has_more": more,
            "next_cursor": query.encode(otype, aq.sort, rows[-1]) if more else None,
        }
    )


def _embed(otype: ObjectType, rows: list, data: list[dict], names: list[str]) -> None:
    """``_embedded.<field>``: the record (or user) a lookup points at, one query per field;
    a record the caller may not see is null."""
    from saas.modules.accounts.models import User

    for name in names:
        f = otype.by_name[name]
        ids = {getattr(r, name) for r in rows} - {None}
        if f.type == "user":
            users = read_alone(select(User.id, User.name, User.email).where(User.id.in_(ids)))
            shown = {u.id: {"id": u.id, "name": u.name, "email": u.email} for u in users}
        else:
            target = get(f.target)
            stmt = service.select_values(target, viewer=g.viewer).where(target.model.id.in_(ids))
            targets = read_alone(stmt)
            shown = {t.id: serialize.record(target, t) for t in targets}
        for rec, item in zip(rows, data, strict=True):
            item.setdefault("_embedded", {})[name] = shown.get(getattr(rec, name))


@bp.route("/<object:otype>", methods=["POST"])
def create(otype: ObjectType):
    require(otype, "write")
    if not otype.creatable:
        raise Problem("method-not-allowed", f"A {otype.name} is created with its parent record.")
    values = body()
    errors = serialize.check_body(otype, values)
    if errors:
        raise invalid(errors)
    rec = service.create(otype, values, actor=actor())
    return one(otype, rec, 201)


@bp.route("/<object:otype>/<int:record_id>", methods=["GET"])
def read(otype: ObjectType, record_id: int):
    require(otype, "read")
    rec = service.get_values(otype, record_id, viewer=g.viewer)
    if rec is None:
        raise _not_found(otype, record_id)
    wanted = request.args.get("fields")
    names = query.names(otype, wanted, "fields") if wanted else None
    return jsonify(serialize.record(otype, rec, names))


@bp.route("/<object:otype>/<int:record_id>", methods=["PATCH"])
def patch(otype: ObjectType, record_id: int):
    require(otype, "write")
    values = body()
    errors = serialize.check_body(otype, values)
    if errors:
        raise invalid(errors)
    rec = found(otype, record_id)
    service.update(otype, rec, values, actor=actor())
    return one(otype, rec)


@bp.route("/<object:otype>/<int:record_id>", methods=["DELETE"])
def delete(otype: ObjectType, record_id: int):
    require(otype, "write")
    rec = found(otype, record_id)
    service.delete(otype, rec, actor=actor())
    return "", 204


@bp.route("/<object:otype>/<int:record_id>/restore", methods=["POST"])
def restore(otype: ObjectType, record_id: int):
    require(otype, "write")
    rec = found(otype, record_id, deleted=True)
    service.restore(otype, rec, actor=actor())
    return one(otype, rec)
