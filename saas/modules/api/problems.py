"""Errors of the API as problem details (RFC 9457, ``application/problem+json``).

Each kind of error has a stable ``type`` (a URI under ``/api/problems/``, listed on the
documentation page), a ``title`` that never changes, and a ``detail`` sentence that
says what to fix. Field-level errors go in ``errors``: ``[{"field", "detail"}]``.
"""

from __future__ import annotations

from flask import Response, json

MEDIA_TYPE = "application/problem+json"

# slug -> (status, title): the stable vocabulary integrators code against.
TYPES = {
    "bad-request": (400, "Bad request"),
    "invalid-json": (400, "Body is not valid JSON"),
    "unauthorized": (401, "Missing or invalid API key"),
    "forbidden": (403, "Not allowed"),
    "scope": (403, "The API key lacks the scope for this"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict"),
    "too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "validation": (422, "Invalid values"),
    "idempotency-mismatch": (422, "Idempotency-Key reused with another request"),
    "rate-limited": (429, "Too many requests"),
    "tenant-suspended": (403, "Company suspended"),
    "server-error": (500, "Server error"),
}


def type_uri(slug: str) -> str:
    return f"/api/problems#{slug}"


class Problem(Exception):
    """Raised anywhere below an API view; becomes a problem+json response."""

    def __init__(self, slug: str, detail: str, *, errors=None, headers=None, status=None):
        super().__init__(detail)
        self.slug = slug
        self.status = status or TYPES[slug][0]
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def field_errors(errors: dict) -> list[dict]:
    return [{"field": name, "detail": str(message)} for name, message in errors.items()]


def response(problem: Problem) -> Response:
    from flask import request

    body = {
        "type": type_uri(problem.slug),
        "title": TYPES[problem.slug][1],
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.path,
    }
    if problem.errors:
        body["errors"] = problem.errors
    resp = Response(json.dumps(body), status=problem.status, mimetype=MEDIA_TYPE)
    for name, value in problem.headers.items():
        resp.headers[name] = value
    return resp
