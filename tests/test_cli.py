"""The `saas` command: tenants lifecycle, export, migrations."""

import json
import zipfile

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select, text

from saas.cli import main
from saas.db import db
from saas.modules.records.registry import get
from saas.tenants.models import Tenant
from tests.conftest import PASSWORD, login, post, signup, unique
from tests.factories import tenant_ref


@pytest.fixture
def saas(app, services, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", services["DATABASE_URL"])
    monkeypatch.setenv("REDIS_URL", services["REDIS_URL"])
    runner = CliRunner()

    def invoke(*args, input=None):
        result = runner.invoke(
            main, list(args), obj=ScriptInfo(create_app=lambda: app), input=input
        )
        return result

    return invoke


def test_tenants_create_list_suspend_resume(saas, make_client):
    name = f"Cli Co {unique()}"
    email = f"{unique()}@example.com"
    result = saas("tenants", "create", name, "--owner-email", email, "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    slug = result.output.split()[1]
    assert slug in saas("tenants", "list").output

    browser = make_client()
    assert login(browser, email).status_code == 302
    assert browser.get(f"/app/{slug}/").status_code == 200

    assert saas("tenants", "suspend", slug, "--reason", "unpaid").exit_code == 0
    assert browser.get(f"/app/{slug}/").status_code == 403
    assert "suspended" in saas("tenants", "list").output
    assert saas("tenants", "resume", slug).exit_code == 0
    assert browser.get(f"/app/{slug}/").status_code == 200


def test_tenants_create_refuses_bad_input(saas):
    result = saas("tenants", "create", "X", "--owner-email", "nope", "--password", PASSWORD)
    assert result.exit_code != 0 and "valid e-mail" in result.output
    result = saas(
        "tenants", "create", "X", "--owner-email", f"{unique()}@example.com", "--password", "short"
    )
    assert result.exit_code != 0 and "at least 10" in result.output
    result = saas("tenants", "suspend", "no-such-tenant")
    assert result.exit_code != 0 and "No tenant" in result.output


def test_delete_keeps_data_for_the_grace_period_then_purges(saas, client):
    slug, _ = signup(client)
    post(client, f"/app/{slug}/contacts/new", {"last_name": "Keep"})
    with db.scope() as s:
        schema = s.execute(select(Tenant.schema_name).where(Tenant.slug == slug)).scalar_one()

    result = saas("tenants", "delete", slug)
    assert result.exit_code == 0 and "dropped after" in result.output
    assert client.get(f"/app/{slug}/").status_code == 404
    saas("tenants", "purge")
    assert _schema_exists(schema)  # still inside the grace period

    assert saas("tenants", "restore", slug).exit_code == 0
    assert "Keep" in client.get(f"/app/{slug}/contacts/").get_data(as_text=True)

    assert saas("tenants", "delete", slug, "--grace-days", "0").exit_code == 0
    result = saas("tenants", "purge")
    assert slug in result.output
    assert not _schema_exists(schema)
    assert slug not in saas("tenants", "list").output


def _schema_exists(schema):
    with db.engine.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            ).scalar()
        )


def test_export_writes_every_table_to_a_zip_under_the_tenants_folder(
    saas, app, client, make_client
):
    slug, _ = signup(client)
    post(
        client,
        f"/app/{slug}/contacts/new",
        {"last_name": "Zhang", "first_name": "伟", "email": "wei@example.com"},
    )
    post(
        client,
        f"/app/{slug}/contacts/new",
        {"last_name": "=HYPERLINK(1)", "description": "Multi\nline"},
    )
    other, _ = signup(make_client())
    result = saas("tenants", "export", slug)
    assert result.exit_code == 0, result.output
    path = result.output.strip()
    with db.scope() as s:
        schema = s.execute(select(Tenant.schema_name).where(Tenant.slug == slug)).scalar_one()
    assert f"/{schema}/" in path and path.startswith(app.config["EXPORT_DIR"])
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {"contacts.csv", "settings.csv", "events.csv", "manifest.json"} <= names
        manifest = json.loads(zf.read("manifest.json"))
        contacts = zf.read("contacts.csv").decode()
    assert manifest["tables"]["contacts"] == 2
    assert manifest["tenant"]["slug"] == slug
    assert "Zhang" in contacts and "伟" in contacts
    assert other not in contacts


def test_db_upgrade_with_nothing_to_do(saas):
    result = saas("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "public schema: up to date" in result.output
    assert "tenants migrated: 0, failed: 0" in result.output


def test_demo_seeds_a_working_crm_once(app, saas, make_client):
    from saas.demo import DEMO_COMPANY, DEMO_EMAIL, DEMO_PASSWORD, create_demo

    with app.app_context():  # as `saas demo` runs it: jobs are enqueued after commit
        assert create_demo(scale=0.05)  # a twentieth of the real demo, to stay quick
    result = saas("demo")
    assert result.exit_code == 0 and "already there" in result.output, result.output
    with db.scope() as s:
        slug = s.execute(select(Tenant.slug).where(Tenant.name == DEMO_COMPANY)).scalar_one()
    with db.scope(tenant_ref(slug)) as s:
        counts = {
            name: s.execute(select(func.count()).select_from(get(name).model)).scalar_one()
            for name in ("account", "contact", "lead", "deal", "activity", "quote", "order",
                         "contract", "licence")
        }  # fmt: skip
        deal, quote = get("deal").model, get("quote").model
        stages = s.execute(select(func.count(deal.stage_id.distinct()))).scalar_one()
        quoted = s.execute(select(func.min(quote.total))).scalar_one()
    assert all(counts.values()), counts
    assert stages > 1 and quoted > 0

    browser = make_client()
    assert login(browser, DEMO_EMAIL, DEMO_PASSWORD).status_code == 302
    for page in ("", "contacts/", "accounts/", "leads/", "deals/board", "activities/", "quotes/",
                 "orders/", "contracts/", "licences/"):  # fmt: skip
        assert browser.get(f"/app/{slug}/{page}").status_code == 200, page
    # Some customers are Chinese companies, found by a two-character search.
    found = browser.get(f"/app/{slug}/search?q=有限公司").get_data(as_text=True)
    assert "有限公司" in found.split("<main", 1)[-1]
