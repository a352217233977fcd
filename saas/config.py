"""Configuration, read from environment variables when the app is created."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path, env: str) -> str:
    """SECRET_KEY from the environment; development keeps a generated one under instance/."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if env == "production":
        raise RuntimeError("SECRET_KEY must be set in production (a long random string).")
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def database_url(url: str) -> str:
    """Accept plain postgres URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load(instance_path: Path) -> dict:
    """Build the configuration mapping from the environment."""
    env = os.environ.get("SAAS_ENV", "development")
    secure = _bool(os.environ.get("SESSION_COOKIE_SECURE"), env == "production")
    cfg = {
        "ENV_NAME": env,
        "SECRET_KEY": _secret_key(instance_path, env),
        "DATABASE_URL": database_url(os.environ.get("DATABASE_URL", "")),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:8000"),
        # The __Host- prefix needs Secure; plain-HTTP development keeps a plain name.
        "SESSION_COOKIE_NAME": "__Host-session" if secure else "session",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_NAME": "__Host-remember" if secure else "remember",
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 24 * 14,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAIL_BACKEND": os.environ.get("MAIL_BACKEND", "smtp" if env == "production" else "file"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "587")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(os.environ.get("MAIL_USE_TLS"), True),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "CRM <no-reply@localhost>"),
        "MAIL_DIR": os.environ.get("MAIL_DIR", str(instance_path / "mail")),
        "EXPORT_DIR": os.environ.get("EXPORT_DIR", str(instance_path / "exports")),
        "SCHEMA_POOL_SIZE": int(os.environ.get("SCHEMA_POOL_SIZE", "5")),
        "TENANT_DELETE_GRACE_DAYS": int(os.environ.get("TENANT_DELETE_GRACE_DAYS", "30")),
        "MIGRATION_PARALLELISM": int(os.environ.get("MIGRATION_PARALLELISM", "4")),
        "MIGRATION_LOCK_TIMEOUT": os.environ.get("MIGRATION_LOCK_TIMEOUT", "5s"),
        "DB_POOL_SIZE": int(os.environ.get("DB_POOL_SIZE", "5")),
        # Pooled connections keep the catalog cache of every schema they touch:
        # recycle them so memory stays bounded with thousands of tenants.
        "DB_POOL_RECYCLE": int(os.environ.get("DB_POOL_RECYCLE", "1800")),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": int(
            os.environ.get("LOGIN_MAX_FAILURES_PER_ACCOUNT", "5")
        ),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": int(
            os.environ.get("LOGIN_MAX_FAILURES_PER_ADDRESS", "30")
        ),
        "LOGIN_THROTTLE_WINDOW": int(os.environ.get("LOGIN_THROTTLE_WINDOW", "900")),
        "PASSWORD_RESET_MAX_AGE": int(os.environ.get("PASSWORD_RESET_MAX_AGE", "3600")),
        "INVITATION_DAYS": int(os.environ.get("INVITATION_DAYS", "7")),
        # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
        "PROXY_FIX_HOPS": int(os.environ.get("PROXY_FIX_HOPS", "0")),
        "JOB_TIMEOUT": int(os.environ.get("JOB_TIMEOUT", "600")),
        # Imports: the largest upload, rows per import by plan (others: "default"), rows
        # per committed batch, a pause between batches that leaves the database to other
        # tenants. Then how long a tracked job (import, export) may go without a sign of
        # life before the reconciler puts it back on the queue (saas/tracked.py).
        "IMPORT_MAX_BYTES": int(os.environ.get("IMPORT_MAX_BYTES", str(512 * 1024 * 1024))),
        "IMPORT_MAX_ROWS": {"trial": 2_000_000, "default": 10_000_000},
        "IMPORT_BATCH_ROWS": int(os.environ.get("IMPORT_BATCH_ROWS", "10000")),
        "IMPORT_PAUSE_MS": int(os.environ.get("IMPORT_PAUSE_MS", "0")),
        # How long an import (or its undoing) runs before it lets waiting jobs go first.
        "IMPORT_TURN_SECONDS": float(os.environ.get("IMPORT_TURN_SECONDS") or "20"),
        "TRACKED_STALE_SECONDS": int(os.environ.get("TRACKED_STALE_SECONDS", "180")),
        # API calls per minute for one key and for a whole tenant, by plan ("default" for
        # the others); JSON in the environment to change them, e.g. for a benchmark.
        "API_RATE_LIMITS": json.loads(
            os.environ.get("API_RATE_LIMITS")
            or '{"trial": {"key": 600, "tenant": 1200}, "default": {"key": 3000, "tenant": 6000}}'
        ),
        "API_MAX_BODY": int(os.environ.get("API_MAX_BODY", str(5 * 1024 * 1024))),
        # Workflow webhooks to loopback and private addresses (a local receiver in
        # development and tests); never in production, where they could reach internals.
        "WEBHOOK_ALLOW_PRIVATE": _bool(
            os.environ.get("WEBHOOK_ALLOW_PRIVATE"), env in {"development", "test"}
        ),
    }
    return cfg
