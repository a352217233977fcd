"""Fixtures: a fresh database on the machine's PostgreSQL (or an embedded one),
Redis (the machine's, or an embedded one), the app, clients and helpers."""

from __future__ import annotations

import os
import re
import socket
import uuid
from pathlib import Path

import psycopg
import pytest
from redis import Redis
from rq import SimpleWorker

from saas import create_app
from saas.config import database_url
from saas.db import db
from saas.jobs import QUEUES, TenantJob, get_queue

PASSWORD = "correct-horse-battery"


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    """URLs of a fresh test database and a clean Redis database."""
    from saas import embedded

    instance = tmp_path_factory.mktemp("services")
    if os.environ.get("TEST_DATABASE_URL"):
        admin_url = os.environ["TEST_DATABASE_URL"]
    elif _reachable("127.0.0.1", 5432):
        admin_url = "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        admin_url = embedded.start_postgres(instance).replace("/saas?", "/postgres?")
    name = f"saas_test_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = re.sub(r"/postgres(\?|$)", rf"/{name}\1", admin_url)

    if os.environ.get("TEST_REDIS_URL"):
        redis_url = os.environ["TEST_REDIS_URL"]
    elif _reachable("127.0.0.1", 6379):
        redis_url = f"redis://127.0.0.1:6379/{1 + os.getpid() % 13}"  # concurrent runs apart
    else:
        redis_url = embedded.start_redis(instance)
    Redis.from_url(redis_url).flushdb()
    yield {"DATABASE_URL": database_url(db_url), "REDIS_URL": redis_url, "admin": admin_url}
    drop_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop a throw-away database and its tenants' roles (roles outlive databases)."""
    from saas.tenants.provisioning import drop_database as drop

    db.dispose()
    drop(admin_url, name)


@pytest.fixture(scope="session")
def app(services, tmp_path_factory):
    os.environ.setdefault("SAAS_ENV", "test")
    app = create_app(
        {
            "TESTING": True,
            "ENV_NAME": "test",
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": services["DATABASE_URL"],
            "REDIS_URL": services["REDIS_URL"],
            "MAIL_BACKEND": "file",
            "MAIL_DIR": str(tmp_path_factory.mktemp("mail")),
            "EXPORT_DIR": str(tmp_path_factory.mktemp("exports")),
            "SCHEMA_POOL_SIZE": 2,
            "BASE_URL": "http://localhost",
        }
    )
    db.init_app(app)
    with app.app_context():
        from saas.tenants.migrate import Migrator

        summary = Migrator(db.engine).run()
        assert summary.ok, summary.lines()
    # No app context stays pushed: requests would share its `g` (and signed-in user).
    yield app


@pytest.fixture
def client(app):
    client = app.test_client()
    # A distinct address per test keeps per-address login throttling independent.
    client.environ_base["REMOTE_ADDR"] = (
        f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    )
    return client


@pytest.fixture
def make_client(app):
    def make():
        c = app.test_client()
        c.environ_base["REMOTE_ADDR"] = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        return c

    return make


def csrf_token(client) -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    html = client.get("/login", follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post(client, url, data=None, **kwargs):
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=data, **kwargs)


def unique(prefix: str = "x") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def signup(client, company=None, email=None, name="Pat Owner", password=PASSWORD):
    """Sign up through the browser form; returns (slug, email)."""
    company = company or f"Company {unique()}"
    email = email or f"{unique('owner')}@example.com"
    resp = post(
        client,
        "/signup",
        {"company": company, "name": name, "email": email, "password": password},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    slug = resp.headers["Location"].split("/app/")[1].strip("/").split("/")[0]
    return slug, email


def login(client, email, password=PASSWORD):
    return post(client, "/login", {"email": email, "password": password})


@pytest.fixture
def run_jobs(app):
    """Run every queued job now, in this process, the way the worker would."""

    def run() -> None:
        from saas.extensions import redis

        with app.app_context():
            worker = SimpleWorker(
                [get_queue(q) for q in QUEUES], connection=redis(), job_class=TenantJob
            )
            worker.work(burst=True)

    return run


@pytest.fixture
def mailbox(app):
    def messages(to: str | None = None) -> list[dict]:
        from saas.mail import stored_messages

        with app.app_context():
            return [m for m in stored_messages() if to is None or m["to"] == to]

    return messages


@pytest.fixture
def artifacts() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def api_key(app):
    """``api_key(slug, scopes={"*": "write"}, user=None)``: a token for the tenant ``slug``."""
    from sqlalchemy import select

    from saas.modules.api import keys
    from saas.tenants.models import Tenant

    def make(slug: str, scopes: dict | None = None, user: int | None = None, **options) -> str:
        with app.app_context(), db.scope() as s:
            tenant = s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one()
            ref = tenant.ref()
        with app.app_context(), db.scope(ref):
            _key, token = keys.create(
                options.pop("name", "Test key"),
                scopes or {"*": "write"},
                created_by=None,
                user_id=user,
                **options,
            )
        return token

    return make


@pytest.fixture
def api(app):
    """A client for /api/v1 calls: ``api(token).get("/api/v1/contacts")``."""

    def make(token: str):
        c = app.test_client()
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return c

    return make
