import re
import uuid

from sqlalchemy import select

from saas.db import db
from saas.modules.accounts.models import User
from tests.conftest import PASSWORD, login, post, signup, unique


def test_login_and_logout(client, make_client):
    slug, email = signup(client)
    post(client, "/logout")
    assert client.get(f"/app/{slug}/").status_code == 302  # to the login page

    other = make_client()
    resp = login(other, email.upper())
    assert resp.status_code == 302 and resp.headers["Location"] == f"/app/{slug}/"
    assert other.get(f"/app/{slug}/").status_code == 200
    resp = post(other, "/logout")
    assert resp.status_code == 302
    assert other.get(f"/app/{slug}/").headers["Location"].startswith("/login")


def test_wrong_password_is_refused_with_a_clear_message(client, make_client):
    _, email = signup(client)
    other = make_client()
    resp = login(other, email, "not-the-password")
    assert resp.status_code == 400
    assert "The e-mail or password is not right" in resp.get_data(as_text=True)
    resp = login(other, f"{unique()}@example.com", PASSWORD)
    assert resp.status_code == 400  # same answer for an unknown account


def test_login_is_throttled_per_account(app, client, make_client):
    _, email = signup(client)
    limit = app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    for _ in range(limit):
        assert login(make_client(), email, "wrong-password-1").status_code == 400
    # From yet another address, even the right password is refused for now.
    resp = login(make_client(), email, PASSWORD)
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)


def test_login_is_throttled_per_address(app, client):
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    for i in range(limit):
        login(client, f"{unique()}-{i}@example.com", "wrong-password-1")
    _, email = signup(app.test_client())
    resp = login(client, email)
    assert resp.status_code == 429


def test_next_parameter_only_follows_local_paths(client, make_client):
    slug, email = signup(client)
    other = make_client()
    token_page = other.get("/login?next=https://evil.example/")
    assert token_page.status_code == 200
    resp = post(other, "/login?next=https://evil.example/", {"email": email, "password": PASSWORD})
    assert resp.headers["Location"] == f"/app/{slug}/"
    third = make_client()
    resp = post(third, f"/login?next=/app/{slug}/team/", {"email": email, "password": PASSWORD})
    assert resp.headers["Location"] == f"/app/{slug}/team/"


def _reset_link(mailbox, email):
    body = mailbox(email)[0]["body"]
    return re.search(r"http://localhost(/password/reset/\S+)", body).group(1)


def test_password_reset_by_single_use_link(client, make_client, run_jobs, mailbox):
    slug, email = signup(client)
    other = make_client()
    resp = post(other, "/password/forgot", {"email": email})
    assert resp.status_code == 302
    assert mailbox(email) == []  # sent by a job, not in the request
    run_jobs()
    link = _reset_link(mailbox, email)

    new_password = "a-brand-new-secret-9"
    resp = post(other, link, {"password": new_password})
    assert resp.status_code == 302
    assert other.get(f"/app/{slug}/").status_code == 200

    # The old session of the first browser is signed out by the change.
    assert client.get(f"/app/{slug}/").status_code == 302
    # The link works once.
    assert make_client().get(link).status_code == 400
    assert login(make_client(), email, PASSWORD).status_code == 400
    assert login(make_client(), email, new_password).status_code == 302


def test_password_reset_rejects_weak_password_and_bad_token(client, make_client, run_jobs, mailbox):
    _, email = signup(client)
    other = make_client()
    post(other, "/password/forgot", {"email": email})
    run_jobs()
    link = _reset_link(mailbox, email)
    resp = post(other, link, {"password": "short"})
    assert resp.status_code == 400 and "at least 10 characters" in resp.get_data(as_text=True)
    assert other.get("/password/reset/not-a-token").status_code == 400
    assert other.get(link[:-3] + "xyz").status_code == 400


def test_password_reset_link_expires(app, client, make_client, run_jobs, mailbox):
    _, email = signup(client)
    post(make_client(), "/password/forgot", {"email": email})
    run_jobs()
    link = _reset_link(mailbox, email)
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    try:
        resp = make_client().get(link)
    finally:
        app.config["PASSWORD_RESET_MAX_AGE"] = 3600
    assert resp.status_code == 400
    assert "does not work any more" in resp.get_data(as_text=True)


def test_forgot_password_does_not_reveal_accounts(client, run_jobs, mailbox):
    nobody = f"{unique()}@example.com"
    resp = post(client, "/password/forgot", {"email": nobody}, follow_redirects=True)
    assert "If an account uses that e-mail" in resp.get_data(as_text=True)
    run_jobs()
    assert mailbox(nobody) == []


def test_passwords_are_stored_hashed(client):
    _, email = signup(client)
    with db.scope() as s:
        user = s.execute(select(User).where(User.email == email)).scalar_one()
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")


def test_session_cookie_is_http_only_and_same_site(client):
    resp = client.get("/login")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_cookies_use_host_prefix(monkeypatch, tmp_path):
    from saas import config

    monkeypatch.setenv("SAAS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    cfg = config.load(tmp_path)
    assert cfg["SESSION_COOKIE_NAME"] == "__Host-session"
    assert cfg["SESSION_COOKIE_SECURE"] is True
    monkeypatch.delenv("SECRET_KEY")
    try:
        config.load(tmp_path)
    except RuntimeError as exc:
        assert "SECRET_KEY" in str(exc)
    else:
        raise AssertionError("production without SECRET_KEY must refuse to start")


def test_throttling_uses_the_client_address_behind_a_trusted_proxy(app, services, tmp_path):
    from saas import create_app

    proxied = create_app(
        {**{k: app.config[k] for k in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MAIL_DIR")},
         "TESTING": True, "PROXY_FIX_HOPS": 1, "LOGIN_MAX_FAILURES_PER_ADDRESS": 2}
    )  # fmt: skip
    browser = proxied.test_client()
    browser.environ_base["REMOTE_ADDR"] = "10.0.0.1"  # the proxy
    _, email = signup(browser)
    browser = proxied.test_client()
    browser.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    attacker = {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 250}"}
    for _ in range(2):
        post(
            browser,
            "/login",
            {"email": f"{unique()}@example.com", "password": "wrong-password-1"},
            headers=attacker,
        )
    assert (
        post(
            browser, "/login", {"email": email, "password": PASSWORD}, headers=attacker
        ).status_code
        == 429
    )
    someone_else = {"X-Forwarded-For": "198.51.100.7"}
    resp = post(browser, "/login", {"email": email, "password": PASSWORD}, headers=someone_else)
    assert resp.status_code == 302
