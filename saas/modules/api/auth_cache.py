"""Callers of API keys remembered per process, so that a call does not read its key,
tenant and membership from PostgreSQL each time.

A remembered caller is used only while its tenant's *epoch* in Redis is unchanged
(read in the same round trip as the rate-limit counters) and for at most
``REMEMBER_SECONDS``. Every committed change to a key, a tenant, a membership or a
user (any ORM write of those rows), and every change of a tenant's fields, bumps
the epoch, so a revoked key, a suspended company or a removed member stops at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime

from flask import has_app_context
from redis import Redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from saas.extensions import redis
from saas.modules.api.keys import USED_EVERY, Caller

REMEMBER_SECONDS = 30
SIZE = 2048
USERS = "users"  # a user's change may touch any tenant: one epoch for all of them

_lock = threading.Lock()
_callers: OrderedDict[str, tuple[Caller, tuple, float]] = OrderedDict()
_used: dict[int, float] = {}  # key id -> when this process last wrote last_used_at


def epoch_keys(tenant_id: str) -> tuple[str, str]:
    return f"apiauth:epoch:{tenant_id}", f"apiauth:epoch:{USERS}"


def epochs(tenant_id: str) -> tuple:
    return tuple(redis().mget(epoch_keys(tenant_id)))


def recall(digest: str) -> tuple[Caller, tuple] | None:
    """A remembered caller and the epochs it was read under, if still fresh."""
    with _lock:
        found = _callers.get(digest)
    if found is None:
        return None
    caller, seen, at = found
    stops = caller.stops_at
    if time.monotonic() - at > REMEMBER_SECONDS or (stops and stops <= datetime.now(UTC)):
        forget(digest)
        return None
    return caller, seen


def remember(digest: str, caller: Caller, seen: tuple) -> None:
    with _lock:
        _callers[digest] = (caller, seen, time.monotonic())
        _callers.move_to_end(digest)
        while len(_callers) > SIZE:
            _callers.popitem(last=False)
    _used[caller.key_id] = time.monotonic()  # authenticate() has just noted the use


def forget(digest: str) -> None:
    with _lock:
        _callers.pop(digest, None)


def due_for_use(key_id: int) -> bool:
    """Whether this process should write the key's last use now (once a minute)."""
    now = time.monotonic()
    if now - _used.get(key_id, 0.0) < USED_EVERY.total_seconds():
        return False
    _used[key_id] = now
    return True


def bump(tenant_id: str) -> None:
    """Callers of this tenant (or of every tenant: ``USERS``) are read again."""
    client = redis() if has_app_context() else _outside_app.get("client")
    if client is not None:  # a unit of work outside the app (a script) uses its Redis
        client.incr(f"apiauth:epoch:{tenant_id}")


def bump_after_commit(tenant_id: str) -> None:
    from saas.db import _current, after_commit

    if _current.get() is not None:
        after_commit(lambda: bump(tenant_id))
    else:
        bump(tenant_id)


def _changed_tenants(session: Session, _context) -> None:
    from saas.modules.accounts.models import Membership, User
    from saas.modules.api.models import ApiKey
    from saas.tenants.models import Tenant

    touched = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Tenant):
            touched.add(str(obj.id))
        elif isinstance(obj, Membership | ApiKey) and obj.tenant_id is not None:
            touched.add(str(obj.tenant_id))
        elif isinstance(obj, User) and obj not in session.new:
            touched.add(USERS)
    for tenant_id in touched:
        bump_after_commit(tenant_id)


_outside_app: dict = {}


def install(app) -> None:
    """Watch every session's writes (once per process)."""
    if app.config.get("REDIS_URL"):
        _outside_app["client"] = Redis.from_url(app.config["REDIS_URL"])
    if not event.contains(Session, "after_flush", _changed_tenants):
        event.listen(Session, "after_flush", _changed_tenants)
