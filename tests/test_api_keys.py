"""API keys in the admin area: created with scopes, shown once, stored hashed, rotated
with a grace period, revoked, expiring, bound to a user; admins only; per tenant."""

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from saas.db import db
from saas.modules.accounts.models import Membership
from saas.modules.api import keys
from saas.modules.api.models import ApiKey
from saas.modules.records.service import ValidationErrors
from saas.tenants.models import AuditLog, Tenant
from tests.conftest import login, post, signup
from tests.factories import add_member, tenant_ref, user_id

ALL_WRITE = {"name": "Web site forms", "access": "all", "all_level": "write"}


def _create(client, slug, data=None, status=200):
    resp = post(client, f"/app/{slug}/settings/api-keys/new", data or ALL_WRITE)
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_data(as_text=True)


def _token(page: str) -> str:
    return re.search(r'id="token" class="token" value="(crm_[^"]+)"', page).group(1)


def _rows(slug) -> list[ApiKey]:
    with db.scope() as s:
        tenant = s.execute(select(Tenant.id).where(Tenant.slug == slug)).scalar_one()
        stmt = select(ApiKey).where(ApiKey.tenant_id == tenant).order_by(ApiKey.id)
        rows = list(s.execute(stmt).scalars())
        s.expunge_all()
        return rows


def _caller(app, token):
    """(tenant slug, scopes, user id, role) of the token's caller, or None."""
    with app.app_context(), db.scope():
        caller = keys.authenticate(token)
        if caller is None:
            return None
        return caller.tenant.slug, caller.scopes, caller.user_id, caller.role


def _set(key_id, **values):
    with db.scope() as s:
        s.execute(update(ApiKey).where(ApiKey.id == key_id).values(**values))


def test_admin_creates_a_key_and_sees_its_token_once(app, client):
    slug, _ = signup(client)
    page = _create(client, slug)
    token = _token(page)
    assert token.startswith("crm_")
    assert "it will not be shown again" in page
    curl = f'curl -H "Authorization: Bearer {token}" http://localhost/api/v1/contacts'
    assert curl in html.unescape(page)
    [row] = _rows(slug)
    assert row.token_hash == keys.digest(token) and token not in (row.token_hash, row.prefix)
    assert token.startswith(f"crm_{row.prefix}_")
    listing = client.get(f"/app/{slug}/settings/api-keys").get_data(as_text=True)
    assert token not in listing and token.split("_", 2)[2] not in listing  # the secret
    assert f"crm_{row.prefix}_…" in listing and "Web site forms" in listing
    assert "All objects: read and write" in listing and "Whole company" in listing
    assert "Active" in listing and "Never" in listing
    # Neither the session cookie nor a flash message carries it.
    assert token not in str(client.get_cookie("session") or "")
    with db.scope() as s:
        audit = s.execute(select(AuditLog).where(AuditLog.action == "api_key.created")).scalars()
        entry = next(a for a in audit if a.data.get("prefix") == row.prefix)
        assert token not in str(entry.data)
    assert _caller(app, token) == (slug, {"*": "write"}, None, "admin")


def test_per_object_scopes_are_listed_in_words_and_given_to_the_caller(app, client):
    slug, _ = signup(client)
    data = {
        "name": "ERP",
        "access": "objects",
        "scope-contact": "write",
        "scope-deal": "read",
        "scope-lead": "none",
    }
    token = _token(_create(client, slug, data))
    listing = client.get(f"/app/{slug}/settings/api-keys").get_data(as_text=True)
    assert "Contacts: write; Deals: read" in listing
    assert _caller(app, token) == (slug, {"contact": "write", "deal": "read"}, None, "admin")
    with app.app_context(), db.scope():
        caller = keys.authenticate(token)
        assert caller.allows("contact", "write") and caller.allows("deal", "read")
        assert not caller.allows("deal", "write") and not caller.allows("lead", "read")


def test_revoked_key_stops_working(app, client):
    slug, _ = signup(client)
    token = _token(_create(client, slug))
    [row] = _rows(slug)
    resp = post(client, f"/app/{slug}/settings/api-keys/{row.id}/revoke")
    assert resp.status_code == 303
    assert _caller(app, token) is None
    listing = client.get(f"/app/{slug}/settings/api-keys").get_data(as_text=True)
    assert "Revoked" in listing and f"/api-keys/{row.id}/rotate" not in listing


def test_rotation_gives_a_new_token_and_the_old_one_works_for_a_grace_period(app, client):
    slug, _ = signup(client)
    old = _token(_create(client, slug, {"name": "ERP", "access": "all", "all_level": "read"}))
    [row] = _rows(slug)
    page = post(client, f"/app/{slug}/settings/api-keys/{row.id}/rotate").get_data(as_text=True)
    new = _token(page)
    assert new != old and "24 hours" in page and "it will not be shown again" in page
    assert _caller(app, new) == (slug, {"*": "read"}, None, "admin")
    assert _caller(app, old) is not None
    old_row, new_row = _rows(slug)
    assert new_row.replaces_id == old_row.id and new_row.name == "ERP"
    assert old_row.revoked_at > datetime.now(UTC) + timedelta(hours=23)
    listing = client.get(f"/app/{slug}/settings/api-keys").get_data(as_text=True)
    assert "Expiring (rotated)" in listing and new not in listing and old not in listing
    _set(old_row.id, revoked_at=datetime.now(UTC) - timedelta(seconds=1))  # the day is over
    assert _caller(app, old) is None
    assert _caller(app, new) is not None


def test_revoking_a_rotated_key_cuts_its_grace_period(app, client):
    slug, _ = signup(client)
    old = _token(_create(client, slug))
    [row] = _rows(slug)
    post(client, f"/app/{slug}/settings/api-keys/{row.id}/rotate")
    assert post(client, f"/app/{slug}/settings/api-keys/{row.id}/revoke").status_code == 303
    assert _caller(app, old) is None


def test_expiry_in_the_past_is_refused_with_a_sentence(client):
    slug, _ = signup(client)
    past = (date.today() - timedelta(days=2)).isoformat()
    page = _create(client, slug, ALL_WRITE | {"expires_at": past}, status=400)
    assert "Choose an expiry date in the future." in page
    assert 'value="Web site forms"' in page  # the form keeps what was typed
    page = _create(client, slug, ALL_WRITE | {"expires_at": "31/02/2030"}, status=400)
    assert "Enter a date like" in page
    assert _rows(slug) == []


def test_a_key_expires_at_the_end_of_its_day(app, client):
    slug, _ = signup(client)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    token = _token(_create(client, slug, ALL_WRITE | {"expires_at": tomorrow}))
    [row] = _rows(slug)
    assert row.expires_at > datetime.now(UTC)
    assert _caller(app, token) is not None
    _set(row.id, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert _caller(app, token) is None
    listing = client.get(f"/app/{slug}/settings/api-keys").get_data(as_text=True)
    assert "Expired" in listing and f"/api-keys/{row.id}/rotate" not in listing
    # An expired key is not renewed by rotating it.
    resp = post(client, f"/app/{slug}/settings/api-keys/{row.id}/rotate", follow_redirects=True)
    assert "An expired key cannot be rotated" in resp.get_data(as_text=True)
    assert len(_rows(slug)) == 1


def test_a_key_bound_to_someone_who_leaves_stops_working(app, client):
    slug, _ = signup(client)
    email, uid = add_member(slug, "member", name="Robin Rep")
    form = client.get(f"/app/{slug}/settings/api-keys/new").get_data(as_text=True)
    assert "Robin Rep" in form and "leave empty for the whole company" in form
    token = _token(_create(client, slug, ALL_WRITE | {"user_id": str(uid)}))
    assert _caller(app, token) == (slug, {"*": "write"}, uid, "member")
    assert "Robin Rep" in client.get(f"/app/{slug}/settings/api-keys").get_data(as_text=True)
    with db.scope() as s:
        membership = s.execute(select(Membership.id).where(Membership.user_id == uid)).scalar()
    assert post(client, f"/app/{slug}/team/{membership}/remove").status_code == 302
    assert _caller(app, token) is None
    listing = client.get(f"/app/{slug}/settings/api-keys").get_data(as_text=True)
    assert "no longer on the team" in listing


def test_acting_as_someone_outside_the_company_is_refused(client, make_client):
    slug, _ = signup(client)
    _, stranger = signup(make_client())
    page = _create(client, slug, ALL_WRITE | {"user_id": str(user_id(stranger))}, status=400)
    assert "Choose someone on your team." in page
    for bad in ("abc", "99999999999999999999", "-1"):
        page = _create(client, slug, ALL_WRITE | {"user_id": bad}, status=400)
        assert "Choose someone on your team." in page
    assert _rows(slug) == []


def test_scopes_are_validated(app, client):
    slug, _ = signup(client)
    page = _create(client, slug, {"name": "X", "access": "objects", "scope-bogus": "read"}, 400)
    assert "Unknown object: bogus." in page
    page = _create(client, slug, {"name": "X", "access": "objects"}, 400)
    assert "Give the key access to at least one object." in page
    page = _create(client, slug, {"name": "X", "access": "all", "all_level": "admin"}, 400)
    assert "A scope is either read or write." in page
    page = _create(client, slug, {"name": "", "access": "objects"}, 400)
    assert "Name the key" in page and "at least one object" in page  # both at once
    assert _rows(slug) == []
    with app.app_context(), db.scope(tenant_ref(slug)):
        with pytest.raises(ValidationErrors):
            keys.clean_scopes({"contact": "delete"})
        assert keys.clean_scopes({"contact": "read", "deal": ""}) == {"contact": "read"}


@pytest.mark.parametrize("role", ["member", "readonly"])
def test_only_admins_reach_the_key_pages(client, make_client, role):
    slug, _ = signup(client)
    _create(client, slug)
    [row] = _rows(slug)
    email, _uid = add_member(slug, role)
    other = make_client()
    login(other, email)
    base = f"/app/{slug}/settings/api-keys"
    assert other.get(base).status_code == 403
    assert other.get(f"{base}/new").status_code == 403
    assert post(other, f"{base}/new", ALL_WRITE).status_code == 403
    assert post(other, f"{base}/{row.id}/revoke").status_code == 403
    assert post(other, f"{base}/{row.id}/rotate").status_code == 403
    assert base not in other.get(f"/app/{slug}/").get_data(as_text=True)  # no nav link
    assert [(r.id, r.revoked_at) for r in _rows(slug)] == [(row.id, None)]
    home = client.get(f"/app/{slug}/").get_data(as_text=True)
    assert f'href="{base}">API &amp; webhooks' in home or f'href="{base}">API & webhooks' in home


def test_another_companys_admin_cannot_touch_a_key(app, client, make_client):
    slug_a, _ = signup(client)
    token = _token(_create(client, slug_a))
    [row] = _rows(slug_a)
    browser_b = make_client()
    slug_b, _ = signup(browser_b)
    for action in ("revoke", "rotate"):
        resp = post(browser_b, f"/app/{slug_b}/settings/api-keys/{row.id}/{action}")
        assert resp.status_code == 404
        # ...nor through A's URL, where B is no member.
        assert (
            post(browser_b, f"/app/{slug_a}/settings/api-keys/{row.id}/{action}").status_code == 404
        )
    assert browser_b.get(f"/app/{slug_a}/settings/api-keys").status_code == 404
    huge = f"/app/{slug_b}/settings/api-keys/99999999999999999999/revoke"
    assert post(browser_b, huge).status_code == 404
    assert row.prefix not in browser_b.get(f"/app/{slug_b}/settings/api-keys").get_data(
        as_text=True
    )
    [after] = _rows(slug_a)
    assert after.revoked_at is None and after.token_hash == row.token_hash
    assert _rows(slug_b) == []
    assert _caller(app, token)[0] == slug_a


def test_posts_without_a_csrf_token_are_refused(client):
    slug, _ = signup(client)
    _create(client, slug)
    [row] = _rows(slug)
    base = f"/app/{slug}/settings/api-keys"
    assert client.post(f"{base}/new", data=ALL_WRITE).status_code == 400
    assert client.post(f"{base}/{row.id}/revoke").status_code == 400
    assert client.post(f"{base}/{row.id}/rotate").status_code == 400
    assert [(r.id, r.revoked_at) for r in _rows(slug)] == [(row.id, None)]


def test_list_links_to_the_new_key_form(client):
    slug, _ = signup(client)
    listing = client.get(f"/app/{slug}/settings/api-keys").get_data(as_text=True)
    assert "No API keys yet." in listing and f"/app/{slug}/settings/api-keys/new" in listing
    form = client.get(f"/app/{slug}/settings/api-keys/new").get_data(as_text=True)
    for plural in ("Contacts", "Deals", "Leads", "Accounts"):
        assert plural in form
