"""The tenant's own OpenAPI 3.1 document: ``GET /api/v1/openapi.json``.

It is generated from the tenant's field definitions (custom fields included) and the
scopes of the key asking: an object the key cannot read is left out, and so are the
writes it may not make. A document only changes when the tenant's fields do, so each
process keeps a few in a bounded LRU keyed by (tenant, ``meta_version``, scopes,
language, base URL), as it keeps the tenant's shape (saas.modules.customization.meta).
Each object's schemas and operations come from :mod:`saas.modules.api.openapi_objects`.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from flask import Response, current_app, g
from flask_babel import get_locale
from flask_babel import gettext as _

from saas.db import current_tenant
from saas.modules.api import openapi_objects as parts
from saas.modules.api.blueprint import bp
from saas.modules.api.openapi_objects import MAX_ID, json_body, list_of, ok, operation, ref
from saas.modules.api.problems import TYPES, type_uri
from saas.modules.imports.models import STATUSES as IMPORT_STATUSES
from saas.modules.records.registry import all_types

VERSION = "1.0.0"
# Documents one process keeps (tenants × key scopes × languages), as JSON: a parsed one
# takes several times the memory of its ~300 KB of text.
CACHE_SIZE = 32
FULL_ACCESS = {"*": "write"}
_cache: OrderedDict[tuple, bytes] = OrderedDict()
_lock = threading.Lock()


@bp.route("/openapi.json", methods=["GET"])
def openapi():
    """This tenant's API as this key may use it."""
    return Response(cached(g.caller.scopes), mimetype="application/json")


def cached(scopes: dict) -> bytes:
    """The current tenant's document for ``scopes``, as JSON."""
    tenant = current_tenant()
    key = (
        tenant.id,
        tenant.meta_version,
        tuple(sorted(scopes.items())),
        str(get_locale()),
        current_app.config["BASE_URL"],
    )
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    entry = json.dumps(build(scopes), ensure_ascii=False, separators=(",", ":")).encode()
    with _lock:
        _cache[key] = entry
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return entry


def allows(scopes: dict, name: str, level: str) -> bool:
    """The rule of :meth:`saas.modules.api.keys.Caller.allows`, on bare scopes."""
    granted = scopes.get(name) or scopes.get("*")
    return granted == "write" or (granted == "read" and level == "read")


def build(scopes: dict) -> dict:
    """The document for the current tenant and ``scopes`` (not cached)."""
    tenant = current_tenant()
    readable = [t for t in all_types() if allows(scopes, t.name, "read")]
    writable = {t.name for t in readable if allows(scopes, t.name, "write")}
    schemas = _schemas()
    paths: dict = {}
    for otype in readable:
        schemas |= parts.schemas(otype, write=otype.name in writable)
        paths |= parts.paths(otype, write=otype.name in writable)
    paths |= _actions(readable, writable, scopes, schemas)
    paths |= _metadata(readable)
    paths |= _imports(readable, writable)
    tags = [str(t.plural) for t in readable] + ["Actions", "Search", "Imports", "Metadata"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": _("%(company)s CRM API", company=tenant.name or tenant.slug),
            "version": VERSION,
            "x-field-version": tenant.meta_version,
            "description": _(
                "The REST API of this company's CRM, with its own objects and custom "
                "fields. Authenticate with an API key: `Authorization: Bearer crm_…`. "
                "Errors are problem details (RFC 9457) whose `type` is listed at "
                "/api/problems. /api/v1 is stable: fields, endpoints, optional parameters "
                "and event types are added without a new version, so clients must ignore "
                "what they do not know; custom fields appear as the company adds them."
            ),
        },
        "servers": [{"url": current_app.config["BASE_URL"].rstrip("/") + "/api/v1"}],
        "security": [{"bearer": []}],
        "tags": [{"name": name} for name in tags],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": parts.error_responses(),
            "parameters": parts.common_parameters(),
            "headers": parts.common_headers(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": _("An API key (crm_…) created by an admin in Settings."),
                }
            },
        },
    }


def _schemas() -> dict:
    integer, text = {"type": "integer"}, {"type": "string"}
    counts = {s: {"type": "integer", "minimum": 0} for s in ("created", "updated", "unchanged")}
    return {
        "Problem": {
            "type": "object",
            "description": _("An error as problem details (RFC 9457)."),
            "properties": {
                "type": {"type": "string", "examples": [type_uri(s) for s in TYPES]},
                "title": text,
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": text,
                "instance": text,
                "errors": {"type": "array", "items": ref("FieldError")},
            },
            "required": ["type", "title", "status", "detail"],
        },
        "FieldError": {
            "type": "object",
            "properties": {"field": text, "detail": text},
            "required": ["field", "detail"],
        },
        "User": {
            "type": "object",
            "properties": {"id": integer, "name": text, "email": text, "role": text},
            "required": ["id", "name", "email", "role"],
        },
        "Field": {
            "type": "object",
            "properties": {
                "name": text,
                "label": text,
                "type": text,
                "required": {"type": "boolean"},
                "read_only": {"type": "boolean"},
                "custom": {"type": "boolean"},
                "unique": {"type": "boolean"},
                "sortable": {"type": "boolean"},
                "schema": {"type": "object", "description": _("The JSON Schema of its values.")},
                "choices": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"value": {"type": ["string", "integer"]}, "label": text},
                    },
                },
                "target": text,
                "help": text,
            },
            "required": ["name", "label", "type", "required", "read_only", "custom", "schema"],
        },
        "ObjectDefinition": {
            "type": "object",
            "properties": {
                "name": text,
                "label": text,
                "plural": text,
                "path": text,
                "creatable": {"type": "boolean"},
                "fields": {"type": "array", "items": ref("Field")},
            },
            "required": ["name", "label", "plural", "path", "creatable", "fields"],
        },
        "BulkResult": {
            "type": "object",
            "properties": {
                "object": {"const": "bulk"},
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": integer,
                            "status": {"enum": ["created", "updated", "unchanged", "failed"]},
                            "id": {"type": ["integer", "null"]},
                            "errors": {"type": "array", "items": ref("FieldError")},
                        },
                        "required": ["index", "status", "id", "errors"],
                    },
                },
                **counts,
                "failed": {"type": "integer", "minimum": 0},
            },
            "required": ["object", "results", "created", "updated", "unchanged", "failed"],
        },
        "Import": {
            "type": "object",
            "properties": {
                "id": integer,
                "object": text,
                "filename": text,
                "mode": {"enum": ["insert", "update", "upsert"]},
                "key": {"type": ["string", "null"]},
                "status": {"enum": list(IMPORT_STATUSES)},
                "done": integer,
                "total": {"type": ["integer", "null"]},
                "rate": {"type": ["number", "null"], "description": _("Rows per second.")},
                "eta_s": {"type": ["integer", "null"]},
                "finished": {"type": "boolean"},
                **counts,
                "skipped": integer,
                "failed": integer,
                "errors_url": {"type": "string", "description": _("The rejected rows as CSV.")},
            },
            "required": ["id", "object", "status", "done", "finished", "errors_url"],
        },
    }


def _actions(readable: list, writable: set, scopes: dict, schemas: dict) -> dict:
    out: dict = {}
    record_id = ref("RecordId", "parameters")
    an_id = {"type": "integer", "minimum": 1, "maximum": MAX_ID}

    def shown(name: str) -> dict:
        title = parts.camel(name)
        return {"anyOf": [ref(title), {"type": "null"}]} if title in schemas else {}

    if {"lead", "account", "contact"} <= writable:
        options = {
            "create_deal": {"type": "boolean"},
            "deal_name": {"type": "string"},
            "deal_amount": {"type": ["string", "number", "null"]},
            "stage_id": an_id,
            "account_id": an_id,
            "contact_id": an_id,
        }
        result = {
            "type": "object",
            "properties": {
                "account": shown("account"),
                "contact": shown("contact"),
                "deal": shown("deal"),
                "account_created": {"type": "boolean"},
                "contact_created": {"type": "boolean"},
            },
            "required": ["account", "contact", "deal", "account_created", "contact_created"],
        }
        out["/leads/{id}/convert"] = {
            "parameters": [record_id],
            "post": operation(
                "post",
                "convertLead",
                _("Convert a lead to an account, a contact and a deal"),
                ["Actions"],
                ok(_("What the lead became."), result),
                body=json_body(
                    {"type": "object", "properties": options, "additionalProperties": False}
                ),
                description=_(
                    "account_id / contact_id attach it to existing records; "
                    "create_deal needs write access to deals."
                ),
            ),  # fmt: skip
        }
    if "deal" in writable:
        move = {
            "type": "object",
            "properties": {"stage_id": an_id, "lost_reason": {"type": ["string", "null"]}},
            "required": ["stage_id"],
        }
        out["/deals/{id}/move"] = {
            "parameters": [record_id],
            "post": operation(
                "post",
                "moveDeal",
                _("Move a deal to another stage"),
                ["Actions"],
                ok(_("The deal."), ref("Deal")),
                body=json_body(move),
            ),  # fmt: skip
        }
    if scopes.get("*") == "write":
        users = {"type": "object", "properties": {"from_user": an_id, "to_user": an_id},
                 "required": ["from_user", "to_user"]}  # fmt: skip
        moved = {"type": "object", "required": ["moved"], "properties": {
            "moved": {"type": "object", "additionalProperties": {"type": "integer"}}}}  # fmt: skip
        out["/transfer"] = {
            "post": operation(
                "post",
                "transferOwner",
                _("Give everything one user owns to another"),
                ["Actions"],
                ok(_("How many records of each object moved."), moved),
                body=json_body(users),
                description=_("Needs a key with write access to all objects."),
            ),  # fmt: skip
        }
    searchable = [t for t in readable if t.search_fields]
    if searchable:
        params = [
            {"name": "q", "in": "query", "required": True,
             "schema": {"type": "string", "minLength": 1, "pattern": r"\S"}},
            {"name": "objects", "in": "query", "schema": {"type": "string"},
             "description": _("Comma-separated object names: %(n)s.")
             % {"n": ", ".join(t.name for t in searchable)}},
        ]  # fmt: skip
        found = list_of({"anyOf": [ref(parts.schema_name(t)) for t in searchable]})
        out["/search"] = {
            "get": operation(
                "get",
                "search",
                _("Records matching words, across objects (10 per object)"),
                ["Search"],
                ok(_("The matching records."), found),
                parameters=params,
            ),  # fmt: skip
        }
    return out


def _metadata(readable: list) -> dict:
    users = list_of(ref("User"))
    users["properties"]["tenant"] = {"type": "string"}
    return {
        "/fields": {
            "get": operation(
                "get",
                "listFieldDefinitions",
                _("Every object you may read, with its fields"),
                ["Metadata"],
                ok(_("The objects."), list_of(ref("ObjectDefinition"))),
            ),  # fmt: skip
        },
        "/users": {
            "get": operation(
                "get",
                "listUsers",
                _("The company's users (the ids owner fields take)"),
                ["Metadata"],
                ok(_("The users."), users),
            ),  # fmt: skip
        },
        "/openapi.json": {
            "get": operation(
                "get",
                "getOpenApiDocument",
                _("This document, as the key asking may use the API"),
                ["Metadata"],
                ok(_("The OpenAPI 3.1 document."), {"type": "object"}),
            ),  # fmt: skip
        },
    }


def _imports(readable: list, writable: set) -> dict:
    out: dict = {}
    if not readable:
        return out
    import_id = {"name": "id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}  # fmt: skip
    names = [t.name for t in readable if t.name in writable and t.creatable]
    if names:
        form = {
            "type": "object",
            "properties": {
                "file": {"type": "string", "contentMediaType": "application/octet-stream",
                         "description": _("A CSV or Excel (.xlsx) file with a header row.")},
                "object": {"enum": names},
                "mode": {"enum": ["insert", "update", "upsert"], "default": "insert"},
                "key": {"type": "string",
                        "description": _("The field that finds existing records (update, upsert).")},
                "mapping": {"type": "string", "description": _(
                    "A JSON object: column header -> field name; columns left out are "
                    "matched by their header.")},
                "encoding": {"enum": ["utf-8", "gb18030", "big5", "cp1252", "utf-16"]},
                "create_missing": {"enum": ["true", "false"], "description": _(
                    "Create the records a lookup column names when they do not exist.")},
            },
            "required": ["file", "object"],
        }  # fmt: skip
        accepted = ok(_("The import started; poll its Location."), ref("Import"), "202",
                      {"Location": ref("Location", "headers")})  # fmt: skip
        out["/imports"] = {
            "post": operation(
                "post",
                "startImport",
                _("Import records from a file"),
                ["Imports"],
                accepted,
                body={"required": True, "content": {"multipart/form-data": {"schema": form}}},
                description=_("The file is imported by a worker; bad rows never stop it."),
            ),  # fmt: skip
        }
    out["/imports/{id}"] = {
        "parameters": [import_id],
        "get": operation(
            "get",
            "getImport",
            _("An import's progress"),
            ["Imports"],
            ok(_("The import."), ref("Import")),
        ),  # fmt: skip
    }
    report = {"200": {"description": _("The rejected rows: the file's columns and the reason."),
                      "content": {"text/csv": {"schema": {"type": "string"}}}}}  # fmt: skip
    out["/imports/{id}/errors"] = {
        "parameters": [import_id],
        "get": operation(
            "get", "getImportErrors", _("The rejected rows of an import"), ["Imports"], report
        ),  # fmt: skip
    }
    return out
