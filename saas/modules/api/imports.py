"""Imports through the API: upload a file with its options and start it in one call,
then poll its progress and fetch the rejected rows, as the import wizard does."""

from __future__ import annotations

import json
import uuid

from flask import Response, g, jsonify, request, stream_with_context, url_for
from sqlalchemy import select

from saas.db import current_tenant, session
from saas.modules.api.blueprint import bp, invalid, require
from saas.modules.api.problems import Problem
from saas.modules.imports import service
from saas.modules.imports.encodings import ENCODINGS
from saas.modules.imports.models import Import
from saas.modules.records.registry import all_types


def _shown(imp: Import) -> dict:
    progress = service.progress(imp)
    return {
        "id": imp.id,
        "object": imp.object,
        "filename": imp.filename,
        "mode": imp.mode,
        "key": imp.dedupe,
        "status": imp.status,
        "done": progress["done"],
        "total": progress["total"],
        "rate": progress["rate"],
        "eta_s": progress["eta_s"],
        "finished": progress["finished"],
        "created": imp.created,
        "updated": imp.updated,
        "unchanged": imp.unchanged,
        "skipped": imp.skipped,
        "failed": imp.failed,
        "errors_url": url_for("api.import_errors", import_id=imp.id),
    }


@bp.route("/imports", methods=["POST"])
def start_import():
    """multipart/form-data: file, object, mode, key, mapping (JSON), encoding, create_missing."""
    if request.mimetype != "multipart/form-data":
        raise Problem("unsupported-media-type", "Send the file as multipart/form-data.")
    form = request.form
    otype = next((t for t in all_types() if t.name == form.get("object")), None)
    if otype is None or not service.importable(otype):
        names = ", ".join(t.name for t in all_types() if service.importable(t))
        raise invalid({"object": f"Name the object the file holds: one of {names}."})
    require(otype, "write")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise invalid({"file": "Attach a CSV or Excel file as the form field 'file'."})
    encoding = form.get("encoding") or None
    if encoding is not None and encoding not in dict(ENCODINGS):
        raise invalid({"encoding": f"Use one of {', '.join(dict(ENCODINGS))}."})
    try:
        columns = json.loads(form["mapping"]) if form.get("mapping") else {}
    except ValueError:
        columns = None
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise invalid({"mapping": "Give a JSON object of column header -> field name, or none."})
    try:
        imp = service.upload(
            otype, upload.filename, upload.stream, user_id=_for_whom(), encoding=encoding
        )
        choices = {"mode": form.get("mode", "insert"), "dedupe": form.get("key", imp.dedupe)}
        if form.get("create_missing") in {"true", "1", "on"}:
            choices["create_missing"] = "on"
        unknown = set(columns) - set(imp.header)
        if unknown:
            raise invalid({"mapping": f"The file has no column {sorted(unknown)[0]!r}."})
        for index, header in enumerate(imp.header):
            suggested = imp.mapping[index] if index < len(imp.mapping) else {}
            choices[f"field_{index}"] = columns.get(header, suggested.get("field", ""))
            choices[f"by_{index}"] = suggested.get("by", "name")
        service.configure(imp, choices)
        service.start(imp)
    except service.ImportError_ as exc:
        raise Problem("validation", str(exc)) from None
    resp = jsonify(_shown(imp))
    resp.status_code = 202
    resp.headers["Location"] = url_for("api.import_status", import_id=imp.id)
    return resp


def _for_whom() -> int:
    """Who the import is for (its owner hears when it is done): the key's user or its
    creator, or the company's first owner when neither is on the team any more."""
    from saas.modules.accounts.models import Membership

    wanted = g.caller.acting_user
    rows = session().execute(
        select(Membership.user_id, Membership.role)
        .where(Membership.tenant_id == uuid.UUID(current_tenant().id))
        .order_by(Membership.id)
    )
    members = {uid: role for uid, role in rows}
    if wanted in members:
        return wanted
    return next(uid for uid, role in members.items() if role == "owner")


def _found(import_id: int) -> Import:
    imp = session().get(Import, import_id) if 0 < import_id < 2**63 else None
    user = g.caller.user_id
    if imp is None or (user is not None and imp.user_id != user and g.caller.role != "admin"):
        raise Problem("not-found", f"There is no import {import_id} that you can see.")
    require(next(t for t in all_types() if t.name == imp.object), "read")
    return imp


@bp.route("/imports/<int:import_id>", methods=["GET"])
def import_status(import_id: int):
    return jsonify(_shown(_found(import_id)))


@bp.route("/imports/<int:import_id>/errors", methods=["GET"])
def import_errors(import_id: int):
    """The rejected rows as CSV: the file's columns plus the reason."""
    imp = _found(import_id)
    return Response(stream_with_context(service.streamed_report(imp.id)), mimetype="text/csv")
