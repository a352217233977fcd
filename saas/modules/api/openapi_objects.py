"""Pieces of the tenant's OpenAPI document (see :mod:`saas.modules.api.openapi`): the
schemas and operations of each object, built from its fields, and the shared
parameters, headers and error responses."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from saas.modules.api import query, serialize
from saas.modules.api.problems import MEDIA_TYPE
from saas.modules.records.registry import ObjectType

MAX_ID = 2**31 - 1
ERRORS = {
    "400": ("BadRequest", _l("The request is malformed: a parameter, the JSON or a header.")),
    "401": ("Unauthorized", _l("The API key is missing, unknown, revoked or expired.")),
    "403": (
        "Forbidden",
        _l("The key lacks the scope, its user may not, or the company is suspended."),
    ),
    "404": (
        "NotFound",
        _l("No such record that the key can see (another company's ids are unknown)."),
    ),
    "409": ("Conflict", _l("A request with this Idempotency-Key is still being processed.")),
    "413": ("TooLarge", _l("The body is too large.")),
    "415": ("UnsupportedMediaType", _l("The body is not of the media type the operation takes.")),
    "422": (
        "Unprocessable",
        _l("Values are not valid (see errors), or an Idempotency-Key was reused."),
    ),
    "429": (
        "TooManyRequests",
        _l("Over the rate limit of the key or the company; see Retry-After."),
    ),
}
RATE_HEADERS = ("RateLimit", "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining",
                "RateLimit-Reset")  # fmt: skip
FILTER_HELP = _l(
    "Filters: `<field>=value` (equals) or `<field>[op]=value` with op one of eq, ne, lt, "
    "lte, gt, gte, in (comma-separated values), contains, starts_with, is_null (true or "
    "false); a date range is `[gte]` and `[lte]`; a list field (multi-picklist, tags) "
    "matches by element. Repeated filters must all match. `q` searches words and "
    "prefixes. Sort with `sort=<field>` or `sort=-<field>`; pages are cursors: pass "
    "`next_cursor` as `cursor` with the same sort until `has_more` is false."
)


def ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


def schema_name(otype: ObjectType) -> str:
    return camel(otype.name)


def list_of(item: dict) -> dict:
    return {
        "type": "object",
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": item}},
        "required": ["object", "data"],
    }


def json_body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def ok(description: str, schema: dict | None, status: str = "200", headers=None) -> dict:
    resp: dict = {
        "description": description,
        "headers": {name: ref(name, "headers") for name in RATE_HEADERS} | (headers or {}),
    }
    if schema is not None:
        resp["content"] = {"application/json": {"schema": schema}}
    return {status: resp}


def operation(method: str, op_id: str, summary: str, tags: list, responses: dict, **extra):
    """An operation with the error responses every call can get (and Idempotency-Key on
    writes); ``extra``: parameters, body, description."""
    op = {"operationId": op_id, "summary": summary, "tags": tags}
    if extra.get("description"):
        op["description"] = extra["description"]
    params = list(extra.get("parameters") or [])
    if method in {"post", "patch"}:
        params.append(ref("IdempotencyKey", "parameters"))
    if params:
        op["parameters"] = params
    if extra.get("body"):
        op["requestBody"] = extra["body"]
    op["responses"] = responses | {
        code: ref(name, "responses") for code, (name, _t) in ERRORS.items()
    }
    return op


def error_responses() -> dict:
    out = {}
    for code, (name, text) in ERRORS.items():
        headers = {h: ref(h, "headers") for h in RATE_HEADERS}
        if code in {"409", "429"}:
            headers["Retry-After"] = ref("Retry-After", "headers")
        out[name] = {
            "description": str(text),
            "headers": headers,
            "content": {MEDIA_TYPE: {"schema": ref("Problem")}},
        }
    return out


def common_headers() -> dict:
    def header(description: str, schema: dict | None = None) -> dict:
        return {"description": description, "schema": schema or {"type": "string"}}

    integer = {"type": "integer", "minimum": 0}
    return {
        "RateLimit": header(_('Calls left in this window, e.g. `"default";r=599;t=42`.')),
        "RateLimit-Policy": header(_('The limit and window, e.g. `"default";q=600;w=60`.')),
        "RateLimit-Limit": header(_("Calls allowed per minute."), integer),
        "RateLimit-Remaining": header(_("Calls left in this minute."), integer),
        "RateLimit-Reset": header(_("Seconds until the window ends."), integer),
        "Retry-After": header(_("Seconds to wait before retrying."), integer),
        "Location": header(_("The address of what was created.")),
    }


def common_parameters() -> dict:
    return {
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "description": _(
                "Any unique string (a UUID): a repeat with the same key and body within 24 "
                "hours returns the first answer (header Idempotent-Replayed); the same key "
                "with another request is a 422."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        },
        "RecordId": {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        },
        "Limit": {
            "name": "limit",
            "in": "query",
            "description": _("Records per page."),
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": query.MAX_LIMIT,
                "default": query.DEFAULT_LIMIT,
            },  # fmt: skip
        },
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "description": _("The next_cursor of the previous page (with the same sort)."),
            "schema": {"type": "string"},
        },
        "Q": {
            "name": "q",
            "in": "query",
            "description": _("Words, prefixes or Chinese text to search for."),
            "schema": {"type": "string", "maxLength": 200},
        },
    }


# -- one object ----------------------------------------------------------------------


def _out(f) -> dict:
    """A field's value in responses: records keep retired picklist values."""
    s = serialize.schema(f)
    if f.retired and f.choices:
        keys = [c[0] for c in f.choices]
        if "items" in s:
            s["items"]["enum"] = keys
        else:
            s["enum"] = [*keys, None]
    if not f.editable:
        s["readOnly"] = True
    s["title"] = str(f.label)
    return s


def _in(f) -> dict:
    """A field's value in request bodies: decimals as numbers too, no null if required."""
    s = serialize.schema(f)
    if f.type in serialize.DECIMAL:
        s["type"] = ["string", "number", "null"]
    if f.required and isinstance(s.get("type"), list):
        kinds = [t for t in s["type"] if t != "null"]
        s["type"] = kinds[0] if len(kinds) == 1 else kinds
        if "enum" in s:
            s["enum"] = [v for v in s["enum"] if v is not None]
    s["title"] = str(f.label)
    return s


def bulk_keys(otype: ObjectType) -> list[str]:
    """The fields bulk update and upsert find records by (as saas.modules.api.bulk)."""
    return ["id"] + [f.name for f in otype.fields if f.name == "email" or f.unique]


def schemas(otype: ObjectType, *, write: bool) -> dict:
    name = schema_name(otype)
    props = {
        "id": {"type": "integer", "readOnly": True},
        "object": {"const": otype.name, "readOnly": True},
    }
    props |= {f.name: _out(f) for f in otype.fields}
    props["_embedded"] = {
        "type": "object",
        "description": _("With expand=…: the record or user each expanded field points at."),
        "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]},
    }
    out = {
        name: {
            "type": "object",
            "title": str(otype.label),
            "properties": props,
            "required": ["id", "object"],
        },
        f"{name}List": {
            "type": "object",
            "properties": {
                "object": {"const": "list"},
                "data": {"type": "array", "items": ref(name)},
                "has_more": {"type": "boolean"},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["object", "data", "has_more", "next_cursor"],
        },
    }
    if not write:
        return out
    editable = {f.name: _in(f) for f in otype.fields if f.editable}
    required = [f.name for f in otype.fields if f.editable and f.required and f.default is None]
    out[f"{name}Create"] = {"type": "object", "properties": editable, "additionalProperties": False}
    if required:
        out[f"{name}Create"]["required"] = required
    out[f"{name}Update"] = {"type": "object", "properties": editable, "additionalProperties": False}
    bulk_record = {"id": {"type": "integer", "minimum": 1, "maximum": MAX_ID}} | editable
    out[f"{name}Bulk"] = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["create", "update", "upsert"]},
            "key": {
                "enum": bulk_keys(otype),
                "description": _("How existing records are found; needed to update or upsert."),
            },
            "records": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {
                    "type": "object",
                    "properties": bulk_record,
                    "additionalProperties": False,
                },
            },
        },
        "required": ["mode", "records"],
        "additionalProperties": False,
    }
    return out


def _filter_ops(f) -> tuple[str, ...]:
    ops = ["ne", "in", "is_null"]
    if f.type in query.LISTS:
        ops.append("contains")
    elif f.type in query.ORDERED:
        ops += ["lt", "lte", "gt", "gte"]
    if f.type in query.TEXTUAL:
        ops += ["contains", "starts_with"]
    return tuple(ops)


def _filter_value(f) -> dict:
    s = serialize.schema(f)
    if f.type in query.LISTS:
        return s["items"]
    s.pop("description", None)
    if isinstance(s.get("type"), list):
        s["type"] = s["type"][0]
    if "enum" in s:
        s["enum"] = [v for v in s["enum"] if v is not None]
    s.pop("maxLength", None)
    return s


def filter_parameters(otype: ObjectType) -> list[dict]:
    from saas.modules.records.fields import Field

    params = []
    for f in (Field("id", "id", "integer"), *otype.fields):
        value = _filter_value(f) if f.name != "id" else {"type": "integer", "minimum": 1}
        params.append({"name": f.name, "in": "query", "schema": value,
                       "description": _("Equals.")})  # fmt: skip
        for op in _filter_ops(f):
            if op == "in":
                schema = {"type": "string", "description": _("Comma-separated values.")}
            elif op == "is_null":
                schema = {"enum": ["true", "false"]}
            elif op in {"contains", "starts_with"} and f.type not in query.LISTS:
                schema = {"type": "string", "minLength": 1}
            else:
                schema = value
            params.append({"name": f"{f.name}[{op}]", "in": "query", "schema": schema})
    return params


def paths(otype: ObjectType, *, write: bool) -> dict:
    name, slug = schema_name(otype), otype.slug
    plural, tags = camel(slug), [str(otype.plural)]
    record_id = ref("RecordId", "parameters")
    sortable = ["id"] + [f.name for f in otype.fields if f.sortable]
    names = ", ".join(f.name for f in otype.fields)
    lookups = [f.name for f in otype.fields if f.type in {"lookup", "user"}]
    fields_param = {
        "name": "fields",
        "in": "query",
        "description": _("Comma-separated fields to return (id and object always come): %(n)s.")
        % {"n": names},
        "schema": {"type": "string"},
    }
    list_params = [
        ref("Q", "parameters"),
        {"name": "sort", "in": "query", "schema": {"enum": sortable + [f"-{n}" for n in sortable]}},
        ref("Limit", "parameters"),
        ref("Cursor", "parameters"),
        fields_param,
        {
            "name": "expand",
            "in": "query",
            "description": _("Comma-separated lookup and user fields to embed: %(n)s.")
            % {"n": ", ".join(lookups) or "-"},
            "schema": {"type": "string"},
        },
        *filter_parameters(otype),
    ]
    collection = {
        "get": operation(
            "get",
            f"list{plural}",
            _("List %(p)s", p=str(otype.plural)),
            tags,
            ok(_("A page of records."), ref(f"{name}List")),
            parameters=list_params,
            description=str(FILTER_HELP),
        ),  # fmt: skip
    }
    item = {
        "parameters": [record_id],
        "get": operation(
            "get",
            f"get{name}",
            _("Read a record"),
            tags,
            ok(_("The record."), ref(name)),
            parameters=[fields_param],
        ),  # fmt: skip
    }
    out = {f"/{slug}": collection, f"/{slug}/{{id}}": item}
    out[f"/{slug}/fields"] = {
        "get": operation(
            "get",
            f"get{name}Fields",
            _("The object's field definitions"),
            tags,
            ok(_("The object and its fields."), ref("ObjectDefinition")),
        ),  # fmt: skip
    }
    if not write:
        return out
    if otype.creatable:
        location = {"Location": ref("Location", "headers")}
        collection["post"] = operation(
            "post", f"create{name}", _("Create a record"), tags,
            ok(_("The new record."), ref(name), "201", location),
            body=json_body(ref(f"{name}Create")),
        )  # fmt: skip
    item["patch"] = operation("patch", f"update{name}", _("Change some fields"), tags,
                              ok(_("The record."), ref(name)),
                              body=json_body(ref(f"{name}Update")))  # fmt: skip
    item["delete"] = operation("delete", f"delete{name}", _("Move to the recycle bin"), tags,
                               ok(_("Deleted."), None, "204"))  # fmt: skip
    out[f"/{slug}/{{id}}/restore"] = {
        "parameters": [record_id],
        "post": operation(
            "post",
            f"restore{name}",
            _("Restore from the recycle bin"),
            tags,
            ok(_("The restored record."), ref(name)),
        ),  # fmt: skip
    }
    if "owner_id" in otype.by_name:
        owner = {"type": "object", "properties": {"owner_id": {"type": "integer", "minimum": 1,
                 "maximum": MAX_ID}}, "required": ["owner_id"]}  # fmt: skip
        out[f"/{slug}/{{id}}/assign"] = {
            "parameters": [record_id],
            "post": operation(
                "post",
                f"assign{name}",
                _("Give the record another owner"),
                tags,
                ok(_("The record."), ref(name)),
                body=json_body(owner),
            ),  # fmt: skip
        }
    out[f"/{slug}/bulk"] = {
        "post": operation(
            "post",
            f"bulk{plural}",
            _("Create, update or upsert up to 1,000 records"),
            tags,
            ok(_("A result per record, in order."), ref("BulkResult")),
            body=json_body(ref(f"{name}Bulk")),
            description=_("A refused record does not stop the others; each gets its errors."),
        )  # fmt: skip
    }
    return out
