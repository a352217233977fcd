"""Extensions, created unbound and attached in ``create_app``."""

from __future__ import annotations

from flask import current_app
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from redis import Redis

login_manager = LoginManager()
csrf = CSRFProtect()


def redis() -> Redis:
    """The app's Redis connection (RQ queues, throttling counters)."""
    client = current_app.extensions.get("saas.redis")
    if client is None:
        url = current_app.config["REDIS_URL"]
        if not url:
            raise RuntimeError("REDIS_URL is not configured.")
        client = Redis.from_url(url)
        current_app.extensions["saas.redis"] = client
    return client
