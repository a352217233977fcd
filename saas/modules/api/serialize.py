"""Records as JSON and JSON as field values: one mapping per field type, used by the
endpoints, the field definitions endpoint and the tenant's OpenAPI document.

Decimal values (numbers, currency, percent) travel as strings so that no digit is
lost; they are accepted as strings or JSON numbers. Dates are ``YYYY-MM-DD``, times
ISO 8601 with an offset, lookups and users ids.
"""

from __future__ import annotations

from saas.modules.records.fields import Field, jsonable  # one JSON form of a value
from saas.modules.records.registry import ObjectType

READ_ONLY = {"id", "created_at", "updated_at", "deleted_at", "created_by"}
DECIMAL = {"number", "currency", "percent"}
TEXT = {"text", "longtext", "email", "phone", "url", "choice"}


def record(otype: ObjectType, rec, names: list[str] | None = None) -> dict:
    """``{"id", "object", <field>: value, ...}`` for the fields ``names`` (all by default)."""
    out = {"id": rec.id, "object": otype.name}
    for f in otype.fields if names is None else [otype.by_name[n] for n in names]:
        out[f.name] = jsonable(getattr(rec, f.name))
    return out


def schema(f: Field) -> dict:
    """The JSON Schema of a field's value (nullable unless the value is always set)."""
    if f.type in DECIMAL:
        s = {"type": "string", "format": "decimal", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    elif f.type == "integer":
        s = {"type": "integer"}
    elif f.type == "bool":
        s = {"type": "boolean"}
    elif f.type == "date":
        s = {"type": "string", "format": "date"}
    elif f.type == "datetime":
        s = {"type": "string", "format": "date-time"}
    elif f.type in {"lookup", "user"}:
        s = {"type": "integer", "minimum": 1}
    elif f.type in {"multichoice", "tags"}:
        s = {"type": "array", "items": {"type": "string"}}
        if f.choices:
            s["items"]["enum"] = [c[0] for c in f.offered]
    else:
        s = {"type": "string"}
        if f.type in TEXT and f.type != "choice":
            s["maxLength"] = f.max_length
        if f.type == "email":
            s["format"] = "email"
        if f.type == "url":
            s["format"] = "uri"
        if f.choices:
            s["enum"] = [c[0] for c in f.offered]
    if f.type != "bool":  # a list column added after its records were made holds null
        s["type"] = [s["type"], "null"]
        if "enum" in s:
            s["enum"] = [*s["enum"], None]
    if f.help:
        s["description"] = str(f.help)
    return s


_JSON_TYPES = {
    "integer": (int,),
    "bool": (bool,),
    "lookup": (int,),
    "user": (int,),
    "multichoice": (list,),
    "tags": (list,),
}
_TYPE_WORDS = {
    "integer": "a whole number",
    "bool": "true or false",
    "lookup": "a record id (a whole number)",
    "user": "a user id (a whole number)",
    "multichoice": "a list of strings",
    "tags": "a list of strings",
    "number": "a number or a decimal string",
    "currency": "a number or a decimal string",
    "percent": "a number or a decimal string",
}


def type_error(f: Field, raw) -> str | None:
    """Why a JSON value cannot be a value of ``f`` at all (null always can)."""
    if raw is None:
        return None
    expected = _JSON_TYPES.get(f.type)
    if f.type in DECIMAL:
        ok = isinstance(raw, int | float | str) and not isinstance(raw, bool)
    elif expected is not None:
        ok = isinstance(raw, expected) and not (f.type != "bool" and isinstance(raw, bool))
        if ok and expected == (list,):
            ok = all(isinstance(item, str) for item in raw)
    else:
        ok = isinstance(raw, str)
    if ok:
        return None
    return f"Expected {_TYPE_WORDS.get(f.type, 'a string')}, got {_json_type(raw)}."


def _json_type(raw) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int | float):
        return "a number"
    if isinstance(raw, str):
        return "a string"
    if isinstance(raw, list):
        return "an array"
    if isinstance(raw, dict):
        return "an object"
    return "null"


def check_body(otype: ObjectType, body: dict) -> dict:
    """Errors (field -> sentence) for unknown, read-only and wrongly typed members."""
    errors = {}
    for name, raw in body.items():
        f = otype.field(name)
        if f is None:
            errors[name] = (
                f"{'This field is read-only' if name in READ_ONLY else 'Unknown field'}: "
                f"{otype.name} has no writable field {name!r}."
            )
        elif not f.editable:
            errors[name] = "This field is read-only."
        else:
            problem = type_error(f, raw)
            if problem:
                errors[name] = problem
    return errors
