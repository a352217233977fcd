"""The ``/api/v1`` blueprint: who is calling, within which limits, and errors as
problem details. Endpoints live in ``records`` and ``actions``.

A call is authenticated by its ``Authorization: Bearer`` API key, which names the
tenant; the unit of work is then bound to that tenant's schema, and the viewer is
the key's user (a user-bound key sees only what that person may see) or the whole
company. Scopes are checked per object by each endpoint (:func:`require`).
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import HTTPException

from saas.db import db
from saas.modules.accounts.models import role_at_least
from saas.modules.api import auth_cache, idempotency, keys, limits
from saas.modules.api.problems import Problem, field_errors, response
from saas.modules.records import access
from saas.modules.records.registry import ObjectType
from saas.modules.records.service import ValidationErrors

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate():
    g.api = True
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            "unauthorized",
            "Send your API key in the Authorization header: `Authorization: Bearer crm_…`.",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    caller, verdict = _caller(token.strip())
    if caller is None:
        raise Problem(
            "unauthorized",
            "This API key is unknown, revoked or expired. Create a key in Settings → "
            "API & webhooks.",
            headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
        )
    tenant = caller.tenant
    g.rate_limit = verdict
    if not verdict.allowed:
        raise Problem(
            "rate-limited",
            f"This key or company made more than {verdict.limit} calls this minute; "
            f"retry in {verdict.reset} seconds.",
            headers={"Retry-After": str(verdict.reset)},
        )
    if tenant.status == "suspended":
        raise Problem("tenant-suspended", "This company is suspended; its data cannot be reached.")
    g.caller, g.tenant, g.role = caller, tenant, caller.role
    db.bind_tenant(tenant)
    if auth_cache.due_for_use(caller.key_id):
        keys.touch(caller.key_id)
    g.viewer = (
        access.Viewer(caller.user_id, caller.role, access.visibility_settings()[caller.role])
        if caller.user_id is not None
        else access.SYSTEM
    )
    g.locale = request.accept_languages.best_match(["en", "zh"]) or "en"
    return idempotency.begin(str(tenant.id), caller.key_id)


def _caller(token: str) -> tuple[keys.Caller | None, limits.Verdict | None]:
    """The caller of ``token`` (remembered, or read from the database) and its verdict
    under the rate limits, counted once."""
    digest = keys.digest(token)
    found = auth_cache.recall(digest)
    if found is not None:
        caller, seen = found
        tenant_id = str(caller.tenant.id)
        verdict, now = limits.check(
            tenant_id, caller.key_id, caller.tenant.plan, read=auth_cache.epoch_keys(tenant_id)
        )
        if now == seen:
            return caller, verdict
        auth_cache.forget(digest)
    else:
        verdict = None
    caller = keys.authenticate(token)
    if caller is None:
        return None, None
    # The epochs are read after the rows: a change committed in between is read again.
    seen = auth_cache.epochs(caller.tenant.id)
    if verdict is None:
        verdict, _ = limits.check(caller.tenant.id, caller.key_id, caller.tenant.plan)
    auth_cache.remember(digest, caller, seen)
    return caller, verdict


@bp.after_request
def _finish(resp):
    verdict = g.get("rate_limit")
    if verdict is not None:
        resp.headers.extend(verdict.headers())  # no view sets these
    idempotency.finish(resp)
    return resp


@bp.teardown_request
def _teardown(exc):
    if g.get("api"):
        idempotency.abandon()


def actor() -> int | None:
    """The user the call acts as (None: the company's integration)."""
    return g.caller.user_id


def require(otype: ObjectType, level: str) -> None:
    """Refuse the call unless the key has ``level`` on ``otype`` and, for writes, its
    user may write."""
    caller = g.caller
    if not caller.allows(otype.name, level):
        raise Problem(
            "scope",
            f"This API key has no {level} access to {otype.name}; "
            "an admin can change its scopes by creating a new key.",
        )
    if level == "write" and not role_at_least(caller.role, "member"):
        raise Problem("forbidden", "The key's user is read-only in this company.")


def body(*, kind: type = dict):
    """The JSON body (an object unless ``kind`` says otherwise)."""
    limit = current_app.config["API_MAX_BODY"]
    if request.content_length is not None and request.content_length > limit:
        raise Problem("too-large", f"The body may be at most {limit // 1024} KB.")
    if request.mimetype != "application/json":
        raise Problem(
            "unsupported-media-type",
            "Send the body as JSON with `Content-Type: application/json`.",
        )
    data = request.get_data(cache=True)
    if len(data) > limit:
        raise Problem("too-large", f"The body may be at most {limit // 1024} KB.")
    try:
        parsed = json.loads(data, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise Problem("invalid-json", "The body is not UTF-8 text.") from None
    except ValueError as exc:
        raise Problem("invalid-json", f"The body is not valid JSON: {exc}.") from None
    if not isinstance(parsed, kind):
        want = "an object" if kind is dict else "an array"
        raise Problem("bad-request", f"The body must be a JSON {want}.")
    return parsed


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON value")


def invalid(errors: dict, detail: str | None = None) -> Problem:
    return Problem(
        "validation",
        detail or "Some values are not valid; see `errors` for each field.",
        errors=field_errors(errors),
    )


@bp.errorhandler(Problem)
def _problem(exc: Problem):
    return response(exc)


@bp.errorhandler(ValidationErrors)
def _validation(exc: ValidationErrors):
    return response(invalid(exc.errors))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return response(http_problem(exc))


def http_problem(exc: HTTPException) -> Problem:
    """A werkzeug error (404, 405, 413...) as a problem."""
    slug = {
        400: "bad-request",
        401: "unauthorized",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        413: "too-large",
        415: "unsupported-media-type",
        429: "rate-limited",
    }.get(exc.code, "bad-request" if (exc.code or 500) < 500 else "server-error")
    detail = {
        "not-found": "There is nothing at this address, or it belongs to no record you can see.",
        "method-not-allowed": f"{request.method} is not allowed here.",
    }.get(slug, exc.description or "")
    return Problem(slug, detail, status=exc.code)
