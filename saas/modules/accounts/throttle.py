"""Login throttling: failed attempts counted in Redis per account and per address."""

from __future__ import annotations

import hashlib

from flask import current_app

from saas.extensions import redis


def _keys(email: str, address: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"throttle:login:account:{digest}", f"throttle:login:address:{address}"


def blocked(email: str, address: str) -> bool:
    account_key, address_key = _keys(email, address)
    account, per_address = redis().mget(account_key, address_key)
    cfg = current_app.config
    return (
        int(account or 0) >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        or int(per_address or 0) >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    )


def record_failure(email: str, address: str) -> None:
    window = current_app.config["LOGIN_THROTTLE_WINDOW"]
    pipe = redis().pipeline()
    for key in _keys(email, address):
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
    pipe.execute()


def reset(email: str) -> None:
    redis().delete(_keys(email, "")[0])
