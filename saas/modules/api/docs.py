"""The API reference in the browser: ``/app/<slug>/settings/api-docs`` renders the
company's own OpenAPI document (the one ``/api/v1/openapi.json`` gives a key with full
access), so anyone on the team can read it without a key; "Try it" needs one. The
problem types are listed publicly at ``/api/problems`` (the ``type`` of every error
points there).
"""

from __future__ import annotations

import json
from collections import OrderedDict

from flask import Blueprint, Response, render_template, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from saas.modules.api import openapi, query
from saas.modules.api.problems import TYPES

bp = Blueprint("api_docs", __name__, url_prefix="/settings/api-docs")
problems_bp = Blueprint("api_problems", __name__)
METHODS = ("get", "post", "patch", "delete")
# When each problem happens: what the integrator did and what to do about it.
WHEN = {
    "bad-request": _l("A query parameter, a header or the shape of the body cannot be used; "
                      "the detail names it."),
    "invalid-json": _l("The body is not valid UTF-8 JSON."),
    "unauthorized": _l("No API key was sent, or it is unknown, revoked or expired."),
    "forbidden": _l("The key's user may not do this (a read-only member writing, for example)."),
    "scope": _l("The key has no access (or only read access) to this object; create a key "
                "with the scopes the integration needs."),
    "not-found": _l("No such address, or no record with this id that the key can see; "
                    "another company's ids are never found."),
    "method-not-allowed": _l("The address exists but not with this HTTP method."),
    "conflict": _l("A request with the same Idempotency-Key is still running; retry after "
                   "Retry-After seconds."),
    "too-large": _l("The body is larger than the limit (5 MB by default)."),
    "unsupported-media-type": _l("The body is not JSON (or, for imports, not "
                                 "multipart/form-data); set Content-Type."),
    "validation": _l("Values are not valid: `errors` lists each field with what to fix."),
    "idempotency-mismatch": _l("An Idempotency-Key was used in the last 24 hours for a "
                               "different request; use a new key for a new request."),
    "rate-limited": _l("The key or the company made too many calls this minute; wait "
                       "Retry-After seconds. The RateLimit headers show what is left."),
    "tenant-suspended": _l("The company's account is suspended; its data cannot be reached."),
    "server-error": _l("Something failed on our side and nothing was changed; retry later."),
}  # fmt: skip


@bp.route("")
def index():
    doc = json.loads(openapi.cached(openapi.FULL_ACCESS))
    return render_template(
        "api/docs.html",
        doc=doc,
        groups=reference(doc),
        objects=object_schemas(doc),
        api_root=doc["servers"][0]["url"],
        api_path=url_for("api.openapi").rsplit("/", 1)[0],
        keys_url=_url("tenant.api_keys.index"),
        webhooks_url=_url("tenant.webhooks.index"),
    )


@bp.route("/openapi.json")
def document():
    """The same document as /api/v1/openapi.json with full access, for the signed-in team."""
    return Response(openapi.cached(openapi.FULL_ACCESS), mimetype="application/json")


@problems_bp.route("/api/problems")
def problems():
    rows = [
        {"slug": slug, "status": status, "title": title, "when": WHEN.get(slug, "")}
        for slug, (status, title) in TYPES.items()
    ]
    return render_template("api/problems.html", rows=rows)


def _url(endpoint: str) -> str | None:
    """A page another part of the product may not have yet."""
    try:
        return url_for(endpoint)
    except BuildError:
        return None


# -- the document as the page shows it -------------------------------------------------


def resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = doc["components"][kind][name]
    return node


def type_text(doc: dict, schema: dict) -> str:
    """A schema in a few words: ``string (date) | null``, ``Contact``, ``array of string``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "anyOf" in schema:
        return " | ".join(type_text(doc, s) for s in schema["anyOf"])
    if "const" in schema:
        return repr(schema["const"]).replace("'", '"')
    if "enum" in schema:
        return " | ".join("null" if v is None else f'"{v}"' for v in schema["enum"])
    kinds = schema.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    words = []
    for kind in kinds:
        if kind == "array":
            words.append(f"array of {type_text(doc, schema.get('items', {}))}")
        elif kind != "null" and schema.get("format"):
            words.append(f"{kind} ({schema['format']})")
        else:
            words.append(kind)
    return " | ".join(words)


def properties(doc: dict, schema: dict | None) -> list[dict]:
    """The members of an object schema as table rows."""
    if schema is None:
        return []
    schema = resolve(doc, schema)
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "type": type_text(doc, prop),
            "required": name in required,
            "read_only": prop.get("readOnly", False),
            "label": prop.get("title", ""),
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def example(doc: dict, schema: dict | None) -> str:
    """A body to start "Try it" from: the required members (or the first one)."""
    if schema is None:
        return ""
    schema = resolve(doc, schema)
    props = schema.get("properties", {})
    names = schema.get("required") or list(props)[:1]
    return json.dumps({n: _sample(resolve(doc, props.get(n, {}))) for n in names}, indent=2)


def _sample(schema: dict):
    if "enum" in schema:
        return next((v for v in schema["enum"] if v is not None), None)
    kinds = schema.get("type", "string")
    kind = next(k for k in (kinds if isinstance(kinds, list) else [kinds]) if k != "null")
    fmt = schema.get("format")
    if kind == "array":
        return []
    if kind in {"integer", "number"}:
        return 1
    if kind == "boolean":
        return False
    if kind == "object":
        return {}
    return {"date": "2026-01-31", "date-time": "2026-01-31T09:00:00Z", "decimal": "100.00",
            "email": "name@example.com", "uri": "https://example.com"}.get(fmt, "text")  # fmt: skip


def reference(doc: dict) -> list[dict]:
    """Operations grouped by tag, each with its parameters, filters, body and answers."""
    groups: OrderedDict[str, list] = OrderedDict((t["name"], []) for t in doc.get("tags", []))
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [
                resolve(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])
            ]
            plain = [p for p in params if p["name"] in query.RESERVED or p["in"] != "query"]
            filters: OrderedDict[str, list] = OrderedDict()
            for p in params:
                if p["in"] == "query" and p["name"] not in query.RESERVED:
                    name, _, op_name = p["name"].partition("[")
                    filters.setdefault(name, []).append(op_name.rstrip("]") or "eq")
            body = op.get("requestBody", {}).get("content", {})
            media, body_schema = next(iter(body.items()), (None, {}))
            answers = [
                (code, resp.get("description", ""), _answer_type(doc, resp))
                for code, resp in op["responses"].items()
                if code.startswith("2")
            ]
            groups.setdefault(op["tags"][0], []).append(
                {
                    "id": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": [_param_row(doc, p) for p in plain],
                    "filters": list(filters.items()),
                    "media": media,
                    "body": properties(doc, body_schema.get("schema")) if media else [],
                    "body_name": type_text(doc, body_schema.get("schema", {})) if media else "",
                    "example": example(doc, body_schema.get("schema"))
                    if media == "application/json"
                    else "",
                    "answers": answers,
                }
            )
    return [{"tag": tag, "operations": ops} for tag, ops in groups.items() if ops]


def _param_row(doc: dict, p: dict) -> dict:
    return {
        "name": p["name"],
        "in": p["in"],
        "required": p.get("required", False),
        "type": type_text(doc, p.get("schema", {})),
        "description": p.get("description", ""),
    }


def _answer_type(doc: dict, resp: dict) -> str:
    content = resp.get("content", {})
    if not content:
        return ""
    media, body = next(iter(content.items()))
    return f"{media}: {type_text(doc, body.get('schema', {}))}"


def object_schemas(doc: dict) -> list[dict]:
    """The record schema of each object, in the order of the tags."""
    schemas = doc["components"]["schemas"]
    out = []
    for name, schema in schemas.items():
        if f"{name}List" in schemas:
            create = schemas.get(f"{name}Create", {})
            rows = properties(doc, schema)
            for row in rows:
                row["required"] = row["name"] in create.get("required", ())
            out.append({"name": name, "title": schema.get("title", name), "fields": rows})
    return out
