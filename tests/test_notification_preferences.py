"""Each user chooses, per kind, how to be notified: off, in the app, e-mail at once, or the
daily digest; on their own page (read-only members too), in each company separately."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from saas.db import db
from saas.modules.accounts.models import Membership
from saas.modules.notifications import preferences, service
from saas.modules.notifications.kinds import KINDS
from saas.modules.notifications.models import Notification, NotificationPreference
from tests.conftest import login, post, signup
from tests.factories import add_member, tenant_ref, user_id


def _notify(app, slug, user_ids, **kwargs) -> int:
    kwargs.setdefault("kind", "workflow")
    kwargs.setdefault("title", "Something happened")
    with app.app_context(), db.scope(tenant_ref(slug)):
        return service.notify(user_ids, **kwargs)


def _rows(slug, **where) -> list[Notification]:
    with db.scope(tenant_ref(slug)) as s:
        found = list(
            s.execute(select(Notification).filter_by(**where).order_by(Notification.id)).scalars()
        )
        s.expunge_all()
        return found


def _choices(slug, uid) -> dict[str, str]:
    with db.scope(tenant_ref(slug)):
        return preferences.for_user(uid)


def _selected(page: str, kind: str) -> str:
    select_html = re.search(rf'<select id="kind-{kind}".*?</select>', page, re.S).group(0)
    return re.search(r'<option value="([a-z_]+)" selected', select_html).group(1)


def test_each_channel_is_honoured(app, client, run_jobs, mailbox):
    slug, email = signup(client)
    me = user_id(email)
    with app.app_context(), db.scope(tenant_ref(slug)):
        preferences.save(
            me, {"mention": "off", "workflow": "in_app", "task_due": "digest", "assigned": "email"}
        )
    assert _notify(app, slug, [me], kind="mention", title="Off") == 0
    assert _notify(app, slug, [me], kind="workflow", title="In app") == 1
    assert _notify(app, slug, [me], kind="task_due", title="Digest") == 1
    assert _notify(app, slug, [me], kind="assigned", title="Mailed") == 1
    assert _notify(app, slug, [me], kind="renewal", title="Default") == 1  # no choice: e-mail
    rows = {r.title: r for r in _rows(slug)}
    assert "Off" not in rows
    assert {t: r.channel for t, r in rows.items()} == {
        "In app": "in_app",
        "Digest": "digest",
        "Mailed": "email",
        "Default": "email",
    }
    run_jobs()
    assert sorted(m["subject"] for m in mailbox(email)) == ["Default", "Mailed"]
    assert _rows(slug, title="Digest")[0].emailed_at is None  # waits for the digest
    # email=False (a quiet notification) is never e-mailed, whatever the preference.
    assert _notify(app, slug, [me], kind="assigned", title="Quiet", email=False) == 1
    assert _rows(slug, title="Quiet")[0].channel == "in_app"


def test_an_unknown_kind_or_channel_is_a_programming_error(app, client):
    slug, email = signup(client)
    with pytest.raises(ValueError, match="unknown notification kind"):
        _notify(app, slug, [user_id(email)], kind="asigned")
    with pytest.raises(ValueError), app.app_context(), db.scope(tenant_ref(slug)):
        preferences.save(user_id(email), {"mention": "carrier pigeon"})
    with pytest.raises(ValueError), app.app_context(), db.scope(tenant_ref(slug)):
        preferences.save(user_id(email), {"nonsense": "off"})
    assert _rows(slug) == []


def test_the_preferences_page_lets_anyone_choose_their_own(app, client, make_client):
    slug, email = signup(client)
    me = user_id(email)
    viewer_email, viewer = add_member(slug, "readonly")
    page = client.get(f"/app/{slug}/notifications/").get_data(as_text=True)
    assert f'href="/app/{slug}/notifications/preferences"' in page
    page = client.get(f"/app/{slug}/notifications/preferences").get_data(as_text=True)
    for kind in KINDS.values():
        assert str(kind.label) in html.unescape(page) and _selected(page, kind.name) == "email"
    assert "08:00 (UTC)" in page

    browser = make_client()
    login(browser, viewer_email)
    resp = post(browser, f"/app/{slug}/notifications/preferences",
                {"kind-mention": "off", "kind-workflow": "digest", "kind-assigned": "in_app"})  # fmt: skip
    assert resp.status_code == 302
    page = browser.get(f"/app/{slug}/notifications/preferences").get_data(as_text=True)
    assert "Notification preferences saved." in page
    assert _selected(page, "mention") == "off" and _selected(page, "workflow") == "digest"
    assert _selected(page, "renewal") == "email"  # not sent: kept
    assert _choices(slug, viewer)["assigned"] == "in_app"
    assert set(_choices(slug, me).values()) == {"email"}  # the owner's are untouched

    # Back to the default: no row is kept for it.
    post(browser, f"/app/{slug}/notifications/preferences", {"kind-mention": "email"})
    with db.scope(tenant_ref(slug)) as s:
        stored = dict(
            s.execute(
                select(NotificationPreference.kind, NotificationPreference.channel).where(
                    NotificationPreference.user_id == viewer
                )
            ).all()
        )
    assert stored == {"workflow": "digest", "assigned": "in_app"}

    # A bad value is a sentence on the page, and nothing is saved.
    resp = post(browser, f"/app/{slug}/notifications/preferences",
                {"kind-mention": "off", "kind-workflow": "pigeon"})  # fmt: skip
    assert resp.status_code == 400
    assert "Choose one of the ways offered." in resp.get_data(as_text=True)
    assert _choices(slug, viewer)["mention"] == "email"


def test_preferences_belong_to_one_company(app, client, make_client, run_jobs, mailbox):
    """The same person in two companies: their choices in A change nothing in B; B's
    members cannot see or change A's page; notifying someone not in the company does nothing."""
    from saas.tenants.models import Tenant

    slug_a, email = signup(client)
    me = user_id(email)
    other = make_client()
    slug_b, email_b = signup(other)
    with db.scope() as s:  # I am a member of B too
        tenant_b = s.execute(select(Tenant).where(Tenant.slug == slug_b)).scalar_one()
        s.add(Membership(tenant_id=tenant_b.id, user_id=me, role="member"))

    resp = post(client, f"/app/{slug_a}/notifications/preferences", {"kind-workflow": "off"})
    assert resp.status_code == 302
    assert _choices(slug_a, me)["workflow"] == "off"
    assert _choices(slug_b, me)["workflow"] == "email"
    assert _notify(app, slug_a, [me], title="Muted in A") == 0
    assert _notify(app, slug_b, [me], title="Heard in B") == 1
    run_jobs()
    assert [m["subject"] for m in mailbox(email)] == ["Heard in B"]
    page = client.get(f"/app/{slug_b}/notifications/preferences").get_data(as_text=True)
    assert _selected(page, "workflow") == "email"

    # B's owner is not in A: A's page is not found, and a write there changes nothing.
    assert other.get(f"/app/{slug_a}/notifications/preferences").status_code == 404
    resp = post(other, f"/app/{slug_a}/notifications/preferences", {"kind-workflow": "email"})
    assert resp.status_code == 404
    assert _choices(slug_a, me)["workflow"] == "off"
    assert _notify(app, slug_a, [user_id(email_b)], title="Not a member") == 0
    assert _rows(slug_a) == [] and [r.title for r in _rows(slug_b)] == ["Heard in B"]
