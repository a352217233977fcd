"""``POST /api/v1/<objects>/bulk``: create, update or upsert up to 1,000 records in one
call, with a result per record. A refused record does not stop the others.

Existing records are found by ``key``: ``id``, ``email`` or any unique field (an
external system's id is a unique custom field). The records go through the same
bulk write path as imports (validation, hooks, rules, timeline, search), or record
by record through the service when a workflow rule must see each write.
"""

from __future__ import annotations

from dataclasses import replace

from flask import g, jsonify

from saas.db import session
from saas.modules.api import serialize
from saas.modules.api.blueprint import actor, body, bp, invalid, require
from saas.modules.api.problems import Problem, field_errors
from saas.modules.records import bulk, service
from saas.modules.records.fields import FieldError, parse
from saas.modules.records.registry import ObjectType

MAX_RECORDS = 1000
MODES = ("create", "update", "upsert")


def _keys(otype: ObjectType) -> list[str]:
    return ["id"] + [f.name for f in otype.fields if f.name == "email" or f.unique]


@bp.route("/<object:otype>/bulk", methods=["POST"])
def bulk_write(otype: ObjectType):
    require(otype, "write")
    payload = body()
    if not otype.creatable and payload.get("mode") in {"create", "upsert"}:
        raise Problem("method-not-allowed", f"A {otype.name} is created with its parent record.")
    mode, key, records = payload.get("mode"), payload.get("key"), payload.get("records")
    extra = set(payload) - {"mode", "key", "records"}
    errors = {name: "Unknown member." for name in extra}
    if mode not in MODES:
        errors["mode"] = "Use create, update or upsert."
    if mode in ("update", "upsert") and key not in _keys(otype):  # mode may be any JSON
        errors["key"] = f"Use one of {', '.join(_keys(otype))} to find existing records."
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
        errors["records"] = f"Give a list of 1 to {MAX_RECORDS} records."
    elif not all(isinstance(r, dict) for r in records):
        errors["records"] = "Each record is a JSON object."
    if errors:
        raise invalid(errors)
    run = Run(otype, mode, key if mode != "create" else None)
    run.go(records)
    counts = {s: sum(1 for r in run.results if r["status"] == s) for s in run.STATUSES}
    return jsonify({"object": "bulk", "results": run.results, **counts})


class Run:
    STATUSES = ("created", "updated", "unchanged", "failed")

    def __init__(self, otype: ObjectType, mode: str, key: str | None):
        self.otype, self.mode, self.key = otype, mode, key
        self.results: list[dict] = []
        self.fast_create = bulk.fits(otype, "created")
        self.fast_update = bulk.fits(otype, "updated")

    def fail(self, index: int, errors: dict) -> None:
        self.results[index].update(status="failed", errors=field_errors(errors))

    def go(self, records: list[dict]) -> None:
        self.results = [
            {"index": i, "status": None, "id": None, "errors": []} for i in range(len(records))
        ]
        wanted: dict[int, object] = {}  # index -> key value
        values_of: dict[int, dict] = {}
        for i, raw in enumerate(records):
            raw = dict(raw)
            key_value = raw.pop("id", None) if self.key == "id" else raw.get(self.key)
            errors = serialize.check_body(self.otype, raw)
            if self.key == "id" and not (isinstance(key_value, int) and 0 < key_value < 2**63):
                errors["id"] = "Give the id of the record to update."
            if errors:
                self.fail(i, errors)
                continue
            values_of[i] = raw
            if self.key is not None and key_value is not None:
                try:
                    wanted[i] = self._normal(key_value)
                except FieldError as exc:
                    self.fail(i, {self.key: str(exc)})
        existing = self._existing(set(wanted.values()))
        seen: dict[object, int] = {}
        creates, updates = [], []
        for i, raw in values_of.items():
            if self.results[i]["status"] == "failed":
                continue
            k = wanted.get(i)
            if k is not None and k in seen:
                self.fail(i, {self.key: f"The same {self.key} as record {seen[k]} of this call."})
                continue
            if k is not None:
                seen[k] = i
            ids = existing.get(k, []) if k is not None else []
            if len(ids) > 1:
                self.fail(
                    i, {self.key: f"{len(ids)} records have this {self.key}; it must be unique."}
                )
            elif ids:
                updates.append((i, ids[0], raw))
            elif self.mode == "update":
                self.fail(i, {self.key: f"No {self.otype.name} you can see has this {self.key}."})
            else:
                creates.append((i, raw))
        self._create(creates)
        self._update(updates)

    def _normal(self, value):
        if self.key == "id":
            return value
        f = replace(self.otype.by_name[self.key], required=False)
        return parse(f, value)

    def _existing(self, keys: set) -> dict:
        if self.key is None:
            return {}
        otype = self.otype
        column = otype.model.id if self.key == "id" else otype.column(self.key)
        return bulk.find(otype, column, keys, viewer=g.viewer)

    def _validated(self, i: int, raw: dict, record=None) -> dict | None:
        try:
            return service.validate(self.otype, raw, partial=record is not None, record=record)
        except service.ValidationErrors as exc:
            self.fail(i, exc.errors)
            return None

    def _create(self, items: list[tuple[int, dict]]) -> None:
        rows = [(i, v) for i, raw in items if (v := self._validated(i, raw)) is not None]
        if not rows:
            return
        if self.fast_create:
            written = bulk.create(self.otype, rows, actor=actor(), note={"api": g.caller.key_name})
            ids, errors = written.ids, written.errors
        else:
            ids, errors = {}, {}
            for i, values in rows:
                try:
                    with session().begin_nested():
                        ids[i] = service.create(self.otype, values, actor=actor(), trusted=True).id
                except service.ValidationErrors as exc:
                    errors[i] = " ".join(exc.errors.values())
        for i, reason in errors.items():
            self.fail(i, {"record": reason})
        for i, record_id in ids.items():
            self.results[i].update(status="created", id=record_id)

    def _update(self, items: list[tuple[int, int, dict]]) -> None:
        if not items:
            return
        records = bulk.load(self.otype, [rid for _i, rid, _r in items], plain=self.fast_update)
        rows = []
        for i, rid, raw in items:
            self.results[i]["id"] = rid
            values = self._validated(i, raw, records[rid])
            if values is not None:
                rows.append((i, records[rid], values))
        changed, errors = {}, {}
        if self.fast_update:
            written = bulk.update(self.otype, rows, actor=actor(), note={"api": g.caller.key_name})
            changed, errors = written.changes, written.errors
        else:
            for i, record, values in rows:
                try:
                    with session().begin_nested():
                        changes = service.update(
                            self.otype, record, values, actor=actor(), trusted=True
                        )
                    if changes:
                        changed[i] = changes
                except service.ValidationErrors as exc:
                    errors[i] = " ".join(exc.errors.values())
        for i, reason in errors.items():
            self.fail(i, {"record": reason})
        for i, _record, _values in rows:
            if i not in errors:
                self.results[i]["status"] = "updated" if i in changed else "unchanged"
