"""Invitations, roles on every view, CSRF and security headers."""

import re

import pytest

from saas.tenants.context import SAFE_METHODS, required_role
from tests.conftest import PASSWORD, csrf_token, login, post, signup, unique


def _invite(client, slug, email, role="member"):
    return post(client, f"/app/{slug}/team/invite", {"email": email, "role": role})


def _invitation_link(mailbox, email):
    body = mailbox(email)[0]["body"]
    return re.search(r"http://localhost(/invitations/\S+)", body).group(1)


def test_invitation_for_a_new_person(client, make_client, run_jobs, mailbox):
    slug, _ = signup(client)
    email = f"{unique('new')}@example.com"
    assert _invite(client, slug, email, "member").status_code == 302
    run_jobs()
    link = _invitation_link(mailbox, email)

    guest = make_client()
    page = guest.get(link)
    assert page.status_code == 200 and "Member" in page.get_data(as_text=True)
    resp = post(guest, link, {"name": "Nina New", "password": "short"})
    assert resp.status_code == 400 and "at least 10 characters" in resp.get_data(as_text=True)
    resp = post(guest, link, {"name": "Nina New", "password": PASSWORD})
    assert resp.status_code == 302
    assert guest.get(f"/app/{slug}/contacts/").status_code == 200
    assert "Nina New" in client.get(f"/app/{slug}/team/").get_data(as_text=True)
    # Used once.
    assert make_client().get(link).status_code == 400


def test_invitation_for_an_existing_user_needs_their_login(client, make_client, run_jobs, mailbox):
    slug, _ = signup(client)
    other_browser = make_client()
    _, existing = signup(other_browser)
    _invite(client, slug, existing, "readonly")
    run_jobs()
    link = _invitation_link(mailbox, existing)

    anonymous = make_client()
    assert "Sign in to accept" in anonymous.get(link).get_data(as_text=True)
    stranger = make_client()
    signup(stranger)
    assert stranger.get(link).status_code == 403  # signed in as someone else
    assert post(stranger, link).status_code == 403

    assert post(other_browser, link).status_code == 302
    assert other_browser.get(f"/app/{slug}/").status_code == 200


def test_withdrawn_invitation_cannot_be_used(client, make_client, run_jobs, mailbox):
    slug, _ = signup(client)
    email = f"{unique()}@example.com"
    _invite(client, slug, email)
    run_jobs()
    link = _invitation_link(mailbox, email)
    page = client.get(f"/app/{slug}/team/").get_data(as_text=True)
    revoke = re.search(r'action="(/app/[^"]+/revoke)"', page).group(1)
    assert post(client, revoke).status_code == 302
    resp = make_client().get(link)
    assert resp.status_code == 400 and "withdrawn" in resp.get_data(as_text=True)


def _member(client_factory, owner, slug, role, run_jobs, mailbox):
    email = f"{unique(role)}@example.com"
    assert _invite(owner, slug, email, role).status_code == 302
    run_jobs()
    browser = client_factory()
    post(browser, _invitation_link(mailbox, email), {"name": role.title(), "password": PASSWORD})
    return browser


@pytest.fixture
def team(client, make_client, run_jobs, mailbox):
    slug, _ = signup(client)
    members = {"owner": client}
    for role in ("admin", "member", "readonly"):
        members[role] = _member(make_client, client, slug, role, run_jobs, mailbox)
    return slug, members


def test_roles_are_enforced(team):
    slug, m = team
    new_contact = {"last_name": "Lovelace", "first_name": "Ada"}
    # read-only: reads, never writes
    assert m["readonly"].get(f"/app/{slug}/contacts/").status_code == 200
    assert post(m["readonly"], f"/app/{slug}/contacts/new", new_contact).status_code == 403
    # member: writes records, cannot manage team or settings
    assert post(m["member"], f"/app/{slug}/contacts/new", new_contact).status_code == 302
    assert m["member"].get(f"/app/{slug}/settings").status_code == 403
    assert _invite(m["member"], slug, f"{unique()}@example.com").status_code == 403
    # admin: settings and team, but cannot create owners
    assert m["admin"].get(f"/app/{slug}/settings").status_code == 200
    resp = _invite(m["admin"], slug, f"{unique()}@example.com", "owner")
    assert resp.status_code == 400 and "Only an owner" in resp.get_data(as_text=True)
    assert _invite(m["admin"], slug, f"{unique()}@example.com", "admin").status_code == 302


def test_every_tenant_view_has_a_role_and_writes_need_member(app):
    """No tenant view is reachable by read-only users for writing, by construction."""
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("tenant."):
            continue
        view = app.view_functions[rule.endpoint]
        for method in rule.methods - {"OPTIONS"}:
            needed = required_role(view, method)
            assert needed in {"readonly", "member", "admin", "owner"}
            if method not in SAFE_METHODS and not getattr(view, "personal", False):
                assert needed != "readonly", rule
            checked += 1
    assert checked > 10


def test_last_owner_cannot_be_demoted_or_removed(client):
    slug, _ = signup(client)
    page = client.get(f"/app/{slug}/team/").get_data(as_text=True)
    role_action = re.search(r'action="(/app/[^"]+/role)"', page).group(1)
    resp = post(client, role_action, {"role": "member"}, follow_redirects=True)
    assert "at least one owner" in resp.get_data(as_text=True)
    assert "Settings" in client.get(f"/app/{slug}/").get_data(as_text=True)


def test_settings_are_saved(client):
    slug, _ = signup(client)
    resp = post(
        client,
        f"/app/{slug}/settings",
        {"company": "Renamed Co", "currency": "EUR", "timezone": "Europe/Berlin", "locale": "zh"},
    )
    assert resp.status_code == 302
    page = client.get(f"/app/{slug}/settings").get_data(as_text=True)
    assert 'value="Renamed Co"' in page and '<option selected value="EUR">' in page
    resp = post(
        client,
        f"/app/{slug}/settings",
        {"company": "X", "currency": "XXX", "timezone": "UTC", "locale": "en"},
    )
    # The company now works in Chinese: the error is shown, in Chinese.
    assert resp.status_code == 400 and "不是有效的选择" in resp.get_data(as_text=True)


def test_forms_without_csrf_token_are_rejected(client):
    slug, email = signup(client)
    for url, data in [
        (f"/app/{slug}/contacts/new", {"last_name": "NoToken"}),
        (f"/app/{slug}/team/invite", {"email": "a@example.com", "role": "member"}),
        ("/logout", {}),
        ("/login", {"email": email, "password": PASSWORD}),
        ("/signup", {"company": "c", "name": "n", "email": "e@example.com", "password": PASSWORD}),
    ]:
        resp = client.post(url, data=data)
        assert resp.status_code == 400, url
        assert "security token" in resp.get_data(as_text=True)
    wrong = client.post(
        f"/app/{slug}/contacts/new", data={"last_name": "X", "csrf_token": "forged"}
    )
    assert wrong.status_code == 400
    assert "NoToken" not in client.get(f"/app/{slug}/contacts/").get_data(as_text=True)


def test_security_headers_on_every_page(client):
    slug, _ = signup(client)
    for url in [
        "/",
        "/login",
        "/signup",
        f"/app/{slug}/",
        f"/app/{slug}/contacts/",
        "/nope",
        "/healthz",
    ]:
        headers = client.get(url).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], url
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"]
    assert client.get(f"/app/{slug}/").headers["Cache-Control"] == "no-store"


def test_csrf_token_helper_reads_the_logged_in_page(client):
    signup(client)
    assert csrf_token(client)
    assert login(client, "x@example.com").status_code == 302  # already signed in
