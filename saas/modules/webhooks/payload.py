"""Records and events as JSON: what a webhook (or anything else sending records out) says.

Values travel as the API shows them: decimals (amounts, percentages) as strings so no
digit is lost, dates ``YYYY-MM-DD``, times ISO 8601 with their offset, lookups and
users as ids, multi-choice values as lists.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from saas.modules.records.fields import jsonable
from saas.modules.records.registry import ObjectType

_MISSING = object()


def record_json(otype: ObjectType, record) -> dict:
    """``{"id": …, <field>: value, …}`` for every field of ``otype`` in the current
    tenant (custom fields too), from a model instance or a plain object holding values
    (a bulk write's); a field a plain object does not hold is left out."""
    out = {"id": getattr(record, "id", None)}
    for f in otype.fields:
        try:
            value = getattr(record, f.name, _MISSING)
        except AttributeError:  # a custom column the record cannot read
            value = _MISSING
        if value is not _MISSING:
            out[f.name] = jsonable(value)
    return out


def changes_json(changes: dict) -> dict:
    """``{field: [old, new]}`` of an update."""
    return {name: [jsonable(old), jsonable(new)] for name, (old, new) in changes.items()}


def event_body(event_id: uuid.UUID, event_type: str, tenant: str, data: dict, at=None) -> str:
    """The JSON a delivery POSTs (the same bytes on every attempt)."""
    created = (at or datetime.now(UTC)).isoformat(timespec="seconds")
    event = {
        "id": str(event_id),
        "type": event_type,
        "created_at": created,
        "tenant": tenant,
        "data": data,
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
