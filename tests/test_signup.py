from sqlalchemy import select, text

from saas.db import db
from saas.modules.accounts.models import Membership, User
from saas.tenants.models import Tenant
from tests.conftest import PASSWORD, post, signup, unique


def test_signup_creates_a_ready_tenant_and_signs_the_owner_in(client):
    slug, email = signup(client, company="Blue Harbor Freight")
    page = client.get(f"/app/{slug}/")
    assert page.status_code == 200
    assert "Blue Harbor Freight" in page.get_data(as_text=True)
    with db.scope() as s:
        tenant = s.execute(select(Tenant).where(Tenant.slug == slug)).scalar_one()
        user = s.execute(select(User).where(User.email == email)).scalar_one()
        role = s.execute(
            select(Membership.role).where(
                Membership.tenant_id == tenant.id, Membership.user_id == user.id
            )
        ).scalar_one()
        assert role == "owner"
        assert user.password_hash.startswith("$argon2")
        tables = set(
            s.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": tenant.schema_name},
            ).scalars()
        )
    assert {"contacts", "settings", "events", "alembic_version"} <= tables
    assert slug.startswith("blue-harbor-freight")


def test_slug_avoids_reserved_words_and_taken_slugs(client, make_client):
    name = f"Admin {unique()}"
    slug1, _ = signup(client, company=name)
    slug2, _ = signup(make_client(), company=name + " Ltd")
    assert slug1 != slug2
    slug3, _ = signup(make_client(), company="API")
    assert slug3 not in {"api"} and slug3.startswith("api")


def test_same_slug_base_gets_a_suffix(make_client):
    base = unique("acme")
    slug1, _ = signup(make_client(), company=f"{base} Inc")
    slug2, _ = signup(make_client(), company=f"{base}, Inc.")
    assert slug1 == f"{base}-inc"
    assert slug2 == f"{base}-inc-2"


def _signup_errors(client, **fields):
    data = {"company": f"Co {unique()}", "name": "Pat", "email": f"{unique()}@example.com",
            "password": PASSWORD}  # fmt: skip
    data.update(fields)
    return post(client, "/signup", data)


def test_signup_rejects_bad_input_with_clear_messages(client):
    cases = [
        ({"company": ""}, "Enter your company&#39;s name."),
        ({"name": "  "}, "Enter your name."),
        ({"email": "not-an-email"}, "Enter a valid e-mail address"),
        ({"password": "short"}, "Use at least 10 characters."),
        ({"password": "password123"}, "too common"),
        ({"password": "aaaaaaaaaaaa"}, "more different characters"),
        ({"company": "x" * 201}, "Use at most 200 characters."),
    ]
    for fields, message in cases:
        resp = _signup_errors(client, **fields)
        assert resp.status_code == 400, fields
        assert message in resp.get_data(as_text=True), fields


def test_signup_rejects_duplicate_email_and_company(client, make_client):
    company = f"Dup {unique()}"
    _, email = signup(client, company=company)
    other = make_client()
    resp = _signup_errors(other, email=email.upper())
    assert resp.status_code == 400
    assert "already exists" in resp.get_data(as_text=True)
    resp = _signup_errors(other, company=company.lower())
    assert resp.status_code == 400
    assert "already has a CRM here" in resp.get_data(as_text=True)
    with db.scope() as s:  # nothing half-created
        assert s.execute(select(Tenant).where(Tenant.name == company)).scalars().all()
        assert len(s.execute(select(Tenant).where(Tenant.name.ilike(company))).all()) == 1


def test_failed_signup_stores_nothing(client):
    email = f"{unique()}@example.com"
    company = f"Taken {unique()}"
    signup(client, company=company)
    resp = _signup_errors(client.application.test_client(), email=email, company=company)
    assert resp.status_code == 400
    with db.scope() as s:
        assert s.execute(select(User).where(User.email == email)).first() is None


def test_signed_in_user_creates_a_second_company_and_switches(client):
    slug1, _ = signup(client)
    resp = post(client, "/tenants/new", {"company": f"Second {unique()}"})
    assert resp.status_code == 302
    slug2 = resp.headers["Location"].split("/app/")[1].strip("/")
    chooser = client.get("/tenants").get_data(as_text=True)
    assert f"/app/{slug1}/" in chooser and f"/app/{slug2}/" in chooser
    assert client.get(f"/app/{slug1}/").status_code == 200
    assert client.get(f"/app/{slug2}/").status_code == 200


def test_a_slug_taken_at_the_same_moment_gives_a_form_error(client, make_client, monkeypatch):
    from saas.tenants import service

    taken, _ = signup(client)
    monkeypatch.setattr(service, "slug_for", lambda name: taken)  # the race, made certain
    resp = _signup_errors(make_client())
    assert resp.status_code == 400
    assert "at the same moment" in resp.get_data(as_text=True)
