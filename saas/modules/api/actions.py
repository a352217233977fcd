"""What the API does besides CRUD: convert a lead, move a deal, assign and transfer
owners, search, field definitions, the team's users, and imports from a file."""

from __future__ import annotations

import uuid

from flask import g, jsonify, request, url_for
from sqlalchemy import select

from saas.db import current_tenant, read_alone, session
from saas.modules.api import serialize
from saas.modules.api.blueprint import actor, body, bp, invalid, require
from saas.modules.api.problems import Problem
from saas.modules.api.records import found, one
from saas.modules.records import search, service
from saas.modules.records.registry import ObjectType, all_types, get


@bp.route("/leads/<int:record_id>/convert", methods=["POST"])
def convert_lead(record_id: int):
    from saas.modules.leads import service as leads

    for name in ("lead", "account", "contact"):
        require(get(name), "write")
    options = body()
    allowed = {"create_deal", "deal_name", "deal_amount", "stage_id", "account_id", "contact_id"}
    unknown = {k: "Unknown option." for k in options if k not in allowed}
    if unknown:
        raise invalid(unknown)
    wrong = {
        name: "Expected a string."
        for name in ("deal_name",)
        if not isinstance(options.get(name), str | None)
    }
    wrong.update(
        {
            name: 'Expected an id (a whole number) or "new".'
            for name in ("account_id", "contact_id", "stage_id")
            if not (options.get(name) in (None, "new") or _an_id(options.get(name)))
        }
    )
    amount = options.get("deal_amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str | None):
        wrong["deal_amount"] = "Expected a number or a decimal string."
    if not isinstance(options.get("create_deal", False), bool):
        wrong["create_deal"] = "Expected true or false."
    if wrong:
        raise invalid(wrong)
    if options.get("create_deal"):
        require(get("deal"), "write")
    lead = found(get("lead"), record_id)
    done = leads.convert(
        lead,
        create_deal=bool(options.get("create_deal")),
        deal_name=options.get("deal_name"),
        deal_amount=options.get("deal_amount"),
        stage_id=options.get("stage_id"),
        account_id=options.get("account_id"),
        contact_id=options.get("contact_id"),
        actor=actor(),
    )
    shown = {
        name: serialize.record(get(name), done[name]) if done.get(name) else None
        for name in ("account", "contact", "deal")
    }
    shown.update(account_created=done["account_created"], contact_created=done["contact_created"])
    return jsonify(shown)


def _an_id(value) -> bool:
    return type(value) is int and 0 < value < 2**63


@bp.route("/deals/<int:record_id>/move", methods=["POST"])
def move_deal(record_id: int):
    from saas.modules.deals import service as deals

    otype = get("deal")
    require(otype, "write")
    options = body()
    if not _an_id(options.get("stage_id")):
        raise invalid({"stage_id": "Give the id of the stage to move the deal to."})
    reason = options.get("lost_reason")
    if reason is not None and not isinstance(reason, str):
        raise invalid({"lost_reason": "Expected a string."})
    deal = found(otype, record_id)
    deals.move(deal, options["stage_id"], actor=actor(), lost_reason=reason)
    return one(otype, deal)


@bp.route("/<object:otype>/<int:record_id>/assign", methods=["POST"])
def assign(otype: ObjectType, record_id: int):
    require(otype, "write")
    if "owner_id" not in otype.by_name:
        raise Problem("not-found", f"A {otype.name} has no owner to assign.")
    options = body()
    owner = options.get("owner_id")
    if not _an_id(owner):
        raise invalid({"owner_id": "Give the id of a user on the team (see /api/v1/users)."})
    rec = found(otype, record_id)
    service.assign(otype, [rec], owner, actor=actor())
    return one(otype, rec)


@bp.route("/transfer", methods=["POST"])
def transfer():
    """Everything one user owns goes to another (someone leaving)."""
    if g.caller.scopes.get("*") != "write" or g.caller.role not in {"admin", "owner"}:
        raise Problem("scope", "Transferring owners needs a key with write access to all objects.")
    options = body()
    src, dst = options.get("from_user"), options.get("to_user")
    if not (_an_id(src) and _an_id(dst)) or src == dst:
        raise invalid(
            {"to_user": "Give from_user and a different to_user, both user ids."},
        )
    counts = service.transfer(src, dst, actor=actor())
    return jsonify({"moved": counts})


@bp.route("/search", methods=["GET"])
def search_all():
    """Records matching ``q`` across the objects the key may read, 10 per object."""
    q = (request.args.get("q") or "").strip()[:200]
    if not q:
        raise Problem("bad-request", "Query parameter 'q': give the words to search for.")
    wanted = request.args.get("objects")
    types = [t for t in all_types() if t.search_fields and g.caller.allows(t.name, "read")]
    if wanted:
        names = set(wanted.split(","))
        unknown = names - {t.name for t in all_types()}
        if unknown:
            raise Problem("bad-request", f"Query parameter 'objects': no object {min(unknown)!r}.")
        types = [t for t in types if t.name in names]
    results = []
    for otype in types:
        clause = search.matches(otype.model.search, q)
        if clause is None:
            continue
        stmt = service.select_values(otype, viewer=g.viewer).where(clause).limit(10)
        results += [serialize.record(otype, r) for r in read_alone(stmt)]
    return jsonify({"object": "list", "data": results})


def field_json(f) -> dict:
    out = {
        "name": f.name,
        "label": str(f.label),
        "type": f.type,
        "required": f.required,
        "read_only": not f.editable,
        "custom": f.custom,
        "unique": f.unique,
        "sortable": f.sortable,
        "schema": serialize.schema(f),
    }
    if f.choices:
        out["choices"] = [{"value": v, "label": str(label)} for v, label in f.offered]
    if f.options is not None:
        out["choices"] = [{"value": v, "label": str(label)} for v, label in f.options()]
    if f.target:
        out["target"] = f.target
    if f.help:
        out["help"] = str(f.help)
    return out


def object_json(otype: ObjectType) -> dict:
    return {
        "name": otype.name,
        "label": str(otype.label),
        "plural": str(otype.plural),
        "path": url_for("api.index", otype=otype),
        "creatable": otype.creatable,
        "fields": [field_json(f) for f in otype.fields],
    }


@bp.route("/fields", methods=["GET"])
def all_fields():
    """Every object the key may read, with its fields (standard and custom)."""
    readable = [t for t in all_types() if g.caller.allows(t.name, "read")]
    return jsonify({"object": "list", "data": [object_json(t) for t in readable]})


@bp.route("/<object:otype>/fields", methods=["GET"])
def fields(otype: ObjectType):
    require(otype, "read")
    return jsonify(object_json(otype))


@bp.route("/users", methods=["GET"])
def users():
    """The company's users: the ids owner and user fields take."""
    from saas.modules.accounts.models import Membership, User

    rows = session().execute(
        select(User.id, User.name, User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == uuid.UUID(current_tenant().id))
        .order_by(User.name)
    )
    data = [{"id": r.id, "name": r.name, "email": r.email, "role": r.role} for r in rows]
    return jsonify({"object": "list", "data": data, "tenant": current_tenant().slug})
