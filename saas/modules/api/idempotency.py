"""``Idempotency-Key`` on POST and PATCH: a repeat of the same call returns the
stored answer for 24 hours; the same key with another call is a 422.

The answer is kept in Redis under the tenant and the API key. A first call marks
the key as in flight; a repeat arriving meanwhile gets a 409 rather than doing the
work twice. A successful write is stored only once its transaction has committed;
an answer of the server's own failure (5xx) is not stored, so the call can be retried.
"""

from __future__ import annotations

import hashlib
import json

from flask import Response, g, request

from saas.db import after_commit
from saas.extensions import redis
from saas.modules.api.problems import Problem

TTL = 24 * 3600
IN_FLIGHT_TTL = 120
METHODS = {"POST", "PATCH"}
KEPT_HEADERS = ("Content-Type", "Location")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.full_path, request.content_type or ""):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def begin(tenant_id: str, key_id: int) -> Response | None:
    """Before the view: the stored answer of a repeat, a problem, or None to go on."""
    header = request.headers.get("Idempotency-Key")
    if header is None or request.method not in METHODS:
        return None
    if not 1 <= len(header) <= 255 or not header.isprintable():
        raise Problem("bad-request", "Idempotency-Key must be 1 to 255 printable characters.")
    name = f"idempotency:{tenant_id}:{key_id}:{hashlib.sha256(header.encode()).hexdigest()}"
    fingerprint = _fingerprint()
    marker = json.dumps({"fp": fingerprint, "pending": True})
    if redis().set(name, marker, nx=True, ex=IN_FLIGHT_TTL):
        g.idempotency = (name, fingerprint)
        return None
    stored = json.loads(redis().get(name) or marker)
    if stored["fp"] != fingerprint:
        raise Problem(
            "idempotency-mismatch",
            "This Idempotency-Key was used for a different request in the last 24 hours; "
            "use a new key for a new request.",
        )
    if stored.get("pending"):
        raise Problem(
            "conflict",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        )
    resp = Response(stored["body"], status=stored["status"])
    for header_name, value in stored["headers"].items():
        resp.headers[header_name] = value
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def finish(response: Response) -> None:
    """After the view: keep the answer (after commit when the call wrote something)."""
    pending = g.pop("idempotency", None)
    if pending is None:
        return
    name, fingerprint = pending
    if response.status_code >= 500:
        redis().delete(name)
        return
    kept = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    value = json.dumps(
        {
            "fp": fingerprint,
            "status": response.status_code,
            "headers": kept,
            "body": response.get_data(as_text=True),
        }
    )
    client = redis()
    if response.status_code >= 400:  # nothing was written: keep the refusal now
        client.set(name, value, ex=TTL)
        return
    g.idempotency_unsaved = name

    def store() -> None:
        client.set(name, value, ex=TTL)
        g.pop("idempotency_unsaved", None)

    after_commit(store)


def abandon() -> None:
    """At the end of the request: a write whose commit failed frees its key for a retry."""
    name = g.pop("idempotency_unsaved", None)
    if name is not None:
        redis().delete(name)
